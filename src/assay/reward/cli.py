"""``assay serve``: the reward service on the command line (registered as a command plugin)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable

from assay.plugins import Command, hookimpl

MiB = 1024 * 1024


def configure_serve(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1); any other than loopback needs ASSAY_API_KEY or --insecure")
    parser.add_argument("--insecure", action="store_true", help="serve on a non-loopback address without an API key (whoever reaches it runs code here)")
    parser.add_argument("--port", type=int, default=8750, help="port (default 8750; 0 picks a free one)")
    parser.add_argument("--workers", type=int, default=None, help="sandbox workers (default: one per CPU)")
    parser.add_argument("--benchmark", default=None, help="default benchmark for items that name only a task_id")
    parser.add_argument("--max-queue", type=int, default=4096, help="items accepted and unfinished at once; beyond: 429 (default 4096)")
    parser.add_argument("--max-batch", type=int, default=None, help="items in one request; beyond: 413 (default: --max-queue)")
    parser.add_argument("--max-body-mb", type=float, default=32.0, help="request body limit in MiB; beyond: 413 (default 32)")
    parser.add_argument("--max-program-kb", type=float, default=1024.0, help="one program's size limit in KiB; beyond: 413 (default 1024)")
    parser.add_argument("--drain-timeout", type=float, default=30.0, help="seconds to finish accepted work on shutdown (default 30)")
    parser.add_argument("--cpu-seconds", type=float, default=None, help="per-test CPU limit when a problem has no reference (default: the sandbox's)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument("--ray", metavar="ADDRESS", default=None,
                        help="score on a Ray cluster ('auto', a head's host:port, or 'local'): actors with --workers sandbox workers each (default 1), one per that many CPUs")  # fmt: skip


@hookimpl
def register_commands(register: Callable[..., None]) -> None:
    register("serve", Command(
        help="serve rewards over HTTP (POST /v1/rewards, /v1/run; GET /healthz, /metrics)",
        description=(
            "Serve correctness and efficiency rewards over HTTP. Set ASSAY_API_KEY to require "
            "'Authorization: Bearer <key>' (required to bind an address other than loopback, unless --insecure). SIGTERM drains: accepted work finishes (or is answered "
            "as not run after --drain-timeout), new requests get 503."
        ),
        configure=configure_serve, run=lambda args: run_serve(args) or 0,
    ))  # fmt: skip


def run_serve(args: argparse.Namespace) -> int:
    from assay.reward.scoring import RewardScorer
    from assay.reward.server import API_KEY_ENV, RewardService, ServerConfig, exposure_error
    from assay.sandbox.limits import Limits
    from assay.sandbox.pool import Sandbox

    insecure = bool(getattr(args, "insecure", False))
    refused = exposure_error(args.host, os.environ.get(API_KEY_ENV) or None, insecure)
    if refused:  # before any sandbox starts
        print(f"assay serve: error: {refused}", file=sys.stderr, flush=True)
        return 2
    if insecure and not os.environ.get(API_KEY_ENV):
        print(f"assay serve: warning: --insecure: serving on {args.host!r} without an API key; whoever can reach this port "
              f"can run any code in the sandbox (set {API_KEY_ENV} to require a key)", file=sys.stderr, flush=True)  # fmt: skip
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    limits = Limits()
    if args.cpu_seconds:
        limits = limits.with_cpu(args.cpu_seconds)
    config = ServerConfig(
        host=args.host,
        port=args.port,
        max_queue_items=args.max_queue,
        max_batch_items=args.max_batch,
        max_body_bytes=int(args.max_body_mb * MiB),
        max_program_bytes=int(args.max_program_kb * 1024),
        drain_timeout=args.drain_timeout,
        default_benchmark=args.benchmark,
        access_log=args.access_log,
        insecure=insecure,
    )
    if getattr(args, "ray", None):
        from assay.reward.ray_pool import RayScorer
        from assay.scale import RayJudgeError, connect

        try:
            connect(args.ray)  # a clear error at once where the cluster cannot be joined
        except RayJudgeError as exc:
            print(f"assay serve: error: {exc}", file=sys.stderr, flush=True)
            return 2
        scorer = RayScorer.connect(args.ray, workers=args.workers, limits=limits)
        print(f"assay serve: scoring on Ray ({args.ray}): {len(scorer.pool.actors)} actors", file=sys.stderr, flush=True)
    else:
        scorer = RewardScorer(Sandbox(workers=args.workers, limits=limits), own_sandbox=True)
    service = RewardService(config, scorer)

    def ready(host: str, port: int) -> None:
        auth = "API key required" if service.config.api_key else f"no API key (set {API_KEY_ENV} to require one)"
        print(f"assay serve: listening on http://{host}:{port} with {service.workers} sandbox workers, "
              f"queue of {config.max_queue_items} items, {auth}", file=sys.stderr, flush=True)  # fmt: skip

    try:
        import asyncio  # here, not at the top: every `assay` command imports this module to register `serve`

        asyncio.run(service.serve_forever(ready))
    finally:
        service.scorer.close()
    print("assay serve: stopped", file=sys.stderr, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``serve`` alone (``python -m assay.reward.cli --port 0``)."""
    parser = argparse.ArgumentParser(prog="assay serve")
    configure_serve(parser)
    return run_serve(parser.parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
