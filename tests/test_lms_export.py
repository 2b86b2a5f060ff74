"""`export --lms canvas|moodle`: the example grades as Canvas's and Moodle's import files, and who did not match."""
from __future__ import annotations

import pytest

from alignment_kit import items
from autograder.class_report import read_records
from autograder.lms_export import ExportConfig, ExportError, export, main
from submissions import build

pytestmark = pytest.mark.slow  # reads the graded examples (the session's grading run)

CANVAS_ROSTER = '''Student,ID,SIS User ID,SIS Login ID,Section,DPO homework (4021)
    Points Possible,,,,,9.10
"Liddell, Alice",1001,S1001,alice,Section A,
"Builder, Bob",1002,S1002,bob,Section A,
"Godunov, Boris",1003,S1003,boris,Section B,
"Erin, Erin",1004,S1004,erin,Section B,
"Frank, Frank",1005,S1005,frank,Section B,
'''
MOODLE_ROSTER = '''First name,Last name,Username,Email address
Alice,Liddell,alice,alice@example.org
Bob,Builder,bob,bob@example.org
Frank,Frank,frank,frank@example.org
'''


def _grade(student: str, bonus: bool) -> str:
    total = build.EXAMPLE_TOTALS[student]
    return f"{total - (0 if bonus or student == 'erin' else items.bonus_points(autograded_only=True)):.2f}"


@pytest.fixture(scope="module")
def records(graded_examples):
    return read_records(graded_examples[0])


@pytest.mark.parametrize("bonus", [True, False], ids=["with-bonus", "without-bonus"])
def test_canvas_import_file_is_exactly_the_gradebook_import_format(records, tmp_path, bonus):
    roster = tmp_path / "roster.csv"
    roster.write_text(CANVAS_ROSTER)
    text, unmatched = export(ExportConfig(lms="canvas", roster=str(roster), assignment="DPO homework (4021)",
                                          bonus=bonus), records)
    assert text == (
        "Student,ID,SIS User ID,SIS Login ID,Section,DPO homework (4021)\n"
        f'"Liddell, Alice",1001,S1001,alice,Section A,{_grade("alice", bonus)}\n'
        f'"Builder, Bob",1002,S1002,bob,Section A,{_grade("bob", bonus)}\n'
        f'"Godunov, Boris",1003,S1003,boris,Section B,{_grade("boris", bonus)}\n'
        f'"Erin, Erin",1004,S1004,erin,Section B,{_grade("erin", bonus)}\n'
        '"Frank, Frank",1005,S1005,frank,Section B,\n')
    assert unmatched == ["in the roster, no graded notebook: frank",
                         "graded, not in the roster's 'SIS Login ID' column: alice_again",
                         "graded, not in the roster's 'SIS Login ID' column: carol",
                         "graded, not in the roster's 'SIS Login ID' column: dave"]


def test_moodle_import_file_maps_by_the_roster_column(records, tmp_path, capsys):
    roster = tmp_path / "participants.csv"
    roster.write_text(MOODLE_ROSTER)
    out = tmp_path / "moodle.csv"
    (tmp_path / "empty").mkdir()
    assert main(ExportConfig(lms="moodle", grades=str(tmp_path / "empty"), roster=str(roster), out=str(out),
                             match="Username")) == 2  # nothing graded there: refused, nothing written
    assert not out.exists() and "grade the class first" in capsys.readouterr().err
    config = ExportConfig(lms="moodle", roster=str(roster), out=str(out), match="Username", assignment="DPO homework")
    text, unmatched = export(config, records)
    assert text == ("Username,DPO homework\n" f"alice,{_grade('alice', True)}\n" f"bob,{_grade('bob', True)}\n"
                    "frank,\n")
    assert "in the roster, no graded notebook: frank" in unmatched
    assert {line.rsplit(": ", 1)[1] for line in unmatched if line.startswith("graded")} == \
        {"alice_again", "boris", "carol", "dave", "erin"}


def test_bad_options_and_rosters_are_refused_with_the_fix(tmp_path, records):
    with pytest.raises(ExportError, match="Assignment Name \\(id\\)"):
        ExportConfig(lms="canvas", assignment="DPO homework")
    with pytest.raises(ExportError, match="canvas, moodle"):
        ExportConfig(lms="blackboard")
    roster = tmp_path / "roster.csv"
    roster.write_text("Name,Mail\nAlice,a@x\n")
    with pytest.raises(ExportError, match="no column 'Email address'.*Name, Mail.*--match"):
        export(ExportConfig(lms="moodle", roster=str(roster)), records)
    with pytest.raises(ExportError, match="lacks the columns"):
        export(ExportConfig(lms="canvas", roster=str(roster), match="Name", assignment="HW (1)"), records)
