"""The grader's side of `reward_training`: the configurations the reward cell is re-run under.

The cell is re-run under two hidden configurations whose settings differ (steps, lengths, the rows).
Its points come from the reward model it trained, evaluated by the grader from the weights the
worker hands over: its accuracy on held-out pairs that are never sent to the worker (`private`).
"""
from __future__ import annotations

from alignment_kit import cell_judges, cell_outcomes
from alignment_kit.recorders import REWARD
from autograder.checks.cell_check import CellCheck
from autograder.checks.kit_rows import SECOND, kit_rows


def reward_setups() -> list[tuple[str, dict]]:
    from autograder.reference import reference_function

    convert = reference_function("to_implicit_prompt_preferences")
    held_out = [convert(r) for r in kit_rows("test", 0, 64)]
    return [("", {"settings": {"reward_steps": 40, "max_seq_len": 128}, "held_out": held_out,
                  "train": [convert(r) for r in kit_rows("train", 0, 256)]}),
            (SECOND, {"settings": {"reward_steps": 3, "max_seq_len": 96}, "held_out": held_out[:8],
                      "train": [convert(r) for r in kit_rows("train", 300, 48)]})]


def reward_judge(student: list[dict], expected: list[dict], setups: list[tuple[str, dict]]):
    runs = [cell_judges.RewardRun(label, run, e["runs"][""], config["settings"])
            for (label, config), run, e in zip(setups, student, expected)]
    return cell_judges.judge_reward(runs), []


def evaluate_reward(config: dict, outcome) -> dict:
    return cell_outcomes.evaluate_reward(config["held_out"], outcome)


CHECK = CellCheck(grade_id=REWARD, helpers=("to_implicit_prompt_preferences",), setups=reward_setups,
                  judge=reward_judge, evaluate=evaluate_reward, private=("held_out",))
