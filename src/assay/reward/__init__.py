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

from assay.reward.adapters import (
    RewardInfraError,
    TRLReward,
    compute_score,
    compute_score_batch,
    compute_score_with_details,
    correctness_reward,
    efficiency_reward,
    fraction_reward,
    trl_reward,
)
from assay.reward.functions import KINDS, Reward, RewardSpec, efficiency_value
from assay.reward.meters import register_meter
from assay.reward.resolve import ProblemError
from assay.reward.scoring import RewardItem, RewardScorer, close_shared_sandbox, score_pairs, set_shared_sandbox, shared_sandbox

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
