"""The RLOO cell (RLOO edition) as the grader's worker runs it: its namespace, its recorded runs, its facts.

The namespace gives the cell what the notebook has at that point (the settings, the tokenizer, a reward
model standing in for the trained one, `rloo_prompts`, TRL's `RLOOConfig` and `RLOOTrainer`). Every
`train()` records what it started from (`trainer_runs.record_runs`): the arguments, the policy, the
reference TRL built (or the model put in its place) and the reward model, as differences from the kit's
checkpoint and the given reward model, so the grader can replay it.

A config with `num_generations` below 2 is refused by TRL (RLOO has no baseline without a second reply):
in the grader's run it is noted, and the course's value is used instead, so that the rest of the cell
can still be judged and only the baseline's points are lost.
"""
from __future__ import annotations

import copy
from pathlib import Path

from alignment_kit.trainer_runs import weights

# Which model an RLOO trainer holds in each role: the policy, TRL's reference (None when beta is 0), the reward.
ROLES = {"policy": lambda trainer: getattr(trainer, "model", None),
         "ref": lambda trainer: getattr(trainer, "ref_model", None),
         "reward": lambda trainer: (getattr(trainer, "reward_funcs", None) or [None])[0]}


def prompt_rows(config: dict) -> list[dict]:
    """The configuration's prompts as rows RLOOTrainer takes (conversational, one user turn)."""
    return [{"prompt": [{"role": "user", "content": text}]} for text in config["prompt_texts"]]


def _recording_config(RLOOConfig, state: dict, generations: int):
    """TRL's RLOOConfig, except that a num_generations below 2 is noted and replaced by `generations`."""
    class RecordedRLOOConfig(RLOOConfig):
        def __post_init__(self):
            if isinstance(self.num_generations, int) and self.num_generations < 2:
                state["given_generations"] = self.num_generations
                self.num_generations = generations
            super().__post_init__()

    RecordedRLOOConfig.__name__ = RecordedRLOOConfig.__qualname__ = "RLOOConfig"
    return RecordedRLOOConfig


def prepare(config: dict, scratch: Path, namespace: dict) -> dict:
    """Fill the cell's namespace (`namespace` holds the common TRL cell names) and return the recording state."""
    from datasets import Dataset
    from safetensors.torch import load_file

    from alignment_kit.stack import rloo_classes
    from alignment_kit.tiny import make_tiny_reward_model
    from alignment_kit.trainer_runs import record_runs

    RLOOConfig, RLOOTrainer = rloo_classes()
    reward_model = make_tiny_reward_model(namespace["tokenizer"], seed=1)
    reward_model.config.pad_token_id = namespace["tokenizer"].pad_token_id  # as the homework's reward model has
    checkpoint = load_file(str(Path(namespace["settings"].model_path) / "model.safetensors"))
    state = {"reward_model": reward_model, "given_generations": None}
    record_runs(RLOOTrainer, state, {"checkpoint": checkpoint, "given_reward": weights(reward_model)}, ROLES)
    namespace.update(copy=copy, RLOOConfig=_recording_config(RLOOConfig, state, namespace["settings"].rloo_generations),
                     RLOOTrainer=RLOOTrainer, reward_model=reward_model,
                     rloo_prompts=Dataset.from_list(prompt_rows(config)))
    if "replay" in config:  # a grader's replay of a recorded run (see autograder/items/rloo_training.py)
        namespace.update(replay=config["replay"], checkpoint=checkpoint)
    return state


def facts(trainer, state: dict) -> dict:
    """Facts about the cell's RLOOTrainer (also what the public check reads from the notebook's own trainer)."""
    from alignment_kit.stack import rloo_classes

    _, RLOOTrainer = rloo_classes()
    if not isinstance(trainer, RLOOTrainer):
        return {"trainer": False, "given_generations": state.get("given_generations")}
    arguments = getattr(trainer, "args", None)
    dataset = getattr(trainer, "train_dataset", None)
    return {"trainer": True, "steps": getattr(getattr(trainer, "state", None), "global_step", 0),
            "given_generations": state.get("given_generations"),
            "num_generations": getattr(arguments, "num_generations", None),
            "beta": getattr(arguments, "beta", None), "max_steps": getattr(arguments, "max_steps", None),
            "max_completion_length": getattr(arguments, "max_completion_length", None),
            "prompt_rows": len(dataset) if dataset is not None else None}


def collect(namespace: dict, state: dict) -> dict:
    """The facts, and the first recorded run with the policy as the cell leaves it."""
    from alignment_kit.trainer_runs import first_run

    return {"facts": facts(namespace.get("rloo_trainer"), state), "outcome": first_run(state, "model")}
