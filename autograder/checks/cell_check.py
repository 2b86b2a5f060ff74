"""A graded cell: the grader re-runs it under hidden configurations and judges what it leaves.

Preparing the namespace and collecting facts and outcomes is the student runtime's job
(`alignment_kit.recorders`), so the worker needs no grader code. The grader owns the configurations
(some of their data it never sends: `private`), the helpers the cell is given, the mistaken versions
of the cell it knows, how an outcome is evaluated on its side (`evaluate`), how a run is verified
when it can be replayed (`verify`), and how the runs are judged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from alignment_kit import i18n, items
from autograder.checks.variation import Variation


@dataclass
class CellCheck:
    grade_id: str  # the re-run cell's nbgrader grade_id, which is also its item's name
    helpers: tuple[str, ...]  # reference functions the cell is given (the only reference code a worker holds)
    setups: Callable[[], list[tuple[str, dict]]]  # hidden (label, configuration); the first is the main one
    judge: Callable  # (student runs, expected per config, setups) -> (lines, runs it wants: lists of keys)
    mistakes: dict[str, dict] = field(default_factory=dict)  # id -> switches of the grader's mistaken cell
    mistaken_source: Callable[..., str] | None = None  # (**switches) -> the cell's source with those mistakes
    messages: dict[str, str] = field(default_factory=dict)  # id -> what the mistake is called in feedback
    costs: dict[str, str] = field(default_factory=dict)  # mistake id (or "ignores:<input>") -> the line it costs
    variations: dict[str, Variation] = field(default_factory=dict)  # name -> a way of writing the cell it accepts
    inputs: dict[str, str] = field(default_factory=dict)  # cell input -> configuration key, tested for being ignored
    ignores_message: Callable | None = None  # (input, value, default) -> message
    curve: str = ""  # a fact holding a per-step series to plot against the reference's, if any
    evaluate: Callable = lambda config, outcome: {}  # (configuration, outcome) -> numbers the judge computes
    private: tuple[str, ...] = ()  # configuration keys only the judge sees (the reward cell's held-out pairs)
    verify: Callable | None = None  # (configuration, outcome, student run, reference run, replay) -> what to add to the run
    replay_source: str = ""  # grader-owned code that replays a recorded run (what `verify`'s replay runs)
    python: Callable[[], str] | None = None  # the interpreter its workers run (default: the grader's own)

    def __post_init__(self):
        if self.mistakes and self.mistaken_source is None:
            raise ValueError(f"{self.grade_id}: a cell with named mistakes needs mistaken_source, which writes the "
                             "cell with the switches of one or more mistakes")

    def declared_messages(self) -> dict[str, str]:
        """Mistake id or variation name -> what it is called, in English."""
        return {**self.messages, **{name: v.message for name, v in self.variations.items()}}

    def message(self, key: str) -> str:
        """What mistake or variation `key` is called, in the current language."""
        return i18n.text(f"{self.grade_id}.{key}", self.declared_messages()[key])

    def localized_messages(self) -> dict[str, dict[str, str]]:
        """Mistake id -> its message in every language (for what is stored before it is read)."""
        return {key: i18n.in_every_language(lambda key=key: self.message(key)) for key in self.messages}

    def variations_as_data(self) -> dict[str, dict]:
        """The variations as the judge reads them (stored with the runs): message in every language, value."""
        return {name: {"message": i18n.in_every_language(lambda name=name: self.message(name)),
                       "default": v.default, "seen_in": v.seen_in, "accepted": v.accepted}
                for name, v in self.variations.items()}

    def switches(self, keys: list[str]) -> dict:
        """The switches of the grader's cell that make the mistakes and variations `keys` ("name=value")."""
        found = {}
        for key in keys:
            name, _, value = key.partition("=")
            found.update(self.variations[name].switches(float(value)) if value else self.mistakes[key])
        return found

    def given(self, config: dict) -> dict:
        """The configuration as a worker gets it: without its private part."""
        return {key: value for key, value in config.items() if key not in self.private}

    def worker_python(self) -> str:
        """The interpreter of this cell's workers ("" for the grader's own)."""
        return self.python() if self.python is not None else ""

    @property
    def item(self) -> items.Item:
        return items.item(self.grade_id)

    @property
    def points(self) -> float:
        return self.item.points
