"""The stored record round-trips exactly; results.json and gradebook rows are exports of it."""
import json
import math
import re

import pytest

from alignment_kit import i18n, items
from alignment_kit.pages import esc
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
    assert row["autograded"] == pytest.approx(0.4) and row["autograded_max"] == pytest.approx(items.autograded_maximum())
    assert row["hand_graded_pending"] == pytest.approx(0.1)
    assert row["analysis"] == "", "a part graded only by hand has no autograded score"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_the_score_line_names_its_parts_everywhere(language):
    """The first line says the score out of the most it can be (the autograded points plus the autograded
    bonus), what that most is made of, and what waits for a person, with two decimals, in every export."""
    from autograder import gradebook, report
    from autograder.gradescope import GradescopeConfig, results_json

    result = _result(error=None, language=language)
    points, bonus = items.autograded_points(), items.bonus_points(autograded_only=True)
    figures = ["0.40", f"{points + bonus:.2f}", f"{points:.2f}", f"{bonus:.2f}", "0.10"]
    with i18n.speaking(language):
        line = result.summary()
        exports = {"feedback.md": report.markdown(result).splitlines()[2],
                   "feedback.html": report.html_page(result),
                   "results.json (record)": result.to_gradescope()["output"].splitlines()[0],
                   "results.json (Gradescope)": results_json(result, GradescopeConfig(visibility="visible"),
                                                             "zoe.ipynb")["output"].splitlines()[0]}
    assert re.findall(r"\d+\.\d+", line) == figures, line
    if language == i18n.SOURCE:
        assert line == (f"0.40 / {points + bonus:.2f} autograded ({points:.2f} + {bonus:.2f} bonus); "
                        "0.10 to be graded by hand")
    else:
        assert re.search(r"[А-Яа-яЁё]", line) and "autograded" not in line, line
    assert exports.pop("feedback.html").count(f'<p class="summary">{esc(line)}</p>') == 1
    assert exports == dict.fromkeys(exports, line)
    assert "✅" not in report.html_page(result) and "❌" not in report.markdown(result)
    table = gradebook.class_table([result])
    assert f"{points + bonus:>12.2f}" in table.splitlines()[-2] and f"{points + bonus:.2f}" in table.splitlines()[-1]
    assert result.to_row()["autograded_max"] == pytest.approx(points + bonus)


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_a_notebook_that_could_not_be_graded_keeps_its_reason_line(language):
    from autograder import report

    result = _result(error="the notebook's cells are not a list", grader_fault=False, language=language)
    with i18n.speaking(language):
        line = result.summary()
        assert report.markdown(result).splitlines()[2] == line
        assert result.to_gradescope()["output"].splitlines()[0] == line
    assert line.endswith(": the notebook's cells are not a list") and not re.search(r"\d\.\d\d", line), line


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
