"""``assay optimize path/to/module.py::function``: make a function faster without changing what it does.

Prints the speedup with its meter and confidence, the unified diff, and the
evidence that behaviour is unchanged (inputs compared, differential inputs
tried, checks passed, properties held); writes nothing unless ``--write``.
Exit 0: a faster version was found (and, with ``--write``, written); 1:
none that behaves the same and is faster; 2: bad input (a target that is not
``path.py::function``, a module or tests file that does not parse, a module
that does not load in the sandbox, a meter that cannot measure here, an
unknown meter or model).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from assay.plugins import Command, hookimpl

DESCRIPTION = __doc__.split("\n\n")[0]


def configure_optimize(parser: argparse.ArgumentParser) -> None:
    from assay.measure.meters import meter_names
    from assay.models.spec import spec_examples

    parser.add_argument("target", help="path/to/module.py::function")
    parser.add_argument("--tests", type=Path, default=None, help="a tests file: its calls of the function give inputs, its `assert f(...) == value` lines expected values")
    parser.add_argument("--meter", choices=meter_names(), default="instructions", help="cost meter (default instructions: deterministic, the speedup is exact; cpu-time: repeats and a range)")
    parser.add_argument("--model", default="embedded", help="a model spec: " + spec_examples())
    parser.add_argument("--write", action="store_true", help="rewrite the function in the file (the rest of the file is kept byte for byte)")
    parser.add_argument("--rounds", type=int, default=3, help="'make it faster' rounds (model calls)")
    parser.add_argument("--samples", type=int, default=1, help="versions asked for per round")
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument("--inputs", type=int, default=30, help="inputs drawn from the argument types seen (Hypothesis, then random)")
    parser.add_argument("--differential-budget", type=int, default=200, help="inputs tried per version in the search for one that tells it from the original")
    parser.add_argument("--cost-inputs", type=int, default=6, help="costs are measured on this many inputs, the largest (behaviour is compared on all)")
    parser.add_argument("--repeats", type=int, default=7, help="cpu-time: paired measurements of the original and the new version")
    parser.add_argument("--properties", type=int, default=0, help="ask the model for this many Hypothesis properties first; those the original holds become checks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=1.0, help="CPU seconds per call when comparing behaviour")
    parser.add_argument("--workers", type=int, default=2, help="sandbox workers")
    parser.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the response cache")
    parser.add_argument("--json", action="store_true", help="print the outcome as one JSON object")


def command_optimize(args: argparse.Namespace, out: Any = None, err: Any = None, sandbox: Any = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    from assay.models import CachedModel, ModelError, ResponseCache, load_model
    from assay.optimize.core import CannotMeasure, ModuleDoesNotLoad, evidence_lines, optimize_function, summary_lines
    from assay.optimize.module import BadTarget, load_module, parse_target, read_tests

    try:
        if min(args.rounds, args.samples, args.cost_inputs) < 1:
            raise BadTarget("--rounds, --samples and --cost-inputs must be at least 1")
        path, name = parse_target(args.target)
        module = load_module(path, name)
        tests = read_tests(args.tests, name) if args.tests is not None else None
        model = load_model(args.model, api_key_env=args.api_key_env)
    except (BadTarget, ValueError, OSError, ModelError) as exc:
        print("error: %s" % exc, file=err)
        return 2
    if not args.no_cache:
        model = CachedModel(model, ResponseCache())
    own = sandbox is None
    if own:
        from assay.sandbox import Sandbox

        sandbox = Sandbox(workers=args.workers, calibrate=False)
    try:
        outcome = optimize_function(module, model, sandbox, tests=tests, meter=args.meter, rounds=args.rounds, samples=args.samples, generated=args.inputs,
                                    seed=args.seed, repeats=args.repeats, differential_budget=args.differential_budget, temperature=args.temperature,
                                    max_tokens=args.max_tokens, call_cpu_seconds=args.timeout, cost_inputs=args.cost_inputs, properties=args.properties)  # fmt: skip
    except (ModuleDoesNotLoad, CannotMeasure) as exc:
        print("error: %s" % exc, file=err)
        return 2
    except ModelError as exc:
        print("model error: %s" % exc, file=err)
        return 1
    finally:
        if own:
            sandbox.close()
    written = False
    if args.write and outcome.improved:
        current = path.read_bytes()
        if current != module.source.encode("utf-8"):
            print("error: %s changed while assay optimize ran; nothing written" % path, file=err)
            return 2
        path.write_bytes(outcome.best.encode("utf-8"))
        written = True
    if args.json:
        print(json.dumps({**outcome.to_dict(), "written": written}, sort_keys=True, default=str), file=out)
        return 0 if outcome.improved else 1
    print("assay optimize %s::%s (meter %s)" % (path, name, outcome.meter), file=out)
    if outcome.improved and outcome.speedup is not None:
        print("speedup: %s" % outcome.speedup.describe(), file=out)
    else:
        print("no faster version that behaves the same was found; the function is unchanged", file=out)
    print("evidence that behaviour is unchanged:" if outcome.improved else "evidence gathered:", file=out)
    for line in evidence_lines(outcome):
        print("  " + line, file=out)
    for line in summary_lines(outcome):
        print(line, file=out)
    if outcome.improved:
        print(outcome.diff(), file=out, end="")
        if written:
            print("wrote %s: only %s changed" % (path, name), file=out)
        else:
            print("nothing written (--write rewrites %s in %s, the rest of the file byte for byte)" % (name, path), file=out)
    return 0 if outcome.improved else 1


@hookimpl
def register_commands(register: Callable[..., None]) -> None:
    register("optimize", Command("make a function of your module faster without changing its behaviour (diff, speedup, evidence; --write to apply)",
                                 configure_optimize, command_optimize, DESCRIPTION))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="assay optimize", description=DESCRIPTION)
    configure_optimize(parser)
    return command_optimize(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
