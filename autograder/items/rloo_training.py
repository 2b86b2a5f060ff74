"""The grader's side of `rloo_training` (RLOO edition): its configurations, its replay, its mistakes.

The RLOO cell is re-run under two hidden configurations (other steps, reply lengths, prompts) by
workers of the RLOO grading environment (`autograder/rloo_env.py`: TRL 1.16). Its points come as the
PPO cell's do: the run is replayed from what it recorded at `train()` (its policy, reference and reward
model, arguments, rows and random states), the policy it trained must be the replay's, and then each
aspect is read off that verified start (`alignment_kit/rloo_judge.py`). Settings a student may change
(the learning rate, the batch size) change the run and its replay alike, so they keep full marks.

`MISTAKES` are the named mistakes as edits of the reference cell, each with the line it costs: the
tests run every one and require that it loses that line alone.
"""
from __future__ import annotations

from alignment_kit import cell_outcomes, rloo_judge
from alignment_kit.i18n import say
from alignment_kit.settings import HomeworkSettings
from autograder.checks.cell_check import CellCheck
from autograder.checks.kit_rows import SECOND, kit_rows
from autograder import rloo_env
from autograder.checks.replays import replay_key, unverified, verified_policy

TRAINER = "rloo_trainer"


def rloo_setups() -> list[tuple[str, dict]]:
    from alignment_kit.helpers import prompt_input_ids
    from alignment_kit.probes import kit_tokenizer

    tokenizer = kit_tokenizer()
    beta = HomeworkSettings.rloo_beta  # the course's KL weight, as the notebook's settings give it

    def setup(settings: dict, rows: list[dict]) -> dict:
        return {"settings": dict(settings, rloo_beta=beta), "prompt_texts": [r["prompt"] for r in rows],
                "prompts": [prompt_input_ids(r, tokenizer) for r in rows]}  # what the trained policy is scored on
    return [("", setup({"rloo_steps": 2, "max_new_tokens": 8, "rloo_generations": 2, "rloo_batch_size": 4},
                       kit_rows("train", 0, 16))),
            (SECOND, setup({"rloo_steps": 1, "max_new_tokens": 6, "rloo_generations": 2, "rloo_batch_size": 4},
                           kit_rows("train", 400, 12)))]


def rloo_judge_runs(student: list[dict], expected: list[dict], setups: list[tuple[str, dict]]):
    runs = []
    for (label, config), run, e in zip(setups, student, expected):
        start = dict(run["start"], given_generations=run.get("given_generations")) if run.get("start") else None
        reference = e["runs"][""]
        runs.append(rloo_judge.RlooRun(label, run, start, {"prompt_rows": reference.get("prompt_rows")},
                                       config["settings"],
                                       run.get("verified", False), run.get("verification_problem", "")))
    return rloo_judge.judge_rloo(runs), []


def evaluate_rloo(config: dict, outcome) -> dict:
    call = outcome.get("train_call") if isinstance(outcome, dict) else None
    return {**cell_outcomes.evaluate_ppo(config, outcome, TRAINER), "replay_key": replay_key(call),
            "start": rloo_judge.start_of_record(call) if isinstance(call, dict) and "unrecordable" not in call else None,
            "train_calls": outcome.get("train_calls") if isinstance(outcome, dict) else None}


def verify_rloo(config: dict, outcome, student: dict, reference: dict, replay) -> dict:
    """Whether the student's RLOO run trained, and trained what a replay of its start trains."""
    if student.get("policy_logps") is None:
        return unverified(student.get("problem") or rloo_judge.no_run())
    return verified_policy(student, reference, outcome, replay, TRAINER, say(
        "rloo.never_trained", "the RLOO policy's weights are those it started from: it was never trained (call "
        "rloo_trainer.train())"),
        lambda gap: say("rloo.differs", "the policy this RLOO run leaves differs from a replay of the same run (same "
                        "models, settings, prompts and seeds): {gap} in the log-probabilities of a fixed reply; train "
                        "it with rloo_trainer.train(), and leave its models alone", gap=gap))


# Grader-owned code run in a worker on a recorded start (`replay`): rebuild the policy and the reward model the
# run started from, the trainer with its arguments and rows, its reference as recorded, its random states; train.
REPLAY_SOURCE = '''
from datasets import Dataset

from alignment_kit.trainer_runs import rebuilt, replayed_config, set_rng_state

policy = rebuilt(replay["models"]["policy"], settings, tokenizer, reward_model)
reward = policy if "policy=reward" in replay["same"] else rebuilt(replay["models"]["reward"], settings, tokenizer,
                                                                  reward_model)
# the recorded config holds both of these after its __post_init__; TRL takes one (the batch it derives from the other)
arguments = {key: value for key, value in replay["arguments"].items() if key != "generation_batch_size"}
rloo_trainer = RLOOTrainer(model=policy, reward_funcs=reward, train_dataset=Dataset.from_list(replay["rows"]),
                           args=replayed_config(RLOOConfig, arguments, os.path.join(settings.output_dir, "replay")),
                           processing_class=tokenizer, reward_processing_classes=tokenizer)
if "policy=ref" in replay["same"]:
    rloo_trainer.ref_model = rloo_trainer.model
elif rloo_trainer.ref_model is not None:
    parameters = dict(rloo_trainer.ref_model.named_parameters())
    for name, tensor in replay["models"]["ref"].get("changed", {}).items():
        parameters[name].detach().copy_(tensor)
set_rng_state(replay["random"])
rloo_trainer.train()
'''

# Named mistakes: id -> (the reference cell's text, what replaces it, the line it costs).
MISTAKES = {
    "untrained_reward": ("reward_funcs=reward_model,", "reward_funcs=AutoModelForSequenceClassification.from_pretrained("
                         "settings.model_path, num_labels=1),", rloo_judge.REWARD),
    "one_generation": ("num_generations=settings.rloo_generations,", "num_generations=1,", rloo_judge.BASELINE),
    "ref_is_policy": ("rloo_trainer.train()", "rloo_trainer.ref_model = rloo_trainer.model\nrloo_trainer.train()",
                      rloo_judge.REFERENCE),
    "never_trained": ("rloo_trainer.train()", "pass", rloo_judge.TRAINED),
    "no_kl": ("beta=settings.rloo_beta,", "beta=0.0,", rloo_judge.KL),
}

CHECK = CellCheck(grade_id="rloo_training", helpers=(), setups=rloo_setups, judge=rloo_judge_runs,
                  evaluate=evaluate_rloo, verify=verify_rloo, replay_source=REPLAY_SOURCE, python=rloo_env.python)
