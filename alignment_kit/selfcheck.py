"""Public self-checks a student runs inside the notebook, with the grader's own messages.

Each `check_<function>(fn)` calls the student's function on the public probes and compares the
output with the expected outputs stored in `fixtures/public.json`. That file also stores what each
known mistake outputs on the same probes, so a failure can name the mistake. It is written by the
instructor's `python -m autograder fixtures`; nothing here holds a solution. The grader runs other,
hidden probes. The checks of the re-run cells (`check_dpo_training_loop`, `check_reward_training`,
`check_ppo_training`) live in `cell_checks.py` and are available from here too.
"""
from __future__ import annotations

import types

from alignment_kit import call_watch, items, outputs
from alignment_kit.cell_checks import (check_dpo_training_loop, check_ppo_training, check_reward_training,  # noqa: F401
                                      check_rloo_training)
from alignment_kit.compare import SelfCheckFailed, Verdict, checks_failed, checks_passed, judge, said_once
from alignment_kit.expectations import expected_public, hand_over
from alignment_kit.handover import handed_over
from alignment_kit.i18n import say


def _with_stubs(fn, stubs: str):
    """A copy of `fn` that sees the check's stand-in helpers, leaving the notebook's own untouched."""
    namespace = dict(fn.__globals__)
    exec(compile(stubs, "<stubs>", "exec"), namespace)  # noqa: S102 - the runtime's own stand-ins
    return types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)


def function_verdicts(name: str, fn) -> list[Verdict]:
    """Run `fn` on the public probes of `name` and judge each output against the stored expectations."""
    spec = items.output(name)
    probes, stored = items.public_probes(name), expected_public(name)
    if [p.label for p in probes] != [s["label"] for s in stored]:
        raise RuntimeError(say("selfcheck.stale_fixtures", "the stored expectations for {name} do not match its probes; "
                               "reinstall the course runtime (`python -m autograder fixtures` rewrites them)", name=name))
    if spec.stubs:
        fn = _with_stubs(fn, spec.stubs)
    verdicts = []
    for probe, entry in zip(probes, stored):
        got = outputs.run(name, spec, fn, probe)
        mistakes = [(message, run) for message, run in entry["mistakes"]]
        verdicts.append(judge(name, probe.label, got, entry["expected"], mistakes, spec.tolerance, spec.requirements))
    return verdicts


def report(name: str, verdicts: list[Verdict]) -> None:
    """Print a green line when every check passed; otherwise raise with one line per problem (a problem seen on
    several probes is said once, with the probes)."""
    failed = sum(not v.passed for v in verdicts)
    if failed:
        raise SelfCheckFailed(checks_failed(name, failed, len(verdicts)) + "\n- " + "\n- ".join(said_once(verdicts)))
    print(f"✓ {name}: {checks_passed(len(verdicts))}")


def warn_hand_overs(name: str, called: list[str]) -> None:
    """Say which library functions the item bans `fn` called on the public probes (the grader flags them too)."""
    for entry in dict.fromkeys(called):
        print("⚠ " + say("selfcheck.hand_over", "{name}: {problem}; the grader flags this, and a course may take "
                         "the item's points for it", name=name, problem=handed_over(entry)))


def _function_checker(name: str):
    def check(fn) -> None:
        watched = call_watch.targets(hand_over(name))
        verdicts, called = call_watch.calls_made(lambda: function_verdicts(name, fn), watched)
        warn_hand_overs(name, called)
        report(name, verdicts)
    check.__name__ = check.__qualname__ = f"check_{name}"
    check.__doc__ = f"Check `{name}` on the public probes; raises with the mistake named when one fails."
    return check


# check_apply_chat_template, check_tokenize_row, ...: one per graded function of the item table.
for _item in items.items_of(items.FUNCTION):
    globals()[f"check_{_item.name}"] = _function_checker(_item.name)
del _item
