"""A graded function: its probes, how to read its output, and the mistakes it can name."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from autograder.checks.base import Mistake, Probe, close, describe, encode


class OutputShapeError(Exception):
    """The function returned something of the wrong kind; the message says what was expected."""


@dataclass
class Verdict:
    """How one probe went: passed or not, with the message a student reads."""

    probe: str
    passed: bool
    message: str


@dataclass
class FunctionCheck:
    """Everything needed to grade one function in isolation."""

    name: str
    part: str
    points: float
    build_probes: Callable[[bool], list[Probe]]  # hidden -> probes
    components: Callable[[Any], dict]  # raw output -> named components; raises OutputShapeError
    mistakes: list[Mistake] = field(default_factory=list)
    substitutes: tuple[str, ...] = ()  # reference functions placed beside the student's
    stubs: str = ""  # grader-owned stand-ins (source) for helpers the function calls
    atol: float = 1e-4
    rtol: float = 1e-4

    def run(self, fn: Callable, probe: Probe) -> dict:
        """Call `fn` on the probe and encode its output; errors become {"error": text}."""
        try:
            output = fn(*probe.args, **probe.kwargs)
            return {"output": encode(self.components(output))}
        except OutputShapeError as error:
            return {"error": str(error)}
        except Exception as error:  # noqa: BLE001 - any student error is a result, not a crash
            return {"error": f"{type(error).__name__}: {error}"[:400]}

    def _same(self, a: dict, b: dict) -> bool:
        return set(a) == set(b) and all(close(a[k], b[k], self.atol, self.rtol) for k in b)

    def judge(self, probe: Probe, student: dict, reference: dict, mistake_runs: list[dict]) -> Verdict:
        """Compare the student's encoded output with the reference, naming a known mistake if one fits."""
        if "error" in reference:
            raise RuntimeError(f"reference {self.name} failed on {probe.label}: {reference['error']}")
        if "error" in student:
            return Verdict(probe.label, False, f"{self.name} raised on {probe.label}: {student['error']}")
        got, expected = student.get("output"), reference["output"]
        if not isinstance(got, dict):
            return Verdict(probe.label, False, f"{probe.label}: the output could not be read")
        whole = [m.message for m, run in zip(self.mistakes, mistake_runs)
                 if "output" in run and self._same(got, run["output"]) and not self._same(run["output"], expected)]
        if whole:  # one known mistake explains the whole output
            return Verdict(probe.label, False, f"{probe.label}: {whole[0]}")
        problems = []
        for component, want in expected.items():
            if component not in got:
                problems.append(f"`{component}` is missing from the output")
                continue
            if close(got[component], want, self.atol, self.rtol):
                continue
            named = [m.message for m, run in zip(self.mistakes, mistake_runs)
                     if "output" in run and component in run["output"]
                     and close(got[component], run["output"][component], self.atol, self.rtol)
                     and not close(run["output"][component], want, self.atol, self.rtol)]
            if named:
                problems.append(f"`{component}`: {named[0]}")
            else:
                problems.append(f"`{component}` is wrong: expected {describe(want)}, got {describe(got[component])}")
        if not problems:
            return Verdict(probe.label, True, "ok")
        return Verdict(probe.label, False, f"{probe.label}: " + "; ".join(problems))


def score(check: FunctionCheck, verdicts: list[Verdict]) -> float:
    """Points in proportion to the probes passed."""
    if not verdicts:
        return 0.0
    return round(check.points * sum(v.passed for v in verdicts) / len(verdicts), 4)
