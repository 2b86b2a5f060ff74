"""Judging the RLOO cell (RLOO edition): its lines, read off what the run started from.

A run's start says which reward model the trainer used, whether its reference is TRL's own (a second
copy of the checkpoint the policy starts from), the policy itself or none, and the arguments. The
grader builds it from the recorded start of a run that a replay reproduced (`start_of_record`), so
what it says is what was trained; the public check builds it from the notebook's own trainer
(`start_of_trainer`). Each aspect has its line, so one mistake costs only its own points.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from alignment_kit import i18n
from alignment_kit.compare import ok
from alignment_kit.i18n import say
from alignment_kit.scoring import ScoredLine, line, shown, withheld

TRAINED, REWARD, BASELINE, REFERENCE, KL, SETTINGS = (
    "RLOOTrainer built and trained", "the trained reward model as the reward",
    "a leave-one-out baseline over num_generations replies", "TRL's own reference, not the policy",
    "a KL penalty (beta > 0)", "trains with the given settings")
LINES = ((TRAINED, 0.4), (REWARD, 0.4), (BASELINE, 0.3), (REFERENCE, 0.3), (KL, 0.2), (SETTINGS, 0.2))
LINE_NAMES = [name for name, _ in LINES]
ARGUMENTS = ("num_generations", "beta", "max_steps", "max_completion_length")  # the RLOOConfig fields judged


def start_of_record(call: dict) -> dict:
    """The start of a recorded run (`trainer_runs.record_runs`), as the judge reads it (plain values; the
    worker's `given_generations` is added by the judge's caller)."""
    models, same = call.get("models") or {}, call.get("same") or []
    arguments = call.get("arguments") or {}
    reward, ref = models.get("reward") or {}, models.get("ref") or {}
    given = reward.get("base") == "given_reward" and not reward.get("changed")
    return {"reward": "given" if given else ("missing" if reward.get("missing") else "other"),
            "ref": "policy" if "policy=ref" in same else ("none" if ref.get("missing") else "separate"),
            "ref_at_start": ref.get("base") == "checkpoint" and not ref.get("changed"),
            **{key: arguments.get(key) for key in ARGUMENTS},
            "prompt_rows": len(call.get("rows") or [])}


def start_of_trainer(trainer, reward_model, given_generations=None) -> dict:
    """The start of the notebook's own trainer as it is now (the public check's view)."""
    rewards = getattr(trainer, "reward_funcs", None) or [None]
    ref, policy = getattr(trainer, "ref_model", None), getattr(trainer, "model", None)
    arguments = getattr(trainer, "args", None)
    dataset = getattr(trainer, "train_dataset", None)
    return {"reward": "given" if rewards[0] is reward_model and reward_model is not None else "other",
            "ref": "policy" if ref is not None and ref is policy else ("none" if ref is None else "separate"),
            "ref_at_start": True,
            **{key: getattr(arguments, key, None) for key in ARGUMENTS},
            "given_generations": given_generations, "prompt_rows": len(dataset) if dataset is not None else None}


@dataclass
class RlooRun:
    """One configuration of the RLOO cell: the student's facts and start, the reference's, the settings given,
    and whether the grader verified the run (it trained, and a replay of it gives the same policy)."""

    label: str
    facts: dict
    start: dict
    reference: dict
    settings: dict
    verified: bool = True
    problem: str = ""


def _prefixed(run: RlooRun, problems: list[str]) -> list[str]:
    return [f"{i18n.label(run.label)}: {p}" if run.label else p for p in problems]


def _settings_problems(start: dict, settings: dict, reference: dict) -> list[str]:
    problems = []
    if start["max_steps"] != settings["rloo_steps"]:
        problems.append(say("rloo.max_steps", "max_steps is {got}: use settings.rloo_steps ({want} here)",
                            got=start["max_steps"], want=settings["rloo_steps"]))
    if start["max_completion_length"] != settings["max_new_tokens"]:
        problems.append(say("rloo.completion_length", "max_completion_length is {got}: use settings.max_new_tokens "
                            "({want} here)", got=start["max_completion_length"], want=settings["max_new_tokens"]))
    if reference.get("prompt_rows") is not None and start["prompt_rows"] != reference["prompt_rows"]:
        problems.append(say("rloo.prompt_rows", "the trainer got {got} prompts where the reference gets {want}: train "
                            "on rloo_prompts", got=start["prompt_rows"], want=reference["prompt_rows"]))
    return problems


def _baseline_problem(start: dict, settings: dict) -> str:
    given = start.get("given_generations")
    if isinstance(given, int) and given < 2:
        return say("rloo.one_generation", "num_generations={given} leaves no leave-one-out baseline (each reply's "
                   "baseline is the mean reward of the other replies to its prompt; TRL refuses fewer than 2): use "
                   "settings.rloo_generations ({want} here)", given=given, want=settings["rloo_generations"])
    if start["num_generations"] != settings["rloo_generations"]:
        return say("rloo.generations", "num_generations is {got}: use settings.rloo_generations ({want} here)",
                   got=start["num_generations"], want=settings["rloo_generations"])
    return ""


def _reference_problem(start: dict) -> str:
    if start["ref"] == "policy":
        return say("rloo.ref_is_policy", "the reference is the policy itself, so the KL penalty compares the policy "
                   "with itself and holds nothing back: keep the reference RLOOTrainer loads (or a copy made before "
                   "training)")
    if start["ref"] == "separate" and not start["ref_at_start"]:
        return say("rloo.ref_moved", "the reference does not start from the checkpoint the policy starts from: give "
                   "RLOOTrainer a freshly loaded policy, and leave the reference it builds alone")
    return ""


def _kl_problem(start: dict, settings: dict) -> str:
    if not start["beta"]:
        return say("rloo.no_kl", "beta={got} switches the KL penalty off (and TRL then builds no reference): use "
                   "beta=settings.rloo_beta ({want} here)", got=start["beta"], want=settings["rloo_beta"])
    if start["beta"] != settings["rloo_beta"]:
        return say("rloo.beta", "beta is {got}: use settings.rloo_beta ({want} here)", got=start["beta"],
                   want=settings["rloo_beta"])
    return ""


def judge_rloo(runs: list[RlooRun]) -> list[ScoredLine]:
    """The aspects read the first configuration's start; the settings every configuration's. An unverified run
    earns nothing."""
    first = runs[0]
    if not first.facts.get("trainer"):
        return [line(shown(TRAINED), round(sum(points for _, points in LINES), 4), False,
                     say("rloo.no_trainer", "no `rloo_trainer` (a trl.RLOOTrainer) was created"))]
    if any(run.start is None for run in runs):  # no run recorded: nothing to read the aspects off
        unrecorded = next(run for run in runs if run.start is None)
        return withheld([line(shown(name), points, False, "") for name, points in LINES],
                        replace(unrecorded, problem=unrecorded.problem or no_run()))
    settings_problems = []
    for run in runs:
        settings_problems = _prefixed(run, _settings_problems(run.start, run.settings, run.reference)) \
            if run.facts.get("trainer") else _prefixed(run, [say("rloo.no_trainer_short", "no `rloo_trainer` was created")])
        if settings_problems:
            break
    start, settings = first.start, first.settings
    reward_problem = "" if start["reward"] == "given" else say(
        "rloo.reward", "reward_funcs must be the reward model trained above (`reward_model`); this run was scored by "
        "another model")
    problems = ["", reward_problem, _baseline_problem(start, settings), _reference_problem(start),
                _kl_problem(start, settings), "; ".join(settings_problems)]  # one per line of LINES
    lines = [line(shown(name), points, not problem, problem or ok()) for (name, points), problem in zip(LINES, problems)]
    return withheld(lines, next((run for run in runs if not run.verified), None))


def no_run() -> str:
    return say("rloo.no_run", "no RLOO run was recorded")
