"""A graded function: its hidden probes, the mistakes it can name and the reference helpers it gets."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from alignment_kit import items, outputs
from alignment_kit.compare import Verdict, fraction_passed, judge
from alignment_kit.handover import HandOver
from alignment_kit.probes import Probe
from autograder.checks.mistake import Mistake


@dataclass
class FunctionCheck:
    """Everything the grader needs to grade one function in isolation.

    Name, part and points come from the item's declaration; how the output is read, its tolerance,
    its stand-in helpers and its public probes from its runtime module (`alignment_kit/items/<name>.py`).
    """

    name: str
    hidden_probes: Callable[[], list[Probe]]
    mistakes: list[Mistake] = field(default_factory=list)
    substitutes: tuple[str, ...] = ()  # reference functions placed beside the student's
    all_or_nothing: bool = False  # no credit for some probes (when some pass even if the task is not attempted)
    hand_over: HandOver = field(default_factory=HandOver)  # library functions that would do its work for it

    def __post_init__(self):
        self.mistakes = [m.keyed(self.name) for m in self.mistakes]
        texts: dict[str, str] = {}
        for mistake in self.mistakes:
            if texts.setdefault(mistake.key, mistake.message) != mistake.message:
                raise ValueError(f"{self.name}: two different messages get the key {mistake.key!r}; give one a `key=`")

    def score(self, verdicts: list[Verdict]) -> float:
        if self.all_or_nothing:
            return self.item.points if verdicts and all(v.passed for v in verdicts) else 0.0
        return fraction_passed(self.item.points, verdicts)

    @property
    def item(self) -> items.Item:
        return items.item(self.name)

    @property
    def spec(self) -> outputs.OutputSpec:
        return items.output(self.name)

    def probes(self, hidden: bool) -> list[Probe]:
        return self.hidden_probes() if hidden else items.public_probes(self.name)

    def run(self, fn: Callable, probe: Probe) -> dict:
        """Call `fn` (stand-in helpers already in place) on a probe: {"output": ...} or {"error": ...}."""
        return outputs.run(self.name, self.spec, fn, probe)

    def judge(self, probe: Probe, student: dict, reference: dict, mistake_runs: list[dict]) -> Verdict:
        named = [(m.text(), run) for m, run in zip(self.mistakes, mistake_runs)]
        return judge(self.name, probe.label, student, reference, named, self.spec.tolerance, self.spec.requirements)
