"""Re-running a graded cell: the namespace it is given, and the facts it leaves behind.

A *configuration* (plain JSON: rows, sizes, hyperparameters) says what the cell is given. `prepare`
builds the namespace from it, with tiny seeded models whose calls are recorded; `after_helpers`
wires in the helpers the cell uses (the grader's reference helpers, or in the notebook the
student's own); `collect` turns what the cell left behind into JSON facts. The grader runs this in
its workers; the public checks run it in the notebook's kernel. Judging lives in `cell_judges.py`;
nothing here knows what the right facts are.
"""
from __future__ import annotations

import contextlib
import functools
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

LOOP, REWARD, PPO = "dpo_training_loop", "reward_training", "ppo_training"


def _real_tokens(input_ids, attention_mask) -> list[tuple[int, ...]]:
    if attention_mask is None:
        return [tuple(int(t) for t in row) for row in input_ids]
    return [tuple(int(t) for t, m in zip(row, mask) if m) for row, mask in zip(input_ids, attention_mask)]


def _counting(method, state: dict, key: str):
    @functools.wraps(method)
    def counted(*args, **kwargs):
        state[key] += 1
        return method(*args, **kwargs)
    return counted


# ---------------------------------------------------------------------------------- DPO loop
def prepare_loop(config: dict, scratch: Path) -> tuple[dict, dict]:
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    from alignment_kit.probes import kit_tokenizer
    from alignment_kit.tiny import make_tiny_causal_lm

    tokenizer, device = kit_tokenizer(), config.get("device", "cpu")
    policy, ref = make_tiny_causal_lm(tokenizer).to(device), make_tiny_causal_lm(tokenizer).to(device)
    state = {"policy_rows": [], "ref_rows": [], "ref_grad_calls": 0, "masked_labels": [], "optimizer_steps": 0,
             "autocast_entries": 0, "scaled_losses": 0,
             "ref_start": [p.detach().clone() for p in ref.parameters()], "ref": ref}

    def recorder(kind):
        def hook(module, args, kwargs):
            input_ids = kwargs.get("input_ids", args[0] if args else None)
            attention_mask = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)
            if input_ids is not None:
                mask = attention_mask.tolist() if attention_mask is not None else None
                state[f"{kind}_rows"].extend(_real_tokens(input_ids.tolist(), mask))
            if kind == "ref" and torch.is_grad_enabled():
                state["ref_grad_calls"] += 1
        return hook

    policy.register_forward_pre_hook(recorder("policy"), with_kwargs=True)
    ref.register_forward_pre_hook(recorder("ref"), with_kwargs=True)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=config["learning_rate"])
    optimizer.step = _counting(optimizer.step, state, "optimizer_steps")
    scaler = torch.amp.GradScaler(device, enabled=False)
    scaler.scale = _counting(scaler.scale, state, "scaled_losses")

    @contextlib.contextmanager
    def autocast():
        state["autocast_entries"] += 1
        yield

    settings = SimpleNamespace(beta=config["beta"], max_seq_len=config["max_seq_len"], dpo_steps=config["steps"],
                               batch_size=config["batch_size"], learning_rate=config["learning_rate"],
                               device=device, precision="fp32", seed=0)
    namespace = {
        "torch": torch, "F": F, "tqdm": functools.partial(tqdm, disable=True), "DataLoader": DataLoader,
        "functools": functools, "policy_model": policy, "ref_model": ref, "tokenizer": tokenizer,
        "optimizer": optimizer, "scaler": scaler, "autocast": autocast, "settings": settings,
        "BETA": config["beta"], "MAX_SEQ_LEN": config["max_seq_len"], "NUM_DPO_STEPS": config["steps"],
        "DEVICE": device, "losses": [], "accs": [], "margins": [],
    }
    return namespace, state


def after_helpers_loop(namespace: dict, config: dict, state: dict) -> None:
    """Record the masks that reach get_log_prob, and build the loader with the given pad_collate_fn."""
    from torch.utils.data import DataLoader

    inner = namespace["get_log_prob"]

    def get_log_prob(logits, labels, mask):
        state["masked_labels"].extend(_real_tokens(labels.tolist(), mask.tolist()))
        return inner(logits, labels, mask)

    namespace["get_log_prob"] = get_log_prob
    collate = functools.partial(namespace["pad_collate_fn"], pad_token_id=config["pad_token_id"])
    namespace["train_loader"] = DataLoader(config["rows"], batch_size=config["batch_size"], shuffle=False,
                                           collate_fn=collate)


def _floats(values) -> list[float] | None:
    if not isinstance(values, list):
        return None
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def collect_loop(namespace: dict, state: dict) -> dict:
    ref = state["ref"]
    ref_changed = any(bool((p.detach() != start).any()) for p, start in zip(ref.parameters(), state["ref_start"]))
    return {
        "losses": _floats(namespace.get("losses")), "accs": _floats(namespace.get("accs")),
        "margins": _floats(namespace.get("margins")),
        "policy_rows": sorted(set(state["policy_rows"])), "masked_labels": sorted(set(state["masked_labels"])),
        "ref_calls": len(state["ref_rows"]), "ref_grad_calls": state["ref_grad_calls"], "ref_changed": ref_changed,
        "ref_has_grad": any(p.grad is not None for p in ref.parameters()),
        "optimizer_steps": state["optimizer_steps"], "autocast_entries": state["autocast_entries"],
        "scaled_losses": state["scaled_losses"],
    }


# ---------------------------------------------------------------------------------- TRL cells
def _tiny_checkpoint(scratch: Path) -> str:
    """A private, world-readable copy of the tiny checkpoint (the worker may run as another user)."""
    from alignment_kit import assets

    target = scratch / "tiny-model"
    if not target.exists():
        shutil.copytree(assets.ensure_tiny_model(verbose=False), target, copy_function=shutil.copyfile)
    return str(target)


def _trl_namespace(config: dict, scratch: Path) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from alignment_kit.probes import kit_tokenizer
    from alignment_kit.settings import HomeworkSettings

    settings = HomeworkSettings(profile="smoke", model_path=_tiny_checkpoint(scratch), dataset="",
                                output_dir=str(scratch / "outputs"), **config["settings"])
    return {"os": os, "torch": torch, "settings": settings, "tokenizer": kit_tokenizer(), "DEVICE": "cpu",
            "AutoModelForCausalLM": AutoModelForCausalLM, "AutoTokenizer": AutoTokenizer,
            "AutoModelForSequenceClassification": AutoModelForSequenceClassification}


def prepare_reward(config: dict, scratch: Path) -> tuple[dict, dict]:
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    namespace = _trl_namespace(config, scratch)
    namespace.update(RewardConfig=RewardConfig, RewardTrainer=RewardTrainer, reward_train=Dataset.from_list(config["train"]))
    return namespace, {"held_out": config["held_out"]}


def reward_facts(namespace: dict) -> dict:
    """Facts about `reward_model` and the RewardTrainer in a namespace (also what the public check reads)."""
    from trl import RewardTrainer

    model = namespace.get("reward_model")
    trainers = [v for v in namespace.values() if isinstance(v, RewardTrainer)]
    trainer = trainers[-1] if trainers else None
    config = getattr(model, "config", None)
    return {"has_model": model is not None and hasattr(model, "forward"), "trainer": trainer is not None,
            "trained_steps": trainer.state.global_step if trainer else 0,
            "trainer_has_model": trainer is not None and trainer.model is model,
            "num_labels": getattr(config, "num_labels", None),
            "pad_token_set": getattr(config, "pad_token_id", None) is not None,
            "max_length": getattr(trainer.args, "max_length", None) if trainer else None,
            "train_rows": len(trainer.train_dataset) if trainer and trainer.train_dataset is not None else None}


def collect_reward(namespace: dict, state: dict) -> dict:
    from alignment_kit.helpers import reward_scores

    facts = reward_facts(namespace)
    model = namespace.get("reward_model")
    if facts["has_model"]:
        tokenizer = namespace["tokenizer"]
        facts["chosen_scores"] = reward_scores(model, tokenizer, [r["chosen"] for r in state["held_out"]]).tolist()
        facts["rejected_scores"] = reward_scores(model, tokenizer, [r["rejected"] for r in state["held_out"]]).tolist()
    return facts


def prepare_ppo(config: dict, scratch: Path) -> tuple[dict, dict]:
    from datasets import Dataset
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    from alignment_kit.tiny import make_tiny_reward_model

    namespace = _trl_namespace(config, scratch)
    reward_model = make_tiny_reward_model(namespace["tokenizer"], seed=1)
    reward_model.config.pad_token_id = namespace["tokenizer"].pad_token_id  # as the homework's reward model has
    namespace.update(PPOConfig=PPOConfig, PPOTrainer=PPOTrainer, reward_model=reward_model,
                     ppo_prompts=Dataset.from_list(config["prompts"]))
    return namespace, {"reward_model": reward_model}


def model_kind(model) -> str:
    if model is None:
        return "missing"
    name = type(model).__name__
    if name.endswith("ForCausalLM"):
        return "causal_lm"
    if name.endswith("ForSequenceClassification"):
        return "sequence_classifier"
    return name


def ppo_facts(trainer, reward_model) -> dict:
    """Facts about a PPOTrainer (also what the public check reads from the notebook's own trainer)."""
    from trl.experimental.ppo import PPOTrainer

    if not isinstance(trainer, PPOTrainer):
        return {"trainer": False}
    policy, ref = getattr(trainer, "policy_model", None), getattr(trainer, "ref_model", None)
    value, reward = getattr(trainer, "value_model", None), getattr(trainer, "reward_model", None)
    value_config = getattr(value, "config", None)
    return {
        "trainer": True, "policy": model_kind(policy), "ref": model_kind(ref), "value": model_kind(value),
        "ref_is_policy": ref is policy, "value_is_reward": value is reward, "reward_is_given": reward is reward_model,
        "value_outputs": getattr(value_config, "num_labels", None),
        "value_pad_set": getattr(value_config, "pad_token_id", None) is not None,
        "steps": trainer.state.global_step, "total_episodes": trainer.args.total_episodes,
        "response_length": trainer.args.response_length,
        "prompt_rows": len(trainer.train_dataset) if trainer.train_dataset is not None else None,
    }


def collect_ppo(namespace: dict, state: dict) -> dict:
    return ppo_facts(namespace.get("ppo_trainer"), state["reward_model"])


def warm_up(item: str, scratch: Path) -> None:
    """Load what later runs read from the model cache while the worker may still read it (before it
    drops privileges): the tokenizer, and for the TRL cells a copy of the tiny checkpoint in scratch."""
    from alignment_kit.probes import kit_tokenizer

    kit_tokenizer()
    if item in (REWARD, PPO):
        _tiny_checkpoint(scratch)


PREPARE = {LOOP: prepare_loop, REWARD: prepare_reward, PPO: prepare_ppo}
AFTER_HELPERS = {LOOP: after_helpers_loop}
COLLECT = {LOOP: collect_loop, REWARD: collect_reward, PPO: collect_ppo}
