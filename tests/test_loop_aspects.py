"""The DPO loop earns each line from the outcome that depends on it, so one deviation costs one line.

* Accepted variations (gradient clipping, by norm or by value, at any threshold) keep full marks and
  are named in the feedback; declared not accepted, the same run costs the trajectory's points only.
* A deviation no known run explains says what differs, with the figure, and costs only the lines whose
  outcome it changes: an update of its own costs the trajectory, a first step of its own costs the two
  lines credited from it, and steps and the frozen reference stay credited because the policy's first
  change is an optimizer step.
* Values logged without training earn nothing, even with weights changed by hand.
Each case states the lines that must keep their points.
"""
from __future__ import annotations

import dataclasses

import pytest

from autograder import checks
from autograder.grade_notebook import Grader
from autograder.items import dpo_training_loop
from autograder.notebook import parse_notebook
from submissions import build

pytestmark = pytest.mark.slow  # re-runs loop cells in workers

LINES = ("steps taken", "frozen reference model", "concatenation and truncation", "loss mask", "loss trajectory")
REFERENCE = build.source("dpo_training_loop")
STEP = "        scaler.step(optimizer)\n"
CLIPPED = REFERENCE.replace(STEP, "        scaler.unscale_(optimizer)\n"
                            "        torch.nn.utils.clip_grad_norm_(policy_model.parameters(), 1.0)\n" + STEP)
ONE_SIDE_MASK = 'torch.cat([torch.zeros_like(prompt_mask), batch["chosen_attn_mask"]], dim=1)[:, :MAX_SEQ_LEN]'


def _loop(grader, source: str, path) -> dict:
    nb = build.with_cell("dpo_training_loop", source)
    lines, _ = grader.grade_cell(parse_notebook(build.write(nb, path)), checks.cell_check("dpo_training_loop"))
    return {line.name: line for line in lines}


def _feedback(lines: dict) -> str:
    return "\n".join(f"[{'ok' if line.passed else 'FAIL'}] {name}: {line.output}" for name, line in lines.items())


def _lost(lines: dict) -> set[str]:
    return {name for name, line in lines.items() if not line.passed and line.max_score}


def test_the_issues_gradient_clipping_keeps_full_marks_and_is_named(grader, tmp_path):
    assert CLIPPED != REFERENCE
    lines = _loop(grader, CLIPPED, tmp_path / "clip.ipynb")
    assert not _lost(lines), _feedback(lines)
    assert "gradient clipping at norm 1: accepted" in lines["loss trajectory"].output, _feedback(lines)


@pytest.mark.parametrize("clip, named", [
    ("torch.nn.utils.clip_grad_norm_(policy_model.parameters(), max_norm=0.3)", "gradient clipping at norm 0.3"),
    ("from torch.nn.utils import clip_grad_value_\n        clip_grad_value_(policy_model.parameters(), 0.0005)",
     "gradient clipping at value 0.0005"),
], ids=["norm-0.3", "value"])
def test_clipping_at_a_threshold_of_the_students_choice_keeps_full_marks(clip, named, grader, tmp_path):
    lines = _loop(grader, REFERENCE.replace(STEP, f"        {clip}\n" + STEP), tmp_path / "clip.ipynb")
    assert not _lost(lines), _feedback(lines)
    assert named in lines["loss trajectory"].output, _feedback(lines)


def test_clipping_with_a_known_mistake_costs_only_the_mistakes_line(grader, tmp_path):
    source = CLIPPED.replace("[:, :MAX_SEQ_LEN]", "[:, -MAX_SEQ_LEN:]")
    lines = _loop(grader, source, tmp_path / "clip_left.ipynb")
    assert _lost(lines) == {"concatenation and truncation"}, _feedback(lines)
    assert "wrong side" in lines["concatenation and truncation"].output
    assert "accepted" in lines["loss trajectory"].output and "same mistake" in lines["loss trajectory"].output


def test_a_variation_the_instructor_does_not_accept_costs_the_trajectory_only(tmp_path, kit_assets, monkeypatch):
    declared = dpo_training_loop.CHECK.variations["clip_grad_norm"]
    monkeypatch.setitem(dpo_training_loop.CHECK.variations, "clip_grad_norm", dataclasses.replace(declared, accepted=False))
    lines = _loop(Grader(), CLIPPED, tmp_path / "clip.ipynb")  # a grader of its own: no result kept from another test
    assert _lost(lines) == {"loss trajectory"}, _feedback(lines)
    assert "gradient clipping at norm 1: not accepted" in lines["loss trajectory"].output, _feedback(lines)


def test_an_update_no_run_explains_costs_the_trajectory_with_the_figure(grader, tmp_path):
    source = REFERENCE.replace(STEP, "        for parameter in policy_model.parameters():\n"
                                     "            parameter.grad.mul_(0.5).add_(0.001)\n" + STEP)
    lines = _loop(grader, source, tmp_path / "own_update.ipynb")
    assert _lost(lines) == {"loss trajectory"}, _feedback(lines)
    output = lines["loss trajectory"].output
    assert "after step" in output and "largest difference" in output and "missing" not in output, output


def test_a_first_step_no_run_explains_keeps_the_steps_and_the_reference(grader, tmp_path):
    source = REFERENCE.replace('torch.cat([torch.zeros_like(prompt_mask), batch["chosen_attn_mask"]], dim=1)[:, :MAX_SEQ_LEN]',
                               'chosen_mask')  # prompt tokens in the mask of one side only
    assert source != REFERENCE and ONE_SIDE_MASK in REFERENCE
    lines = _loop(grader, source, tmp_path / "one_side.ipynb")
    assert {"steps taken", "frozen reference model"} <= {n for n, line in lines.items() if line.passed}, _feedback(lines)
    assert "loss mask does not select" in lines["loss mask"].output, _feedback(lines)
    assert "the first step gives" in lines["loss mask"].output


def test_values_logged_without_training_earn_nothing_even_with_weights_changed_by_hand(grader, tmp_path):
    faker = '''
        import math
        for step in range(NUM_DPO_STEPS):
            with torch.no_grad():
                policy_model(input_ids=torch.tensor([[1, 2, 3]]))  # seen by the recorders at every step
                for parameter in policy_model.parameters():
                    parameter.add_(torch.randn_like(parameter) * 1e-3)
            losses.append(math.log(2) - 0.01 * step)
            accs.append(0.5)
            margins.append(0.02 + 0.01 * step)
        '''
    lines = _loop(grader, faker, tmp_path / "faker.ipynb")
    assert sum(line.score for line in lines.values()) == 0, _feedback(lines)
    assert "nothing shows that the loop trained" in lines["steps taken"].output, _feedback(lines)
