"""Rewards for reinforcement learning of code models, from execution in the sandbox.

In-process::

    from assay.reward import trl_reward, compute_score, score_pairs, RewardSpec

* :func:`trl_reward` — TRL's ``f(prompts, completions, **columns)`` for
  ``GRPOTrainer(reward_funcs=...)``;
* :func:`compute_score` / :func:`compute_score_batch` — verl's signatures;
* :func:`score_pairs` — a plain batch over (problem, completion) pairs;
* :class:`RewardScorer` — the engine, with a process-wide shared sandbox.

Over HTTP: ``assay serve`` (:mod:`assay.reward.server`). On Ray:
:class:`assay.reward.ray_pool.RayRewardPool`. Formulas: docs/rewards.md.
"""

import importlib
from typing import Any

# Loaded on first use, so that ``assay --help`` (which adds the ``serve``
# command from assay.reward.cli) does not import the sandbox and the server.
_EXPORTS = {
    "RewardInfraError": "assay.reward.adapters",
    "TRLReward": "assay.reward.adapters",
    "compute_score": "assay.reward.adapters",
    "compute_score_batch": "assay.reward.adapters",
    "compute_score_with_details": "assay.reward.adapters",
    "correctness_reward": "assay.reward.adapters",
    "efficiency_reward": "assay.reward.adapters",
    "fraction_reward": "assay.reward.adapters",
    "trl_reward": "assay.reward.adapters",
    "KINDS": "assay.reward.functions",
    "Reward": "assay.reward.functions",
    "RewardSpec": "assay.reward.functions",
    "efficiency_value": "assay.reward.functions",
    "register_meter": "assay.measure.meters",
    "ProblemError": "assay.reward.resolve",
    "RewardItem": "assay.reward.scoring",
    "RewardScorer": "assay.reward.scoring",
    "close_shared_sandbox": "assay.reward.scoring",
    "score_pairs": "assay.reward.scoring",
    "set_shared_sandbox": "assay.reward.scoring",
    "shared_sandbox": "assay.reward.scoring",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'assay.reward' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "KINDS",
    "ProblemError",
    "Reward",
    "RewardInfraError",
    "RewardItem",
    "RewardScorer",
    "RewardSpec",
    "TRLReward",
    "close_shared_sandbox",
    "compute_score",
    "compute_score_batch",
    "compute_score_with_details",
    "correctness_reward",
    "efficiency_reward",
    "efficiency_value",
    "fraction_reward",
    "register_meter",
    "score_pairs",
    "set_shared_sandbox",
    "shared_sandbox",
    "trl_reward",
]
