"""`python -m autograder report GRADES [--out DIR]`: what the class did, from the stored records.

Reads `GRADES/<student>/record.json` (what `grade` wrote) and writes, in DIR (default: GRADES):
* `class.html` and `class.md`: the distributions of the totals and of each part, each item's pass
  rate, the named mistakes of each item ranked by how many students made them (with who), the
  notebooks that could not be graded and why, grader faults, seconds per stage, and the pairs of
  students whose graded code is most alike, with side-by-side diffs;
* `items.csv` (one row per item), `mistakes.csv` (one row per named mistake), `similarity.csv`
  (`student_a,student_b,item,score`, highest first; item `all` is the whole notebook) and
  `hand_overs.csv` (`student,item,function,found_by,evidence`: each graded function that hands its work
  to a library function its item bans, found in the `code`, in a `call` while graded, or as a `copy` of
  the library's own implementation, `library_code`);
* `totals.png` and `parts.png`.
The similarity flags read the submitted notebooks the records name; a flag is a reason to look.
"""
from __future__ import annotations

import csv
import difflib
import functools
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from alignment_kit import i18n, items, pages, tracks
from alignment_kit.pages import badge, esc
from autograder import checks, hand_overs, library_code, similarity
from autograder.results import GradeRecord, points_available

HAND_OVER_NOTE = ("Graded functions that use a library function their item's policy bans (the `hand_over` of "
                  "autograder/items/<item>.py): read in the code, recorded in a call while graded, or a copy of the "
                  "library's own implementation (similarity of at least "
                  f"{library_code.COPY_SCORE:g}). A flag costs points only with `grade --hand-over-costs-points`.")
FOUND_BY = {hand_overs.IN_THE_CODE: "in the code", hand_overs.CALLED: "called while graded",
            hand_overs.COPIED: "copy of the library's code"}
SHOWN_PAIRS = 10  # pairs listed in the class page (similarity.csv has every pair that shares anything)
DIFFED_PAIRS = 5  # of those, pairs shown side by side
FLAG_NOTE = ("A high similarity is a reason to look at two notebooks side by side, not a verdict: students may have "
             "worked from the same lecture code or the same tutorial. Code every student received is left out, and "
             "code that many students wrote alike counts for little.")


@dataclass
class ClassReport:
    """Everything the class page shows, computed from the records (and the notebooks, for similarity)."""

    records: list[GradeRecord]
    folder: Path  # where the students' folders are (for links to their feedback)
    pairs: list[similarity.PairScore] = field(default_factory=list)
    units: dict[str, dict[str, str]] = field(default_factory=dict)  # student -> item -> code
    unread: list[str] = field(default_factory=list)  # students whose notebook could not be read for similarity
    library_pairs: list[similarity.PairScore] = field(default_factory=list)  # a student's item against the library's

    @property
    def graded(self) -> list[GradeRecord]:
        return [r for r in self.records if not r.error]

    @property
    def ungradable(self) -> list[GradeRecord]:
        """Notebooks that could not be graded because of what they are (not the grader's fault)."""
        return [r for r in self.records if r.error and not r.grader_fault]

    @property
    def faults(self) -> list[GradeRecord]:
        return [r for r in self.records if r.grader_fault]

    # The tables below are computed once: the page, the Markdown and the CSVs all show them.
    @functools.cached_property
    def item_rows(self) -> list[dict]:
        rows, per_record = [], [r.item_scores() for r in self.graded]
        editions = {r.track for r in self.graded} or {tracks.DEFAULT}  # a class mixing editions lists both part 5s
        for item in (i for i in items.ALL_ITEMS if i.autograded and any(i.in_track(t) for t in editions)):
            scores = [scored.get(item.name, 0.0) for scored in per_record]
            full = sum(s >= item.points - 1e-9 for s in scores)
            rows.append({"item": item.name, "part": item.part, "points": item.points, "students": len(scores),
                         "full_marks": full, "pass_rate": round(full / len(scores), 4) if scores else None,
                         "mean": round(statistics.fmean(scores), 4) if scores else None})
        return rows

    @functools.cached_property
    def mistake_rows(self) -> list[dict]:
        """Each item's named mistakes with the students whose feedback names them, most common first."""
        rows = []
        for item, known in known_mistakes().items():
            found = []
            for message in known:  # found in the feedback's language, shown in English
                students = sorted(r.student for r in self.graded if any(
                    t.item == item and t.status == "failed" and message.get(r.language, message[i18n.SOURCE]) in t.output
                    for t in r.tests))
                if students:
                    found.append({"item": item, "mistake": message[i18n.SOURCE], "count": len(students),
                                  "students": students})
            rows += sorted(found, key=lambda row: (-row["count"], row["mistake"]))
        return rows

    @functools.cached_property
    def hand_over_rows(self) -> list[dict]:
        """Each flag of the records, then each copy of the library's code, by student and item."""
        rows = [dict(flag, student=r.student) for r in self.graded for flag in r.hand_overs]
        flagged = {(row["student"], row["item"]) for row in rows if row["found_by"] == hand_overs.COPIED}
        rows += [{"student": p.student_b, "item": p.item, "function": p.student_a, "found_by": hand_overs.COPIED,
                  "evidence": f"similarity {p.score:.2f} with {p.student_a}'s own code in this class", "score": p.score}
                 for p in self.library_copies if (p.student_b, p.item) not in flagged]
        return sorted(rows, key=lambda r: (r["student"], r["item"], r["found_by"]))

    @property
    def library_copies(self) -> list[similarity.PairScore]:
        """Library pairs (library first) whose score makes the student's item a copy."""
        return [p for p in self.library_pairs if p.score >= library_code.COPY_SCORE]

    @functools.cached_property
    def stage_rows(self) -> list[dict]:
        stages: dict[str, list[float]] = {}
        for record in self.records:
            for stage, seconds in record.stages.items():
                stages.setdefault(stage, []).append(seconds)
        return [{"stage": stage, "notebooks": len(values), "mean_s": round(statistics.fmean(values), 2),
                 "median_s": round(statistics.median(values), 2), "max_s": round(max(values), 2),
                 "total_s": round(sum(values), 1)} for stage, values in stages.items()]


def known_mistakes() -> dict[str, list[dict[str, str]]]:
    """Item -> the messages of the mistakes its check can name, each in every language."""
    named = {check.name: [i18n.in_every_language(m.text) for m in check.mistakes] for check in checks.FUNCTION_CHECKS}
    named.update({check.grade_id: list(check.localized_messages().values()) for check in checks.CELL_CHECKS})
    unique = {item: list({m[i18n.SOURCE]: m for m in messages}.values()) for item, messages in named.items()}
    return {item: messages for item, messages in unique.items() if messages}


def read_records(folder: Path) -> list[GradeRecord]:
    records = []
    for path in sorted(folder.glob("*/record.json")):
        try:
            records.append(GradeRecord.from_record(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError) as error:
            print(f"skipped {path}: {error}", file=sys.stderr)
    return records


def build(folder: Path, log=print) -> ClassReport:
    """Read the records under `folder` and compare the graded code of every pair of students."""
    from autograder.notebook import parse_notebook

    report = ClassReport(read_records(folder), folder)
    given = similarity.received()
    started = time.time()
    for number, record in enumerate(report.graded, 1):
        parsed = parse_notebook(Path(record.notebook))
        if parsed.error:
            report.unread.append(record.student)
        else:
            report.units[record.student] = similarity.graded_units(parsed)
        if number % 50 == 0:
            log(f"  read {number}/{len(report.graded)} notebooks ({time.time() - started:.0f}s)")
    libraries = library_code.units()  # compared as students, listed apart
    everyone = similarity.pair_scores(similarity.class_fingerprints({**report.units, **libraries}, given))
    report.units.update(libraries)
    report.pairs = [p for p in everyone if not {p.student_a, p.student_b} & set(libraries)]
    report.library_pairs = [_library_first(p, libraries) for p in everyone if p.item != similarity.ALL
                            and len({p.student_a, p.student_b} & set(libraries)) == 1]
    return report


def _library_first(pair: similarity.PairScore, libraries) -> similarity.PairScore:
    if pair.student_a in libraries:
        return pair
    return similarity.PairScore(pair.student_b, pair.student_a, pair.item, pair.score)


# ---------------------------------------------------------------- plots
def plot_distributions(report: ClassReport, out: Path) -> list[str]:
    """totals.png (autograded totals) and parts.png (one histogram per autograded part)."""
    from matplotlib.figure import Figure

    graded = report.graded
    figure = Figure(figsize=(6, 2.8))
    axis = figure.subplots()
    axis.hist([r.score for r in graded], bins=20, range=(0, items.autograded_maximum()), color="#3b5b92")
    axis.set_xlabel(f"autograded score, of {points_available()}")
    axis.set_ylabel("students")
    figure.tight_layout()
    figure.savefig(out / "totals.png", dpi=90)
    parts = [p for p in items.PARTS if p.autograded_points]
    figure = Figure(figsize=(9, 1.9 * ((len(parts) + 3) // 4)))
    axes = figure.subplots((len(parts) + 3) // 4, 4, squeeze=False).ravel()
    for axis, part in zip(axes, parts):
        axis.hist([r.part_scores()[part.name] or 0.0 for r in graded], bins=10, range=(0, part.autograded_points),
                  color="#5b7fb8")
        axis.set_title(f"{part.title[:28]} (of {part.autograded_points:g})", fontsize=8)
        axis.tick_params(labelsize=7)
    for axis in axes[len(parts):]:
        axis.set_visible(False)
    figure.tight_layout()
    figure.savefig(out / "parts.png", dpi=90)
    return ["totals.png", "parts.png"]


# ---------------------------------------------------------------- pages
def _feedback_link(report: ClassReport, out: Path, student: str) -> str:
    target = report.folder / student / "feedback.html"
    try:
        relative = target.relative_to(out)
    except ValueError:
        relative = target
    return f'<a href="{esc(relative.as_posix())}">{esc(student)}</a>'


def _top_pairs(report: ClassReport) -> list[similarity.PairScore]:
    return [p for p in report.pairs if p.item == similarity.ALL][:SHOWN_PAIRS]


def _pair_items(report: ClassReport, pair: similarity.PairScore) -> list[similarity.PairScore]:
    return sorted((p for p in report.pairs if p.item != similarity.ALL and {p.student_a, p.student_b} ==
                   {pair.student_a, pair.student_b}), key=lambda p: -p.score)


def html_page(report: ClassReport, out: Path, images: list[str]) -> str:
    graded, link = report.graded, (lambda student: _feedback_link(report, out, student))
    body = ["<h1>The class</h1>",
            f'<p class="summary">{len(report.records)} notebooks: {len(graded)} graded, '
            f"{len(report.ungradable)} could not be graded, {len(report.faults)} grader faults.</p>",
            "<h2>Distributions</h2>"] + [f'<p><img src="{name}" alt="{name}"></p>' for name in images]
    body.append("<h2>Items</h2>")
    body.append(pages.table(["most students", "item", "part", "points", "full marks", "pass rate", "mean"], [
        [badge("passed" if (r["pass_rate"] or 0) >= 0.5 else "failed"), esc(r["item"]), esc(r["part"]),
         f"{r['points']:g}", f"{r['full_marks']}/{r['students']}",
         "-" if r["pass_rate"] is None else f"{r['pass_rate']:.0%}", "-" if r["mean"] is None else f"{r['mean']:g}"]
        for r in report.item_rows], columns=["status", "check", "", "", "", "", ""], numeric={3, 4, 5, 6}, lines=True))
    mistakes = report.mistake_rows
    body.append("<h2>Named mistakes, most common first</h2>")
    body.append(pages.table(["item", "mistake", "students"], [
        [esc(m["item"]), f'<div class="msg">{esc(m["mistake"])}</div>', f'<a href="#mistake-{n}">{m["count"]}</a>']
        for n, m in enumerate(mistakes)], columns=["check", "", "points"], numeric={2}) if mistakes
        else "<p>No named mistake was made.</p>")
    for n, m in enumerate(mistakes):
        body.append(f'<p id="mistake-{n}"><b>{esc(m["item"])}</b>, {esc(m["mistake"][:90])}: '
                    + ", ".join(link(s) for s in m["students"]) + "</p>")
    problems = report.ungradable
    body.append("<h2>Notebooks that could not be graded</h2>")
    body.append(pages.table(["student", "reason"], [[link(r.student), f'<div class="msg">{esc(r.error)}</div>']
                                                    for r in problems], columns=["check", ""]) if problems
                else "<p>None.</p>")
    faults = report.faults
    body.append("<h2>Grader faults</h2>")
    body.append(pages.table(["student", "", "reason"], [[link(r.student), badge("fault"),
                                                         f'<div class="msg">{esc(r.error)}</div>'] for r in faults],
                            columns=["check", "status", ""]) if faults else "<p>None: every notebook was graded by the grader as it should be.</p>")
    body.append("<h2>Seconds per stage</h2>")
    body.append(pages.table(["stage", "notebooks", "mean", "median", "max", "total"], [
        [esc(s["stage"]), str(s["notebooks"]), f"{s['mean_s']:.2f}", f"{s['median_s']:.2f}", f"{s['max_s']:.2f}",
         f"{s['total_s']:.1f}"] for s in report.stage_rows], numeric={1, 2, 3, 4, 5}))
    body += _hand_over_section(report, link)
    body += ["<h2>Similar code</h2>", f'<p class="note">{esc(FLAG_NOTE)}</p>']
    if report.unread:
        body.append(f"<p>Not compared (the notebook named in the record could not be read): "
                    f"{esc(', '.join(report.unread))}.</p>")
    top = _top_pairs(report)
    body.append(pages.table(["students", "whole notebook", "most alike items"], [
        [f"{link(p.student_a)} and {link(p.student_b)}", f"{p.score:.2f}",
         esc(", ".join(f"{q.item} {q.score:.2f}" for q in _pair_items(report, p)[:3]))] for p in top],
        columns=["check", "points", ""], numeric={1}) if top else "<p>No two notebooks share graded code.</p>")
    for pair in top[:DIFFED_PAIRS]:
        best = _pair_items(report, pair)[:1]
        for item in best:
            body.append(f"<h3>{esc(pair.student_a)} and {esc(pair.student_b)}: {esc(item.item)} "
                        f"({item.score:.2f})</h3>" + _side_by_side(report, pair.student_a, pair.student_b, item.item))
    return pages.page("The class", "".join(body))


def _side_by_side(report: ClassReport, first: str, second: str, item: str) -> str:
    a, b = (report.units[s].get(item, "").splitlines() for s in (first, second))
    return difflib.HtmlDiff(wrapcolumn=60).make_table(a, b, first, second, context=True, numlines=2)


def _hand_over_section(report: ClassReport, link) -> list[str]:
    """Each graded function handed over to a library (its flag and evidence), and each copy of library code,
    side by side with it."""
    body = ["<h2>Work handed to a library</h2>", f'<p class="note">{esc(HAND_OVER_NOTE)}</p>']
    rows = report.hand_over_rows
    body.append(pages.table(["student", "item", "library function", "found", "evidence"], [
        [link(r["student"]), esc(r["item"]), f"<code>{esc(r['function'])}</code>", esc(FOUND_BY.get(r["found_by"], r["found_by"])),
         f'<div class="msg">{esc(r["evidence"])}</div>'] for r in rows], columns=["check", "", "", "", ""])
        if rows else "<p>None: no graded function uses a library function its item bans.</p>")
    for pair in report.library_copies:
        body.append(f"<h3>{esc(pair.student_b)} and {esc(pair.student_a)}: {esc(pair.item)} ({pair.score:.2f})</h3>"
                    + _side_by_side(report, pair.student_b, pair.student_a, pair.item))
    return body


def markdown(report: ClassReport, images: list[str]) -> str:
    graded = report.graded
    lines = ["# The class", "", f"{len(report.records)} notebooks: {len(graded)} graded.", ""]
    lines += [f"![{name}]({name})" for name in images] + ["", "## Items", "", "| item | part | points | full marks | pass rate |",
                                                           "|---|---|---|---|---|"]
    lines += [f"| {r['item']} | {r['part']} | {r['points']:g} | {r['full_marks']}/{r['students']} | "
              f"{'-' if r['pass_rate'] is None else format(r['pass_rate'], '.0%')} |" for r in report.item_rows]
    lines += ["", "## Named mistakes, most common first", "", "| item | mistake | students |", "|---|---|---|"]
    lines += [f"| {m['item']} | {m['mistake'].replace('|', '/')} | {m['count']}: {', '.join(m['students'])} |"
              for m in report.mistake_rows]
    lines += ["", "## Notebooks that could not be graded", ""]
    lines += [f"- {r.student}: {r.error}" for r in report.ungradable] or ["None."]
    lines += ["", "## Grader faults", ""]
    lines += [f"- {r.student}: {r.error}" for r in report.faults] or ["None."]
    lines += ["", "## Seconds per stage", "", "| stage | mean | median | max |", "|---|---|---|---|"]
    lines += [f"| {s['stage']} | {s['mean_s']:.2f} | {s['median_s']:.2f} | {s['max_s']:.2f} |" for s in report.stage_rows]
    lines += ["", "## Work handed to a library", "", HAND_OVER_NOTE, "", "| student | item | library function | found | "
              "evidence |", "|---|---|---|---|---|"]
    lines += [f"| {r['student']} | {r['item']} | `{r['function']}` | {FOUND_BY.get(r['found_by'], r['found_by'])} | "
              f"{r['evidence'].replace('|', '/')} |" for r in report.hand_over_rows]
    lines += ["", "## Similar code", "", FLAG_NOTE, "", "| students | whole notebook |", "|---|---|"]
    lines += [f"| {p.student_a} and {p.student_b} | {p.score:.2f} |" for p in _top_pairs(report)]
    return "\n".join(lines) + "\n"


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def write(report: ClassReport, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    images = plot_distributions(report, out) if report.graded else []
    (out / "class.html").write_text(html_page(report, out, images), encoding="utf-8")
    (out / "class.md").write_text(markdown(report, images), encoding="utf-8")
    _write_csv(out / "items.csv", ["item", "part", "points", "students", "full_marks", "pass_rate", "mean"],
               report.item_rows)
    _write_csv(out / "mistakes.csv", ["item", "mistake", "count", "students"],
               [dict(m, students=" ".join(m["students"])) for m in report.mistake_rows])
    _write_csv(out / "similarity.csv", ["student_a", "student_b", "item", "score"],
               [vars(p) for p in report.pairs])
    _write_csv(out / "hand_overs.csv", ["student", "item", "function", "found_by", "evidence"], report.hand_over_rows)
    return [out / name for name in ("class.html", "class.md", "items.csv", "mistakes.csv", "similarity.csv",
                                    "hand_overs.csv", *images)]


def main(grades: str, out: str | None = None) -> int:
    folder = Path(grades).resolve()
    if not folder.is_dir():
        print(f"error: {grades} is not a folder; give the --out folder of `python -m autograder grade`", file=sys.stderr)
        return 2
    started = time.time()
    report = build(folder)
    if not report.records:
        print(f"error: no record.json under {grades}/<student>/: grade the class first "
              "(python -m autograder grade SUBMISSIONS --out GRADES)", file=sys.stderr)
        return 2
    written = write(report, Path(out).resolve() if out else folder)
    print(f"{len(report.records)} records, {len(report.pairs)} similar pairs, in {time.time() - started:.1f}s; "
          f"wrote {written[0]} and {', '.join(p.name for p in written[1:])}")
    return 0
