"""Checks for the TRL parts: the implicit-prompt conversion, the reward-model cell and the PPO cell."""
from __future__ import annotations

import json
import shutil

from alignment_kit.probes import Probe
from autograder.checks.base import Mistake
from autograder.checks.cell_check import CellCheck, Item
from autograder.checks.data import HIDDEN_ROWS
from autograder.checks.function_check import FunctionCheck

REWARD_TRAIN_ROWS, REWARD_HELD_OUT_ROWS, REWARD_STEPS = 256, 64, 40
REWARD_MIN_ACCURACY = 0.6  # "above chance" with margin; the reference run reaches far more (see tests)
PPO_EPISODES = 8


# ---------------------------------------------------------------- to_implicit_prompt_preferences
def implicit_probes() -> list[Probe]:
    return [Probe("hidden: a preference row", (dict(HIDDEN_ROWS[0]),))]


def _answer_only(example):
    return {side: [{"role": "assistant", "content": example[side]}] for side in ("chosen", "rejected")}


def _plain_strings(example):
    return {side: example["prompt"] + example[side] for side in ("chosen", "rejected")}


TO_IMPLICIT = FunctionCheck(
    name="to_implicit_prompt_preferences", hidden_probes=implicit_probes,
    mistakes=[
        Mistake("the user turn is missing: both conversations must start with the prompt as a user message", _answer_only),
        Mistake("returns concatenated strings: return lists of chat messages (role/content dicts)", _plain_strings),
    ],
)


# ---------------------------------------------------------------- shared worker helpers
def _copy_tiny_model(scratch) -> str:
    """A private copy of the tiny checkpoint the unprivileged worker can read."""
    from alignment_kit import paths

    target = scratch / "tiny-model"
    # copyfile, not copy2: the cache may hold owner-only files, and the copy must be world-readable.
    shutil.copytree(paths.tiny_model_dir(), target, copy_function=shutil.copyfile)
    return str(target)


def _trl_namespace(scratch, **settings_changes) -> dict:
    import os

    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from alignment_kit.probes import kit_tokenizer
    from alignment_kit.settings import HomeworkSettings

    settings = HomeworkSettings(profile="smoke", model_path=_copy_tiny_model(scratch), dataset="",
                                output_dir=str(scratch / "outputs"), **settings_changes)
    return {"os": os, "torch": torch, "settings": settings, "tokenizer": kit_tokenizer(), "DEVICE": "cpu",
            "AutoModelForCausalLM": AutoModelForCausalLM, "AutoTokenizer": AutoTokenizer,
            "AutoModelForSequenceClassification": AutoModelForSequenceClassification}


def _kit_rows(split: str, count: int) -> list[dict]:
    from alignment_kit import paths

    lines = (paths.DATA_DIR / f"{split}.jsonl").read_text().splitlines()[:count]
    return [json.loads(line) for line in lines]


# ---------------------------------------------------------------- reward model cell
def reward_job() -> dict:
    from autograder.reference import reference_function

    convert = reference_function("to_implicit_prompt_preferences")
    return {"train": [convert(r) for r in _kit_rows("train", REWARD_TRAIN_ROWS)],
            "held_out": [convert(r) for r in _kit_rows("test", REWARD_HELD_OUT_ROWS)]}


def reward_prepare(job: dict, scratch) -> tuple[dict, dict]:
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    namespace = _trl_namespace(scratch, reward_steps=REWARD_STEPS)
    namespace.update(RewardConfig=RewardConfig, RewardTrainer=RewardTrainer,
                     reward_train=Dataset.from_list(job["train"]))
    return namespace, {"held_out": job["held_out"]}


def reward_collect(namespace: dict, state: dict) -> dict:
    from trl import RewardTrainer

    from alignment_kit.helpers import reward_scores

    model = namespace.get("reward_model")
    trainers = [v for v in namespace.values() if isinstance(v, RewardTrainer)]
    facts = {"has_model": model is not None and hasattr(model, "forward"),
             "trained_steps": max((t.state.global_step for t in trainers), default=0)}
    if facts["has_model"]:
        tokenizer = namespace["tokenizer"]
        facts["chosen_scores"] = reward_scores(model, tokenizer, [r["chosen"] for r in state["held_out"]]).tolist()
        facts["rejected_scores"] = reward_scores(model, tokenizer, [r["rejected"] for r in state["held_out"]]).tolist()
    return facts


def _accuracy(facts: dict) -> float | None:
    chosen, rejected = facts.get("chosen_scores"), facts.get("rejected_scores")
    if not chosen or not rejected or len(chosen) != len(rejected):
        return None
    return sum(c > r for c, r in zip(chosen, rejected)) / len(chosen)


def reward_judge(student: dict, reference: dict, job: dict) -> list[Item]:
    built = student.get("has_model", False)
    trained = student.get("trained_steps", 0) >= 1
    items = [Item("reward_model trained with RewardTrainer", 0.2, built and trained,
                  "ok" if built and trained else
                  ("no `reward_model` was created" if not built else "no RewardTrainer finished a training step"))]
    accuracy, reference_accuracy = _accuracy(student), _accuracy(reference)
    good = accuracy is not None and accuracy >= REWARD_MIN_ACCURACY
    shown = "no scores" if accuracy is None else f"{accuracy:.0%}"
    items.append(Item("ranks held-out chosen above rejected", 0.5, good,
                      f"held-out accuracy {shown} (needs {REWARD_MIN_ACCURACY:.0%}; the reference run reaches "
                      f"{reference_accuracy:.0%})" if reference_accuracy is not None else f"held-out accuracy {shown}"))
    return items


REWARD_TRAINING = CellCheck(
    grade_id="reward_training",
    substitutes=("to_implicit_prompt_preferences",),
    prepare=reward_prepare, collect=reward_collect, judge=reward_judge, job_data=reward_job,
)


# ---------------------------------------------------------------- PPO cell
def ppo_job() -> dict:
    from alignment_kit.helpers import prompt_input_ids
    from alignment_kit.probes import kit_tokenizer

    tokenizer = kit_tokenizer()
    return {"prompts": [prompt_input_ids(r, tokenizer) for r in _kit_rows("train", 16)]}


def ppo_prepare(job: dict, scratch) -> tuple[dict, dict]:
    from datasets import Dataset
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    from alignment_kit.tiny import make_tiny_reward_model

    namespace = _trl_namespace(scratch, ppo_episodes=PPO_EPISODES, max_new_tokens=8)
    reward_model = make_tiny_reward_model(namespace["tokenizer"], seed=1)
    namespace.update(PPOConfig=PPOConfig, PPOTrainer=PPOTrainer, reward_model=reward_model,
                     ppo_prompts=Dataset.from_list(job["prompts"]))
    return namespace, {"reward_model": reward_model}


def _kind(model) -> str:
    if model is None:
        return "missing"
    name = type(model).__name__
    if name.endswith("ForCausalLM"):
        return "causal_lm"
    if name.endswith("ForSequenceClassification"):
        return "sequence_classifier"
    return name


def ppo_collect(namespace: dict, state: dict) -> dict:
    from trl.experimental.ppo import PPOTrainer

    trainer = namespace.get("ppo_trainer")
    if not isinstance(trainer, PPOTrainer):
        return {"trainer": False}
    policy, ref = getattr(trainer, "policy_model", None), getattr(trainer, "ref_model", None)
    value, reward = getattr(trainer, "value_model", None), getattr(trainer, "reward_model", None)
    return {
        "trainer": True, "policy": _kind(policy), "ref": _kind(ref), "value": _kind(value),
        "ref_is_policy": ref is policy, "value_is_reward": value is reward,
        "reward_is_given": reward is state["reward_model"],
        "value_outputs": getattr(getattr(value, "config", None), "num_labels", None),
        "steps": trainer.state.global_step,
    }


def ppo_judge(student: dict, reference: dict, job: dict) -> list[Item]:
    if not student.get("trainer"):
        return [Item("PPOTrainer built", 2.0, False, "no `ppo_trainer` (a trl.experimental.ppo.PPOTrainer) was created")]
    checks = [
        ("PPOTrainer built", 0.4, True, "ok"),
        ("policy is a causal LM", 0.3, student["policy"] == "causal_lm", f"the policy is {student['policy']}, not a causal LM"),
        ("separate reference policy", 0.3, student["ref"] == "causal_lm" and not student["ref_is_policy"],
         "ref_model must be a second causal LM, not the policy itself" if student["ref_is_policy"] else f"the reference is {student['ref']}"),
        ("the trained reward model", 0.3, student["reward_is_given"], "reward_model must be the reward model trained above"),
        ("value model", 0.3, student["value"] == "sequence_classifier" and student["value_outputs"] == 1 and not student["value_is_reward"],
         "value_model must be its own AutoModelForSequenceClassification with num_labels=1"),
        ("completes a training step", 0.4, student["steps"] >= 1, "ppo_trainer.train() did not complete a step"),
    ]
    return [Item(name, points, ok, "ok" if ok else message) for name, points, ok, message in checks]


PPO_TRAINING = CellCheck(
    grade_id="ppo_training", substitutes=(),
    prepare=ppo_prepare, collect=ppo_collect, judge=ppo_judge, job_data=ppo_job,
)
