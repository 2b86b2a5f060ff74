"""The grader's side of `to_implicit_prompt_preferences`: hidden probes and the mistakes it names."""
from __future__ import annotations

from alignment_kit.probes import Probe
from autograder.checks.mistake import Mistake
from autograder.checks.function_check import FunctionCheck
from autograder.checks.hidden_rows import HIDDEN_ROWS


def implicit_probes() -> list[Probe]:
    return [Probe("hidden: a preference row", (dict(HIDDEN_ROWS[0]),))]


def _answer_only(example):
    return {side: [{"role": "assistant", "content": example[side]}] for side in ("chosen", "rejected")}


def _plain_strings(example):
    return {side: example["prompt"] + example[side] for side in ("chosen", "rejected")}


CHECK = FunctionCheck(
    name="to_implicit_prompt_preferences", hidden_probes=implicit_probes,
    mistakes=[
        Mistake("the user turn is missing: both conversations must start with the prompt as a user message", _answer_only),
        Mistake("returns concatenated strings: return lists of chat messages (role/content dicts)", _plain_strings),
    ],
)
