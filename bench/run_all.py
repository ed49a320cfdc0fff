"""Run the benchmarks in bench/: every ``bench/bench_*.py`` with a ``main(argv)``.

    python bench/run_all.py                 # all, in file-name order
    python bench/run_all.py core enamel     # a subset ("core" = bench_core.py)
    python bench/run_all.py --list
    python bench/run_all.py core -- --quick # arguments after -- go to each bench run

Each bench prints its own results and writes its own section of
docs/benchmarks.md. A bench that fails (exception or non-zero return) does
not stop the others; the exit status is non-zero if any failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType

BENCH_DIR = Path(__file__).resolve().parent


def discover(directory: Path = BENCH_DIR) -> dict[str, Path]:
    """Short name ("core") -> file, for every bench_*.py, in file-name order."""
    return {path.stem[len("bench_") :]: path for path in sorted(directory.glob("bench_*.py"))}


def load(name: str, path: Path) -> ModuleType:
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))  # benches import their neighbours (report, mutants)
    spec = importlib.util.spec_from_file_location("bench_" + name, path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot load %s" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passed: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passed = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(description="Run the benchmarks in bench/.")
    parser.add_argument("names", nargs="*", help="benches to run (default: all), by short name (core) or file name (bench_core.py)")
    parser.add_argument("--list", action="store_true", help="list the benches and exit")
    args = parser.parse_args(argv)

    found = discover()
    if args.list:
        for name, path in found.items():
            print("%-16s %s" % (name, path.relative_to(BENCH_DIR.parent)))
        return 0
    wanted = []
    for raw in args.names or list(found):
        name = Path(raw).stem
        name = name[len("bench_") :] if name.startswith("bench_") else name
        if name not in found:
            print("unknown bench %r; there are: %s" % (raw, ", ".join(found) or "none"), file=sys.stderr)
            return 2
        wanted.append(name)

    failed = []
    for name in wanted:
        print("\n=== bench %s (%s) ===" % (name, found[name].name), flush=True)
        started = time.monotonic()
        try:
            module = load(name, found[name])
            entry = getattr(module, "main", None)
            if not callable(entry):
                raise TypeError("%s has no main(argv)" % found[name].name)
            code = entry(list(passed))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception:
            traceback.print_exc()
            code = 1
        code = code or 0
        print("=== bench %s: %s in %.1fs ===" % (name, "ok" if code == 0 else "FAILED (%s)" % code, time.monotonic() - started), flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print("failed: %s" % ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
