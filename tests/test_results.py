"""The stored record round-trips exactly; results.json and gradebook rows are exports of it."""
import json
import math

import pytest

from alignment_kit import items
from alignment_kit.scoring import STATUSES, ScoredLine
from autograder.results import GradeRecord, write_json_atomic


def _result(**changes) -> GradeRecord:
    values = dict(
        student="zoe", notebook="/x/zoe.ipynb", content_hash="ab" * 32,
        tests=[ScoredLine("pad", "pad", "data_prep", 0.1, 0.2, "left padding: ignores `padding_side`", "failed", "visible"),
               ScoredLine("dpo_training_loop: loss mask", "dpo_training_loop", "dpo_training", 0.3, 0.3, "ok"),
               ScoredLine("truncation_answer (hand-graded)", "truncation_answer", "data_prep", 0.0, 0.1,
                          "Graded by hand.\n\nan answer", "manual", "after_due_date")],
        execution_time=12.5, error="grader error: boom", grader_fault=True, warnings=["old notebook format v3"],
        curves={"dpo_training_loop": {"label": "losses", "student": [0.69, float("nan")], "reference": [0.69, 0.6]}},
        figures={"analysis_plots": ["iVBORw0KGgo="]}, grader_version="0123456789abcdef")
    values.update(changes)
    return GradeRecord(**values)


def test_the_record_round_trips_every_field_exactly(tmp_path):
    original = _result()
    write_json_atomic(tmp_path / "record.json", original.to_record(), strict=False)
    restored = GradeRecord.from_record(json.loads((tmp_path / "record.json").read_text()))
    assert json.dumps(restored.to_record()) == json.dumps(original.to_record())
    assert restored.error == original.error and restored.grader_fault is True
    assert [(t.status, t.part, t.item, t.visibility) for t in restored.tests] == \
           [(t.status, t.part, t.item, t.visibility) for t in original.tests]
    assert math.isnan(restored.curves["dpo_training_loop"]["student"][1])


def test_an_unknown_record_version_is_refused():
    data = _result().to_record()
    data["record_version"] = 99
    with pytest.raises(ValueError, match="record version"):
        GradeRecord.from_record(data)


def test_statuses_are_checked():
    with pytest.raises(ValueError, match="passed"):
        ScoredLine("a", "pad", "data_prep", 0, 1, "", status="skipped")
    assert STATUSES == ("passed", "failed", "manual")


def test_gradescope_export_has_a_status_per_test_and_markdown_output(tmp_path):
    exported = _result(error=None, grader_fault=False).to_gradescope()
    write_json_atomic(tmp_path / "results.json", exported)  # strict JSON: no NaN reaches Gradescope
    assert exported["output_format"] == "md"
    assert all(t["status"] in ("passed", "failed") and t["output_format"] == "md" for t in exported["tests"])
    assert exported["score"] == pytest.approx(sum(t["score"] for t in exported["tests"]))
    assert "truncation_answer" in exported["output"], "hand-graded items are named as graded separately"


def test_hand_graded_points_are_pending_never_lost():
    result = _result(error=None)
    assert result.score == pytest.approx(0.4)
    assert result.pending_points == pytest.approx(0.1)
    row = result.to_row()
    assert row["autograded"] == pytest.approx(0.4) and row["autograded_max"] == pytest.approx(items.autograded_points())
    assert row["hand_graded_pending"] == pytest.approx(0.1)
    assert row["analysis"] == "", "a part graded only by hand has no autograded score"


def test_the_score_line_names_its_parts_everywhere(tmp_path):
    """The first line says what the score is out of, that the bonus is in it, and what waits for a person."""
    from autograder import report

    result = _result(error=None)
    line = (f"0.4 of {items.autograded_points():g} autograded points, bonus included (up to "
            f"{items.bonus_points(autograded_only=True):g}); 0.1 graded by hand, pending.")
    assert result.summary() == line
    assert line in report.markdown(result) and line in report.html_page(result)
    assert result.to_gradescope()["output"].startswith(line)
    assert "✅" not in report.html_page(result) and "❌" not in report.markdown(result)


# ---------------------------------------------------------------------- the hand grader sees the plots
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def _with_analysis_output(outputs):
    from submissions import build

    nb = build.solution_notebook()
    nb.cells[build.cell_index(nb, "analysis_plots")].outputs = outputs
    return nb


def test_feedback_embeds_the_saved_figures_of_the_analysis(tmp_path):
    import nbformat

    from autograder.grade_notebook import manual_lines
    from autograder.notebook import parse_notebook
    from autograder.report import write_feedback
    from submissions import build

    figure = nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})
    parsed = parse_notebook(build.write(_with_analysis_output([figure]), tmp_path / "with.ipynb"))
    assert parsed.figures("analysis_plots") == [PNG]
    result = _result(error=None, tests=manual_lines(parsed), figures={"analysis_plots": parsed.figures("analysis_plots")})
    write_feedback(result, tmp_path / "feedback")
    assert (tmp_path / "feedback" / "figure_analysis_plots_1.png").read_bytes().startswith(b"\x89PNG")
    assert "figure_analysis_plots_1.png" in (tmp_path / "feedback" / "feedback.md").read_text()
    assert "figure_analysis_plots_1.png" in (tmp_path / "feedback" / "feedback.html").read_text()


def test_feedback_says_when_the_notebook_came_without_outputs(tmp_path):
    from autograder.grade_notebook import manual_lines
    from autograder.notebook import parse_notebook
    from submissions import build

    parsed = parse_notebook(build.write(_with_analysis_output([]), tmp_path / "without.ipynb"))
    line = next(t for t in manual_lines(parsed) if t.item == "analysis_plots")
    assert "submitted without outputs" in line.output
