"""Judging a re-run cell: its facts against the reference run and known-mistake runs, given as data.

A cell is re-run under one or more configurations. For each, the judge gets the student's facts and
`runs`: the facts of the reference run under the same configuration (key "") and of reference runs
with a known mistake (key: the mistake's id, or ids joined by "+" for several), with each mistake's
message. An item passes when its facts equal the reference's in every configuration.

One mistake costs once: once an item has named a mistake, later items also accept the facts of the
reference run *with that mistake*, so the same bug does not cost points again downstream (for
instance a wrong truncation does not also fail the loss trajectory).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from alignment_kit.compare import plural

LOSS_ATOL, LOSS_RTOL = 1e-4, 1e-3  # fp32 on a CPU; different op orders stay far inside this
REWARD_MIN_ACCURACY = 0.6  # "above chance" with margin; the reference run reaches far more


@dataclass
class Item:
    """One scored line of feedback inside a cell check."""

    name: str
    points: float
    passed: bool
    message: str

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0


@dataclass
class Configuration:
    """One re-run: how it is described to students, the student's facts and the comparison runs."""

    label: str
    student: dict
    runs: dict[str, dict]  # "" -> reference facts, mistake id(s) -> facts
    messages: dict[str, str] = field(default_factory=dict)  # mistake id -> message
    device: str = "cpu"  # where the cell was re-run (and the reference run with it)

    def run_with(self, mistakes: list[str]) -> dict | None:
        return self.runs.get("+".join(sorted(mistakes)))


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


def judge_aspect(aspect: Aspect, configs: list[Configuration], identified: list[str]) -> Item:
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
        prefix = f"{config.label}: " if config.label else ""
        if named:
            identified.append(named[0])
            return Item(aspect.name, aspect.points, False, prefix + config.messages[named[0]])
        try:
            message = aspect.fallback(config.student, reference)
        except (KeyError, TypeError, ValueError):
            message = "the cell left results that cannot be read"
        return Item(aspect.name, aspect.points, False, prefix + message)
    return Item(aspect.name, aspect.points, True, "ok")


def losses_close(got, expected) -> bool:
    if not isinstance(got, list) or not isinstance(expected, list) or len(got) != len(expected):
        return False
    return all(isinstance(a, float) and math.isfinite(a) and abs(a - b) <= LOSS_ATOL + LOSS_RTOL * abs(b)
               for a, b in zip(got, expected))


def judge_trajectory(configs: list[Configuration], identified: list[str], points: float,
                     aspects: tuple[Aspect, ...] = ()) -> Item:
    """The logged losses, against the reference run, or against the run with the mistakes named above.
    A known mistake is named only if its run also agrees with the student's on every aspect (two
    mistakes can leave the same losses: no backward pass and no optimizer step, say)."""
    for config in configs:
        got, reference = config.student.get("losses"), config.runs[""].get("losses")
        if losses_close(got, reference):
            continue
        same_mistakes = config.run_with(identified) if identified else None
        if same_mistakes is not None and losses_close(got, same_mistakes.get("losses")):
            continue
        prefix = f"{config.label}: " if config.label else ""
        named = [key for key, facts in sorted(config.runs.items()) if key and "+" not in key
                 and losses_close(got, facts.get("losses")) and not losses_close(facts.get("losses"), reference)
                 and all(_same_view(a.view, config.student, facts) for a in aspects)]
        if named:
            return Item("loss trajectory", points, False, prefix + config.messages[named[0]])
        shown = ", ".join(f"{v:.4f}" for v in got) if isinstance(got, list) else repr(got)
        want = ", ".join(f"{v:.4f}" for v in reference or [])
        hint = (" (after the mistakes named above there is more: the losses differ from a reference run that "
                "makes the same mistakes)") if identified else ""
        return Item("loss trajectory", points, False,
                    f"{prefix}losses [{shown}] differ from the reference [{want}] "
                    f"(tolerance {LOSS_ATOL} + {LOSS_RTOL} x |reference|; both runs on {config.device}){hint}")
    note = "ok" if not identified else "ok: the losses match a reference run with the same mistake (counted once, above)"
    return Item("loss trajectory", points, True, note)


# ---------------------------------------------------------------------------------- DPO loop
def _steps_view(facts: dict):
    return (len(facts["losses"] or []), len(facts["accs"] or []), len(facts["margins"] or []), facts["optimizer_steps"])


def _steps_fallback(student: dict, reference: dict) -> str:
    steps = len(reference["losses"])
    logged = {name: len(student[name] or []) for name in ("losses", "accs", "margins")}
    wrong = {name: count for name, count in logged.items() if count != steps}
    if wrong:
        return f"expected {plural(steps, 'entry')} in losses, accs and margins, found " + \
               ", ".join(f"{count} in {name}" for name, count in wrong.items())
    if student["optimizer_steps"] == 0:
        return "no optimizer step is taken: call scaler.step(optimizer) once per batch"
    return f"{plural(student['optimizer_steps'], 'optimizer step')} for {plural(steps, 'batch')}: take exactly one per batch"


def _reference_view(facts: dict):
    return (facts["ref_calls"] > 0, facts["ref_grad_calls"] == 0, not facts["ref_has_grad"], not facts["ref_changed"])


def _reference_fallback(student: dict, reference: dict) -> str:
    if student["ref_calls"] == 0:
        return "no reference model: ref_model is never called, so the loss has no anchor"
    if student["ref_grad_calls"] or student["ref_has_grad"]:
        return "gradients flow into the reference model: run it under torch.no_grad()"
    return "the reference model changes during training: it must stay frozen"


def _rows_view(facts: dict):
    return [tuple(row) for row in facts["policy_rows"]]


def _rows_fallback(student: dict, reference: dict) -> str:
    if not student["policy_rows"]:
        return "policy_model is never called"
    return "the policy is not fed prompt + completion, concatenated and cut to the first MAX_SEQ_LEN tokens"


def _mask_view(facts: dict):
    return [tuple(row) for row in facts["masked_labels"]]


def _mask_fallback(student: dict, reference: dict) -> str:
    if not student["masked_labels"]:
        return "get_log_prob is never called"
    return "the loss mask does not select exactly the completion tokens inside the window"


LOOP_ASPECTS = (
    Aspect("steps taken", 0.2, _steps_view, _steps_fallback),
    Aspect("frozen reference model", 0.4, _reference_view, _reference_fallback),
    Aspect("concatenation and truncation", 0.3, _rows_view, _rows_fallback),
    Aspect("loss mask", 0.3, _mask_view, _mask_fallback),
)
TRAJECTORY_POINTS = 0.8


def judge_loop(configs: list[Configuration]) -> tuple[list[Item], list[str]]:
    """The loop's items, and the ids of the mistakes they named (for a run with all of them)."""
    identified: list[str] = []
    items = [judge_aspect(aspect, configs, identified) for aspect in LOOP_ASPECTS]
    items.append(judge_trajectory(configs, identified, TRAJECTORY_POINTS, LOOP_ASPECTS))
    return items, identified


def loop_notes(facts: dict) -> list[str]:
    """Advice that costs nothing on a CPU but matters on a GPU (fp16 on a T4 needs both)."""
    notes = []
    if facts.get("autocast_entries") == 0:
        notes.append("the forward passes are not inside `with autocast():`, so a GPU run would not use mixed precision")
    if facts.get("scaled_losses") == 0:
        notes.append("the loss is not scaled (`scaler.scale(loss).backward()`), which fp16 on a T4 needs")
    return notes


# ---------------------------------------------------------------------------------- reward model
def reward_accuracy(facts: dict) -> float | None:
    chosen, rejected = facts.get("chosen_scores"), facts.get("rejected_scores")
    if not chosen or not rejected or len(chosen) != len(rejected):
        return None
    return sum(c > r for c, r in zip(chosen, rejected)) / len(chosen)


def reward_setup_problems(facts: dict, settings: dict, reference: dict | None) -> list[str]:
    """What is wrong with how the reward model was built and trained (`reference`: the reference run's
    facts under the same settings, to compare the number of training rows the trainer kept; None skips it)."""
    if not facts.get("has_model"):
        return ["no `reward_model` was created"]
    problems = []
    if not facts.get("trainer"):
        problems.append("no RewardTrainer was created")
    elif not facts.get("trainer_has_model"):
        problems.append("the RewardTrainer trains another model than `reward_model`")
    if facts.get("num_labels") != 1 or not facts.get("pad_token_set"):
        problems.append("reward_model must be an AutoModelForSequenceClassification with num_labels=1 and "
                        "config.pad_token_id set")
    if facts.get("trained_steps") != settings["reward_steps"]:
        problems.append(f"trained {facts.get('trained_steps')} steps: use max_steps=settings.reward_steps "
                        f"({settings['reward_steps']} here)")
    if facts.get("max_length") != settings["max_seq_len"]:
        problems.append(f"max_length is {facts.get('max_length')}: use settings.max_seq_len ({settings['max_seq_len']} here)")
    if reference is not None and facts.get("train_rows") != reference.get("train_rows"):
        problems.append(f"the trainer kept {facts.get('train_rows')} training rows where the reference keeps "
                        f"{reference.get('train_rows')}: train on reward_train")
    return problems


def judge_reward(configs: list[tuple[str, dict, dict, dict]]) -> list[Item]:
    """configs: (label, student facts, reference facts, settings); accuracy is judged on the first."""
    problems = []
    for label, student, reference, settings in configs:
        problems += [f"{label}: {p}" if label else p for p in reward_setup_problems(student, settings, reference)]
        if problems:
            break
    items = [Item("reward_model trained with RewardTrainer", 0.2, not problems, "ok" if not problems else "; ".join(problems))]
    _, student, reference, _ = configs[0]
    accuracy, reference_accuracy = reward_accuracy(student), reward_accuracy(reference)
    good = accuracy is not None and accuracy >= REWARD_MIN_ACCURACY
    shown = "no scores" if accuracy is None else f"{accuracy:.0%}"
    of_reference = f"; the reference run reaches {reference_accuracy:.0%}" if reference_accuracy is not None else ""
    items.append(Item("ranks held-out chosen above rejected", 0.5, good,
                      f"held-out accuracy {shown} (needs {REWARD_MIN_ACCURACY:.0%}{of_reference})"))
    return items


# ---------------------------------------------------------------------------------- PPO
def _ppo_settings_problems(facts: dict, settings: dict, reference: dict) -> list[str]:
    problems = []
    if facts["steps"] < 1:
        problems.append("ppo_trainer.train() did not complete a step")
    if facts["total_episodes"] != settings["ppo_episodes"]:
        problems.append(f"total_episodes is {facts['total_episodes']}: use settings.ppo_episodes ({settings['ppo_episodes']} here)")
    if facts["response_length"] != settings["max_new_tokens"]:
        problems.append(f"response_length is {facts['response_length']}: use settings.max_new_tokens "
                        f"({settings['max_new_tokens']} here)")
    if facts["prompt_rows"] != reference.get("prompt_rows"):
        problems.append(f"the trainer got {facts['prompt_rows']} prompts where the reference gets "
                        f"{reference.get('prompt_rows')}: train on ppo_prompts")
    return problems


def judge_ppo(configs: list[tuple[str, dict, dict, dict]]) -> list[Item]:
    """configs: (label, student facts, reference facts, settings); the model checks read the first."""
    student = configs[0][1]
    if not student.get("trainer"):
        return [Item("PPOTrainer built", 2.0, False, "no `ppo_trainer` (a trl.experimental.ppo.PPOTrainer) was created")]
    problems = []
    for label, facts, reference, settings in configs:
        if not facts.get("trainer"):
            problems = [f"{label}: no `ppo_trainer` was created"]
            break
        problems = [f"{label}: {p}" if label else p for p in _ppo_settings_problems(facts, settings, reference)]
        if problems:
            break
    value_ok = (student["value"] == "sequence_classifier" and student["value_outputs"] == 1
                and student["value_pad_set"] and not student["value_is_reward"])
    checks = [
        ("PPOTrainer built", 0.4, True, "ok"),
        ("policy is a causal LM", 0.3, student["policy"] == "causal_lm", f"the policy is {student['policy']}, not a causal LM"),
        ("separate reference policy", 0.3, student["ref"] == "causal_lm" and not student["ref_is_policy"],
         "ref_model must be a second causal LM, not the policy itself" if student["ref_is_policy"]
         else f"the reference is {student['ref']}"),
        ("the trained reward model", 0.3, student["reward_is_given"], "reward_model must be the reward model trained above"),
        ("value model", 0.3, value_ok, "value_model must be its own AutoModelForSequenceClassification with "
                                       "num_labels=1 and config.pad_token_id set (not the reward model)"),
        ("trains with the given settings", 0.4, not problems, "; ".join(problems)),
    ]
    return [Item(name, points, ok, "ok" if ok else message) for name, points, ok, message in checks]
