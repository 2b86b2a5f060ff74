"""Judging the DPO loop cell: each aspect earns its points from the outcome that depends on it.

A run is the dict of what the recorders saw (facts) and of what the judging side evaluated from the
weights and values the cell handed over (`cell_outcomes.evaluate_loop`). Every configuration has the
reference run (key ""), the reference with each known mistake (its key; the aspect it costs is in
`costs`), with each declared variation (`name=value`: accepted, or costing the trajectory, as the
instructor declared it) and, on demand, with several of these at once ("a+b").

The outcomes the aspects are credited from:
* concatenation and truncation, loss mask: the first step's loss, accuracy and margin. Every run starts
  from the same weights and the reference model starts from other weights than the policy, so these
  depend on which sequences were fed, which tokens the mask kept, and how the loss was formed;
* frozen reference model: whether the reference enters the first step's loss (a policy that is its
  own reference gives a margin of exactly 0) and the reference model's weights after the run, as
  log-ratios against its start;
* steps taken: how many values were logged and how many times the policy's weights changed (the
  judging side compares the handed-over weights; a step that changes nothing is no step).
  These two lines also need the loop to have trained: its first step matches a run the grader made,
  or its policy's first change is a step of the loop's AdamW (`cell_outcomes.adamw_first_step`), so
  values logged without training earn nothing, while a loop whose first step matches no known run
  keeps them;
* loss trajectory: every logged loss and the policy after each step, compared with the run that makes
  the mistakes named above (one mistake costs once) and the declared variations.
An aspect whose outcome matches a known mistake of its own loses its points with that mistake's
message; one whose outcome matches a run in which it is right (another aspect's mistake, an accepted
variation) keeps them. Facts never earn a point: they choose between mistakes whose outcomes are the
same, give hints in a message, and name a mistake whose outcome is the reference's (prompt tokens in
the loss mask cancel out between chosen and rejected) when they are that mistake's and not the
reference's. An outcome that matches nothing says what differs, with
the figure.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from alignment_kit import i18n
from alignment_kit.cell_outcomes import POLICY_ATOL, POLICY_RTOL, close
from alignment_kit.compare import ok
from alignment_kit.i18n import counted, pick, say
from alignment_kit.scoring import ScoredLine, line, shown

LOSS_ATOL, LOSS_RTOL = 1e-4, 1e-3  # fp32 on a CPU; different op orders stay far inside this
STEPS, FROZEN, SEQUENCES, MASK, TRAJECTORY = ("steps taken", "frozen reference model", "concatenation and truncation",
                                              "loss mask", "loss trajectory")
REFERENCE = ""


def combo(keys) -> str:
    """The key of the run that makes all of `keys` at once."""
    return "+".join(sorted(set(keys)))


def variation_key(name: str, value: float) -> str:
    return f"{name}={float(value)!r}"


@dataclass
class Configuration:
    """One re-run: how it is described to students, the student's run, and the grader's runs with what they
    are called and which aspect each mistake costs."""

    label: str
    student: dict
    runs: dict[str, dict]
    messages: dict[str, object] = field(default_factory=dict)  # mistake id or variation name -> message
    costs: dict[str, str] = field(default_factory=dict)  # mistake id -> the aspect it costs
    variations: dict[str, dict] = field(default_factory=dict)  # name -> its declaration, as data
    device: str = "cpu"  # where the cell was re-run (and the reference run with it)

    @classmethod
    def of(cls, label: str, student: dict, expected: dict, device: str = "cpu") -> "Configuration":
        """A configuration from its stored expectations (the grader's cache, or the public fixture)."""
        return cls(label, student, expected["runs"], expected.get("messages", {}), expected.get("costs", {}),
                   expected.get("variations", {}), device)

    def run_with(self, keys) -> dict | None:
        """The reference run with `keys`. An ignored input that has no run here (it keeps its value in this
        configuration) changes nothing, so it is left out."""
        return self.runs.get(combo(k for k in keys if k in self.runs or not k.startswith("ignores:")))

    def costs_of(self, key: str) -> set[str]:
        """The aspects the run `key` gets wrong."""
        found = set()
        for part in filter(None, key.split("+")):
            name = part.split("=", 1)[0]
            if name in self.variations:
                found |= set() if self.variations[name]["accepted"] else {TRAJECTORY}
            else:
                found.add(self.costs.get(part, TRAJECTORY))
        return found

    def message(self, key: str) -> str:
        """What the mistake or variation `key` is called, in the current language."""
        name, _, value = key.partition("=")
        if name in self.variations:
            return pick(self.variations[name]["message"]).format(value=float(value))
        return pick(self.messages[key])

    @property
    def prefix(self) -> str:
        return f"{i18n.label(self.label)}: " if self.label else ""


# ---------------------------------------------------------------------------------- outcomes
def first_step(run: dict) -> tuple | None:
    """The first step's logged (loss, accuracy, margin), or None when the loop logged none."""
    values = [run.get(name) for name in ("losses", "accs", "margins")]
    if not all(isinstance(v, list) and v for v in values):
        return None
    return tuple(v[0] for v in values)


def _numbers_close(got, want, atol: float, rtol: float) -> bool:
    return close(list(got) if got is not None else None, list(want) if want is not None else None, atol, rtol)


def _first_step_same(a: dict, b: dict) -> bool:
    return _numbers_close(first_step(a), first_step(b), LOSS_ATOL, LOSS_RTOL)


def compared_with_itself(run: dict) -> bool:
    """Whether the first step's margin is exactly 0 with the loss log 2: both sides of the loss come from the
    same model (or the same sequences), since the reference starts from other weights than the policy."""
    step = first_step(run)
    return step is not None and step[2] == 0 and math.isclose(step[0], math.log(2), abs_tol=LOSS_ATOL)


def _frozen_same(a: dict, b: dict) -> bool:
    """The reference enters the loss (or does not) alike, and ends with the same weights."""
    return compared_with_itself(a) == compared_with_itself(b) and close(a.get("reference_logratios"),
                                                                        b.get("reference_logratios"))


def _counts(run: dict) -> tuple:
    return tuple(len(run.get(name) or []) for name in ("losses", "accs", "margins")) + (run.get("moves"),)


def _steps_same(a: dict, b: dict) -> bool:
    return _counts(a) == _counts(b)


def losses_close(got, expected) -> bool:
    return close(got, expected, LOSS_ATOL, LOSS_RTOL)


def _states_close(got, expected) -> bool:
    return (isinstance(got, list) and isinstance(expected, list) and len(got) == len(expected)
            and all(close(g, e) for g, e in zip(got, expected)))


def _trajectory_same(a: dict, b: dict) -> bool:
    """The same losses at every step, and the same policy after every step."""
    return losses_close(a.get("losses"), b.get("losses")) and _states_close(a.get("policy_states"),
                                                                          b.get("policy_states"))


# ---------------------------------------------------------------------------------- what differs, in words
def _values(step: tuple) -> str:
    return say("loop.values", "loss {loss:.4f}, accuracy {acc:.2f}, margin {margin:.4f}", loss=step[0], acc=step[1],
               margin=step[2])


def _first_step_differs(student: dict, expected: dict) -> str:
    got, want = first_step(student), first_step(expected)
    if got is None:
        return say("loop.nothing_logged", "the loop logged no loss, accuracy and margin, so nothing of it can be "
                   "compared")
    return say("loop.first_step", "the first step gives {got} where the reference run gives {want} (tolerance {atol} "
               "+ {rtol} x |reference|), and no known mistake gives these", got=_values(got), want=_values(want),
               atol=LOSS_ATOL, rtol=LOSS_RTOL)


def _hinted(student: dict, expected: dict, view: Callable, same: str, none: str, other: str) -> str:
    """What differs in the first step, with a hint from the facts `view` reads: `same` when they are the
    reference's, `none` when there are none, `other` otherwise."""
    hint = same if view(student) == view(expected) else none if not view(student) else other
    return f"{_first_step_differs(student, expected)}: {hint}"


def _sequences_differ(student: dict, expected: dict) -> str:
    return _hinted(student, expected, _rows,
                   say("loop.rows_hint_same", "the policy was fed the reference's sequences, so look at the loss mask "
                       "and the call to dpo_loss"),
                   say("judge.policy_not_called", "policy_model is never called"),
                   say("judge.policy_rows", "the policy is not fed prompt + completion, concatenated and cut to the "
                       "first MAX_SEQ_LEN tokens"))


def _mask_differs(student: dict, expected: dict) -> str:
    return _hinted(student, expected, _masks,
                   say("loop.mask_hint_same", "the loss mask selects the reference's tokens, so look at the sequences "
                       "and the call to dpo_loss"),
                   say("judge.get_log_prob_not_called", "get_log_prob is never called"),
                   say("judge.mask", "the loss mask does not select exactly the completion tokens inside the window"))


def _frozen_differs(student: dict, expected: dict) -> str:
    if student.get("reference_logratios") is None:
        return say("loop.reference_unreadable", "the reference model could not be read: {problem}",
                   problem=student.get("reference_problem") or say("judge.no_weights", "no weights"))
    if not close(student["reference_logratios"], expected.get("reference_logratios")):
        gap = max(abs(v) for v in student["reference_logratios"])
        return say("loop.reference_moved", "the reference model's weights changed during the run (its log-ratio against "
                   "its start reaches {gap:.4g}): it must stay frozen", gap=gap)
    if compared_with_itself(student):
        return say("loop.compared_with_itself", "the first step's margin is 0 and its loss log 2, as when the "
                   "policy is its own reference (or both sides of the loss are the same sequences): the reference "
                   "model starts from other weights here, so ref_model's log-probs do not enter the loss")
    return _first_step_differs(student, expected)


def _steps_differ(student: dict, expected: dict) -> str:
    steps = len(expected["losses"])
    logged = {name: len(student.get(name) or []) for name in ("losses", "accs", "margins")}
    wrong = {name: count for name, count in logged.items() if count != steps}
    if wrong:
        return say("judge.logged", "expected {values} in losses, accs and margins, found {found}",
                   values=counted(steps, say("noun.value", "value|values")),
                   found=", ".join(say("judge.logged_in", "{count} in {name}", count=count, name=name)
                                   for name, count in wrong.items()))
    if student.get("moves") is None:
        return say("judge.policy_unreadable", "the trained policy could not be read: {problem}",
                   problem=student.get("policy_problem") or say("judge.no_weights", "no weights"))
    if student["moves"] == 0:
        return say("loop.never_moves", "the policy's weights never change ({calls} to optimizer.step): is the loss "
                   "backpropagated before scaler.step(optimizer), with the gradients not reset in between?",
                   calls=counted(student.get("optimizer_steps") or 0, say("noun.call", "call|calls")))
    return say("loop.moves", "the policy's weights changed {moves} in {batches}: take exactly one optimizer step per "
               "batch", moves=counted(student["moves"], say("noun.time", "time|times")),
               batches=counted(steps, say("noun.batch", "batch|batches")))


def _first_gap(got: list, want: list, same: Callable) -> int | None:
    """The index of the first entry where two lists differ (their common length when one is longer), or None."""
    for index, (a, b) in enumerate(zip(got, want)):
        if not same(a, b):
            return index
    return None if len(got) == len(want) else min(len(got), len(want))


def _trajectory_differs(student: dict, expected: dict) -> str:
    """Where the student's run leaves the expected one: the losses, then the policy after each step."""
    got, want = student.get("losses"), expected.get("losses") or []
    if not isinstance(got, list):
        return say("loop.nothing_logged", "the loop logged no loss, accuracy and margin, so nothing of it can be "
                   "compared")
    parts = []
    index = _first_gap(got, want, lambda a, b: losses_close([a], [b]))
    if index is not None and index < min(len(got), len(want)):
        parts.append(say("loop.loss_at", "the loss of step {step} is {got:.4f} where the expected run's is {want:.4f}",
                         step=index + 1, got=got[index], want=want[index]))
    elif index is not None:
        parts.append(say("loop.loss_count", "{got} logged where the expected run logs {want}",
                         got=counted(len(got), say("noun.loss", "loss|losses")), want=len(want)))
    states, expected_states = student.get("policy_states"), expected.get("policy_states") or []
    if states is None:
        parts.append(say("judge.policy_unreadable", "the trained policy could not be read: {problem}",
                         problem=student.get("policy_problem") or say("judge.no_weights", "no weights")))
    else:
        index = _first_gap(states, expected_states, close)
        if index is not None and index < min(len(states), len(expected_states)):
            gap = max(abs(a - b) for a, b in zip(states[index], expected_states[index]))
            parts.append(say("loop.policy_after", "after step {step} the policy differs from the expected run's: the "
                             "largest difference of its log-ratios on the configuration's sequences is {gap:.4g} "
                             "(tolerance {atol} + {rtol} x |expected|)", step=index + 1, gap=gap, atol=POLICY_ATOL,
                             rtol=POLICY_RTOL))
        elif index is not None:
            parts.append(say("loop.policy_changes", "the policy's weights changed {got} where the expected run's "
                             "changed {want}", got=counted(len(states), say("noun.time", "time|times")),
                             want=counted(len(expected_states), say("noun.time", "time|times"))))
    return "; ".join(parts) or say("loop.trajectory_differs", "the run differs from the expected one")


# ---------------------------------------------------------------------------------- aspects
def _rows(facts: dict):
    return [tuple(row) for row in facts.get("policy_rows") or []]


def _masks(facts: dict):
    return [tuple(row) for row in facts.get("masked_labels") or []]


def _reference_facts(facts: dict):
    return (bool(facts.get("ref_calls")), not facts.get("ref_grad_calls"), not facts.get("ref_has_grad"),
            not facts.get("ref_changed"))


def _step_facts(facts: dict):
    return (facts.get("optimizer_steps"), bool(facts.get("scaled_losses")))


@dataclass(frozen=True)
class Aspect:
    """One line of the loop: its points, the outcome it is credited from, the facts that choose between
    mistakes of the same outcome, and what to say when nothing explains the outcome."""

    name: str
    points: float
    same: Callable[[dict, dict], bool]  # whether two runs agree on this aspect's outcome
    facts: Callable[[dict], object]
    differs: Callable[[dict, dict], str]  # (student, expected run) -> what differs, with the figures
    guarded: bool = False  # its outcome does not show by itself that the loop trained (see `_trained`)


ASPECTS = (
    Aspect(STEPS, 0.2, _steps_same, _step_facts, _steps_differ, guarded=True),
    Aspect(FROZEN, 0.4, _frozen_same, _reference_facts, _frozen_differs, guarded=True),
    Aspect(SEQUENCES, 0.3, _first_step_same, _rows, _sequences_differ),
    Aspect(MASK, 0.3, _first_step_same, _masks, _mask_differs),
)
TRAJECTORY_POINTS = 0.8
LINE_NAMES = [a.name for a in ASPECTS] + [TRAJECTORY]


def _agree(view: Callable, a: dict, b: dict) -> bool:
    try:
        return view(a) == view(b)
    except (KeyError, TypeError):
        return False


def _single_keys(configs: list[Configuration]) -> list[str]:
    return sorted({key for c in configs for key in c.runs if key and "+" not in key and key in c.costs})


def _consistent(aspect: Aspect, configs: list[Configuration], key: str) -> bool:
    """Whether the run `key` (the reference's where a configuration has none) gives the student's outcome of
    `aspect` in every configuration."""
    return all(aspect.same(c.student, c.runs.get(key, c.runs[REFERENCE])) for c in configs)


def _shown_by_outcome(aspect: Aspect, configs: list[Configuration], key: str) -> bool:
    return any(key in c.runs and not aspect.same(c.runs[key], c.runs[REFERENCE]) for c in configs)


def _shown_by_facts(aspect: Aspect, configs: list[Configuration], key: str) -> bool:
    """Whether the student's facts are those of the run `key` wherever it has one, and not the reference's."""
    runs = [c for c in configs if key in c.runs]
    return all(_agree(aspect.facts, c.student, c.runs[key]) for c in runs) and \
        any(not _agree(aspect.facts, c.student, c.runs[REFERENCE]) for c in runs)


def _right_here(aspect: Aspect, config: Configuration) -> str | None:
    """A run of `config` in which `aspect` is right that gives the student's outcome of it ("" for the
    reference), or None."""
    for key in sorted(config.runs, key=lambda k: (k != REFERENCE, k.count("+"), k)):
        if aspect.name not in config.costs_of(key) and aspect.same(config.student, config.runs[key]):
            return key
    return None


def _trained(configs: list[Configuration]) -> bool:
    """Whether the loop really trained, in every configuration: its first step's values are those of a run the
    grader made, or its policy's first change is a step of the loop's AdamW. Values logged without training,
    or weights changed by hand, are neither; this is what lets a loop whose first step matches no run keep the
    lines that do not depend on it."""
    return all(any(_first_step_same(c.student, run) for run in c.runs.values()) or c.student.get("first_move_adamw")
               for c in configs)


def judge_aspect(aspect: Aspect, configs: list[Configuration], identified: list[str]) -> ScoredLine:
    """One aspect's line; a mistake it names is added to `identified`."""
    name = shown(aspect.name)
    own = [key for key in _single_keys(configs) if aspect.name in configs[0].costs_of(key)
           and _consistent(aspect, configs, key)]
    deviating = [c for c in configs if not aspect.same(c.student, c.runs[REFERENCE])]
    if deviating:
        # A mistake whose outcome is the student's; the facts choose when several give it.
        shown_here = [key for key in own if _shown_by_outcome(aspect, configs, key)]
        agreeing = [key for key in shown_here if all(_agree(aspect.facts, c.student, c.runs[key])
                                                      for c in configs if key in c.runs)]
        chosen = shown_here[0] if len(shown_here) == 1 else (agreeing[0] if agreeing else None)
        if shown_here:
            identified.append(chosen or shown_here[0])
            config = next(c for c in configs if identified[-1] in c.runs)
            message = config.message(chosen) if chosen else aspect.differs(config.student, config.runs[REFERENCE])
            return line(name, aspect.points, False, config.prefix + message)
        found = {id(c): _right_here(aspect, c) for c in deviating}
        missing = next((c for c in deviating if found[id(c)] is None), None)
        if missing is not None:
            return line(name, aspect.points, False, missing.prefix + aspect.differs(missing.student,
                                                                                    missing.runs[REFERENCE]))
    else:
        # A mistake whose outcome is the reference's (prompt tokens in the mask cancel out between chosen and
        # rejected) is named by the facts, which may take points away but never give them.
        by_facts = [key for key in own if _shown_by_facts(aspect, configs, key)]
        if by_facts:
            identified.append(by_facts[0])
            config = next(c for c in configs if by_facts[0] in c.runs)
            return line(name, aspect.points, False, config.prefix + config.message(by_facts[0]))
    if aspect.guarded and not _trained(configs):
        return line(name, aspect.points, False, say("loop.not_trained", "not credited: the first step's loss, "
                                                    "accuracy and margin match no run the grader made, and the "
                                                    "policy's first change is no step of the optimizer: nothing "
                                                    "shows that the loop trained"))
    return line(name, aspect.points, True, ok())


def _variation_keys(configs: list[Configuration], identified: list[str]) -> list[str]:
    """Each declared variation with the value the student's facts show (the first plausible one), else with its
    declared value; with mistakes named, only the variations the facts show (each asks for a run of its own)."""
    keys = []
    for name, declared in sorted(configs[0].variations.items()):
        seen = [v for c in configs for v in c.student.get(declared["seen_in"]) or []
                if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1e6]
        if seen or not identified:
            keys.append(variation_key(name, seen[0] if seen else declared["default"]))
    return keys


def _trajectory(configs: list[Configuration], identified: list[str], wanted: list[list[str]]) -> ScoredLine:
    name = shown(TRAJECTORY)
    mistakes = [key for key in _single_keys(configs) if TRAJECTORY in configs[0].costs_of(key)]
    candidates = [list(identified)] + [identified + [v] for v in _variation_keys(configs, identified)] + \
        ([[key] for key in mistakes] if not identified else [])
    for keys in candidates:
        runs = [c.run_with(keys) for c in configs]
        if any(run is None for run in runs):
            wanted.append(keys)
            continue
        if not all(_trajectory_same(c.student, run) for c, run in zip(configs, runs)):
            continue
        extra = [key for key in keys if key not in identified]
        costly = [key for key in extra if TRAJECTORY in configs[0].costs_of(key)]
        if costly:
            identified.extend(costly)
            config = next((c for c in configs if costly[0] in c.runs), configs[0])
            message = config.message(costly[0])
            if "=" in costly[0]:
                message = say("loop.not_accepted", "{variation}: not accepted in this course", variation=message)
            return line(name, TRAJECTORY_POINTS, False, config.prefix + message)
        notes = [say("loop.accepted", "{variation}: accepted", variation=configs[0].message(key)) for key in extra]
        if identified:
            notes.insert(0, say("judge.same_mistake", "the losses match a reference run with the same mistake (counted "
                                "once, above)"))
        return line(name, TRAJECTORY_POINTS, True, ok("; ".join(notes)))
    config, expected = next(((c, c.run_with(identified)) for c in configs if c.run_with(identified) is not None
                             and not _trajectory_same(c.student, c.run_with(identified))),
                            (configs[0], configs[0].runs[REFERENCE]))
    hint = (say("judge.more_than_named", " (and there is more than the mistakes named above: no run of the reference "
                "with them matches)") if identified else "")
    return line(name, TRAJECTORY_POINTS, False, config.prefix + _trajectory_differs(config.student, expected) + hint)


def judge_loop(configs: list[Configuration]) -> tuple[list[ScoredLine], list[list[str]]]:
    """The loop's lines, and the runs the judge wanted but did not have (each a list of keys made at once):
    the grader makes them and judges again."""
    identified: list[str] = []
    wanted: list[list[str]] = []
    lines = [judge_aspect(aspect, configs, identified) for aspect in ASPECTS]
    lines.append(_trajectory(configs, identified, wanted))
    return lines, [keys for keys in wanted if keys]


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
