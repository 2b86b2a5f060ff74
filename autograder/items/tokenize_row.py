"""The grader's side of `tokenize_row`.

Hidden probes and the mistakes it names (each one wrong choice of truncation or EOS).
"""
from __future__ import annotations

from alignment_kit.probes import Probe, kit_tokenizer, rendered_row
from alignment_kit.handover import HandOver
from autograder.checks.mistake import Mistake
from autograder.checks.function_check import FunctionCheck
from autograder.checks.hidden_rows import HIDDEN_ROWS


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


# The DPO trainer tokenizes rows in its own dataset preparation; the tokenizer itself is the tool.
HAND_OVER = HandOver(banned=("trl.DPOTrainer.*", "trl.DPOConfig.*"))

CHECK = FunctionCheck(
    name="tokenize_row", hidden_probes=tokenize_probes,
    hand_over=HAND_OVER,
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
