"""The grader's side of `ppo_training`: the configurations the PPO cell is re-run under, and its replay.

The cell is re-run under two hidden configurations whose settings differ (episodes, lengths, the
prompts), so a cell that ignores a setting it is given shows up and is named. The points come from
a replay: the run is replayed in a fresh worker from what it started with (its models, arguments,
rows and random states, as recorded), and the policy it trained must be the replay's. A run that
equals the reference run's start needs no replay. Settings a student may change (the learning
rate, the batch size) change both alike, so they keep full marks; a trainer that never trained, or
one assembled by hand, has nothing to replay.
"""
from __future__ import annotations

from alignment_kit import cell_judges, cell_outcomes
from alignment_kit.i18n import say
from alignment_kit.recorders import PPO
from autograder.checks.cell_check import CellCheck
from autograder.checks.kit_rows import SECOND, kit_rows
from autograder.checks.replays import replay_key, unverified, verified_policy


def ppo_setups() -> list[tuple[str, dict]]:
    from alignment_kit.helpers import prompt_input_ids
    from alignment_kit.probes import kit_tokenizer

    tokenizer = kit_tokenizer()
    return [("", {"settings": {"ppo_episodes": 8, "max_new_tokens": 8},
                  "prompts": [prompt_input_ids(r, tokenizer) for r in kit_rows("train", 0, 16)]}),
            (SECOND, {"settings": {"ppo_episodes": 4, "max_new_tokens": 6},
                      "prompts": [prompt_input_ids(r, tokenizer) for r in kit_rows("train", 400, 12)]})]


def ppo_judge(student: list[dict], expected: list[dict], setups: list[tuple[str, dict]]):
    runs = [cell_judges.PpoRun(label, run, e["runs"][""], config["settings"], run.get("verified", False),
                               run.get("verification_problem", say("ppo_training.unverified", "the run was not verified")))
            for (label, config), run, e in zip(setups, student, expected)]
    return cell_judges.judge_ppo(runs), []


def evaluate_ppo(config: dict, outcome) -> dict:
    call = outcome.get("train_call") if isinstance(outcome, dict) else None
    return {**cell_outcomes.evaluate_ppo(config, outcome), "replay_key": replay_key(call),
            "train_calls": outcome.get("train_calls") if isinstance(outcome, dict) else None}


def verify_ppo(config: dict, outcome, student: dict, reference: dict, replay) -> dict:
    """Whether the student's PPO run trained, and trained what a replay of its start trains."""
    if student.get("policy_logps") is None:
        return unverified(student.get("problem") or say("ppo_training.no_run", "no PPO run was recorded"))
    return verified_policy(student, reference, outcome, replay, "ppo_trainer", say(
        "ppo_training.never_trained", "the PPO policy's weights are those it started from: it was never trained"),
        lambda gap: say("ppo_training.differs", "the policy this PPO run leaves differs from a replay of the same run "
                        "(same models, settings, prompts and seeds): {gap} in the log-probabilities of a fixed reply; "
                        "train it with ppo_trainer.train(), and leave its models alone", gap=gap))


# Grader-owned code run in a worker on a recorded start (`replay`): rebuild the models the recorded run
# started from, the trainer with its arguments and rows, its random states, then train.
REPLAY_SOURCE = '''
from datasets import Dataset

from alignment_kit.trainer_runs import rebuilt, replayed_config, set_rng_state

models = {}
for role in ("policy", "ref", "reward", "value"):
    twin = next((other for other in models if "=".join(sorted((other, role))) in replay["same"]), None)
    models[role] = models[twin] if twin else rebuilt(replay["models"][role], settings, tokenizer, reward_model)
ppo_trainer = PPOTrainer(args=replayed_config(PPOConfig, replay["arguments"], os.path.join(settings.output_dir, "replay")),
                         processing_class=tokenizer, model=models["policy"], ref_model=models["ref"],
                         reward_model=models["reward"], value_model=models["value"],
                         train_dataset=Dataset.from_list([{"input_ids": row} for row in replay["rows"]]))
set_rng_state(replay["random"])
ppo_trainer.train()
'''

CHECK = CellCheck(grade_id=PPO, helpers=(), setups=ppo_setups, judge=ppo_judge, evaluate=evaluate_ppo,
                  verify=verify_ppo, replay_source=REPLAY_SOURCE)
