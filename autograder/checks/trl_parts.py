"""Checks for the TRL parts: the implicit-prompt conversion, the reward-model cell and the PPO cell.

Both cells are re-run under two hidden configurations whose settings differ (steps, lengths, the
number of rows), so a cell that ignores a setting it is given shows up and is named.
"""
from __future__ import annotations

import json

from alignment_kit import cell_judges, paths
from alignment_kit.probes import Probe
from alignment_kit.recorders import PPO, REWARD
from autograder.checks.base import Mistake
from autograder.checks.cell_check import CellCheck
from autograder.checks.data import HIDDEN_ROWS
from autograder.checks.function_check import FunctionCheck

SECOND = "with other settings (steps, lengths and rows)"


# ---------------------------------------------------------------- to_implicit_prompt_preferences
def implicit_probes() -> list[Probe]:
    return [Probe("hidden: a preference row", (dict(HIDDEN_ROWS[0]),))]


def _answer_only(example):
    return {side: [{"role": "assistant", "content": example[side]}] for side in ("chosen", "rejected")}


def _plain_strings(example):
    return {side: example["prompt"] + example[side] for side in ("chosen", "rejected")}


TO_IMPLICIT = FunctionCheck(
    name="to_implicit_prompt_preferences", hidden_probes=implicit_probes,
    mistakes=[
        Mistake("the user turn is missing: both conversations must start with the prompt as a user message", _answer_only),
        Mistake("returns concatenated strings: return lists of chat messages (role/content dicts)", _plain_strings),
    ],
)


# ---------------------------------------------------------------- reward model cell
def _kit_rows(split: str, start: int, count: int) -> list[dict]:
    lines = (paths.DATA_DIR / f"{split}.jsonl").read_text().splitlines()[start:start + count]
    return [json.loads(line) for line in lines]


def reward_setups() -> list[tuple[str, dict]]:
    from autograder.reference import reference_function

    convert = reference_function("to_implicit_prompt_preferences")
    held_out = [convert(r) for r in _kit_rows("test", 0, 64)]
    return [("", {"settings": {"reward_steps": 40, "max_seq_len": 128}, "held_out": held_out,
                  "train": [convert(r) for r in _kit_rows("train", 0, 256)]}),
            (SECOND, {"settings": {"reward_steps": 3, "max_seq_len": 96}, "held_out": held_out[:8],
                      "train": [convert(r) for r in _kit_rows("train", 300, 48)]})]


def reward_judge(student: list[dict], expected: list[dict], setups: list[tuple[str, dict]]):
    configs = [(label, facts, e["runs"][""], config["settings"]) for (label, config), facts, e in zip(setups, student, expected)]
    return cell_judges.judge_reward(configs), []


REWARD_TRAINING = CellCheck(grade_id=REWARD, helpers=("to_implicit_prompt_preferences",), setups=reward_setups,
                            judge=reward_judge)


# ---------------------------------------------------------------- PPO cell
def ppo_setups() -> list[tuple[str, dict]]:
    from alignment_kit.helpers import prompt_input_ids
    from alignment_kit.probes import kit_tokenizer

    tokenizer = kit_tokenizer()
    return [("", {"settings": {"ppo_episodes": 8, "max_new_tokens": 8},
                  "prompts": [prompt_input_ids(r, tokenizer) for r in _kit_rows("train", 0, 16)]}),
            (SECOND, {"settings": {"ppo_episodes": 4, "max_new_tokens": 6},
                      "prompts": [prompt_input_ids(r, tokenizer) for r in _kit_rows("train", 400, 12)]})]


def ppo_judge(student: list[dict], expected: list[dict], setups: list[tuple[str, dict]]):
    configs = [(label, facts, e["runs"][""], config["settings"]) for (label, config), facts, e in zip(setups, student, expected)]
    return cell_judges.judge_ppo(configs), []


PPO_TRAINING = CellCheck(grade_id=PPO, helpers=(), setups=ppo_setups, judge=ppo_judge)
