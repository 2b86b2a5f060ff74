"""`python -m autograder export --lms canvas|moodle GRADES --roster ROSTER.csv --out FILE`: grades for the LMS.

Reads the records `grade` wrote (`GRADES/<student>/record.json`) and the course's roster, as the LMS
exports it, and writes the file the LMS imports:
* Canvas (Grades > Import): Student, ID, SIS User ID, SIS Login ID, Section, then the assignment's
  column, named as Canvas names it: "Assignment Name (id)";
* Moodle (Grades > Import > CSV file): the identifier column that maps the user (an email address,
  an ID number or a username), then the grade item's column.
A submission is matched to the roster by its student id (the `grade` folder name, as nbgrader's
`submitted/<student>/` gives it) in the roster's `--match` column. The grade is the autograded score,
with the autograded bonus or without it (`--bonus`); hand-graded points are not in it (a person adds
them in the LMS or in nbgrader). Nothing is dropped silently: graded students missing from the roster,
and roster students without a graded notebook, are listed in FILE.unmatched.txt and on stderr.
"""
from __future__ import annotations

import csv
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from alignment_kit import items
from autograder.results import GradeRecord

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
DEFAULT_MATCH = {"canvas": "SIS Login ID", "moodle": "Email address"}
LMS = tuple(DEFAULT_MATCH)
CANVAS_ASSIGNMENT = re.compile(r".+ \(\d+\)$")  # "DPO homework (12345)"


class ExportError(ValueError):
    """The roster or the options cannot make an import file; the message says what to fix."""


@dataclass
class ExportConfig:
    """Settings of one `export` run."""

    lms: str = field(default="canvas", metadata={"help": f"the LMS whose import file to write: {', '.join(LMS)}"})
    grades: str = field(default="", metadata={"help": "the --out folder of `grade` (one record.json per student)"})
    roster: str = field(default="", metadata={
        "help": "the course's roster as the LMS exports it (Canvas: the gradebook export; Moodle: the participants "
                "export), a CSV file"})
    out: str = field(default="", metadata={"help": "the CSV file to write"})
    assignment: str = field(default="DPO homework", metadata={
        "help": "the grade column: for Canvas the assignment as Canvas names it, 'Assignment Name (id)'; for Moodle "
                "the grade item's name"})
    match: str = field(default="", metadata={
        "help": "the roster column that holds each submission's student id (default: Canvas 'SIS Login ID', Moodle "
                "'Email address')"})
    bonus: bool = field(default=True, metadata={
        "help": "count the autograded bonus in the grade (--no-bonus: the homework's autograded points only)"})

    def __post_init__(self):
        if self.lms not in LMS:
            raise ExportError(f"unknown LMS {self.lms!r}; choose one of: {', '.join(LMS)}")
        if self.lms == "canvas" and not CANVAS_ASSIGNMENT.match(self.assignment):
            raise ExportError(f"Canvas names an assignment's column 'Assignment Name (id)', for example 'DPO homework "
                              f"(12345)' (the id is in the assignment's URL); got {self.assignment!r}")
        self.match = self.match or DEFAULT_MATCH[self.lms]


def grade_of(record: GradeRecord, bonus: bool) -> float:
    """The grade the LMS gets: the autograded score, with or without the autograded bonus parts."""
    if bonus:
        return record.score
    scores = record.part_scores()
    return round(record.score - sum(scores[p.name] or 0.0 for p in items.PARTS if p.bonus), 4)


def read_roster(path: Path, match: str) -> tuple[list[str], list[dict[str, str]]]:
    """The roster's columns and its student rows (Canvas's "Points Possible" row and blank rows left out)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ExportError(f"cannot read the roster {path}: {error.strerror or error}") from None
    reader = csv.DictReader(io.StringIO(text))
    columns = list(reader.fieldnames or [])
    if match not in columns:
        raise ExportError(f"the roster {path} has no column {match!r} to match submissions by; its columns: "
                          f"{', '.join(columns) or '(none)'}; name one with --match")
    rows = [row for row in reader if any((value or "").strip() for value in row.values())
            and "points possible" not in (row.get(columns[0]) or "").strip().lower()]
    return columns, rows


def _number(value: float) -> str:
    return f"{value:.2f}"


def export(config: ExportConfig, records: list[GradeRecord]) -> tuple[str, list[str]]:
    """(the import file's text, the unmatched-student lines)."""
    columns, roster = read_roster(Path(config.roster), config.match)
    by_id = {r.student: r for r in records}
    matched: set[str] = set()
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    if config.lms == "canvas":
        missing = [c for c in CANVAS_COLUMNS if c not in columns]
        if missing:
            raise ExportError(f"the Canvas roster lacks the columns {', '.join(missing)}: export the gradebook from "
                              "Canvas (Grades > Export) and give that file")
        writer.writerow([*CANVAS_COLUMNS, config.assignment])
    else:
        writer.writerow([config.match, config.assignment])
    unmatched = []
    for row in roster:
        key = (row.get(config.match) or "").strip()
        record = by_id.get(key)
        if record is None:
            unmatched.append(f"in the roster, no graded notebook: {key or '(empty ' + config.match + ')'}")
            grade = ""
        else:
            matched.add(key)
            grade = _number(grade_of(record, config.bonus))
        identity = [row.get(c, "") for c in CANVAS_COLUMNS] if config.lms == "canvas" else [key]
        writer.writerow([*identity, grade])
    unmatched += [f"graded, not in the roster's {config.match!r} column: {student}"
                  for student in sorted(set(by_id) - matched)]
    return output.getvalue(), unmatched


def main(config: ExportConfig) -> int:
    from autograder.class_report import read_records

    folder = Path(config.grades)
    records = read_records(folder) if folder.is_dir() else []
    if not records:
        print(f"error: no record.json under {config.grades}/<student>/: grade the class first", file=sys.stderr)
        return 2
    try:
        text, unmatched = export(config, records)
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    target = Path(config.out)
    target.write_text(text, encoding="utf-8")
    report = target.with_name(target.name + ".unmatched.txt")
    report.write_text("".join(f"{line}\n" for line in unmatched), encoding="utf-8")
    counted = "with" if config.bonus else "without"
    print(f"wrote {target}: {len(records) - sum(1 for u in unmatched if u.startswith('graded'))} of {len(records)} "
          f"graded students matched; grades are autograded scores {counted} the autograded bonus")
    for line in unmatched:
        print(f"unmatched: {line}", file=sys.stderr)
    if unmatched:
        print(f"the unmatched students are listed in {report}", file=sys.stderr)
    return 0
