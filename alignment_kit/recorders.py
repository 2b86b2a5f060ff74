"""Re-running a graded cell: the namespace it is given, and the data it leaves behind.

A *configuration* (plain data: rows, sizes, hyperparameters) says what the cell is given. `prepare`
builds the namespace from it, with tiny seeded models whose calls are recorded; `after_helpers`
wires in the helpers the cell uses (the grader's reference helpers, or in the notebook the
student's own); `collect` hands over what the cell left behind, as data, in two parts:
* `facts`: what the recorders saw (the rows fed to the policy, the masks, calls and counters, how a
  trainer was built). They come from the process that ran student code, so they are claims: they
  can name a mistake and take points away, never earn a point;
* `outcome`: what only the computation itself produces (the logged losses, the trained weights, the
  loop's policy at each step and its reference model at the end, a trainer's run with what it started
  from). The grader evaluates these itself (`cell_outcomes.py`) and compares them with the
  reference's run under the same configuration and seeds.
The grader runs this in its workers; the public checks run it in the notebook's kernel. Judging
lives in `cell_judges.py`; nothing here knows what the right facts or outcomes are.
"""
from __future__ import annotations

import contextlib
import functools
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import torch

from alignment_kit.trainer_runs import first_run, model_config, record_runs, weights

LOOP, REWARD, PPO = "dpo_training_loop", "reward_training", "ppo_training"
RLOO = "rloo_training"  # the RLOO edition's part 5 (alignment_kit/rloo_recorder.py)

# Captured when the module is imported (before any student code runs), so that patching torch's
# Python-level functions or nn.Module's methods does not change what the recorders see.
_grad_enabled = torch._C.is_grad_enabled
_named_parameters = torch.nn.Module.named_parameters
_equal = torch.equal


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
LOOP_WEIGHT_DECAY = 0.01  # the loop's AdamW (torch's default, written out: the judging side checks its first step)
# Calls whose arguments say how a loop varies from the reference (gradient clipping): the fact that
# records them -> the argument recorded. The judge compares the loop with the grader's run of the same
# variation; the fact only says which run to compare with.
CLIPPING = {"clip_grad_norm_": ("clip_norms", "max_norm"), "clip_grad_value_": ("clip_values", "clip_value")}
_CLIPS: dict = {}  # the run being recorded (None between runs), and the original functions


def _record_clipping(state: dict | None) -> None:
    """While `state` is given, note the threshold of every gradient clipping call into it; `None` puts the
    original functions back. Both names of each function are patched (`torch.nn.utils.X` and
    `torch.nn.utils.clip_grad.X`), so an import made before or during the cell finds the recording one."""
    from torch.nn.utils import clip_grad

    _CLIPS["state"] = state
    for name, (fact, argument) in CLIPPING.items():
        original = _CLIPS.setdefault(name, getattr(clip_grad, name))

        def recording(parameters, *args, _original=original, _fact=fact, _argument=argument, **kwargs):
            if _CLIPS.get("state") is not None:
                value = kwargs.get(_argument, args[0] if args else None)
                _CLIPS["state"][_fact].append(float(value) if isinstance(value, (int, float)) else None)
            return _original(parameters, *args, **kwargs)

        replacement = functools.wraps(original)(recording) if state is not None else original
        setattr(clip_grad, name, replacement)
        setattr(torch.nn.utils, name, replacement)


def _changed(model, last: dict) -> bool:
    return any(not _equal(parameter, last[name]) for name, parameter in _named_parameters(model))


def prepare_loop(config: dict, scratch: Path) -> tuple[dict, dict]:
    """The loop cell's namespace. The reference model starts from other weights than the policy
    (`reference_seed`), so the first step's loss already depends on every part of the loss: which
    sequences, which mask, which model is the reference. With `optimizer_holds_reference`, the optimizer
    also holds the reference model's parameters: a frozen reference gets no gradient, so AdamW leaves it
    alone, while a reference run with gradients is then updated. The policy's weights are kept each time
    they changed since its last forward pass (at most one more time than there are steps). With `vocab_size`,
    the models know only that many token ids (the rows' ids were renumbered to fit, see `LoopSetup`)."""
    import torch.nn.functional as F
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    from alignment_kit.probes import kit_tokenizer
    from alignment_kit.tiny import TINY_SEED, make_tiny_causal_lm

    tokenizer, device, vocab = kit_tokenizer(), config.get("device", "cpu"), config.get("vocab_size")
    policy = make_tiny_causal_lm(tokenizer, vocab_size=vocab).to(device)
    ref = make_tiny_causal_lm(tokenizer, seed=config.get("reference_seed", TINY_SEED), vocab_size=vocab).to(device)
    state = {"policy_rows": [], "ref_rows": [], "ref_grad_calls": 0, "masked_labels": [], "optimizer_steps": 0,
             "autocast_entries": 0, "scaled_losses": 0, "ref_start": weights(ref), "ref": ref, "policy": policy,
             "policy_states": [], "last_state": weights(policy), "states_kept": config["steps"] + 1,
             "states_dropped": 0, **{fact: [] for fact, _ in CLIPPING.values()}}

    def note_policy_state():
        if not _changed(policy, state["last_state"]):
            return
        if len(state["policy_states"]) >= state["states_kept"]:
            state["states_dropped"] += 1
            return
        state["last_state"] = weights(policy)
        state["policy_states"].append(state["last_state"])

    def recorder(kind):
        def hook(module, args, kwargs):
            input_ids = kwargs.get("input_ids", args[0] if args else None)
            attention_mask = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)
            if input_ids is not None:
                mask = attention_mask.tolist() if attention_mask is not None else None
                state[f"{kind}_rows"].extend(_real_tokens(input_ids.tolist(), mask))
            if kind == "ref" and _grad_enabled():
                state["ref_grad_calls"] += 1
            if kind == "policy":
                note_policy_state()
        return hook

    policy.register_forward_pre_hook(recorder("policy"), with_kwargs=True)
    ref.register_forward_pre_hook(recorder("ref"), with_kwargs=True)
    groups = [{"params": list(policy.parameters())}]
    if config.get("optimizer_holds_reference"):
        groups.append({"params": list(ref.parameters())})
    optimizer = torch.optim.AdamW(groups, lr=config["learning_rate"], weight_decay=LOOP_WEIGHT_DECAY)
    optimizer.step = _counting(optimizer.step, state, "optimizer_steps")
    scaler = torch.amp.GradScaler(device, enabled=False)
    scaler.scale = _counting(scaler.scale, state, "scaled_losses")

    @contextlib.contextmanager
    def autocast():
        state["autocast_entries"] += 1
        yield

    _record_clipping(state)
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


def collect_loop(namespace: dict, state: dict) -> dict:
    _record_clipping(None)
    ref = state["ref"]
    now = weights(ref)
    ref_changed = any(not _equal(now[name], start) for name, start in state["ref_start"].items())
    return {
        "facts": {
            "policy_rows": sorted(set(state["policy_rows"])), "masked_labels": sorted(set(state["masked_labels"])),
            "ref_calls": len(state["ref_rows"]), "ref_grad_calls": state["ref_grad_calls"], "ref_changed": ref_changed,
            "ref_has_grad": any(p.grad is not None for p in ref.parameters()),
            "optimizer_steps": state["optimizer_steps"], "autocast_entries": state["autocast_entries"],
            "scaled_losses": state["scaled_losses"], "policy_states_dropped": state["states_dropped"],
            **{fact: state[fact] for fact, _ in CLIPPING.values()},
        },
        # The logged values as the cell left them (the grader reads them), the policy at each change and at
        # the end, and the reference model at the end.
        "outcome": {"losses": namespace.get("losses"), "accs": namespace.get("accs"),
                    "margins": namespace.get("margins"), "policy_states": state["policy_states"],
                    "policy": weights(state["policy"]), "reference": now},
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
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    from alignment_kit.probes import kit_tokenizer
    from alignment_kit.settings import HomeworkSettings

    settings = HomeworkSettings(profile="smoke", model_path=_tiny_checkpoint(scratch), dataset="",
                                output_dir=str(scratch / "outputs"), **config["settings"])
    return {"os": os, "torch": torch, "settings": settings, "tokenizer": kit_tokenizer(), "DEVICE": "cpu",
            "AutoModelForCausalLM": AutoModelForCausalLM, "AutoTokenizer": AutoTokenizer,
            "AutoModelForSequenceClassification": AutoModelForSequenceClassification}


REWARD_ROLES = {"model": "model"}  # the model a RewardTrainer trains


def prepare_reward(config: dict, scratch: Path) -> tuple[dict, dict]:
    """The reward cell's namespace, with its RewardTrainer's runs recorded (the grader replays them). The held-out
    pairs it is judged on are not in it: only the grader has them."""
    from datasets import Dataset
    from safetensors.torch import load_file
    from trl import RewardConfig, RewardTrainer

    namespace, state = _trl_namespace(config, scratch), {}
    checkpoint = load_file(str(Path(namespace["settings"].model_path) / "model.safetensors"))
    record_runs(RewardTrainer, state, {"checkpoint": checkpoint}, REWARD_ROLES)
    namespace.update(RewardConfig=RewardConfig, RewardTrainer=RewardTrainer, reward_train=Dataset.from_list(config["train"]))
    if "replay" in config:  # a grader's replay of a recorded run (see autograder/items/reward_training.py)
        namespace["replay"] = config["replay"]
    return namespace, state


def reward_facts(namespace: dict) -> dict:
    """Facts about `reward_model` and the RewardTrainer in a namespace (also what the public check reads)."""
    from trl import RewardTrainer

    model = namespace.get("reward_model")
    trainers = [v for v in namespace.values() if isinstance(v, RewardTrainer)]
    trainer = trainers[-1] if trainers else None
    config = model_config(model)
    return {"has_model": model is not None and hasattr(model, "forward"), "trainer": trainer is not None,
            "trained_steps": getattr(getattr(trainer, "state", None), "global_step", 0) if trainer else 0,
            "trainer_has_model": trainer is not None and getattr(trainer, "model", None) is model,
            "num_labels": config["num_labels"], "pad_token_set": config["pad_token_set"],
            "max_length": getattr(getattr(trainer, "args", None), "max_length", None) if trainer else None,
            "train_rows": len(trainer.train_dataset) if trainer and getattr(trainer, "train_dataset", None) is not None
            else None}


def collect_reward(namespace: dict, state: dict) -> dict:
    """The facts, the reward model's weights, and the first recorded RewardTrainer run."""
    calls = state.get("train_calls") or []
    return {"facts": reward_facts(namespace), "outcome": {"reward_model": weights(namespace.get("reward_model")),
                                                          "train_call": calls[0][0] if calls else None,
                                                          "train_calls": len(calls)}}


# ---------------------------------------------------------------------------------- PPO
# Which model a PPO trainer holds in each role, and which attribute of the trainer it is.
PPO_ROLES = {"policy": "policy_model", "ref": "ref_model", "value": "value_model", "reward": "reward_model"}


def prepare_ppo(config: dict, scratch: Path) -> tuple[dict, dict]:
    from datasets import Dataset
    from safetensors.torch import load_file

    from alignment_kit.stack import ppo_classes
    from alignment_kit.tiny import make_tiny_reward_model

    PPOConfig, PPOTrainer = ppo_classes()
    namespace = _trl_namespace(config, scratch)
    reward_model = make_tiny_reward_model(namespace["tokenizer"], seed=1)
    reward_model.config.pad_token_id = namespace["tokenizer"].pad_token_id  # as the homework's reward model has
    checkpoint = load_file(str(Path(namespace["settings"].model_path) / "model.safetensors"))
    state = {"reward_model": reward_model}
    record_runs(PPOTrainer, state, {"checkpoint": checkpoint, "given_reward": weights(reward_model)}, PPO_ROLES,
                rows=lambda trainer: [list(row["input_ids"]) for row in trainer.train_dataset])
    namespace.update(PPOConfig=PPOConfig, PPOTrainer=PPOTrainer, reward_model=reward_model,
                     ppo_prompts=Dataset.from_list(config["prompts"]))
    if "replay" in config:  # a grader's replay of a recorded run (see autograder/items/ppo_training.py)
        namespace.update(replay=config["replay"], checkpoint=checkpoint)
    return namespace, state


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
    from alignment_kit.stack import ppo_classes

    _, PPOTrainer = ppo_classes()
    if not isinstance(trainer, PPOTrainer):
        return {"trainer": False}
    policy, ref = getattr(trainer, "policy_model", None), getattr(trainer, "ref_model", None)
    value, reward = getattr(trainer, "value_model", None), getattr(trainer, "reward_model", None)
    value_config = getattr(value, "config", None)
    arguments = getattr(trainer, "args", None)
    dataset = getattr(trainer, "train_dataset", None)
    return {
        "trainer": True, "policy": model_kind(policy), "ref": model_kind(ref), "value": model_kind(value),
        "ref_is_policy": ref is policy, "value_is_reward": value is reward, "reward_is_given": reward is reward_model,
        "value_outputs": getattr(value_config, "num_labels", None),
        "value_pad_set": getattr(value_config, "pad_token_id", None) is not None,
        "steps": getattr(getattr(trainer, "state", None), "global_step", 0),
        "total_episodes": getattr(arguments, "total_episodes", None),
        "response_length": getattr(arguments, "response_length", None),
        "prompt_rows": len(dataset) if dataset is not None else None,
    }


def collect_ppo(namespace: dict, state: dict) -> dict:
    """The facts, and the first recorded run with the policy as the cell leaves it."""
    return {"facts": ppo_facts(namespace.get("ppo_trainer"), state["reward_model"]),
            "outcome": first_run(state, "policy_model")}


def prepare_rloo(config: dict, scratch: Path) -> tuple[dict, dict]:
    from alignment_kit import rloo_recorder

    namespace = _trl_namespace(config, scratch)
    return namespace, rloo_recorder.prepare(config, scratch, namespace)


def collect_rloo(namespace: dict, state: dict) -> dict:
    from alignment_kit import rloo_recorder

    return rloo_recorder.collect(namespace, state)


def warm_up(item: str, scratch: Path) -> None:
    """Load what later runs read from the model cache while the worker may still read it (before it
    drops privileges): the tokenizer, and for the TRL cells a copy of the tiny checkpoint in scratch."""
    from alignment_kit.probes import kit_tokenizer

    kit_tokenizer()
    if item in (REWARD, PPO, RLOO):
        _tiny_checkpoint(scratch)


PREPARE = {LOOP: prepare_loop, REWARD: prepare_reward, PPO: prepare_ppo, RLOO: prepare_rloo}
AFTER_HELPERS = {LOOP: after_helpers_loop}
COLLECT = {LOOP: collect_loop, REWARD: collect_reward, PPO: collect_ppo, RLOO: collect_rloo}
