"""Judging a re-run cell: the student's run against the reference's run and known-mistake runs.

A run is a dict of the facts the recorders saw and the outcome evaluated from the data the cell
left (`cell_outcomes.py`). Points come from outcomes; facts only take them away:
* the loop: its losses and the policy it trained must match the reference run's, or those of a run
  of the reference with the mistakes the facts name, in every configuration. Then each structural
  item passes unless a fact names its mistake. When the outcome matches no run, nothing is credited:
  facts alone never earn points;
* the reward cell: the reward model's held-out accuracy, computed by the judge from the trained
  weights, must clear a threshold; the setup item is credited only on top of that;
* the PPO cell: the run must have trained and match a replay of it (by the grader); then the
  structural items are judged on the facts. The public check, which cannot replay, judges the facts.

One mistake costs once: once an item has named a mistake, later items also accept the outcome of the
reference run *with that mistake*, so the same bug does not cost points again downstream (a wrong
truncation does not also fail the loss trajectory).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from alignment_kit import i18n
from alignment_kit.cell_outcomes import close, largest_gap
from alignment_kit.compare import ok
from alignment_kit.i18n import pick, say
from alignment_kit.scoring import ScoredLine, line

LOSS_ATOL, LOSS_RTOL = 1e-4, 1e-3  # fp32 on a CPU; different op orders stay far inside this
REWARD_MIN_ACCURACY = 0.6  # "above chance" with margin; the reference run reaches far more


def not_credited() -> str:
    return say("judge.not_credited", "not credited: the points of the loop come from what it trains, and its losses or "
               "the policy it leaves match neither the reference run nor a run with a known mistake")


def shown(name: str) -> str:
    """A line's name (declared in English below) in the current language."""
    return i18n.declared("line", name)


@dataclass
class Configuration:
    """One re-run: how it is described to students, the student's run and the comparison runs."""

    label: str
    student: dict
    runs: dict[str, dict]  # "" -> the reference run, mistake id(s) -> the reference run with that mistake
    messages: dict[str, str] = field(default_factory=dict)  # mistake id -> message
    device: str = "cpu"  # where the cell was re-run (and the reference run with it)

    def run_with(self, mistakes: list[str]) -> dict | None:
        """The reference run with `mistakes`. An ignored input that has no run here (it keeps its value in
        this configuration) changes nothing, so it is left out."""
        present = [m for m in mistakes if m in self.runs or not m.startswith("ignores:")]
        return self.runs.get("+".join(sorted(present)))

    @property
    def prefix(self) -> str:
        return f"{i18n.label(self.label)}: " if self.label else ""


@dataclass(frozen=True)
class Aspect:
    """One structural item: which view of the facts it compares, and what to say when none fits."""

    name: str
    points: float
    view: Callable[[dict], object]
    fallback: Callable[[dict, dict], str]


def _same_view(view, a: dict, b: dict) -> bool:
    try:
        return view(a) == view(b)
    except (KeyError, TypeError):
        return False


def judge_aspect(aspect: Aspect, configs: list[Configuration], identified: list[str]) -> ScoredLine:
    """Pass when the view equals the reference's (or the run with the mistakes named so far) in every configuration."""
    for config in configs:
        reference = config.runs[""]
        if _same_view(aspect.view, config.student, reference):
            continue
        same_mistakes = config.run_with(identified) if identified else None
        if same_mistakes is not None and _same_view(aspect.view, config.student, same_mistakes):
            continue
        named = [key for key, facts in sorted(config.runs.items()) if key and "+" not in key
                 and _same_view(aspect.view, config.student, facts) and not _same_view(aspect.view, facts, reference)]
        if named:
            identified.append(named[0])
            return line(shown(aspect.name), aspect.points, False, config.prefix + pick(config.messages[named[0]]))
        try:
            message = aspect.fallback(config.student, reference)
        except (KeyError, TypeError, ValueError):
            message = say("judge.unreadable", "the cell left results that cannot be read")
        return line(shown(aspect.name), aspect.points, False, config.prefix + message)
    return line(shown(aspect.name), aspect.points, True, ok())


def losses_close(got, expected) -> bool:
    return close(got, expected, LOSS_ATOL, LOSS_RTOL)


def outcome_matches(student: dict, run: dict | None) -> bool:
    """Whether the student's loop did what `run` did: the same losses, and the same trained policy."""
    return run is not None and losses_close(student.get("losses"), run.get("losses")) \
        and close(student.get("policy_logratios"), run.get("policy_logratios"))


def _outcome_mismatch(config: Configuration) -> str:
    """Why a configuration's outcome matches nothing, in words."""
    got, reference = config.student, config.runs[""]
    if not losses_close(got.get("losses"), reference.get("losses")):
        losses = (", ".join(f"{v:.4f}" for v in got["losses"]) if isinstance(got.get("losses"), list)
                  else say("judge.nothing_readable", "nothing readable"))
        want = ", ".join(f"{v:.4f}" for v in reference.get("losses") or [])
        return config.prefix + say("judge.losses_differ", "losses [{losses}] differ from the reference [{want}] "
                                   "(tolerance {atol} + {rtol} x |reference|; both runs on {device})", losses=losses,
                                   want=want, atol=LOSS_ATOL, rtol=LOSS_RTOL, device=config.device)
    if got.get("policy_logratios") is None:
        return config.prefix + say("judge.policy_unreadable", "the trained policy could not be read: {problem}",
                                   problem=got.get("policy_problem") or say("judge.no_weights", "no weights"))
    gap = largest_gap(got.get("policy_logratios"), reference.get("policy_logratios"))
    return config.prefix + say("judge.policy_differs", "the losses match, but the policy the loop leaves differs from "
                               "the reference run's (its log-ratios on the configuration's sequences: {gap}): the last "
                               "optimizer step is missing or differs", gap=gap)


# ---------------------------------------------------------------------------------- DPO loop
def _steps_view(facts: dict):
    return (len(facts["losses"] or []), len(facts["accs"] or []), len(facts["margins"] or []), facts["optimizer_steps"])


def _steps_fallback(student: dict, reference: dict) -> str:
    steps = len(reference["losses"])
    logged = {name: len(student[name] or []) for name in ("losses", "accs", "margins")}
    wrong = {name: count for name, count in logged.items() if count != steps}
    if wrong:
        return say("judge.logged", "expected {values} in losses, accs and margins, found {found}",
                   values=i18n.counted(steps, say("noun.value", "value|values")),
                   found=", ".join(say("judge.logged_in", "{count} in {name}", count=count, name=name)
                                   for name, count in wrong.items()))
    if student["optimizer_steps"] == 0:
        return say("judge.no_step", "no optimizer step is taken: call scaler.step(optimizer) once per batch")
    return say("judge.steps", "{taken} for {batches}: take exactly one per batch",
               taken=i18n.counted(student["optimizer_steps"], say("noun.optimizer_step", "optimizer step|optimizer steps")),
               batches=i18n.counted(steps, say("noun.batch", "batch|batches")))


def _reference_view(facts: dict):
    return (facts["ref_calls"] > 0, facts["ref_grad_calls"] == 0, not facts["ref_has_grad"], not facts["ref_changed"])


def _reference_fallback(student: dict, reference: dict) -> str:
    if student["ref_calls"] == 0:
        return say("judge.no_reference", "no reference model: ref_model is never called, so the loss has no anchor")
    if student["ref_grad_calls"] or student["ref_has_grad"]:
        return say("judge.reference_grad", "gradients flow into the reference model: run it under torch.no_grad()")
    return say("judge.reference_changes", "the reference model changes during training: it must stay frozen")


def _rows_view(facts: dict):
    return [tuple(row) for row in facts["policy_rows"]]


def _rows_fallback(student: dict, reference: dict) -> str:
    if not student["policy_rows"]:
        return say("judge.policy_not_called", "policy_model is never called")
    return say("judge.policy_rows", "the policy is not fed prompt + completion, concatenated and cut to the first "
               "MAX_SEQ_LEN tokens")


def _mask_view(facts: dict):
    return [tuple(row) for row in facts["masked_labels"]]


def _mask_fallback(student: dict, reference: dict) -> str:
    if not student["masked_labels"]:
        return say("judge.get_log_prob_not_called", "get_log_prob is never called")
    return say("judge.mask", "the loss mask does not select exactly the completion tokens inside the window")


LOOP_ASPECTS = (
    Aspect("steps taken", 0.2, _steps_view, _steps_fallback),
    Aspect("frozen reference model", 0.4, _reference_view, _reference_fallback),
    Aspect("concatenation and truncation", 0.3, _rows_view, _rows_fallback),
    Aspect("loss mask", 0.3, _mask_view, _mask_fallback),
)
TRAJECTORY, TRAJECTORY_POINTS = "loss trajectory", 0.8
RAN_TO_THE_END = "cell ran to the end"
REWARD_SETUP_NAME, REWARD_ACCURACY_NAME = "reward_model trained with RewardTrainer", "ranks held-out chosen above rejected"


def _mistake_only_the_outcome_shows(configs: list[Configuration]) -> str | None:
    """A known mistake whose runs match the student's outcome everywhere (and agree with its facts), if any.
    A configuration without a run of that mistake (an ignored input keeps its value there) takes the reference's."""
    keys = sorted({key for c in configs for key in c.runs if key and "+" not in key})
    for key in keys:
        runs = [c.runs.get(key, c.runs[""]) for c in configs]
        if not any(key in c.runs and not outcome_matches(c.runs[key], c.runs[""]) for c in configs):
            continue  # this mistake changes no outcome: the facts have to name it
        if all(outcome_matches(c.student, run) for c, run in zip(configs, runs)) and \
                all(_same_view(a.view, c.student, run) for a in LOOP_ASPECTS for c, run in zip(configs, runs)):
            return key
    return None


def judge_loop(configs: list[Configuration]) -> tuple[list[ScoredLine], list[str]]:
    """The loop's items, and the ids of the mistakes named (for a run with all of them)."""
    identified: list[str] = []
    items = [judge_aspect(aspect, configs, identified) for aspect in LOOP_ASPECTS]
    if all(outcome_matches(c.student, c.run_with(identified) if identified else c.runs[""]) for c in configs):
        note = ok() if not identified else ok(say("judge.same_mistake", "the losses match a reference run with the same "
                                                  "mistake (counted once, above)"))
        return items + [line(shown(TRAJECTORY), TRAJECTORY_POINTS, True, note)], identified
    if not identified:
        key = _mistake_only_the_outcome_shows(configs)
        if key is not None:
            config = next(c for c in configs if key in c.runs)
            return items + [line(shown(TRAJECTORY), TRAJECTORY_POINTS, False,
                                 config.prefix + pick(config.messages[key]))], [key]
    mismatch = next(_outcome_mismatch(c) for c in configs
                    if not outcome_matches(c.student, c.run_with(identified) if identified else c.runs[""]))
    hint = (say("judge.more_than_named", " (and there is more than the mistakes named above: no run of the reference "
                "with them matches)") if identified else "")
    uncredited = [line(i.name, i.max_score, False, i.output if not i.passed else not_credited()) for i in items]
    return uncredited + [line(shown(TRAJECTORY), TRAJECTORY_POINTS, False, mismatch + hint)], identified


def loop_notes(facts: dict) -> list[str]:
    """Advice that costs nothing on a CPU but matters on a GPU (fp16 on a T4 needs both)."""
    notes = []
    if facts.get("autocast_entries") == 0:
        notes.append(say("judge.no_autocast", "the forward passes are not inside `with autocast():`, so a GPU run would "
                         "not use mixed precision"))
    if facts.get("scaled_losses") == 0:
        notes.append(say("judge.no_scaler", "the loss is not scaled (`scaler.scale(loss).backward()`), which fp16 on a "
                         "T4 needs"))
    return notes


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
    """One configuration of the reward cell: the student's facts and outcome, and the reference's."""

    label: str
    student: dict
    reference: dict
    settings: dict


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
    """Accuracy is judged on the first configuration; the setup on every one, and credited only on top of it."""
    problems = []
    for run in runs:
        problems += [f"{i18n.label(run.label)}: {p}" if run.label else p
                     for p in reward_setup_problems(run.student, run.settings, run.reference)]
        if problems:
            break
    accuracy = accuracy_item(runs[0])
    if problems:
        setup = line(shown(REWARD_SETUP_NAME), 0.2, False, "; ".join(problems))
    elif not accuracy.passed:
        setup = line(shown(REWARD_SETUP_NAME), 0.2, False, say("judge.setup_not_credited", "not credited: the setup's points come "
                                                     "with a trained reward model (see the held-out ranking)"))
    else:
        setup = line(shown(REWARD_SETUP_NAME), 0.2, True, ok())
    return [setup, accuracy]


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
    return [a.name for a in LOOP_ASPECTS] + [TRAJECTORY, RAN_TO_THE_END, REWARD_SETUP_NAME, REWARD_ACCURACY_NAME] + \
        [name for name, _ in PPO_ITEMS]


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
    if unverified is None:
        return items
    reason = (f"{i18n.label(unverified.label)}: " if unverified.label else "") + unverified.problem
    first, *rest = items
    return [line(first.name, first.max_score, False, say("judge.ppo_not_credited", "not credited: {reason}", reason=reason))] + \
        [line(i.name, i.max_score, False, (i.output + "; " if not i.passed else "")
              + say("judge.see_first_line", "not credited (see the first line)")) for i in rest]
