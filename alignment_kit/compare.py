"""Compare a function's output with the expected output and name the mistake that explains it.

An output is first read into named *components* (see `outputs.py`), then encoded as plain JSON.
The expected output and the outputs of known mistakes arrive as encoded data as well, so the same
judge serves the public self-checks (expected values stored with the package) and the grader
(expected values computed from the reference). This module holds no reference implementation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from alignment_kit import i18n
from alignment_kit.i18n import pick, say

# Captured at import, before any student code runs, so patching torch.Tensor cannot change them.
_DETACH, _TO, _RESHAPE, _TOLIST = torch.Tensor.detach, torch.Tensor.to, torch.Tensor.reshape, torch.Tensor.tolist
_SHAPE = torch.Tensor.shape.__get__
_ISINSTANCE, _BOOL, _INT, _FLOAT, _STR, _DICT, _LIST, _TUPLE = isinstance, bool, int, float, str, dict, list, tuple
_REPR = repr


def encode(value: Any) -> Any:
    """Turn tensors, tuples and scalars into JSON-safe values (tensors as {shape, values})."""
    if _ISINSTANCE(value, torch.Tensor):
        tensor = _TO(_DETACH(value), device="cpu", dtype=torch.float64)
        return {"shape": [int(n) for n in _SHAPE(tensor)], "values": _TOLIST(_RESHAPE(tensor, (-1,)))}
    if _ISINSTANCE(value, _DICT):
        return {_STR(k): encode(v) for k, v in value.items()}
    if _ISINSTANCE(value, (_LIST, _TUPLE)):
        return [encode(v) for v in value]
    if _ISINSTANCE(value, _BOOL) or value is None or _ISINSTANCE(value, _STR):
        return value
    if _ISINSTANCE(value, (_INT, _FLOAT)):
        return _FLOAT(value) if _ISINSTANCE(value, _FLOAT) else value
    try:
        return _FLOAT(value)
    except (TypeError, ValueError):
        return _REPR(value)[:200]


def _is_tensor(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"shape", "values"}


def _numbers_close(a: Any, b: Any, atol: float, rtol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return a == b
    if math.isnan(a) or math.isnan(b):  # a NaN equals only a NaN (a known mistake's; references are finite)
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * abs(b)


def close(got: Any, expected: Any, atol: float = 1e-4, rtol: float = 1e-4) -> bool:
    """Structural comparison of encoded values with a numeric tolerance."""
    if _is_tensor(expected):
        return (_is_tensor(got) and got["shape"] == expected["shape"] and len(got["values"]) == len(expected["values"])
                and all(_numbers_close(g, e, atol, rtol) for g, e in zip(got["values"], expected["values"])))
    if isinstance(expected, dict):
        return isinstance(got, dict) and set(got) == set(expected) and all(
            close(got[k], expected[k], atol, rtol) for k in expected)
    if isinstance(expected, list):
        return isinstance(got, list) and len(got) == len(expected) and all(
            close(g, e, atol, rtol) for g, e in zip(got, expected))
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return _numbers_close(got, expected, atol, rtol)
    return got == expected


def describe(value: Any, limit: int = 160) -> str:
    """A short human-readable rendering of an encoded value for feedback messages."""
    if _is_tensor(value):
        values = ", ".join(f"{v:.4g}" for v in value["values"][:8])
        more = ", ..." if len(value["values"]) > 8 else ""
        text = f"tensor shape {value['shape']} [{values}{more}]"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SelfCheckFailed(AssertionError):
    """A public self-check failed; the message lists what is wrong and how to fix it."""


@dataclass
class Verdict:
    """How one probe went: passed or not, with the message a student reads ("{probe}: {problem}"). `problem`
    is what went wrong without naming the probe, so that a mistake seen on several probes is said once."""

    probe: str
    passed: bool
    message: str
    problem: str = ""


@dataclass(frozen=True)
class Tolerance:
    atol: float = 1e-4
    rtol: float = 1e-4


def _same(a: dict, b: dict, tolerance: Tolerance) -> bool:
    return set(a) == set(b) and all(close(a[k], b[k], tolerance.atol, tolerance.rtol) for k in b)


def judge(name: str, label: str, student: dict, expected: dict, mistakes: list[tuple[str, dict]],
          tolerance: Tolerance = Tolerance(), requirements: dict[str, str] | None = None) -> Verdict:
    """Compare the student's run on one probe with the expected run, naming a known mistake if one fits.

    A run is {"output": components} or {"error": text}. `mistakes` pairs each known mistake's
    message with its run on the same probe. `requirements` maps a component to the requirement it
    stands for (such as "keep the input's dtype"); a wrong component with a requirement names it.
    """
    if "error" in expected:
        raise RuntimeError(f"the expected output of {name} on {label} is an error: {expected['error']}")
    if "error" in student:
        error = student["error"]
        return Verdict(label, False, say("compare.raised", "{name} raised on {label}: {error}", name=name,
                                         label=i18n.label(label), error=error),
                       say("compare.raised_problem", "{name} raised: {error}", name=name, error=error))
    got, want = student.get("output"), expected["output"]
    if not isinstance(got, dict):
        return _failed(label, say("compare.unreadable", "the output could not be read"))
    mistakes = [(pick(message), run) for message, run in mistakes]
    whole = [message for message, run in mistakes
             if "output" in run and _same(got, run["output"], tolerance) and not _same(run["output"], want, tolerance)]
    if whole:  # one known mistake explains the whole output
        return _failed(label, whole[0])
    problems = []
    for component, value in want.items():
        if component not in got:
            problems.append(say("compare.missing", "`{component}` is missing from the output", component=component))
            continue
        if close(got[component], value, tolerance.atol, tolerance.rtol):
            continue
        named = [message for message, run in mistakes
                 if "output" in run and component in run["output"]
                 and close(got[component], run["output"][component], tolerance.atol, tolerance.rtol)
                 and not close(run["output"][component], value, tolerance.atol, tolerance.rtol)]
        if named:
            problems.append(f"`{component}`: {named[0]}")
        elif requirements and component in requirements:
            problems.append(say("compare.requirement", "{requirement}: expected {expected}, got {got}",
                                requirement=requirement(requirements[component]), expected=describe(value),
                                got=describe(got[component])))
        else:
            problems.append(say("compare.wrong", "`{component}` is wrong: expected {expected}, got {got}",
                                component=component, expected=describe(value), got=describe(got[component])))
    if not problems:
        return Verdict(label, True, ok())
    return _failed(label, "; ".join(problems))


def _failed(label: str, problem: str) -> Verdict:
    """A failed probe: its label in the message's language (the verdict keeps the label itself) and its problem."""
    return Verdict(label, False, f"{i18n.label(label)}: {problem}", problem)


def said_once(verdicts: list[Verdict]) -> list[str]:
    """One line per problem of the failed probes, in the order first seen: a problem seen on one probe is
    "{probe}: {problem}", one seen on several is said once and followed by the probes it was seen on."""
    seen: dict[str, list[Verdict]] = {}
    for verdict in verdicts:
        if not verdict.passed:
            seen.setdefault(verdict.problem or verdict.message, []).append(verdict)
    return [group[0].message if len(group) == 1 else seen_on(problem, [v.probe for v in group])
            for problem, group in seen.items()]


def seen_on(problem: str, labels: list[str]) -> str:
    """A problem followed by the probes it was seen on: "... (on 3 probes: "a", "b", "c")"."""
    probes = i18n.counted(len(labels), say("compare.probes", "probe|probes"))
    quoted = ", ".join(say("compare.quoted", '"{label}"', label=i18n.label(label)) for label in labels)
    return say("compare.seen_on", "{problem} (on {probes}: {labels})", problem=problem, probes=probes, labels=quoted)


def ok(note: str = "") -> str:
    """What a passed check says (with a note, if any)."""
    return say("compare.ok", "ok") + (f": {note}" if note else "")


def requirement(english: str) -> str:
    """A requirement of an output (declared in English beside the item) in the current language."""
    return i18n.declared("requirement", english)


def fraction_passed(points: float, verdicts: list[Verdict]) -> float:
    """Points in proportion to the probes passed."""
    if not verdicts:
        return 0.0
    return round(points * sum(v.passed for v in verdicts) / len(verdicts), 4)


def checks_failed(name: str, failed: int, total: int) -> str:
    """The first line of a failed self-check."""
    if total == 1:
        return say("selfcheck.failed_one", "{name}: {failed} of 1 check failed:", name=name, failed=failed)
    return say("selfcheck.failed", "{name}: {failed} of {total} checks failed:", name=name, failed=failed, total=total)


def checks_passed(count: int) -> str:
    """The line of a function whose every probe passed."""
    if count == 1:
        return say("compare.passed_one", "the check passed")
    return say("compare.passed_all", "all {count} checks passed", count=count)
