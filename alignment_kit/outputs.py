"""How the checks read each graded function's output: named components, tolerances, requirements.

`observe.call` records what a function returned (in a worker, for the grader); `read` turns that
observation into a dict of named components on the grader's side, where a reader says what was
expected when the output has the wrong shape (`OutputShapeError`). The public self-checks and the
grader read outputs the same way (`run` sends an observation through the wire as a worker would),
so both give the same messages. Nothing here computes an answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from alignment_kit import observe
from alignment_kit.compare import Tolerance, encode
from alignment_kit.observe import Gradient

COLLATE_KEYS = ("prompt_input_ids", "prompt_attn_mask", "chosen_input_ids", "chosen_attn_mask",
                "rejected_input_ids", "rejected_attn_mask")
TOKEN_KEYS = ("prompt_input_ids", "chosen_input_ids", "rejected_input_ids")


class OutputShapeError(Exception):
    """The function returned something of the wrong kind; the message says what was expected."""


@dataclass(frozen=True)
class OutputSpec:
    """Reading one function's output."""

    read: Callable[..., dict]  # output (and, with `reads_probe`, the probe's arguments) -> components
    tolerance: Tolerance = Tolerance()
    requirements: dict[str, str] = field(default_factory=dict)  # component -> the requirement it checks
    stubs: str = ""  # stand-ins (source) for helpers the function calls, so it is graded on its own
    reads_probe: bool = False  # the reader needs the probe's arguments to know what to look for
    observe: str = observe.VALUE  # how a worker records the output (see observe.py)
    gradient: Gradient | None = None  # an output that feeds training must carry gradients to these inputs

    def __post_init__(self):
        for name in (self.gradient.inputs.values() if self.gradient else ()):
            self.requirements.setdefault(gradient_component(name), (
                f"the output must carry gradients back to `{name}` (no torch.no_grad(), .detach(), .item() or new "
                "tensor built from its values on the way), or training cannot learn from it"))


def gradient_component(name: str) -> str:
    return f"gradient w.r.t. {name}"


def _require_keys(name: str, output, keys: tuple[str, ...]) -> dict:
    if not isinstance(output, dict):
        raise OutputShapeError(f"{name} should return a dict with keys {list(keys)}, got {type(output).__name__}")
    missing = [k for k in keys if k not in output]
    if missing:
        raise OutputShapeError(f"{name} output is missing the keys {missing}")
    return output


def _read_chat_template(output) -> dict:
    keys = ("prompt", "chosen", "rejected")
    output = _require_keys("apply_chat_template", output, keys)
    return {k: output[k] if isinstance(output[k], str) else repr(output[k]) for k in keys}


def _container(value) -> str:
    """'list of ints' when the value is a list or tuple of Python ints, else what it is."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return "list of ints"
    if isinstance(value, (list, tuple)):
        kinds = sorted({type(v).__name__ for v in value})
        return f"{type(value).__name__} of {'/'.join(kinds) or 'nothing'}"
    return type(value).__name__


def _read_tokenized(output) -> dict:
    output = _require_keys("tokenize_row", output, TOKEN_KEYS)
    components = {}
    for key in TOKEN_KEYS:
        value = output[key]
        components[f"{key} type"] = _container(value)
        if isinstance(value, torch.Tensor):
            value = value.flatten().tolist()
        try:
            components[key] = [int(v) for v in value]
        except (TypeError, ValueError) as error:
            raise OutputShapeError(f"tokenize_row `{key}` should hold token ids: {error}") from error
    return components


def _read_padded(output) -> dict:
    if not isinstance(output, torch.Tensor) or output.dim() != 2:
        raise OutputShapeError("pad should return one 2-D tensor of shape (batch, longest length)")
    return {"padded": output, "dtype": str(output.dtype).replace("torch.", "")}


def _read_collated(output) -> dict:
    output = _require_keys("pad_collate_fn", output, COLLATE_KEYS)
    for key in COLLATE_KEYS:
        if not isinstance(output[key], torch.Tensor):
            raise OutputShapeError(f"pad_collate_fn should return tensors; `{key}` is a {type(output[key]).__name__}")
    return {k: output[k] for k in COLLATE_KEYS}


def _read_batches(output) -> dict:
    try:
        batches = list(output)
    except TypeError as error:
        raise OutputShapeError(f"make_dataloader should return a DataLoader, got {type(output).__name__}") from error
    return {"batches": batches}


def _read_log_probs(output) -> dict:
    if not isinstance(output, torch.Tensor):
        raise OutputShapeError(f"get_log_prob should return a tensor, got {type(output).__name__}")
    if output.dim() != 1:
        raise OutputShapeError("get_log_prob should return one value per sequence (shape (batch,)), "
                               f"got shape {tuple(output.shape)}")
    return {"log_probs": output.float()}


def _scalar(value, name):
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise OutputShapeError(f"dpo_loss should return {name} as a scalar (averaged over the batch), "
                                   f"got shape {tuple(value.shape)}")
        return value.float().reshape(())
    if isinstance(value, (int, float)):
        return torch.tensor(float(value))
    raise OutputShapeError(f"dpo_loss should return {name} as a tensor, got {type(value).__name__}")


def _read_loss(output) -> dict:
    if not isinstance(output, (tuple, list)) or len(output) != 3:
        raise OutputShapeError("dpo_loss should return a tuple (loss, reward_accuracies, reward_margins)")
    names = ("loss", "reward_accuracies", "reward_margins")
    return {name: _scalar(value, name) for name, value in zip(names, output)}


def _read_conversations(output) -> dict:
    if not isinstance(output, dict) or "chosen" not in output or "rejected" not in output:
        raise OutputShapeError("to_implicit_prompt_preferences should return a dict with `chosen` and `rejected`")
    return {"chosen": output["chosen"], "rejected": output["rejected"]}


def _number_shown(value: float, text: str) -> bool:
    """Whether `text` shows `value` in one of the usual roundings."""
    shown = ({f"{value:.{n}g}" for n in (2, 3, 4, 5, 6)} | {f"{value:.{n}f}" for n in (2, 3, 4)}
             | {repr(value), f"{value:f}".rstrip("0").rstrip(".")})
    return any(s in text for s in shown)


def _read_model_card(output, repo_id, stage, run) -> dict:
    """The facts a card must hold about this run, read with huggingface_hub (a ModelCard or its text)."""
    from huggingface_hub import ModelCard

    try:
        card = ModelCard(str(output), ignore_metadata_errors=False)
        data, body = card.data.to_dict(), card.text
    except (ValueError, TypeError, AttributeError) as error:
        raise OutputShapeError(f"write_model_card should return a model card (a YAML header between '---' lines, "
                               f"then the text); huggingface_hub cannot read it: {error}") from error
    datasets = data.get("datasets") or []
    return {
        "base_model": data.get("base_model"),
        "library_name": data.get("library_name"),
        "stage tag": stage in (data.get("tags") or []),
        "dataset": run["dataset"] in (datasets if isinstance(datasets, list) else [datasets]),
        "license set": bool(data.get("license")),
        "metrics shown": sorted(n for n, v in run["metrics"].items() if n in body and _number_shown(v, body)),
        "settings shown": sorted(n for n, v in run["training"].items() if n in body and (
            _number_shown(v, body) if isinstance(v, (int, float)) else str(v) in body)),
        "samples shown": all(text in body for text in run["samples"].values()),
    }


PAIR_KEYS = ("prompt", "chosen", "rejected", "score_chosen", "score_rejected", "score_diff")
COUNT_KEYS = ("prompts", "candidates", "pairs", "skipped_too_few", "skipped_ties", "skipped_small_diff")


def _read_pairs(output) -> dict:
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        raise OutputShapeError("build_preference_pairs should return (rows, counts)")
    rows, counts = output
    if not isinstance(counts, dict):
        raise OutputShapeError(f"the counts should be a dict with keys {list(COUNT_KEYS)}")
    try:
        table = [[row[k] for k in PAIR_KEYS] for row in rows]
    except (KeyError, TypeError) as error:
        raise OutputShapeError(f"each row should be a dict with keys {list(PAIR_KEYS)}: {error!r}") from error
    ordered = all(a[0] != b[0] or a[5] >= b[5] for a, b in zip(table, table[1:]))
    # Pairs with equal differences may come in any order: compare them in one canonical order.
    return {"pairs": sorted(table, key=lambda r: (str(r[0]), -float(r[5]), str(r[1]), str(r[2]))),
            "largest difference first": ordered,
            "counts": {k: counts.get(k) for k in COUNT_KEYS}}


# make_dataloader is checked on its wiring alone: which rows it batches, in which order, with which
# pad id. This stand-in replaces pad_collate_fn and records exactly that.
RECORDING_COLLATE = '''
def pad_collate_fn(batch, pad_token_id):
    return {"rows": [dict(row) for row in batch], "pad_token_id": pad_token_id}
'''

LOSS_GRADIENT = Gradient({0: "chosen_logps", 1: "rejected_logps", 2: "ref_chosen_logps", 3: "ref_rejected_logps"},
                         output=0)

OUTPUTS: dict[str, OutputSpec] = {
    "apply_chat_template": OutputSpec(_read_chat_template),
    "tokenize_row": OutputSpec(_read_tokenized, requirements={
        f"{key} type": "return token ids as lists of ints" for key in TOKEN_KEYS}),
    "pad": OutputSpec(_read_padded, requirements={"dtype": "keep the input's dtype"}),
    "pad_collate_fn": OutputSpec(_read_collated),
    "make_dataloader": OutputSpec(_read_batches, stubs=RECORDING_COLLATE, observe=observe.ITEMS),
    "get_log_prob": OutputSpec(_read_log_probs, gradient=Gradient({0: "logits"})),
    "dpo_loss": OutputSpec(_read_loss, gradient=LOSS_GRADIENT),
    "to_implicit_prompt_preferences": OutputSpec(_read_conversations),
    "build_preference_pairs": OutputSpec(_read_pairs, requirements={
        "largest difference first": "within a prompt, return the pairs sorted by score difference, largest first",
        "raises ValueError": "bad input (a missing or NaN score, a negative cap) must raise a ValueError that says what is wrong",
    }),
    "weighted_dpo_loss": OutputSpec(_read_loss, gradient=LOSS_GRADIENT),
    "write_model_card": OutputSpec(_read_model_card, reads_probe=True, observe=observe.TEXT, requirements={
        "base_model": "the metadata must name the base model (ModelCardData(base_model=...))",
        "library_name": "the metadata must say library_name: transformers",
        "stage tag": "the tags must name the stage (dpo, ppo or reward)",
        "dataset": "the metadata must list the dataset it was trained on",
        "license set": "the metadata must give a license",
        "metrics shown": "the text must show every measured metric with its value",
        "settings shown": "the text must show every training setting with its value",
        "samples shown": "the text must show the sample generations",
    }),
}


def _gradient_components(spec: Gradient, observed: Any) -> dict:
    """One component per input: the gradient tensor, observe.NO_GRADIENT, or why it could not be taken."""
    names = list(spec.inputs.values())
    if isinstance(observed, list) and len(observed) == len(names):
        values = [g if isinstance(g, torch.Tensor) or g == observe.NO_GRADIENT else "not readable" for g in observed]
    elif isinstance(observed, dict) and isinstance(observed.get("error"), str):
        values = [f"cannot be taken: {observed['error'][:160]}"] * len(names)
    else:
        values = ["not observed"] * len(names)
    return {gradient_component(name): value for name, value in zip(names, values)}


def read(name: str, observation: Any, probe) -> dict:
    """The grader's side: an observation of `name` on `probe` as a run, {"output": encoded components} or
    {"error": text}. For a probe of bad input (`expect_error`), the output says whether a ValueError was raised."""
    spec = OUTPUTS[name]
    if not isinstance(observation, dict) or not ({"returned", "raised"} & set(observation)):
        return {"error": "nothing was recorded for this probe"}
    if "raised" in observation:
        raised = observation["raised"] if isinstance(observation["raised"], dict) else {}
        text = raised.get("message") if isinstance(raised.get("message"), str) else "an error"
        if probe.expect_error:
            return {"output": {"raises ValueError": raised.get("value_error") is True}, "raised": text[:200]}
        return {"error": text[:400]}
    if probe.expect_error:
        return {"output": {"raises ValueError": False}}
    returned = observation["returned"]
    try:
        components = spec.read(returned, *probe.args, **probe.kwargs) if spec.reads_probe else spec.read(returned)
    except OutputShapeError as error:
        return {"error": str(error)}
    except Exception as error:  # noqa: BLE001 - the output is something no reader expects
        return {"error": f"{name} returned something that cannot be read ({type(returned).__name__}): "
                         f"{observe.error_text(error)}"[:400]}
    if spec.gradient is not None:
        components.update(_gradient_components(spec.gradient, observation.get("gradient")))
    return {"output": encode(components)}


def run(name: str, fn: Callable, probe) -> dict:
    """Observe `fn` on `probe` and read it, the observation sent through the wire as a worker's is."""
    from alignment_kit.sandbox import wire

    spec = OUTPUTS[name]
    observation = observe.call(fn, probe.args, probe.kwargs, spec.observe, spec.gradient)
    return read(name, wire.load(wire.dump(observation)), probe)
