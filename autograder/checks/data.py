"""Hidden probes and known mistakes of the data-preparation functions."""
from __future__ import annotations

from types import SimpleNamespace

import torch

from alignment_kit.probes import (THINKING_TEMPLATE, Probe, dataloader_rows, ints, kit_tokenizer, render,
                                  rendered_row, tokenizer_with_template)
from autograder.checks.base import Mistake
from autograder.checks.function_check import FunctionCheck

HIDDEN_ROWS = [
    {"prompt": "My cousin keeps beating me at chess. How do I get better fast?",
     "chosen": "Ha, cousin rivalries are the best motivation 😄 Play through a few short openings and review every "
               "loss. Want a drill to start with?",
     "rejected": "I am an AI and cannot play chess. Improvement typically results from structured study of openings, "
                 "tactics and endgames."},
]


# ---------------------------------------------------------------- apply_chat_template
def chat_template_probes() -> list[Probe]:
    row = HIDDEN_ROWS[0]
    return [Probe("hidden: a row rendered with the SmolLM2 template", (row, kit_tokenizer())),
            Probe("hidden: a template whose generation prompt differs from the rendered answer",
                  (row, tokenizer_with_template(THINKING_TEMPLATE)))]


def _no_generation_prompt(example, tokenizer):
    prompt = render(example, tokenizer, "prompt", generation_prompt=False)
    return {"prompt": prompt, **{s: render(example, tokenizer, s)[len(prompt):] for s in ("chosen", "rejected")}}


def _prefix_kept(example, tokenizer):
    return {"prompt": render(example, tokenizer, "prompt", True),
            **{s: render(example, tokenizer, s) for s in ("chosen", "rejected")}}


def _naive_slicing(example, tokenizer):
    prompt = render(example, tokenizer, "prompt", True)
    return {"prompt": prompt, **{s: render(example, tokenizer, s)[len(prompt):] for s in ("chosen", "rejected")}}


APPLY_CHAT_TEMPLATE = FunctionCheck(
    name="apply_chat_template", hidden_probes=chat_template_probes,
    mistakes=[
        Mistake("the prompt lacks the generation prompt: pass add_generation_prompt=True", _no_generation_prompt),
        Mistake("the prompt prefix is not removed from the completions", _prefix_kept),
        Mistake("cuts len(prompt) characters off the conversation, which breaks when the template renders the "
                "generation prompt differently: use the common prefix of prompt and conversations", _naive_slicing),
    ],
)


# ---------------------------------------------------------------- tokenize_row
def tokenize_probes() -> list[Probe]:
    tokenizer = kit_tokenizer()
    row = rendered_row(HIDDEN_ROWS[0], tokenizer,
                       "Fine.<|im_end|> Then more words follow that end-of-turn token.<|im_end|>\n")
    return [Probe("hidden: short prompt limit", (row, tokenizer), {"max_prompt_length": 9, "max_completion_length": None}),
            Probe("hidden: short completion limit", (row, tokenizer), {"max_prompt_length": 64, "max_completion_length": 6}),
            Probe("hidden: both limits", (row, tokenizer), {"max_prompt_length": 5, "max_completion_length": 3})]


def _ids(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _tokenize_variant(prompt_side, completion_side, truncate_completion, eos, eos_after):
    """A tokenize_row with one of its choices made wrongly (every argument must be given)."""
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


def _tokenize_mistake(**wrong):
    choices = dict(prompt_side="left", completion_side="right", truncate_completion=True, eos=True, eos_after=False)
    assert wrong and all(choices[k] != v for k, v in wrong.items()), "a mistake must change a choice"
    return _tokenize_variant(**{**choices, **wrong})


TOKENIZE_ROW = FunctionCheck(
    name="tokenize_row", hidden_probes=tokenize_probes,
    mistakes=[
        Mistake("the prompt is truncated from the wrong side: keep its last max_prompt_length tokens",
                _tokenize_mistake(prompt_side="right")),
        Mistake("completions are truncated from the wrong side: keep their first max_completion_length tokens",
                _tokenize_mistake(completion_side="left")),
        Mistake("completions are not truncated to max_completion_length", _tokenize_mistake(truncate_completion=False)),
        Mistake("no EOS token is appended to the completions", _tokenize_mistake(eos=False)),
        Mistake("the EOS is appended after truncation, so a completion can exceed max_completion_length",
                _tokenize_mistake(eos_after=True)),
    ],
)


# ---------------------------------------------------------------- pad
def pad_probes() -> list[Probe]:
    rows = ints([4, 4], [9, 8, 7, 6, 5], [1, 2, 3])
    return [Probe("hidden: left, value -100", (rows,), {"padding_value": -100, "padding_side": "left"}),
            Probe("hidden: right, value 3", (rows,), {"padding_value": 3, "padding_side": "right"}),
            Probe("hidden: defaults on floats", ([torch.tensor([0.5]), torch.tensor([1.5, 2.5, 3.5])],)),
            Probe("hidden: int16, right, value 5",
                  ([torch.tensor([7, 7, 7, 7], dtype=torch.int16), torch.tensor([6], dtype=torch.int16)],),
                  {"padding_value": 5, "padding_side": "right"})]


def _pad_variant(side_override, value_override):
    """A pad that forces one side or one padding value (one of the two must be given)."""
    assert side_override or value_override is not None, "a mistake must force something"

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


PAD = FunctionCheck(
    name="pad", hidden_probes=pad_probes,
    mistakes=[
        Mistake("ignores padding_side: it always pads on the right", _pad_variant("right", None)),
        Mistake("ignores padding_side: it always pads on the left", _pad_variant("left", None)),
        Mistake("ignores padding_value: it always pads with 0", _pad_variant(None, 0)),
    ],
)


# ---------------------------------------------------------------- pad_collate_fn
def collate_probes() -> list[Probe]:
    # The pad token is the EOS token (2) and every completion ends with a real EOS.
    batch = [{"prompt_input_ids": [31, 32, 33, 34, 35], "chosen_input_ids": [41, 2], "rejected_input_ids": [51, 52, 53, 2]},
             {"prompt_input_ids": [36], "chosen_input_ids": [42, 43, 44, 45, 2], "rejected_input_ids": [2]},
             {"prompt_input_ids": [37, 38, 39], "chosen_input_ids": [46, 2], "rejected_input_ids": [54, 2]}]
    return [Probe("hidden: three rows, pad = EOS = 2", (batch,), {"pad_token_id": 2})]


def _side_pad(tensors, value, side):
    longest = max(len(t) for t in tensors)
    rows = [torch.full((longest - len(t),), value, dtype=t.dtype) for t in tensors]
    return torch.stack([torch.cat([f, t]) if side == "left" else torch.cat([t, f]) for f, t in zip(rows, tensors)])


def _collate_variant(prompt_side, completion_side, masks):
    """A collate function with its sides or its masks made wrongly (every argument must be given)."""
    def variant(batch, pad_token_id):
        out = {}
        for part, side in (("prompt", prompt_side), ("chosen", completion_side), ("rejected", completion_side)):
            ids = [torch.tensor(row[f"{part}_input_ids"]) for row in batch]
            padded = _side_pad(ids, pad_token_id, side)
            out[f"{part}_input_ids"] = padded
            if masks == "ones":
                out[f"{part}_attn_mask"] = torch.ones_like(padded)
            elif masks == "pad_token":
                out[f"{part}_attn_mask"] = (padded != pad_token_id).long()
            else:
                out[f"{part}_attn_mask"] = _side_pad([torch.ones_like(t) for t in ids], 0, side)
        return out
    return variant


PAD_COLLATE_FN = FunctionCheck(
    name="pad_collate_fn", hidden_probes=collate_probes,
    mistakes=[
        Mistake("the prompt is padded on the right: pad it on the left so it ends where the completion starts",
                _collate_variant("right", "right", "lengths")),
        Mistake("completions are padded on the left: pad them on the right", _collate_variant("left", "left", "lengths")),
        Mistake("attention masks are all ones: padding must be 0", _collate_variant("left", "right", "ones")),
        Mistake("attention masks compare ids with pad_token_id, which hides the real EOS when pad = EOS: "
                "build them from the lengths", _collate_variant("left", "right", "pad_token")),
    ],
    substitutes=("pad",),
)


# ---------------------------------------------------------------- make_dataloader
def dataloader_probes() -> list[Probe]:
    tokenizer = SimpleNamespace(pad_token_id=9, eos_token_id=9)
    return [Probe("hidden: 5 rows, batch_size=3, shuffle=False", (dataloader_rows(5), tokenizer),
                  {"batch_size": 3, "shuffle": False})]


MAKE_DATALOADER = FunctionCheck(name="make_dataloader", hidden_probes=dataloader_probes)
