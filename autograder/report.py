"""Per-student feedback: Markdown, HTML, and a plot of each re-run cell's curve against the reference."""
from __future__ import annotations

from pathlib import Path

from alignment_kit import items, pages
from alignment_kit.pages import badge, esc
from alignment_kit.scoring import ScoredLine
from autograder.results import GradeRecord

MARKS = {"passed": "**passed**", "failed": "**failed**", "manual": "*pending*"}  # words: no emoji font needed


def _part_heading(result: GradeRecord, part: items.Part) -> str:
    score = result.part_scores()[part.name]
    manual = round(part.points - part.autograded_points, 4)
    pieces = [] if score is None else [f"{score:g} / {part.autograded_points:g} autograded"]
    if manual:
        pieces.append(f"{manual:g} hand-graded, pending")
    return f"{part.title}: " + ", ".join(pieces)


def _curve_file(item_name: str) -> str:
    return f"curve_{item_name}.png"


def _plotted(result: GradeRecord, tests: list[ScoredLine]) -> list[str]:
    """Items of these tests that have a student curve to show."""
    return sorted({t.item for t in tests if result.curves.get(t.item, {}).get("student")})


def _figure_files(result: GradeRecord, item: str) -> list[str]:
    return [f"figure_{item}_{n}.png" for n in range(1, len(result.figures.get(item, [])) + 1)]


def _answer(test: ScoredLine) -> str:
    return test.output.split("\n\n", 1)[1] if "\n\n" in test.output else ""


def markdown(result: GradeRecord) -> str:
    lines = [f"# Feedback for {result.student}", "", result.summary(), ""]
    for warning in result.warnings:
        lines += [f"> Note: {warning}", ""]
    for part in items.PARTS:
        tests = [t for t in result.tests if t.part == part.name]
        lines += [f"## {_part_heading(result, part)}", "", "| | check | points | message |", "|---|---|---|---|"]
        for test in tests:
            message = test.output.split("\n\n")[0].replace("\n", "<br>").replace("|", "\\|")
            points = f"{test.max_score:g} pending" if test.status == "manual" else f"{test.score:g} / {test.max_score:g}"
            lines.append(f"| {MARKS[test.status]} | {test.name} | {points} | {message} |")
        for test in (t for t in tests if t.status == "manual"):
            lines += ["", f"**Your answer ({test.item}):**", "", "```", _answer(test).strip(), "```"]
            lines += [f"![{test.item}, figure {n}]({name})" for n, name in enumerate(_figure_files(result, test.item), 1)]
        for name in _plotted(result, tests):
            lines += ["", f"![{name}: your run against the reference]({_curve_file(name)})"]
        lines.append("")
    return "\n".join(lines)


def _points(test: ScoredLine) -> str:
    return f"{test.max_score:g} pending" if test.status == "manual" else f"{test.score:g} / {test.max_score:g}"


def html_page(result: GradeRecord) -> str:
    body = [f"<h1>Feedback for {esc(result.student)}</h1>", f'<p class="summary">{esc(result.summary())}</p>']
    body += [f'<p class="note">Note: {esc(warning)}</p>' for warning in result.warnings]
    for part in items.PARTS:
        tests = [t for t in result.tests if t.part == part.name]
        body.append(f"<h2>{esc(_part_heading(result, part))}</h2>")
        rows = "".join(f'<tr class="line" data-item="{esc(t.item)}"><td>{badge(t.status)}</td><td>{esc(t.name)}</td>'
                       f'<td class="num">{_points(t)}</td><td><div class="msg">{esc(t.output)}</div></td></tr>'
                       for t in tests)
        body.append('<table><colgroup><col class="status"><col class="check"><col class="points"><col></colgroup>'
                    '<thead><tr><th>status</th><th>check</th><th class="num">points</th><th>message</th></tr></thead>'
                    f"<tbody>{rows}</tbody></table>")
        for test in (t for t in tests if t.status == "manual"):
            body += [f'<p><img src="{name}" alt="{esc(test.item)} figure"></p>' for name in _figure_files(result, test.item)]
        for name in _plotted(result, tests):
            body.append(f'<p><img src="{_curve_file(name)}" alt="{esc(name)}: your run against the reference"></p>')
    return pages.page(f"Feedback for {result.student}", "".join(body))


def plot_curve(name: str, curves: dict, path: Path) -> None:
    """Plot a re-run cell's curve against the reference's. A bare Figure, not pyplot: `grade --jobs N`
    writes feedback from N threads, and pyplot's registry of open figures is shared by all of them."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 3))
    axis = figure.subplots()
    axis.plot(curves.get("reference") or [], "o-", label="reference")
    axis.plot(curves.get("student") or [], "x--", label="your cell")
    axis.set_xlabel("step")
    axis.set_ylabel(curves.get("label", "value"))
    axis.set_title(f"{name} re-run with a tiny model")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def write_feedback(result: GradeRecord, folder: Path) -> None:
    import base64
    import binascii

    folder.mkdir(parents=True, exist_ok=True)
    for item, figures in result.figures.items():
        for name, png in zip(_figure_files(result, item), figures):
            try:
                (folder / name).write_bytes(base64.b64decode(png, validate=True))
            except (binascii.Error, ValueError):
                (folder / name).write_bytes(b"")
    for name, curves in result.curves.items():
        if curves.get("student"):
            plot_curve(name, curves, folder / _curve_file(name))
    (folder / "feedback.md").write_text(markdown(result), encoding="utf-8")
    (folder / "feedback.html").write_text(html_page(result), encoding="utf-8")
