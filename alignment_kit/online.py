"""Glue for the star section's online DPO round and the fast-path demo (not graded; the graded parts
are the student's own).

`sample_candidates` has a policy answer each prompt several times and the reward model score each
answer; `train_round` runs the student's own training-loop cell once more (re-run from the kernel's
history, as the public check does) on the new pairs, with fresh copies of the policy; `with_weights`
hands the student's `dpo_loss` each batch's weights; `mean_reward` measures a policy on held-out prompts.
"""
from __future__ import annotations

import copy
import itertools

import torch

from alignment_kit import recorders
from alignment_kit.accumulation import unwrapped
from alignment_kit.cell_checks import last_cell_of
from alignment_kit.helpers import generate_reply, reward_scores, user_turn


def sample_candidates(policy, reward_model, tokenizer, prompts: list[str], k: int, max_new_tokens: int,
                      seed: int = 0) -> dict[str, list[dict]]:
    """{prompt: [{"text", "score"}, ...]}: k sampled replies per prompt, scored by the reward model."""
    policy.eval()
    found = {}
    for index, prompt in enumerate(prompts):
        torch.manual_seed(seed + index)
        inputs = tokenizer.apply_chat_template(user_turn(prompt), add_generation_prompt=True, return_tensors="pt",
                                               return_dict=True).to(policy.device)
        with torch.inference_mode():
            out = policy.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=True, top_p=0.95,
                                  num_return_sequences=k, pad_token_id=tokenizer.pad_token_id)
        texts = [tokenizer.decode(row[inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip() for row in out]
        scores = reward_scores(reward_model, tokenizer, [user_turn(prompt) + [{"role": "assistant", "content": t}]
                                                         for t in texts])
        found[prompt] = [{"text": t, "score": float(s)} for t, s in zip(texts, scores)]
    return found


def mean_reward(policy, reward_model, tokenizer, prompts: list[str], max_new_tokens: int) -> float:
    """The reward model's mean score of the policy's greedy replies to `prompts`."""
    replies = [generate_reply(policy, tokenizer, p, max_new_tokens) for p in prompts]
    return float(reward_scores(reward_model, tokenizer, [user_turn(p) + [{"role": "assistant", "content": r}]
                                                         for p, r in zip(prompts, replies)]).mean())


def with_weights(dpo_loss, weights: list[float], batch_size: int):
    """`dpo_loss` that takes each next batch's weights (in the loader's order), for a loop that calls it once a step."""
    batches = itertools.cycle([torch.tensor(weights[i:i + batch_size]) for i in range(0, len(weights), batch_size)])

    def weighted(*args, **kwargs):
        return dpo_loss(*args, weights=next(batches), **kwargs)
    return weighted


def train_round(namespace: dict, policy, loader, steps: int, learning_rate: float, **overrides) -> tuple:
    """Re-run the notebook's training-loop cell on `loader` with a fresh copy of `policy` (trained) and
    another (the frozen reference), one optimizer step per batch (no gradient accumulation).
    Returns (the trained copy, its logged losses)."""
    from IPython import get_ipython

    source = last_cell_of(recorders.LOOP, get_ipython())
    trained, reference = copy.deepcopy(policy), copy.deepcopy(policy).eval()
    run = dict(namespace, policy_model=trained, ref_model=reference, train_loader=loader, NUM_DPO_STEPS=steps,
               optimizer=torch.optim.AdamW(trained.parameters(), lr=learning_rate), losses=[], accs=[], margins=[],
               scaler=unwrapped(namespace.get("scaler")), **overrides)
    exec(compile(source, "<your training loop>", "exec"), run)  # noqa: S102 - the student's own cell, again
    return trained, run["losses"]
