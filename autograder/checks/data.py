"""Checks for the data-preparation functions, with probes that expose padding and truncation mistakes."""
from __future__ import annotations

import copy
import functools
from types import SimpleNamespace

import torch

from autograder.checks.base import Mistake, Probe
from autograder.checks.function_check import FunctionCheck, OutputShapeError

PART = "data_prep"

PUBLIC_ROWS = [
    {"prompt": "Any tips for keeping basil alive on a windowsill?",
     "chosen": "Oh, basil is fussy but so worth it! 🌿 Lots of sun, and water when the top feels dry. Have you tried pinching off the flowers?",
     "rejected": "As a language model, I do not grow plants. Basil generally requires sunlight and moderate watering."},
]
HIDDEN_ROWS = [
    {"prompt": "My cousin keeps beating me at chess. How do I get better fast?",
     "chosen": "Ha, cousin rivalries are the best motivation 😄 Play through a few short openings and review every loss. Want a drill to start with?",
     "rejected": "I am an AI and cannot play chess. Improvement typically results from structured study of openings, tactics and endgames."},
]


@functools.lru_cache(maxsize=1)
def kit_tokenizer():
    """The real SmolLM2 tokenizer from the kit's tiny checkpoint (the same as the 135M model's)."""
    from transformers import AutoTokenizer

    from autograder import paths

    return AutoTokenizer.from_pretrained(paths.tiny_model_dir())


def thinking_tokenizer():
    """The kit tokenizer with a template whose generation prompt differs from a rendered answer's start."""
    tokenizer = copy.deepcopy(kit_tokenizer())
    tokenizer.chat_template = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n<think>\n' }}{% endif %}"
    )
    return tokenizer


def _require_keys(name: str, output, keys: tuple[str, ...]) -> dict:
    """The output as a dict holding `keys`, or an OutputShapeError naming what is wrong."""
    if not isinstance(output, dict):
        raise OutputShapeError(f"{name} should return a dict with keys {list(keys)}, got {type(output).__name__}")
    missing = [k for k in keys if k not in output]
    if missing:
        raise OutputShapeError(f"{name} output is missing the keys {missing}")
    return output


def _string_components(name: str, keys: tuple[str, ...]):
    def components(output) -> dict:
        output = _require_keys(name, output, keys)
        return {k: output[k] if isinstance(output[k], str) else repr(output[k]) for k in keys}
    return components


# ---------------------------------------------------------------- apply_chat_template
def chat_template_probes(hidden: bool) -> list[Probe]:
    rows, prefix = (HIDDEN_ROWS, "hidden: ") if hidden else (PUBLIC_ROWS, "")
    return [Probe(f"{prefix}a row rendered with the SmolLM2 template", (rows[0], kit_tokenizer())),
            Probe(f"{prefix}a template whose generation prompt differs from the rendered answer", (rows[0], thinking_tokenizer()))]


def _render(example, tokenizer, side, generation_prompt=False):
    user = [{"role": "user", "content": example["prompt"]}]
    if side == "prompt":
        return tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=generation_prompt)
    return tokenizer.apply_chat_template(user + [{"role": "assistant", "content": example[side]}], tokenize=False)


def _no_generation_prompt(example, tokenizer):
    prompt = _render(example, tokenizer, "prompt", generation_prompt=False)
    return {"prompt": prompt, **{s: _render(example, tokenizer, s)[len(prompt):] for s in ("chosen", "rejected")}}


def _prefix_kept(example, tokenizer):
    return {"prompt": _render(example, tokenizer, "prompt", True),
            **{s: _render(example, tokenizer, s) for s in ("chosen", "rejected")}}


def _naive_slicing(example, tokenizer):
    prompt = _render(example, tokenizer, "prompt", True)
    return {"prompt": prompt, **{s: _render(example, tokenizer, s)[len(prompt):] for s in ("chosen", "rejected")}}


APPLY_CHAT_TEMPLATE = FunctionCheck(
    name="apply_chat_template", part=PART, points=0.2,
    build_probes=chat_template_probes,
    components=_string_components("apply_chat_template", ("prompt", "chosen", "rejected")),
    mistakes=[
        Mistake("the prompt lacks the generation prompt: pass add_generation_prompt=True", _no_generation_prompt),
        Mistake("the prompt prefix is not removed from the completions", _prefix_kept),
        Mistake("cuts len(prompt) characters off the conversation, which breaks when the template renders the "
                "generation prompt differently: use the common prefix of prompt and conversations", _naive_slicing),
    ],
)


# ---------------------------------------------------------------- tokenize_row
def tokenize_probes(hidden: bool) -> list[Probe]:
    tokenizer = kit_tokenizer()
    row = dict((HIDDEN_ROWS if hidden else PUBLIC_ROWS)[0])
    row = {"prompt": _render(row, tokenizer, "prompt", True),
           "chosen": _render(row, tokenizer, "chosen")[len(_render(row, tokenizer, "prompt", True)):],
           "rejected": "Noted.<|im_end|> A second sentence after an EOS inside the completion.<|im_end|>\n"}
    if hidden:
        return [Probe("hidden: short prompt limit", (row, tokenizer), {"max_prompt_length": 9, "max_completion_length": None}),
                Probe("hidden: short completion limit", (row, tokenizer), {"max_prompt_length": 64, "max_completion_length": 6}),
                Probe("hidden: both limits", (row, tokenizer), {"max_prompt_length": 5, "max_completion_length": 3})]
    return [Probe("prompt longer than max_prompt_length", (row, tokenizer), {"max_prompt_length": 7}),
            Probe("completions longer than max_completion_length", (row, tokenizer), {"max_prompt_length": 512, "max_completion_length": 5})]


def _ids(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _tokenize_variant(prompt_side="left", completion_side="right", truncate_completion=True, eos=True, eos_after=False):
    def variant(example, tokenizer, max_prompt_length=512, max_completion_length=None):
        prompt = _ids(tokenizer, example["prompt"])
        prompt = prompt[-max_prompt_length:] if prompt_side == "left" else prompt[:max_prompt_length]
        out = {"prompt_input_ids": prompt}
        for side in ("chosen", "rejected"):
            ids = _ids(tokenizer, example[side]) + ([tokenizer.eos_token_id] if eos and not eos_after else [])
            if truncate_completion and max_completion_length is not None:
                ids = ids[:max_completion_length] if completion_side == "right" else ids[-max_completion_length:]
            out[f"{side}_input_ids"] = ids + ([tokenizer.eos_token_id] if eos_after else [])
        return out
    return variant


def _id_list_components(name: str, keys: tuple[str, ...]):
    def components(output) -> dict:
        output = _require_keys(name, output, keys)
        result = {}
        for key in keys:
            value = output[key]
            if isinstance(value, torch.Tensor):
                value = value.flatten().tolist()
            result[key] = [int(v) for v in value]
        return result
    return components


TOKENIZE_ROW = FunctionCheck(
    name="tokenize_row", part=PART, points=0.2,
    build_probes=tokenize_probes,
    components=_id_list_components("tokenize_row", ("prompt_input_ids", "chosen_input_ids", "rejected_input_ids")),
    mistakes=[
        Mistake("the prompt is truncated from the wrong side: keep its last max_prompt_length tokens", _tokenize_variant(prompt_side="right")),
        Mistake("completions are truncated from the wrong side: keep their first max_completion_length tokens", _tokenize_variant(completion_side="left")),
        Mistake("completions are not truncated to max_completion_length", _tokenize_variant(truncate_completion=False)),
        Mistake("no EOS token is appended to the completions", _tokenize_variant(eos=False)),
        Mistake("the EOS is appended after truncation, so a completion can exceed max_completion_length", _tokenize_variant(eos_after=True)),
    ],
)


# ---------------------------------------------------------------- pad
def pad_probes(hidden: bool) -> list[Probe]:
    if hidden:
        ints = [torch.tensor([4, 4]), torch.tensor([9, 8, 7, 6, 5]), torch.tensor([1, 2, 3])]
        return [Probe("hidden: left, value -100", (ints,), {"padding_value": -100, "padding_side": "left"}),
                Probe("hidden: right, value 3", (ints,), {"padding_value": 3, "padding_side": "right"}),
                Probe("hidden: defaults on floats", ([torch.tensor([0.5]), torch.tensor([1.5, 2.5, 3.5])],))]
    ints = [torch.tensor([5, 6, 7]), torch.tensor([8]), torch.tensor([1, 2, 3, 4])]
    return [Probe("left padding with value -1", (ints,), {"padding_value": -1, "padding_side": "left"}),
            Probe("right padding with value 7", (ints,), {"padding_value": 7, "padding_side": "right"}),
            Probe("default arguments on floats", ([torch.tensor([1.0, 2.0]), torch.tensor([3.0])],))]


def _pad_variant(side_override=None, value_override=None):
    def variant(tensors, padding_value=0, padding_side="right"):
        side = side_override or padding_side
        value = padding_value if value_override is None else value_override
        longest = max(len(t) for t in tensors)
        rows = []
        for t in tensors:
            filler = torch.full((longest - len(t),), value, dtype=t.dtype)
            rows.append(torch.cat([filler, t]) if side == "left" else torch.cat([t, filler]))
        return torch.stack(rows)
    return variant


def _pad_components(output) -> dict:
    if not isinstance(output, torch.Tensor) or output.dim() != 2:
        raise OutputShapeError("pad should return one 2-D tensor of shape (batch, longest length)")
    return {"padded": output}


PAD = FunctionCheck(
    name="pad", part=PART, points=0.2,
    build_probes=pad_probes, components=_pad_components,
    mistakes=[
        Mistake("ignores padding_side: it always pads on the right", _pad_variant(side_override="right")),
        Mistake("ignores padding_side: it always pads on the left", _pad_variant(side_override="left")),
        Mistake("ignores padding_value: it always pads with 0", _pad_variant(value_override=0)),
    ],
)


# ---------------------------------------------------------------- pad_collate_fn
COLLATE_KEYS = ("prompt_input_ids", "prompt_attn_mask", "chosen_input_ids", "chosen_attn_mask",
                "rejected_input_ids", "rejected_attn_mask")


def collate_probes(hidden: bool) -> list[Probe]:
    # The pad token is the EOS token (2) and every completion ends with a real EOS.
    if hidden:
        batch = [{"prompt_input_ids": [31, 32, 33, 34, 35], "chosen_input_ids": [41, 2], "rejected_input_ids": [51, 52, 53, 2]},
                 {"prompt_input_ids": [36], "chosen_input_ids": [42, 43, 44, 45, 2], "rejected_input_ids": [2]},
                 {"prompt_input_ids": [37, 38, 39], "chosen_input_ids": [46, 2], "rejected_input_ids": [54, 2]}]
        return [Probe("hidden: three rows, pad = EOS = 2", (batch,), {"pad_token_id": 2})]
    batch = [{"prompt_input_ids": [11, 12, 13], "chosen_input_ids": [21, 22, 2], "rejected_input_ids": [23, 2]},
             {"prompt_input_ids": [14], "chosen_input_ids": [24, 2], "rejected_input_ids": [25, 26, 27, 2]}]
    return [Probe("two rows, pad = EOS = 2", (batch,), {"pad_token_id": 2})]


def _collate_variant(prompt_side="left", completion_side="right", masks="lengths"):
    pad = _pad_variant()

    def variant(batch, pad_token_id):
        out = {}
        for part, side in (("prompt", prompt_side), ("chosen", completion_side), ("rejected", completion_side)):
            ids = [torch.tensor(row[f"{part}_input_ids"]) for row in batch]
            padded = pad(ids, pad_token_id, side)
            out[f"{part}_input_ids"] = padded
            if masks == "ones":
                out[f"{part}_attn_mask"] = torch.ones_like(padded)
            elif masks == "pad_token":
                out[f"{part}_attn_mask"] = (padded != pad_token_id).long()
            else:
                out[f"{part}_attn_mask"] = pad([torch.ones_like(t) for t in ids], 0, side)
        return out
    return variant


def _collate_components(output) -> dict:
    output = _require_keys("pad_collate_fn", output, COLLATE_KEYS)
    for key in COLLATE_KEYS:
        if not isinstance(output[key], torch.Tensor):
            raise OutputShapeError(f"pad_collate_fn should return tensors; `{key}` is a {type(output[key]).__name__}")
    return {k: output[k] for k in COLLATE_KEYS}


PAD_COLLATE_FN = FunctionCheck(
    name="pad_collate_fn", part=PART, points=0.2,
    build_probes=collate_probes, components=_collate_components,
    mistakes=[
        Mistake("the prompt is padded on the right: pad it on the left so it ends where the completion starts", _collate_variant(prompt_side="right")),
        Mistake("completions are padded on the left: pad them on the right", _collate_variant(completion_side="left")),
        Mistake("attention masks are all ones: padding must be 0", _collate_variant(masks="ones")),
        Mistake("attention masks compare ids with pad_token_id, which hides the real EOS when pad = EOS: build them from the lengths", _collate_variant(masks="pad_token")),
    ],
    substitutes=("pad",),
)


# ---------------------------------------------------------------- make_dataloader
def dataloader_probes(hidden: bool) -> list[Probe]:
    rows = [{"prompt_input_ids": [10 + i] * (1 + i % 3), "chosen_input_ids": [20 + i, 9], "rejected_input_ids": [30 + i] * (1 + i % 2) + [9]}
            for i in range(5 if hidden else 4)]
    tokenizer = SimpleNamespace(pad_token_id=9, eos_token_id=9)
    size = 3 if hidden else 2
    return [Probe(f"{'hidden: ' if hidden else ''}{len(rows)} rows, batch_size={size}, shuffle=False", (rows, tokenizer), {"batch_size": size, "shuffle": False})]


# make_dataloader is graded on its wiring alone: which rows it batches, in which order, with
# which pad id. This stand-in replaces pad_collate_fn and records exactly that.
RECORDING_COLLATE = '''
def pad_collate_fn(batch, pad_token_id):
    return {"rows": [dict(row) for row in batch], "pad_token_id": pad_token_id}
'''


def _dataloader_components(output) -> dict:
    try:
        batches = list(output)
    except TypeError as error:
        raise OutputShapeError(f"make_dataloader should return a DataLoader, got {type(output).__name__}") from error
    return {"batches": batches}


MAKE_DATALOADER = FunctionCheck(
    name="make_dataloader", part=PART, points=0.1,
    build_probes=dataloader_probes, components=_dataloader_components,
    stubs=RECORDING_COLLATE,
)
