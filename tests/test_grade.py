"""End to end: the `grade` verb on the bundled example submissions, with a killed run resumed.

The example run is the suite's one full-notebook grading run (a few minutes on 2 cores). The check
that a resumed run writes exactly what an uninterrupted one writes uses notebooks without the
re-run cells, so that it can afford two runs."""
import json
import shutil

import nbformat
import pytest

from autograder import paths
from autograder.config import GradeConfig
from autograder.grade import discover, grade_all
from submissions import build
from submissions import build as notebooks
from submissions.batches import start_and_kill

pytestmark = pytest.mark.slow  # grades batches in workers

EXAMPLES = paths.EXAMPLE_SUBMISSIONS


def _results(out, student):
    return json.loads((out / student / "results.json").read_text())


def _test(data, name):
    return next(t for t in data["tests"] if t["name"] == name)


@pytest.fixture(scope="module")
def graded(graded_examples):
    return graded_examples


def test_killed_run_resumes_without_regrading(graded):
    out, inputs, survivors, _, results = graded
    assert len(results) == len(list(inputs.glob("*.ipynb")))
    for student, mtime in survivors.items():
        assert (out / student / "record.json").stat().st_mtime == mtime, f"{student} was graded twice"


def test_the_example_run_has_no_grader_fault(graded):
    faults = {student: r.error for student, r in graded[4].items() if r.grader_fault}
    assert not faults, faults


def test_a_grader_fault_is_a_flagged_zero_with_its_traceback_and_is_retried(tmp_path, monkeypatch, capsys):
    from autograder.grade_notebook import Grader

    shutil.copy(EXAMPLES / "erin.ipynb", tmp_path / "erin.ipynb")  # needs no worker: the fault is the only cost
    config = GradeConfig(out_dir=str(tmp_path / "out"), jobs=1)
    monkeypatch.setattr(Grader, "prepare_reference", lambda self: 0.0)
    real_grade = Grader.grade

    def broken(self, path, student, language=None):
        raise KeyError("boom")

    monkeypatch.setattr(Grader, "grade", broken)
    [first] = grade_all([str(tmp_path)], config)
    assert first.grader_fault and first.score == 0 and first.error == "grader error: KeyError: 'boom'"
    assert _results(tmp_path / "out", "erin")["extra_data"]["grader_fault"] is True
    stderr = capsys.readouterr().err
    assert "Traceback" in stderr and "in broken" in stderr and "please report it" in stderr
    monkeypatch.setattr(Grader, "grade", real_grade)
    [second] = grade_all([str(tmp_path)], config)
    assert not second.grader_fault and second.error.startswith("the notebook is not valid JSON")


def test_notebooks_graded_in_parallel_threads_are_parsed_one_at_a_time(monkeypatch):
    """CPython 3.11's AST builder is not thread-safe (see autograder.python_source._PARSE_LOCK): no two grader
    threads may be inside `ast.parse` at once, whichever path (student notebook, reference source) parses."""
    import ast
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from autograder.notebook import parse_notebook
    from autograder.reference import reference_source

    parse, inside, most, guard = ast.parse, [0], [0], threading.Lock()

    def slow_parse(*args, **kwargs):
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.005)
        try:
            return parse(*args, **kwargs)
        finally:
            with guard:
                inside[0] -= 1

    monkeypatch.setattr(ast, "parse", slow_parse)
    work = [lambda: parse_notebook(EXAMPLES / "bob.ipynb").definitions(), lambda: reference_source(("pad",))] * 4
    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(job) for job in work]:
            assert future.result()
    assert most[0] == 1


def test_a_second_run_regrades_nothing(graded, capsys):
    out, inputs, _, config, _ = graded
    before = {p: p.stat().st_mtime for p in out.glob("*/*.json")}
    grade_all([str(inputs)], config)
    assert {p: p.stat().st_mtime for p in out.glob("*/*.json")} == before
    assert capsys.readouterr().out.count("unchanged, kept") == len(list(inputs.glob("*.ipynb")))


def test_same_notebook_gives_identical_results(graded):
    out = graded[0]
    first, second = _results(out, "alice"), _results(out, "alice_again")
    assert first["score"] == second["score"]
    assert [(t["name"], t["score"], t["output"]) for t in first["tests"]] == \
           [(t["name"], t["score"], t["output"]) for t in second["tests"]]


def test_reference_submission_gets_every_autograded_point(graded):
    data = _results(graded[0], "alice")
    assert all(t["score"] == t["max_score"] for t in data["tests"]), [t for t in data["tests"] if t["score"] != t["max_score"]]
    assert data["score"] == pytest.approx(notebooks.EXAMPLE_TOTALS["alice"])
    record = json.loads((graded[0] / "alice" / "record.json").read_text())
    manual = [t for t in record["tests"] if t["status"] == "manual"]
    assert any("closest to the answer" in t["output"] for t in manual), "the written answer is copied into the record"
    assert "closest to the answer" in (graded[0] / "alice" / "feedback.md").read_text()


def test_flawed_submissions_lose_points_with_named_mistakes(graded):
    out = graded[0]
    bob, carol, dave = _results(out, "bob"), _results(out, "carol"), _results(out, "dave")
    assert _test(bob, "get_log_prob")["score"] == 0 and "one-token shift" in _test(bob, "get_log_prob")["output"]
    assert _test(bob, "pad")["score"] < 0.2 and "padding_side" in _test(bob, "pad")["output"]
    assert _test(bob, "dpo_loss")["score"] == 1.0
    assert "summed over the batch" in _test(carol, "dpo_loss")["output"]
    assert "pad_token_id" in _test(carol, "pad_collate_fn")["output"]
    reference_item = _test(carol, "dpo_training_loop: frozen reference model")
    assert reference_item["score"] == 0 and "torch.no_grad" in reference_item["output"]
    assert _test(dave, "pad")["score"] == 0.2
    assert "NotImplementedError" in _test(dave, "to_implicit_prompt_preferences")["output"]
    assert sum(t["score"] for t in dave["tests"] if t["tags"][0] in ("reward_model", "ppo", "dpo_training")) == 0


def test_unreadable_notebook_scores_zero_with_a_reason(graded):
    erin = _results(graded[0], "erin")
    assert erin["score"] == 0 and "not valid JSON" in erin["output"]
    row = next(line for line in (graded[0] / "gradebook.csv").read_text().splitlines() if line.startswith("erin,"))
    assert "not valid JSON" in row, "the reason reaches the gradebook, also after a resumed run"


def test_outputs_follow_their_formats(graded):
    out = graded[0]
    data = _results(out, "carol")
    assert {"score", "execution_time", "tests"} <= set(data)
    assert all({"name", "score", "max_score", "output", "visibility"} <= set(t) for t in data["tests"])
    for name in ("feedback.md", "feedback.html", "curve_dpo_training_loop.png", "record.json"):
        assert (out / "alice" / name).is_file(), name
    feedback = (out / "carol" / "feedback.md").read_text()
    assert "summed over the batch" in feedback and "## DPO training" in feedback
    rows = (out / "gradebook.csv").read_text().strip().splitlines()
    assert rows[0].startswith("student,autograded,autograded_max,hand_graded_pending,data_prep") and len(rows) == 1 + len(graded[4])


def test_grades_reach_nbgraders_gradebook(graded):
    from nbgrader.api import Gradebook

    out = graded[0]
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gradebook:
        assert gradebook.find_grade("test_get_log_prob", "dpo_homework", "dpo_homework", "alice").score == 1.0
        assert gradebook.find_grade("test_get_log_prob", "dpo_homework", "dpo_homework", "bob").score == 0.0
        assert gradebook.find_grade("test_dpo_training_loop", "dpo_homework", "dpo_homework", "alice").score == 2.0
        answer = gradebook.find_grade("truncation_answer", "dpo_homework", "dpo_homework", "alice")
        assert answer.needs_manual_grade


def test_nbgrader_submitted_tree_is_discovered(tmp_path):
    notebook = tmp_path / "submitted" / "zoe" / "dpo_homework" / "dpo_homework.ipynb"
    notebook.parent.mkdir(parents=True)
    shutil.copy(EXAMPLES / "alice.ipynb", notebook)
    assert discover([str(tmp_path)]) == [("zoe", notebook)]


# ---------------------------------------------------------------------- resumed == uninterrupted
def _functions_only(nb):
    for grade_id in ("dpo_training_loop", "reward_training", "ppo_training"):
        nb = build.without_cell(grade_id, nb)
    return nb


def _timeless(path):
    """A results.json or record.json without its timing fields."""
    data = json.loads(path.read_text())
    data.pop("execution_time", None)
    data.pop("stages", None)
    return data


def test_a_resumed_run_writes_what_an_uninterrupted_run_writes(tmp_path, kit_assets):
    inputs = tmp_path / "inputs"
    build.write(_functions_only(build.solution_notebook()), inputs / "ann.ipynb")
    build.write(_functions_only(build.without_cell("pad")), inputs / "ben.ipynb")
    build.write(_functions_only(build.with_cell("dpo_loss", "def dpo_loss(*args, **kwargs):\n    return 1 / 0\n")),
                inputs / "cid.ipynb")
    build.write_bytes(b'{"cells": [ {"cell_type": "code", "source": "cut off', inputs / "dee.ipynb")

    whole = tmp_path / "whole"
    grade_all([str(inputs)], GradeConfig(out_dir=str(whole), jobs=1, gradebook_db=None))
    resumed = tmp_path / "resumed"
    survivors = start_and_kill(inputs, resumed)
    assert len(survivors) < 4, "the run was not killed halfway"
    grade_all([str(inputs)], GradeConfig(out_dir=str(resumed), jobs=1, gradebook_db=None))

    assert (resumed / "gradebook.csv").read_text() == (whole / "gradebook.csv").read_text()
    for student in ("ann", "ben", "cid", "dee"):
        for name in ("results.json", "record.json"):
            assert _timeless(resumed / student / name) == _timeless(whole / student / name), f"{student}/{name}"
    assert "not valid JSON" in (whole / "gradebook.csv").read_text()


# ---------------------------------------------------------------------- the Russian edition
def test_a_russian_notebook_gets_russian_feedback_naming_its_mistakes(graded):
    """boris has bob's two mistakes in the Russian edition: the same scores, the mistakes named in Russian."""
    out, records = graded[0], graded[4]
    assert records["boris"].language == "ru" and records["bob"].language == "en"
    assert records["boris"].item_scores() == records["bob"].item_scores()
    boris = _results(out, "boris")
    assert "нет сдвига на один токен" in _test(boris, "get_log_prob")["output"]
    assert "игнорирует padding_side: всегда дополняет справа" in _test(boris, "pad")["output"]
    assert boris["output"].startswith(f"{records['boris'].score:.2f} / ") and "за автоматическую проверку" in boris["output"]
    assert _test(boris, "dpo_training_loop: траектория потерь")["score"] == 0.8
    feedback = (out / "boris" / "feedback.md").read_text()
    assert feedback.startswith("# Отзыв для boris") and "## Функция потерь DPO: 1 / 2 автоматически" in feedback
    assert "скрытая проба: слева, значение -100" in feedback
    assert '<html lang="ru">' in (out / "boris" / "feedback.html").read_text()
    assert "one-token shift" not in feedback and "Feedback for" not in feedback


def test_grade_lang_overrides_the_notebooks_language(tmp_path):
    boris = build.functions_only(nbformat.read(EXAMPLES / "boris.ipynb", as_version=4))
    build.write(boris, tmp_path / "boris.ipynb")
    config = GradeConfig(out_dir=str(tmp_path / "out"), jobs=1, gradebook=False, language="en")
    [record] = grade_all([str(tmp_path / "boris.ipynb")], config)
    assert record.language == "en"
    feedback = (tmp_path / "out" / "boris" / "feedback.md").read_text()
    assert feedback.startswith("# Feedback for boris") and "no one-token shift" in feedback


def test_the_class_report_counts_a_mistake_in_either_language(graded):
    from autograder import class_report

    report = class_report.build(graded[0], log=lambda *a: None)
    row = next(r for r in report.mistake_rows if r["item"] == "get_log_prob" and "one-token shift" in r["mistake"])
    assert {"bob", "boris"} <= set(row["students"])


def test_the_workers_own_messages_speak_the_notebooks_language(grader, tmp_path):
    """What the worker says about the student's code (a function that is missing, a call of sys.exit)."""
    from alignment_kit import i18n
    from autograder.notebook import parse_notebook

    boris = nbformat.read(EXAMPLES / "boris.ipynb", as_version=4)
    broken = build.with_cell("pad", "import sys\n\ndef padding():\n    pass\n", boris)
    broken = build.with_cell("pad_collate_fn", "def pad_collate_fn(batch, pad_token_id):\n    sys.exit(3)\n", broken)
    parsed = parse_notebook(build.write(broken, tmp_path / "broken.ipynb"))
    assert parsed.language == "ru"
    with i18n.speaking("ru"):
        lines = {line.item: line.output for line in grader.grade_functions(parsed, ["pad", "pad_collate_fn"])}
    assert "`pad` не определена в ноутбуке" in lines["pad"], lines["pad"]
    assert "вызван sys.exit(3)" in lines["pad_collate_fn"], lines["pad_collate_fn"]
