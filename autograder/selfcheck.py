"""Checks a student can run inside the notebook, with the grader's messages.

Public checks compare against `fixtures/public.json` (expected outputs on the public probes,
written by `python -m autograder fixtures` from the solution notebook), so students need no
solution. `hidden=True` is for nbgrader's autograde run on the instructor's machine: it uses
other probes and the solution notebook itself, and re-runs the training cells in a worker.
"""
from __future__ import annotations

import json
import math
import types
from pathlib import Path

from autograder import checks
from autograder.checks.function_check import FunctionCheck, Verdict

FIXTURES = Path(__file__).parent / "fixtures" / "public.json"


def expected_public(name: str) -> list[dict]:
    return json.loads(FIXTURES.read_text())[name]


def verdicts_for(check: FunctionCheck, fn, hidden: bool) -> list[Verdict]:
    """Run `fn` on the probes in this process and judge it against the expected outputs.

    In this in-kernel run the student's function uses the student's own helpers; the CLI grader
    (grade.py) isolates each function with the reference helpers instead."""
    probes = check.build_probes(hidden)
    if hidden:
        from autograder.reference import reference_for_check

        expected = [check.run(reference_for_check(check), p) for p in probes]
    else:
        expected = expected_public(check.name)
    if check.stubs:
        fn = _with_stubs(fn, check.stubs)
    results = []
    for probe, want in zip(probes, expected):
        got = check.run(fn, probe)
        mistakes = [check.run(m.implementation, probe) for m in check.mistakes]
        results.append(check.judge(probe, got, want, mistakes))
    return results


def _with_stubs(fn, stubs: str):
    """A copy of `fn` that sees the check's stand-in helpers, leaving the notebook's own untouched."""
    namespace = dict(fn.__globals__)
    exec(compile(stubs, "<stubs>", "exec"), namespace)  # noqa: S102 - grader-owned code
    return types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)


def _report(name: str, verdicts: list[Verdict]) -> None:
    failures = [v.message for v in verdicts if not v.passed]
    if failures:
        raise AssertionError(f"{name}: {len(failures)} of {len(verdicts)} checks failed:\n- " + "\n- ".join(failures))
    print(f"✓ {name}: {len(verdicts)} checks passed")


def _function_checker(name: str):
    def run(fn, *_, hidden: bool = False):
        _report(name, verdicts_for(checks.function_check(name), fn, hidden))
    run.__name__ = f"check_{name}"
    run.__doc__ = f"Check `{name}` on the public probes (hidden=True: the grader's own probes)."
    return run


check_apply_chat_template = _function_checker("apply_chat_template")
check_tokenize_row = _function_checker("tokenize_row")
check_pad = _function_checker("pad")
check_pad_collate_fn = _function_checker("pad_collate_fn")
check_make_dataloader = _function_checker("make_dataloader")
check_get_log_prob = _function_checker("get_log_prob")
check_dpo_loss = _function_checker("dpo_loss")
check_to_implicit_prompt_preferences = _function_checker("to_implicit_prompt_preferences")


def check_training_log(losses, accs, margins, num_steps) -> None:
    """Public sanity check of the DPO loop's logs: one finite entry per step, accuracies in [0, 1]."""
    problems = []
    for name, values in (("losses", losses), ("accs", accs), ("margins", margins)):
        if len(values) != num_steps:
            problems.append(f"`{name}` has {len(values)} entries, expected {num_steps}")
        elif not all(isinstance(v, float) and math.isfinite(v) for v in values):
            problems.append(f"`{name}` holds values that are not finite floats (use .item())")
    if accs and not all(0.0 <= a <= 1.0 for a in accs):
        problems.append("reward accuracies must lie in [0, 1]")
    if losses and abs(losses[0] - math.log(2)) > 0.05:
        problems.append(f"the first loss should be close to log(2) = 0.693 (policy = reference), got {losses[0]:.4f}")
    _report("DPO training log", [Verdict("log", not problems, "; ".join(problems))])


def check_reward_model(reward_model, tokenizer, rows) -> None:
    """Public check: the reward model gives one finite score per conversation."""
    from autograder.homework_utils import reward_scores

    scores = reward_scores(reward_model, tokenizer, [rows[0]["chosen"], rows[0]["rejected"]])
    ok = scores.shape == (2,) and all(math.isfinite(float(s)) for s in scores)
    _report("reward model", [Verdict("scores", ok, f"expected two finite scores, got {scores}")])


def check_ppo_trainer(ppo_trainer, reward_model) -> None:
    """Public check: a PPOTrainer that uses this reward model and finished at least one step."""
    from trl.experimental.ppo import PPOTrainer

    problems = []
    if not isinstance(ppo_trainer, PPOTrainer):
        problems.append("ppo_trainer is not a trl.experimental.ppo.PPOTrainer")
    else:
        if ppo_trainer.reward_model is not reward_model:
            problems.append("the trainer's reward_model is not the reward model trained above")
        if ppo_trainer.state.global_step < 1:
            problems.append("train() has not completed a step")
    _report("PPO trainer", [Verdict("trainer", not problems, "; ".join(problems))])


def _grade_current_notebook_cell(grade_id: str) -> None:
    """Grade one re-run cell of the notebook being autograded (nbgrader runs it from its own folder)."""
    from autograder.grade import grade_cell_of_notebook

    notebooks = sorted(Path.cwd().glob("*.ipynb"))
    if not notebooks:
        raise AssertionError("no notebook found in the working directory to grade")
    items = grade_cell_of_notebook(notebooks[0], grade_id)
    _report(grade_id, [Verdict(i.name, i.passed, f"{i.name}: {i.message}") for i in items])


def check_dpo_training_loop(hidden: bool = True) -> None:
    _grade_current_notebook_cell("dpo_training_loop")


def check_reward_training(hidden: bool = True) -> None:
    _grade_current_notebook_cell("reward_training")


def check_ppo_training(hidden: bool = True) -> None:
    _grade_current_notebook_cell("ppo_training")
