"""Judging the reward and PPO cells, and what every re-run cell's judge shares (the DPO loop has its own
module, `loop_judge.py`).

A run is a dict of the facts the recorders saw and the outcome evaluated from the data the cell
left (`cell_outcomes.py`). Points come from outcomes; facts only take them away:
* the reward cell: the reward model's held-out accuracy, computed by the judge from the trained
  weights, must clear a threshold; the setup item is credited only on top of that;
* the PPO cell: the run must have trained and match a replay of it (by the grader); then the
  structural items are judged on the facts. The public check, which cannot replay, judges the facts.
"""
from __future__ import annotations

from dataclasses import dataclass

from alignment_kit import i18n, loop_judge, rloo_judge
from alignment_kit.compare import ok
from alignment_kit.i18n import say
from alignment_kit.scoring import ScoredLine, line, shown, withheld

REWARD_MIN_ACCURACY = 0.6  # "above chance" with margin; the reference run reaches far more
RAN_TO_THE_END = "cell ran to the end"
FOUND = "how the cell was found"
REWARD_SETUP_NAME, REWARD_ACCURACY_NAME = "reward_model trained with RewardTrainer", "ranks held-out chosen above rejected"


# ---------------------------------------------------------------------------------- reward model
def reward_setup_problems(facts: dict, settings: dict, reference: dict | None) -> list[str]:
    """What is wrong with how the reward model was built and trained (`reference`: the reference run's
    facts under the same settings, to compare the number of training rows the trainer kept; None skips it)."""
    if not facts.get("has_model"):
        return [say("judge.no_reward_model", "no `reward_model` was created")]
    problems = []
    if not facts.get("trainer"):
        problems.append(say("judge.no_reward_trainer", "no RewardTrainer was created"))
    elif not facts.get("trainer_has_model"):
        problems.append(say("judge.other_model", "the RewardTrainer trains another model than `reward_model`"))
    if facts.get("num_labels") != 1 or not facts.get("pad_token_set"):
        problems.append(say("judge.reward_head", "reward_model must be an AutoModelForSequenceClassification with "
                            "num_labels=1 and config.pad_token_id set"))
    if facts.get("trained_steps") != settings["reward_steps"]:
        problems.append(say("judge.reward_steps", "trained {got} steps: use max_steps=settings.reward_steps ({want} here)",
                            got=facts.get("trained_steps"), want=settings["reward_steps"]))
    if facts.get("max_length") != settings["max_seq_len"]:
        problems.append(say("judge.max_length", "max_length is {got}: use settings.max_seq_len ({want} here)",
                            got=facts.get("max_length"), want=settings["max_seq_len"]))
    if reference is not None and facts.get("train_rows") != reference.get("train_rows"):
        problems.append(say("judge.train_rows", "the trainer kept {got} training rows where the reference keeps {want}: "
                            "train on reward_train", got=facts.get("train_rows"), want=reference.get("train_rows")))
    return problems


@dataclass
class RewardRun:
    """One configuration of the reward cell: the student's facts and outcome, the reference's, and the run a
    replay of the student's recorded start made when the grader verified it (None: not verified, and why)."""

    label: str
    student: dict
    reference: dict
    settings: dict
    replayed: dict | None = None
    problem: str = ""


def accuracy_item(run: RewardRun) -> ScoredLine:
    """The held-out ranking, from the trained weights (evaluated by the judge on pairs the cell never saw)."""
    accuracy, reference = run.student.get("accuracy"), run.reference.get("accuracy")
    of_reference = (say("judge.reference_reaches", "; the reference run reaches {accuracy:.0%}", accuracy=reference)
                    if isinstance(reference, float) else "")
    name = shown(REWARD_ACCURACY_NAME)
    if accuracy is None:
        return line(name, 0.5, False, say("judge.reward_unreadable", "the reward model could not be evaluated: {problem}",
                                          problem=run.student.get("problem") or say("judge.no_weights", "no weights")))
    if not run.student.get("trained"):
        return line(name, 0.5, False, say("judge.never_trained", "the reward model's weights are those it started from: "
                                          "it was never trained"))
    good = accuracy >= REWARD_MIN_ACCURACY
    return line(name, 0.5, good, say("judge.accuracy", "held-out accuracy {accuracy:.0%} (needs {needed:.0%}{reference})",
                                     accuracy=accuracy, needed=REWARD_MIN_ACCURACY, reference=of_reference))


def judge_reward(runs: list[RewardRun]) -> list[ScoredLine]:
    """Accuracy is judged on the first configuration, from the weights; the setup on every one, from the facts
    (which can only take its points) and then from the replay of the run, whose facts the grader made itself."""
    problems = []
    for run in runs:
        found = reward_setup_problems(run.student, run.settings, run.reference)
        if not found:
            found = ([run.problem] if run.replayed is None else
                     reward_setup_problems(run.replayed, run.settings, run.reference))
        problems += [f"{i18n.label(run.label)}: {p}" if run.label else p for p in found]
        if problems:
            break
    setup = line(shown(REWARD_SETUP_NAME), 0.2, not problems, "; ".join(problems) if problems else ok())
    return [setup, accuracy_item(runs[0])]


# ---------------------------------------------------------------------------------- PPO
def _ppo_settings_problems(facts: dict, settings: dict, reference: dict) -> list[str]:
    problems = []
    if not isinstance(facts.get("steps"), int) or facts["steps"] < 1:
        problems.append(say("judge.no_ppo_step", "ppo_trainer.train() did not complete a step"))
    if facts["total_episodes"] != settings["ppo_episodes"]:
        problems.append(say("judge.episodes", "total_episodes is {got}: use settings.ppo_episodes ({want} here)",
                            got=facts["total_episodes"], want=settings["ppo_episodes"]))
    if facts["response_length"] != settings["max_new_tokens"]:
        problems.append(say("judge.response_length", "response_length is {got}: use settings.max_new_tokens ({want} here)",
                            got=facts["response_length"], want=settings["max_new_tokens"]))
    if facts["prompt_rows"] != reference.get("prompt_rows"):
        problems.append(say("judge.prompt_rows", "the trainer got {got} prompts where the reference gets {want}: train "
                            "on ppo_prompts", got=facts["prompt_rows"], want=reference.get("prompt_rows")))
    return problems


@dataclass
class PpoRun:
    """One configuration of the PPO cell: the student's facts, the reference's, the settings given, and
    whether the grader verified the run (it trained, and a replay of it gives the same policy)."""

    label: str
    student: dict
    reference: dict
    settings: dict
    verified: bool = True
    problem: str = ""


PPO_ITEMS = (("PPOTrainer built", 0.4), ("policy is a causal LM", 0.3), ("separate reference policy", 0.3),
             ("the trained reward model", 0.3), ("value model", 0.3), ("trains with the given settings", 0.4))


def line_names() -> list[str]:
    """Every line name the cells' judges write (shown in the current language)."""
    return loop_judge.LINE_NAMES + [RAN_TO_THE_END, FOUND, REWARD_SETUP_NAME, REWARD_ACCURACY_NAME] + \
        [name for name, _ in PPO_ITEMS] + rloo_judge.LINE_NAMES


def judge_ppo(runs: list[PpoRun]) -> list[ScoredLine]:
    """The model checks read the first configuration; the settings every one. An unverified run earns nothing."""
    student = runs[0].student
    if not student.get("trainer"):
        return [line(shown(PPO_ITEMS[0][0]), 2.0, False, say("judge.no_ppo_trainer", "no `ppo_trainer` (a "
                                                             "trl.experimental.ppo.PPOTrainer) was created"))]
    unverified = next((run for run in runs if not run.verified), None)
    problems = []
    for run in runs:
        if not run.student.get("trainer"):
            problems = [f"{i18n.label(run.label)}: " + say("judge.no_ppo_trainer_short", "no `ppo_trainer` was created")]
            break
        problems = [f"{i18n.label(run.label)}: {p}" if run.label else p for p in _ppo_settings_problems(run.student, run.settings, run.reference)]
        if problems:
            break
    value_ok = (student["value"] == "sequence_classifier" and student["value_outputs"] == 1
                and student["value_pad_set"] and not student["value_is_reward"])
    checks = [
        (True, ok()),
        (student["policy"] == "causal_lm", say("judge.policy_kind", "the policy is {kind}, not a causal LM",
                                               kind=student["policy"])),
        (student["ref"] == "causal_lm" and not student["ref_is_policy"],
         say("judge.ref_is_policy", "ref_model must be a second causal LM, not the policy itself")
         if student["ref_is_policy"] else say("judge.ref_kind", "the reference is {kind}", kind=student["ref"])),
        (student["reward_is_given"], say("judge.reward_given", "reward_model must be the reward model trained above")),
        (value_ok, say("judge.value_model", "value_model must be its own AutoModelForSequenceClassification with "
                       "num_labels=1 and config.pad_token_id set (not the reward model)")),
        (not problems, "; ".join(problems)),
    ]
    items = [line(shown(name), points, passed, ok() if passed else message)
             for (name, points), (passed, message) in zip(PPO_ITEMS, checks)]
    return withheld(items, unverified)
