"""The TRL adapter inside a real GRPOTrainer (examples/trl_grpo.py, one step).

Needs torch and trl (not dependencies of assay: `pip install torch==2.13.0
trl==1.16.0`); skipped without them. About 30-40 s on 2 cores, most of it
importing torch and transformers, so it runs in its own process.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.mark.skipif(importlib.util.find_spec("trl") is None or importlib.util.find_spec("torch") is None, reason="trl and torch are not installed")
def test_grpo_trainer_takes_the_reward_functions():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASSAY_REWARD_WORKERS": "2"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "trl_grpo.py"), "--steps", "1", "--warm-start", "0", "--problems", "2"],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.strip().startswith("1 ")]
    assert lines, done.stdout[-2000:]
    step, reward, correctness, fraction = lines[-1].split()
    # a random model writes (almost) no code: rewards sit at or near the format penalty
    assert -0.2 <= float(correctness) <= 1.0 and -0.2 <= float(fraction) <= 1.0
    assert float(reward) == pytest.approx(float(correctness) + float(fraction))
