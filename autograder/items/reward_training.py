"""The grader's side of `reward_training`: the configurations the reward cell is re-run under, and its replay.

The cell is re-run under two hidden configurations whose settings differ (steps, lengths, the rows).
Its two lines are earned apart. The held-out ranking comes from the reward model it trained,
evaluated by the grader from the weights the worker hands over, on held-out pairs that are never
sent to the worker (`private`). The setup comes from the run: it is replayed in a fresh worker from
what it recorded at its start (the model, RewardConfig's arguments, the rows and the random states),
and when the reward model it trained is the replay's, the replay's own facts (steps, lengths, rows,
head) are judged. So a reward model that trains as asked keeps the setup's points even when its
ranking falls short, and a counter set by hand earns nothing.
"""
from __future__ import annotations

from alignment_kit import cell_judges, cell_outcomes
from alignment_kit.i18n import say
from alignment_kit.recorders import REWARD
from autograder.checks.cell_check import CellCheck
from autograder.checks.kit_rows import SECOND, kit_rows
from autograder.checks.replays import replay_key, replayed, unverified


def reward_setups() -> list[tuple[str, dict]]:
    from alignment_kit.settings import SMOKE
    from autograder.reference import reference_function

    convert = reference_function("to_implicit_prompt_preferences")
    held_out = [convert(r) for r in kit_rows("test", 0, 64)]
    steps = 12  # one epoch of the rows below at the default batch size: the reference ranks every held-out pair
    return [("", {"settings": {"reward_steps": steps, "max_seq_len": 128}, "held_out": held_out,
                  "train": [convert(r) for r in kit_rows("train", 0, steps * SMOKE["reward_batch_size"])]}),
            (SECOND, {"settings": {"reward_steps": 3, "max_seq_len": 96}, "held_out": held_out[:8],
                      "train": [convert(r) for r in kit_rows("train", 300, 48)]})]


def reward_judge(student: list[dict], expected: list[dict], setups: list[tuple[str, dict]]):
    runs = [cell_judges.RewardRun(label, run, e["runs"][""], config["settings"], run.get("replayed"),
                                  run.get("verification_problem", ""))
            for (label, config), run, e in zip(setups, student, expected)]
    return cell_judges.judge_reward(runs), []


def evaluate_reward(config: dict, outcome) -> dict:
    outcome = outcome if isinstance(outcome, dict) else {}
    return {**cell_outcomes.evaluate_reward(config["held_out"], outcome), "replay_key": replay_key(outcome.get("train_call")),
            "train_calls": outcome.get("train_calls")}


def verify_reward(config: dict, outcome, student: dict, reference: dict, replay) -> dict:
    """The facts of a replay of the student's RewardTrainer run, when the reward model it trained is the replay's."""
    if not isinstance((outcome or {}).get("train_call"), dict):
        return unverified(say("reward_training.never_ran", "reward_trainer.train() never ran, so nothing was trained"))
    if student.get("scores") is None:
        return unverified(student.get("problem") or "")
    run, problem = replayed(student, reference, outcome, replay, "reward_trainer")
    if run is None:
        return unverified(problem)
    if not cell_outcomes.close(student["scores"], run.get("scores")):
        gap = cell_outcomes.largest_gap(student["scores"], run.get("scores"))
        return unverified(say("reward_training.differs", "the reward model differs from a replay of the same "
                              "RewardTrainer run (same model, settings, rows and seeds): {gap} in its scores of held-out "
                              "pairs; train it with reward_trainer.train(), and leave it alone after", gap=gap))
    return {"verified": True, "verification_problem": "", "replayed": run}


# Grader-owned code run in a worker on a recorded start (`replay`): rebuild the model the recorded run started
# from, the trainer with its arguments and rows, its random states, then train.
REPLAY_SOURCE = '''
from datasets import Dataset

from alignment_kit.trainer_runs import rebuilt, replayed_config, set_rng_state

reward_model = rebuilt(replay["models"]["model"], settings, tokenizer)
reward_trainer = RewardTrainer(model=reward_model, processing_class=tokenizer,
                               args=replayed_config(RewardConfig, replay["arguments"],
                                                    os.path.join(settings.output_dir, "replay")),
                               train_dataset=Dataset.from_list(replay["rows"]))
set_rng_state(replay["random"])
reward_trainer.train()
'''

CHECK = CellCheck(grade_id=REWARD, helpers=("to_implicit_prompt_preferences",), setups=reward_setups,
                  judge=reward_judge, evaluate=evaluate_reward, private=("held_out",), verify=verify_reward,
                  replay_source=REPLAY_SOURCE)
