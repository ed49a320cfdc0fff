"""The registry: built-ins and a third-party package's additions, found through entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assay import plugins

PLUGIN_DIR = Path(__file__).parent / "fixtures" / "plugin_demo"


def run_cli(*args: str, tmp_path: Path, extra_path: Path | None = PLUGIN_DIR, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSAY_CACHE_DIR": str(tmp_path / "cache"), "ASSAY_HOME": str(tmp_path / "home")}
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "assay.cli", *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp_path)


def test_builtins_are_registered_by_assay():
    assert {"humaneval", "enamel", "enamel-142"} <= set(plugins.BENCHMARKS.names())
    assert {"embedded", "gguf", "openai", "scripted"} <= set(plugins.MODELS.names())
    assert {"exact", "approx", "truthy", "falsy", "checker"} <= set(plugins.COMPARISONS.names())
    assert {"cpu-time", "instructions"} <= set(plugins.METERS.names())
    assert {"eval", "solve", "serve", "doctor", "models", "plugins"} <= set(plugins.COMMANDS.names())
    assert "sample" in plugins.STRATEGIES.names()
    assert all(entry.plugin == "assay" for entry in plugins.BENCHMARKS.entries() if entry.name == "humaneval")


def test_unknown_names_list_the_known_ones():
    with pytest.raises(plugins.RegistryError, match="unknown benchmark 'nope'; known: humaneval"):
        plugins.BENCHMARKS.get("nope")


def test_a_name_taken_stays_with_its_first_owner():
    registry: plugins.Registry[int] = plugins.Registry("thing", "register_things")
    registry.register("a", 1, plugin="assay")
    with pytest.warns(UserWarning, match="thing 'a' from plugin 'intruder' ignored"):
        registry.register("a", 2, plugin="intruder")
    assert registry._entries["a"].value == 1


def test_plugin_lists_what_it_adds(tmp_path):
    proc = run_cli("plugins", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "tiny-demo" in proc.stdout and "answers" in proc.stdout and "output-bytes" in proc.stdout
    assert proc.stdout.count("demo") >= 2  # the plugin's name beside each of its entries


def test_plugin_benchmark_and_model_backend_through_the_cli(tmp_path):
    proc = run_cli("solve", "--benchmark", "tiny-demo", "--model", "answers:v1", "--store", str(tmp_path / "s.sqlite"), "--results", str(tmp_path / "r.jsonl"), tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [(line["task_id"], line["passed"]) for line in lines] == [("demo/add", True), ("demo/twice", True)]
    assert "2 calls" in proc.stdout

    proc = run_cli("eval", "--benchmark", "tiny-demo", "--samples", "canonical", "--k", "1", "--store", str(tmp_path / "s.sqlite"), tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "pass@1" in proc.stdout and "1.0000" in proc.stdout


def test_plugin_meter_through_the_cli(tmp_path):
    proc = run_cli("eval", "--benchmark", "tiny-demo", "--samples", "canonical", "--k", "1", "--efficiency", "--meter", "output-bytes",
                   "--results", str(tmp_path / "r.jsonl"), "--store", str(tmp_path / "s.sqlite"), tmp_path=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "eff@1 (output-bytes)" in proc.stdout
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert all(line["efficiency_meter"] == "output-bytes" and line["passed"] for line in lines)
    assert {cost["unit"] for line in lines for cost in line["cost"]} == {"bytes"}
    assert all(line["speedup"] == 1.0 for line in lines)  # the reference measured against itself, deterministically


def test_without_the_plugin_its_names_are_unknown(tmp_path):
    proc = run_cli("solve", "--benchmark", "tiny-demo", "--model", "answers:v1", tmp_path=tmp_path, extra_path=None)
    assert proc.returncode == 2
    assert "unknown benchmark 'tiny-demo'" in proc.stderr


def test_a_broken_plugin_is_skipped_with_a_warning_naming_it(tmp_path):
    broken = tmp_path / "broken"
    (broken / "assay_broken-0.1.dist-info").mkdir(parents=True)
    (broken / "assay_broken-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: assay-broken\nVersion: 0.1\n")
    (broken / "assay_broken-0.1.dist-info" / "entry_points.txt").write_text("[assay]\nbroken = assay_broken\n")
    (broken / "assay_broken.py").write_text(textwrap.dedent("raise RuntimeError('this plugin is broken')\n"))
    proc = run_cli("plugins", tmp_path=tmp_path, extra_path=broken)
    assert proc.returncode == 0, proc.stderr
    assert "assay plugin 'broken'" in proc.stderr and "this plugin is broken" in proc.stderr
    assert "humaneval" in proc.stdout


def test_a_deferred_function_imports_its_module_at_its_first_call(tmp_path, monkeypatch):
    (tmp_path / "deferred_target_mod.py").write_text("def double(x, *, by=2):\n    return x * by\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    double = plugins.deferred("deferred_target_mod:double")
    assert "deferred_target_mod" not in sys.modules
    assert double(21) == 42 and double(2, by=5) == 10
    assert "deferred_target_mod" in sys.modules
    for bad in ("deferred_target_mod", ":double", "deferred_target_mod:"):
        with pytest.raises(ValueError, match="module:name"):
            plugins.deferred(bad)
