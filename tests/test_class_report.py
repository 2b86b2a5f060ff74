"""`python -m autograder report GRADES`: the class report from the stored records of the graded examples."""
from __future__ import annotations

import csv

import pytest

from alignment_kit import items
from autograder import class_report

pytestmark = pytest.mark.slow  # it reads the graded examples


@pytest.fixture(scope="module")
def report(graded_examples, tmp_path_factory):
    out = tmp_path_factory.mktemp("class")
    assert class_report.main(str(graded_examples[0]), str(out)) == 0
    return graded_examples[0], out


def _rows(path):
    with path.open(encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_it_writes_the_page_the_markdown_and_the_tables(report):
    _, out = report
    for name in ("class.html", "class.md", "items.csv", "mistakes.csv", "similarity.csv", "totals.png", "parts.png"):
        assert (out / name).stat().st_size > 0, name
    assert [r["item"] for r in _rows(out / "items.csv")] == [i.name for i in items.ITEMS if i.autograded]


def test_named_mistakes_are_counted_with_who_made_them(report):
    _, out = report
    log_prob = [r for r in _rows(out / "mistakes.csv") if r["item"] == "get_log_prob"]
    assert log_prob and "bob" in log_prob[0]["students"].split(), log_prob
    page = (out / "class.html").read_text(encoding="utf-8")
    assert 'href="#mistake-' in page and "bob/feedback.html" in page


def test_ungradable_notebooks_and_stages_are_listed(report):
    _, out = report
    page = (out / "class.md").read_text(encoding="utf-8")
    assert "- erin: the notebook is not valid JSON" in page
    assert "| dpo_training_loop |" in page and "## Seconds per stage" in page


def test_the_similarity_table_is_written_highest_first_with_its_caveat(report):
    """The examples all grow from the solution, so their shared code is what most of the class wrote, which
    weighs nothing: no pair is flagged (test_similarity.py plants copies in a class where they must be)."""
    _, out = report
    with (out / "similarity.csv").open(encoding="utf-8") as stream:
        header, *rows = list(csv.reader(stream))
    assert header == ["student_a", "student_b", "item", "score"]
    scores = [float(r[3]) for r in rows]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    page = (out / "class.html").read_text(encoding="utf-8")
    assert class_report.FLAG_NOTE.split(":")[0] in page


def test_an_empty_folder_is_refused_with_the_fix(tmp_path, capsys):
    assert class_report.main(str(tmp_path)) == 2
    assert "grade the class first" in capsys.readouterr().err
