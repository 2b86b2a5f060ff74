"""The grader's side of `apply_chat_template`: hidden probes and the mistakes it names."""
from __future__ import annotations

from alignment_kit.probes import THINKING_TEMPLATE, Probe, kit_tokenizer, render, tokenizer_with_template
from alignment_kit.handover import HandOver
from autograder.checks.mistake import Mistake
from autograder.checks.function_check import FunctionCheck
from autograder.checks.hidden_rows import HIDDEN_ROWS


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


# TRL renders and splits preference rows itself; the tokenizer's own chat template is the tool asked for.
HAND_OVER = HandOver(banned=("trl.data_utils.apply_chat_template", "trl.data_utils.maybe_apply_chat_template",
                             "trl.data_utils.extract_prompt", "trl.data_utils.maybe_extract_prompt"),
                     allowed=("transformers.PreTrainedTokenizerBase.apply_chat_template",),
                     twin="trl.data_utils.apply_chat_template")

CHECK = FunctionCheck(
    name="apply_chat_template", hidden_probes=chat_template_probes,
    hand_over=HAND_OVER,
    mistakes=[
        Mistake("the prompt lacks the generation prompt: pass add_generation_prompt=True", _no_generation_prompt),
        Mistake("the prompt prefix is not removed from the completions", _prefix_kept),
        Mistake("cuts len(prompt) characters off the conversation, which breaks when the template renders the "
                "generation prompt differently: use the common prefix of prompt and conversations", _naive_slicing),
    ],
)
