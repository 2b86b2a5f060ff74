"""A model as data, and a TRL trainer's runs recorded so that the grader can replay them.

In the worker, `record_runs` makes a trainer class note, for every `train()`, what the run started
from: the arguments the trainer was built with, its models (as differences from known bases), which
of them are one object, its training rows and the random states. The grader replays that start in a
fresh worker with its own code and compares what the two runs trained: a run that matches its replay
was a real run of what it recorded, so what the record says (its settings, its models) can be judged.
The functions that read models are captured when the module is imported, before student code runs.
"""
from __future__ import annotations

import copy
import dataclasses
import inspect
import random
from typing import Callable

import torch

_named_parameters = torch.nn.Module.named_parameters
_MODULE, _isinstance, _equal = torch.nn.Module, isinstance, torch.equal


def weights(model) -> dict[str, torch.Tensor] | None:
    """A module's parameters by name (each tied tensor once), as they are now (copies); None if not a module."""
    if not _isinstance(model, _MODULE):
        return None
    return {name: parameter.detach().clone() for name, parameter in _named_parameters(model)}


def model_config(model) -> dict:
    config = getattr(model, "config", None)
    return {"num_labels": getattr(config, "num_labels", None), "pad_token_set": getattr(config, "pad_token_id", None) is not None}


def differences(model, bases: dict[str, dict]) -> dict:
    """A model as data: its class, its config, and its parameters where they differ from the closest base
    (the tiny checkpoint, or a model the cell was given)."""
    now = weights(model)
    if now is None:
        return {"class": type(model).__name__, "missing": True}
    best, changed = "", dict(now)
    for name, base in bases.items():
        differing = {k: v for k, v in now.items() if k not in base or base[k].shape != v.shape or not _equal(base[k], v)}
        if len(differing) < len(changed):
            best, changed = name, differing
    return {"class": type(model).__name__, **model_config(model), "base": best, "changed": changed}


def rng_state() -> dict:
    import numpy as np

    kind, keys, position, has_gauss, gauss = np.random.get_state()
    version, python_state, python_gauss = random.getstate()
    return {"torch": torch.get_rng_state(), "numpy": [kind, keys, int(position), int(has_gauss), float(gauss)],
            "python": [version, list(python_state), python_gauss], "threads": torch.get_num_threads()}


def set_rng_state(saved: dict) -> None:
    """Put back what `rng_state` recorded (a replay starts where the recorded run started)."""
    import numpy as np

    torch.set_rng_state(saved["torch"])
    kind, keys, position, has_gauss, gauss = saved["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, gauss))
    version, python_state, python_gauss = saved["python"]
    random.setstate((version, tuple(python_state), python_gauss))
    torch.set_num_threads(saved["threads"])


def arguments(args) -> dict:
    """A trainer config's init fields as plain values (enums by value, nested configs as dicts). Not
    `to_dict()`, which masks every field whose name ends in `_token`, PPO's `stop_token` among them."""
    import enum

    found = {}
    for field in dataclasses.fields(args):
        if field.init:
            value = getattr(args, field.name)
            if isinstance(value, enum.Enum):
                value = value.value
            elif dataclasses.is_dataclass(value) and not isinstance(value, type):
                value = dataclasses.asdict(value)
            found[field.name] = value
    return found


_RECORDING: dict[type, dict] = {}  # trainer class -> the run being recorded: its state, bases, roles and rows


def _record_call(trainer, recording: dict) -> dict:
    models = {role: attribute(trainer) if callable(attribute) else getattr(trainer, attribute, None)
              for role, attribute in recording["roles"].items()}
    return {"arguments": getattr(trainer, "_kit_arguments", None),
            "models": {role: differences(model, recording["bases"]) for role, model in models.items()},
            "same": sorted(f"{a}={b}" for a in models for b in models if a < b and models[a] is not None
                           and models[a] is models[b]),
            "rows": recording["rows"](trainer), "random": rng_state()}


def given_rows(trainer) -> list[dict] | None:
    """The rows of the training set the trainer was built with, as it was given (before it tokenized them)."""
    given = getattr(trainer, "_kit_train_dataset", None)
    return [dict(row) for row in given] if given is not None else None


def record_runs(trainer_class: type, state: dict, bases: dict[str, dict], roles: dict[str, str],
                rows: Callable = given_rows) -> None:
    """Make every `trainer_class` record its runs into state["train_calls"]: for each train(), what it started
    from (the arguments it was built with, the models in `roles` (role -> the trainer's attribute), the
    `rows(trainer)`, the random states), with the trainer itself. The class is patched once per process;
    later calls only say where the records go."""
    state.setdefault("train_calls", [])
    _RECORDING[trainer_class] = {"state": state, "bases": bases, "roles": roles, "rows": rows}
    if trainer_class.__dict__.get("_kit_recording", False):
        return
    original_init, original_train = trainer_class.__init__, trainer_class.train
    signature = inspect.signature(original_init)

    def __init__(self, *args, **kwargs):
        try:
            given = signature.bind(self, *args, **kwargs).arguments
            recorded, dataset = arguments(given.get("args")), given.get("train_dataset")
        except Exception:  # noqa: BLE001 - the recorder never fails the cell; no arguments, no replay
            recorded, dataset = None, None
        original_init(self, *args, **kwargs)
        self._kit_arguments, self._kit_train_dataset = recorded, dataset

    def train(self, *args, **kwargs):
        recording = _RECORDING[trainer_class]
        try:
            call = _record_call(self, recording)
        except Exception as error:  # noqa: BLE001 - recorded as a run that cannot be replayed
            call = {"unrecordable": f"{type(error).__name__}: {error}"[:300]}
        recording["state"]["train_calls"].append((call, self))
        return original_train(self, *args, **kwargs)

    trainer_class.__init__, trainer_class.train, trainer_class._kit_recording = __init__, train, True


def first_run(state: dict, policy_attribute: str) -> dict:
    """The outcome of a cell whose trainer's runs were recorded: the first run, with the policy (the trainer's
    `policy_attribute`) as the cell leaves it (changed after training, it is no longer what that run trained),
    and how many runs there were."""
    calls = state.get("train_calls") or []
    first = None
    if calls:
        call, trainer = calls[0]
        first = dict(call, policy_after=weights(getattr(trainer, policy_attribute, None)),
                     steps=getattr(getattr(trainer, "state", None), "global_step", None))
    return {"train_call": first, "train_calls": len(calls)}


def rebuilt(claim: dict, settings, tokenizer, given=None):
    """A model a recorded run started from, as a replay rebuilds it: the kit's checkpoint (or `given`, the model
    the cell was given, when the record says it was that one), with the config and the changed weights the
    record holds; None for a role the run had no model in."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    if claim.get("missing"):
        return None
    if claim.get("base") == "given_reward" and given is not None:
        model = copy.deepcopy(given)
    elif claim["class"].endswith("ForSequenceClassification"):
        model = AutoModelForSequenceClassification.from_pretrained(settings.model_path, num_labels=claim.get("num_labels") or 1)
    else:
        model = AutoModelForCausalLM.from_pretrained(settings.model_path)
    if claim.get("pad_token_set"):
        model.config.pad_token_id = tokenizer.pad_token_id
    parameters = dict(model.named_parameters())
    for name, tensor in claim["changed"].items():
        parameters[name].detach().copy_(tensor)
    return model


def replayed_config(config_class: type, recorded: dict, output_dir: str):
    """The trainer config of a replay: the recorded arguments its class knows, and a folder of its own."""
    fields = {field.name for field in dataclasses.fields(config_class) if field.init}
    return config_class(**{key: value for key, value in recorded.items() if key in fields}, output_dir=output_dir)
