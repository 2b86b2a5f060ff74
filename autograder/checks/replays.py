"""Replaying a recorded trainer run (the reward and PPO cells): what a replay starts from, and finding it.

The worker records what each `train()` started from (`alignment_kit.trainer_runs`). The grader replays
that start in a fresh worker with its own code; a student's run is verified when what it trained equals
what the replay trains. A start equal to the reference run's needs no replay: the reference run is it.
"""
from __future__ import annotations

import hashlib

from alignment_kit.i18n import say

# Arguments that name places, not training: a replay uses its own.
PLACES = ("output_dir", "logging_dir", "run_name")


def replay_start(call: dict) -> dict:
    """What a replay of a recorded run starts from: the record without its results and without places."""
    arguments = call.get("arguments")
    if isinstance(arguments, dict):
        arguments = {key: value for key, value in arguments.items() if key not in PLACES}
    return {"arguments": arguments, "models": call.get("models"), "same": call.get("same"), "rows": call.get("rows"),
            "random": call.get("random")}


def replay_key(call) -> str:
    """A digest of a recorded run's start: two runs with the same key train the same models."""
    from alignment_kit.sandbox import wire

    if not isinstance(call, dict) or "unrecordable" in call:
        return ""
    return hashlib.sha256(wire.dump(replay_start(call))).hexdigest()[:24]


def replayed(student: dict, reference: dict, outcome, replay, trainer: str) -> tuple[dict | None, str]:
    """The run a replay of the student's recorded start gives (the reference's when the starts are equal), or
    None with why there is none. `trainer` names the trainer in messages ("ppo_trainer")."""
    if isinstance(student.get("train_calls"), int) and student["train_calls"] > 1:
        return None, say("replay.twice", "{trainer}.train() ran {count} times: train once, as the reference does",
                         trainer=trainer, count=student["train_calls"])
    key = student.get("replay_key")
    if not key:
        return None, say("replay.unrecorded", "the {trainer} run could not be recorded, so it cannot be checked",
                         trainer=trainer)
    if key == reference.get("replay_key"):
        return reference, ""
    run = replay(key, replay_start(outcome["train_call"]))
    if "replay_failed" in run:
        return None, say("replay.failed", "a replay of this run with the same models, settings and seeds failed: "
                         "{error}", error=run["replay_failed"])
    return run, ""


def unverified(problem: str) -> dict:
    """What `CellCheck.verify` adds to a run it could not verify."""
    return {"verified": False, "verification_problem": problem}


def verified_policy(student: dict, reference: dict, outcome, replay, trainer: str, untrained: str, differs) -> dict:
    """What `CellCheck.verify` adds to a trainer cell's run (PPO's, RLOO's): verified when its policy moved and
    equals what a replay of its start trains; else the reason (`untrained` for a policy that never moved,
    `differs(gap)` for one the replay does not give)."""
    from alignment_kit import cell_outcomes

    if not student.get("moved"):
        return unverified(untrained)
    run, problem = replayed(student, reference, outcome, replay, trainer)
    if run is None:
        return unverified(problem)
    if cell_outcomes.close(student["policy_logps"], run.get("policy_logps")):
        return {"verified": True, "verification_problem": ""}
    return unverified(differs(cell_outcomes.largest_gap(student["policy_logps"], run.get("policy_logps"))))
