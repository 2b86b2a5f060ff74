"""Public checks of the re-run cells, run in the notebook's own kernel.

* `check_dpo_training_loop()` re-runs the student's own loop cell (the last cell run that logs the
  losses) with the tiny model on public rows and the student's own helpers, and reports the same
  items as the grader, with the same messages. It compares against stored expectations: the facts
  of the reference loop and of each known mistake under the public configuration (written by the
  instructor's `python -m autograder fixtures`; the grader's hidden configurations differ).
* `check_reward_training(...)` and `check_ppo_training(...)` read the trainers the student built:
  a trained reward model, a separate value model and reference, the settings they were given, a
  step completed. (The grader goes further: it scores the reward model on pairs the notebook never
  sees, and replays the PPO run to check the policy it trained.)
"""
from __future__ import annotations

import ast
import tempfile
from pathlib import Path

from alignment_kit import cell_judges, cell_outcomes, items, loop_judge, recorders
from alignment_kit.compare import SelfCheckFailed, checks_failed, ok
from alignment_kit.expectations import expected_public
from alignment_kit.i18n import say
from alignment_kit.notebook_code import strip_magics
from alignment_kit.scoring import ScoredLine, line, shown


def report(name: str, results: list[ScoredLine], notes: list[str] = ()) -> None:
    """Print one line per item; raise when one failed (the message repeats the failures)."""
    for result in results:
        print(f"{'✓' if result.passed else '✗'} {name}: {result.name}" + ("" if result.passed else f": {result.output}"))
    for note in notes:
        print(say("cell_checks.note", "note: {note}", note=note))
    failed = [r for r in results if not r.passed]
    if failed:
        raise SelfCheckFailed(checks_failed(name, len(failed), len(results))
                              + "\n- " + "\n- ".join(f"{r.name}: {r.output}" for r in failed))


def _kernel():
    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = None
    shell = get_ipython() if get_ipython else None
    if shell is None:
        raise RuntimeError(say("cell_checks.no_kernel", "this check re-runs a notebook cell: run it inside the notebook"))
    return shell


def last_cell_of(item: str, shell=None) -> str:
    """The source of the last cell run in this kernel that does what the re-run cell `item` does (other than a
    check), found as the grader finds it when its metadata is gone."""
    shell = shell or _kernel()
    signature = items.item(item).finds
    for source in reversed(shell.history_manager.input_hist_raw):
        try:
            tree = ast.parse(strip_magics(source))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        if "selfcheck." not in source and signature.fits(tree):
            return strip_magics(source)
    raise SelfCheckFailed(say("cell_checks.run_first_cell", "run the cell that {does} first: this check re-runs it",
                              does=signature.describe()))


def check_dpo_training_loop() -> None:
    """Re-run the loop cell with the tiny model on public rows and the notebook's own helpers."""
    shell = _kernel()
    namespace = dict(shell.user_ns)
    stored = expected_public(recorders.LOOP)
    source = last_cell_of(recorders.LOOP, shell)
    config = stored["config"]
    with tempfile.TemporaryDirectory() as scratch:
        given, state = recorders.prepare_loop(config, Path(scratch))
        namespace.update(given)
        recorders.after_helpers_loop(namespace, config, state)
        error = None
        try:
            exec(compile(source, "<your training loop>", "exec"), namespace)  # noqa: S102 - the student's own cell
        except Exception as raised:  # noqa: BLE001 - reported as a failed check
            error = f"{type(raised).__name__}: {raised}"
        left = recorders.collect_loop(namespace, state)
    run = {**left["facts"], **cell_outcomes.evaluate_loop(config, left["outcome"])}
    device = config.get("device", "cpu")
    results, _ = loop_judge.judge_loop([loop_judge.Configuration.of("", run, stored, device)])
    if error:
        results.insert(0, line(shown(cell_judges.RAN_TO_THE_END), 0.0, False,
                               say("cell_checks.loop_raised", "the loop raised {error}", error=error)))
    report(say("cell_checks.loop", "DPO training loop"), results, loop_judge.loop_notes(run))


def _settings(settings) -> dict:
    return {name: getattr(settings, name) for name in ("reward_steps", "max_seq_len", "ppo_episodes", "max_new_tokens",
                                                       "rloo_steps", "rloo_generations", "rloo_beta")}


def check_reward_training(reward_trainer, reward_model, tokenizer, settings, rows) -> None:
    """The reward model is trained by this RewardTrainer with the given settings and scores finitely."""
    import math

    from alignment_kit.helpers import reward_scores

    facts = recorders.reward_facts({"reward_model": reward_model, "reward_trainer": reward_trainer})
    facts["train_rows"] = None  # the public check cannot know how many rows the trainer should keep
    problems = cell_judges.reward_setup_problems(facts, _settings(settings), reference=None)
    if not problems:
        scores = reward_scores(reward_model, tokenizer, [rows[0]["chosen"], rows[0]["rejected"]])
        if not all(math.isfinite(float(s)) for s in scores):
            problems.append(say("cell_checks.not_finite", "the reward model gives scores that are not finite: {scores}",
                                scores=scores.tolist()))
    setup = shown(cell_judges.REWARD_SETUP_NAME)
    report(say("cell_checks.reward", "reward model"),
           [line(setup, 0.2, not problems, ok() if not problems else "; ".join(problems))])


def check_ppo_training(ppo_trainer, reward_trainer, settings, ppo_prompts) -> None:
    """The PPOTrainer has its four models right, uses the trained reward model and the given settings."""
    trained = getattr(getattr(reward_trainer, "state", None), "global_step", 0) >= 1
    facts = recorders.ppo_facts(ppo_trainer, getattr(reward_trainer, "model", None) if trained else object())
    results = cell_judges.judge_ppo([cell_judges.PpoRun("", facts, {"prompt_rows": len(ppo_prompts)}, _settings(settings))])
    report(say("cell_checks.ppo", "PPO trainer"), results)


def check_rloo_training(rloo_trainer, reward_trainer, settings, rloo_prompts) -> None:
    """The RLOOTrainer is scored by the trained reward model, keeps TRL's reference, and uses the given settings."""
    from alignment_kit import rloo_judge, rloo_recorder

    trained = getattr(getattr(reward_trainer, "state", None), "global_step", 0) >= 1
    facts = rloo_recorder.facts(rloo_trainer, {})
    start = rloo_judge.start_of_trainer(rloo_trainer, getattr(reward_trainer, "model", None) if trained else None) \
        if facts["trainer"] else None
    results = rloo_judge.judge_rloo([rloo_judge.RlooRun("", facts, start, {"prompt_rows": len(rloo_prompts)},
                                                        _settings(settings))])
    if facts["trainer"] and not facts["steps"]:
        results[0] = line(results[0].name, results[0].max_score, False,
                          say("cell_checks.rloo_untrained", "rloo_trainer.train() has not run"))
    report(say("cell_checks.rloo", "RLOO trainer"), results)
