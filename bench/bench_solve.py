"""HumanEval pass@1 of the embedded models, greedy, through `assay solve`.

    python bench/bench_solve.py [--models smollm2-135m,qwen2.5-coder-0.5b] [--limit N]

Runs the real command for each model (its own store and response cache in a
temporary directory, so nothing is replayed from an earlier run) and writes
pass@1, token counts and time to the `solve` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report import git_revision, load_average, machine, replace_section, table, today  # noqa: E402

SPECS = {"smollm2-135m": "embedded:smollm2-135m", "qwen2.5-coder-0.5b": "embedded"}


def run_model(name: str, limit: int | None, max_tokens: int, cache: bool) -> dict:
    spec = SPECS[name]
    with tempfile.TemporaryDirectory(prefix="assay-bench-solve-") as scratch:
        env = dict(os.environ, ASSAY_HOME=scratch, ASSAY_CACHE_DIR=os.environ.get("ASSAY_CACHE_DIR", str(Path.home() / ".cache" / "assay")))
        command = [sys.executable, "-m", "assay.cli", "solve", "--benchmark", "humaneval", "--model", spec, "--n", "1", "--temperature", "0", "--concurrency", "1", "--max-tokens", str(max_tokens)]
        if not cache:
            command.append("--no-cache")
        if limit:
            command += ["--limit", str(limit)]
        started = time.monotonic()
        proc = subprocess.run(command, capture_output=True, text=True, env=env)
        seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit("assay solve failed for %s:\n%s" % (name, proc.stderr[-2000:]))
    out = proc.stdout
    passed = re.search(r"samples passed\s*│\s*(\d+)/(\d+)", out)
    tokens = re.search(r"(\d+)\s+calls,\s+(\d+)\s+prompt\s+\+\s+(\d+)\s+completion\s+tokens,\s+([\d.]+)s\s+in\s+the\s+model;\s+(\d+)\s+cached", out)
    if passed is None or tokens is None:
        raise SystemExit("could not read the result of assay solve for %s:\n%s" % (name, out[-3000:]))
    return {
        "model": name,
        "spec": spec,
        "passed": int(passed.group(1)),
        "total": int(passed.group(2)),
        "completion_tokens": int(tokens.group(3)),
        "model_seconds": float(tokens.group(4)),
        "cached": int(tokens.group(5)),
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="smollm2-135m,qwen2.5-coder-0.5b")
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    parser.add_argument("--max-tokens", type=int, default=384, help="completion budget per problem")
    parser.add_argument("--parallel", action="store_true", help="run the models at the same time (one core each)")
    parser.add_argument("--no-cache", action="store_true", help="generate every reply afresh (by default replies already in the response cache for the same model, prompt and parameters are replayed)")
    args = parser.parse_args(argv)
    load_before = load_average()
    names = [name.strip() for name in args.models.split(",")]
    with ThreadPoolExecutor(max_workers=len(names) if args.parallel else 1) as pool:
        rows = list(pool.map(lambda name: run_model(name, args.limit, args.max_tokens, not args.no_cache), names))
    for name, result in zip(names, rows):
        print("%s: pass@1 %d/%d = %.3f, %d completion tokens in %.0fs of model time (%.1f tok/s), %.0fs in all"
              % (name, result["passed"], result["total"], result["passed"] / result["total"], result["completion_tokens"],
                 result["model_seconds"], result["completion_tokens"] / max(result["model_seconds"], 1e-9), result["seconds"]))  # fmt: skip
    command = "python bench/bench_solve.py" + (" " + " ".join(argv) if argv else "")
    body = "\n".join(
        [
            "## HumanEval pass@1 of the embedded models (`assay solve`, greedy)",
            "",
            "Command: `%s` (each model: `assay solve --benchmark humaneval --model SPEC --n 1 --temperature 0 --max-tokens %d`, replies cached)  " % (command, args.max_tokens),
            "Date: %s, revision %s  " % (today(), git_revision()),
            "Machine: %s; load average %.2f before, %.2f after." % (machine(), load_before[0], load_average()[0]),
            "",
            table(
                ["model", "spec", "pass@1", "passed", "completion tokens", "replies replayed from the cache", "model s (this run)", "total s (this run)"],
                [
                    [r["model"], "`%s`" % r["spec"], "%.3f" % (r["passed"] / r["total"]), "%d/%d" % (r["passed"], r["total"]), r["completion_tokens"],
                     r["cached"], "%.0f" % r["model_seconds"], "%.0f" % r["seconds"]]
                    for r in rows
                ],
            ),  # fmt: skip
            "",
            "Replies come from greedy decoding, so a reply replayed from the response cache (same model, prompt, parameters and sample index, generated earlier on this machine by the same command) is the reply the model gives; tokens per second are in the models section.",
            "The prompt is a plain chat request to complete the function in one code block (`assay/solve.py`); code is extracted from the reply and judged on HumanEval's hidden tests in the sandbox.",
        ]
    )
    replace_section("solve", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
