"""GRPO with TRL and assay's execution rewards, on a tiny model made right here.

    pip install torch==2.13.0 trl==1.16.0      # CPU torch; see docs/rewards.md
    python examples/trl_grpo.py [--steps 3]

Nothing is downloaded (``HF_HUB_OFFLINE=1``): the tokenizer is a small BPE
trained in a second on the HumanEval prompts, and the model a randomly
initialized 2-layer GPT-2. The model is far too small to write code, so
nearly every completion earns the format penalty; the point is the plumbing:
the dataset carries a ``task_id`` column, and assay's reward functions turn
each completion into a reward by running it in the sandbox against that
problem's hidden tests. Swap in a real model name and dataset for real
training; the reward functions stay the same.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import tempfile  # noqa: E402


def tiny_tokenizer(texts: list[str]):
    """A byte-level BPE with a 400-token vocabulary, trained on ``texts``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<|endoftext|>", eos_token="<|endoftext|>", pad_token="<|endoftext|>")


def tiny_model(vocab_size: int):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=vocab_size, n_positions=1024, n_embd=64, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0, pad_token_id=0)
    return GPT2LMHeadModel(config)


def warm_start(model, tokenizer, texts: list[str], steps: int) -> None:
    """A few seconds of next-token training on HumanEval's canonical programs, so the
    tiny model writes indented, code-like text and the rewards differ within a group
    (GRPO learns nothing from a group whose rewards are all equal)."""
    import torch

    if steps <= 0:
        return
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    encoded = [tokenizer(t, return_tensors="pt", truncation=True, max_length=256)["input_ids"] for t in texts]
    model.train()
    for step in range(steps):
        ids = encoded[step % len(encoded)]
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    print(f"warm start: {steps} steps, last loss {loss.item():.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--problems", type=int, default=8, help="HumanEval problems in the dataset")
    parser.add_argument("--warm-start", type=int, default=150, help="next-token steps on canonical solutions first (0: a purely random model)")
    args = parser.parse_args(argv)

    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from assay.problems import load_benchmark
    from assay.reward import trl_reward

    problems = load_benchmark("humaneval")[: args.problems]
    tokenizer = tiny_tokenizer([p.prompt for p in load_benchmark("humaneval")])
    model = tiny_model(len(tokenizer))
    warm_start(model, tokenizer, [p.reference for p in load_benchmark("humaneval") if p.reference], args.warm_start)
    dataset = Dataset.from_list([{"prompt": p.prompt, "task_id": p.task_id} for p in problems])

    # The reward functions: all-or-nothing correctness and the fraction of tests
    # passed, both with the format penalty for completions that hold no code.
    rewards = [
        trl_reward("correctness", benchmark="humaneval"),
        trl_reward("fraction", benchmark="humaneval"),
    ]
    with tempfile.TemporaryDirectory() as out:
        config = GRPOConfig(
            output_dir=out,
            max_steps=args.steps,
            per_device_train_batch_size=4,
            num_generations=4,
            max_completion_length=32,
            learning_rate=1e-4,
            logging_steps=1,
            report_to="none",
            save_strategy="no",
            use_cpu=True,
            bf16=False,
            seed=0,
        )
        trainer = GRPOTrainer(model=model, reward_funcs=rewards, args=config, train_dataset=dataset, processing_class=tokenizer)
        trainer.train()
    print("\nstep  reward  correctness  fraction  (means over the step's completions)")
    for entry in trainer.state.log_history:
        if "reward" in entry:
            print(
                "%4d  %6.3f  %11.3f  %8.3f"
                % (entry.get("step", 0), entry["reward"], entry.get("rewards/assay_correctness/mean", float("nan")), entry.get("rewards/assay_fraction/mean", float("nan")))
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
