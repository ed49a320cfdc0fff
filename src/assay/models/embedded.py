"""An in-process model: llama.cpp through ``llama-cpp-python``, no server needed.

The GGUF file carries its own chat template, which llama-cpp-python applies.
Generation is CPU-bound and blocking, so it runs in a worker thread and the
async :class:`~assay.models.base.Model` API holds; one lock per loaded model
serializes access (a llama.cpp context is not thread-safe).  Each GGUF file
is loaded once per process and shared by every :class:`EmbeddedModel` on it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import random
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from assay.models.base import Completion, GenerationParams, Message, ModelError, Usage

DEFAULT_CONTEXT_TOKENS = 8192


class EmbeddedModelError(ModelError):
    """The embedded backend could not load or run the model."""


@dataclass(frozen=True)
class _LoadKey:
    path: str
    n_ctx: int
    n_threads: int


@dataclass
class _Loaded:
    llama: Any  # llama_cpp.Llama
    lock: threading.Lock


_loaded: dict[_LoadKey, _Loaded] = {}
_loading_lock = threading.Lock()


def llama_cpp_available() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


class EmbeddedModel:
    """Generate with a local GGUF file via llama.cpp."""

    def __init__(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        n_ctx: int = DEFAULT_CONTEXT_TOKENS,
        n_threads: int | None = None,
    ) -> None:
        self.path = Path(path).expanduser().resolve()
        if not self.path.is_file():
            raise EmbeddedModelError(f"no GGUF file at {self.path}")
        self._name = name or f"gguf:{self.path}"
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_thread_count()

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"EmbeddedModel(name={self._name!r}, path={str(self.path)!r})"

    async def generate(
        self, messages: Sequence[Message], params: GenerationParams
    ) -> list[Completion]:
        return await asyncio.to_thread(self.generate_blocking, messages, params)

    def generate_blocking(
        self, messages: Sequence[Message], params: GenerationParams
    ) -> list[Completion]:
        """The synchronous core: ``params.n`` samples one after another."""
        loaded = self._load()
        wire_messages = [m.to_dict() for m in messages]
        completions = []
        with loaded.lock:
            for index in range(params.n):
                seed = params.seed_for(index)
                if seed is None:  # no seed asked for: a fresh random one per sample
                    seed = random.SystemRandom().randrange(2**31)
                completions.append(self._sample(loaded.llama, wire_messages, params, seed))
        return completions

    def _sample(
        self, llama: Any, wire_messages: list[dict[str, str]], params: GenerationParams, seed: int
    ) -> Completion:
        try:
            reply = llama.create_chat_completion(
                messages=wire_messages,
                temperature=params.temperature,
                top_p=params.top_p,
                top_k=0,  # plain temperature / top-p sampling, as OpenAI-style servers do
                min_p=0.0,
                repeat_penalty=1.0,
                max_tokens=params.max_tokens,
                stop=list(params.stop) or None,
                seed=seed,
            )
        except ValueError as error:  # e.g. "Requested tokens (9000) exceed context window of 8192"
            raise EmbeddedModelError(f"{self._name}: {' '.join(str(error).split())}") from None
        choice = reply["choices"][0]
        usage = reply.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            finish_reason=choice.get("finish_reason") or "stop",
            usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
        )

    def llama(self) -> Any:
        """The shared ``llama_cpp.Llama`` instance for this file (loaded on first use)."""
        return self._load().llama

    def _load(self) -> _Loaded:
        key = _LoadKey(str(self.path), self.n_ctx, self.n_threads)
        with _loading_lock:
            if key not in _loaded:
                _loaded[key] = _Loaded(load_llama(self.path, self.n_ctx, self.n_threads), threading.Lock())
            return _loaded[key]


def default_thread_count() -> int:
    """``$ASSAY_LLAMA_THREADS`` if set, else all cores but one (at least 1, at most 8).

    One core is left for the sandbox that runs candidates alongside
    generation.  llama.cpp's threads wait for each other at every step, so
    when another process takes a core they mostly spin: on a busy 2-core
    machine 2 threads ran 2-10x slower than 1 (bench/bench_models.py).
    """
    configured = os.environ.get("ASSAY_LLAMA_THREADS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return min(8, max(1, (os.cpu_count() or 1) - 1))


def load_llama(path: Path, n_ctx: int, n_threads: int) -> Any:
    """Load a GGUF file with llama-cpp-python, quietly, with clear errors."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise EmbeddedModelError(
            "the embedded backend needs llama-cpp-python: pip install 'llama-cpp-python==0.3.36' "
            "(it compiles llama.cpp, a few minutes), or use an openai:MODEL@URL server"
        ) from None
    try:
        with _quiet_native_stderr():
            llama = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                verbose=False,
            )
    except (ValueError, RuntimeError, OSError) as error:
        raise EmbeddedModelError(
            f"llama.cpp could not load {path}: {' '.join(str(error).split())} "
            "(is it a GGUF file this llama.cpp version supports?)"
        ) from None
    return llama


def _close_llama_cpp_null_files() -> None:
    """llama_cpp opens /dev/null twice when imported and never closes it; at exit Python says "unclosed file".

    Its only users are model loads, all over by the time atexit runs.
    """
    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        handle = getattr(utils, name, None)
        if handle is not None and not getattr(handle, "closed", True):
            handle.close()


atexit.register(_close_llama_cpp_null_files)


def close_loaded_models() -> None:
    """Close every cached llama.cpp instance now, and forget them.

    Registered with atexit: left to the interpreter's teardown, a Llama's
    ``__del__`` may run after llama_cpp's module globals are gone and print
    "Exception ignored in: <function Llama.__del__ ...> TypeError:
    'NoneType' object is not callable" at the end of a run.
    """
    with _loading_lock:
        loaded = list(_loaded.values())
        _loaded.clear()
    for entry in loaded:
        if not entry.lock.acquire(blocking=False):  # a daemon thread still generating: leave that one to teardown
            continue
        try:
            with contextlib.suppress(Exception):  # closing at exit must not fail the exit
                entry.llama.close()
        finally:
            entry.lock.release()


atexit.register(close_loaded_models)  # after the null files' handler is registered, so it runs before it


def forget_loaded_models() -> None:
    """Drop every cached llama.cpp instance (frees their memory once unreferenced)."""
    with _loading_lock:
        _loaded.clear()


@contextlib.contextmanager
def _quiet_native_stderr():  # type: ignore[no-untyped-def]
    """Silence llama.cpp's C-level log lines on fd 2 while loading."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
