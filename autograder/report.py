"""Per-student feedback: Markdown, HTML, and a plot of each re-run cell's curve against the reference."""
from __future__ import annotations

from pathlib import Path

from alignment_kit import items, pages
from alignment_kit.i18n import say
from alignment_kit.pages import badge, esc
from alignment_kit.scoring import ScoredLine
from autograder.results import GradeRecord

MARK_STYLE = {"passed": "**{}**", "failed": "**{}**", "manual": "*{}*"}  # words: no emoji font needed


def _part_heading(result: GradeRecord, part: items.Part) -> str:
    score = result.part_scores()[part.name]
    autograded = part.points_in(result.track, autograded_only=True)
    manual = round(part.points_in(result.track) - autograded, 4)
    pieces = [] if score is None else [say("feedback.part_autograded", "{score:g} / {points:g} autograded",
                                           score=score, points=autograded)]
    if manual:
        pieces.append(say("feedback.part_manual", "{points:g} hand-graded, pending", points=manual))
    return f"{part.shown_title_in(result.track)}: " + ", ".join(pieces)


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
    lines = [f"# {_title(result)}", "", result.summary(), ""]
    for warning in result.warnings:
        lines += [f"> {_note(warning)}", ""]
    for part in items.PARTS:
        tests = [t for t in result.tests if t.part == part.name]
        lines += [f"## {_part_heading(result, part)}", "", "| | " + " | ".join(_columns()[1:]) + " |", "|---|---|---|---|"]
        for test in tests:
            message = test.output.split("\n\n")[0].replace("\n", "<br>").replace("|", "\\|")
            lines.append(f"| {MARK_STYLE[test.status].format(pages.status_word(test.status))} | {test.name} | {_points(test)} | {message} |")
        for test in (t for t in tests if t.status == "manual"):
            lines += ["", "**" + say("feedback.your_answer", "Your answer ({item}):", item=test.item) + "**", "", "```",
                      _answer(test).strip(), "```"]
            lines += [f"![{_figure_caption(test.item, n)}]({name})" for n, name in enumerate(_figure_files(result, test.item), 1)]
        for name in _plotted(result, tests):
            lines += ["", f"![{_curve_caption(name)}]({_curve_file(name)})"]
        lines.append("")
    return "\n".join(lines)


def _points(test: ScoredLine) -> str:
    if test.status == "manual":
        return say("feedback.points_pending", "{points:g} pending", points=test.max_score)
    return f"{test.score:g} / {test.max_score:g}"


def _title(result: GradeRecord) -> str:
    return say("feedback.title", "Feedback for {student}", student=result.student)


def _note(warning: str) -> str:
    return say("feedback.note", "Note: {warning}", warning=warning)


def _columns() -> list[str]:
    return [say("feedback.col_status", "status"), say("feedback.col_check", "check"),
            say("feedback.col_points", "points"), say("feedback.col_message", "message")]


def _figure_caption(item: str, number: int) -> str:
    return say("feedback.figure", "{item}, figure {number}", item=item, number=number)


def _curve_caption(name: str) -> str:
    return say("feedback.curve", "{item}: your run against the reference", item=name)


def html_page(result: GradeRecord) -> str:
    body = [f"<h1>{esc(_title(result))}</h1>", f'<p class="summary">{esc(result.summary())}</p>']
    body += [f'<p class="note">{esc(_note(warning))}</p>' for warning in result.warnings]
    for part in items.PARTS:
        tests = [t for t in result.tests if t.part == part.name]
        body.append(f"<h2>{esc(_part_heading(result, part))}</h2>")
        rows = "".join(f'<tr class="line" data-item="{esc(t.item)}"><td>{badge(t.status)}</td>'
                       f'<td>{esc(t.name)}</td><td class="num">{esc(_points(t))}</td>'
                       f'<td><div class="msg">{esc(t.output)}</div></td></tr>' for t in tests)
        status, check, points, message = (esc(c) for c in _columns())
        body.append('<table><colgroup><col class="status"><col class="check"><col class="points"><col></colgroup>'
                    f'<thead><tr><th>{status}</th><th>{check}</th><th class="num">{points}</th><th>{message}</th></tr>'
                    f"</thead><tbody>{rows}</tbody></table>")
        for test in (t for t in tests if t.status == "manual"):
            body += [f'<p><img src="{name}" alt="{esc(_figure_caption(test.item, n))}"></p>'
                     for n, name in enumerate(_figure_files(result, test.item), 1)]
        for name in _plotted(result, tests):
            body.append(f'<p><img src="{_curve_file(name)}" alt="{esc(_curve_caption(name))}"></p>')
    return pages.page(_title(result), "".join(body), lang=result.language)


def plot_curve(name: str, curves: dict, path: Path) -> None:
    """Plot a re-run cell's curve against the reference's. A bare Figure, not pyplot: `grade --jobs N`
    writes feedback from N threads, and pyplot's registry of open figures is shared by all of them."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 3))
    axis = figure.subplots()
    axis.plot(curves.get("reference") or [], "o-", label=say("feedback.plot_reference", "reference"))
    axis.plot(curves.get("student") or [], "x--", label=say("feedback.plot_student", "your cell"))
    axis.set_xlabel(say("feedback.plot_step", "step"))
    axis.set_ylabel(curves.get("label", "value"))
    axis.set_title(say("feedback.plot_title", "{item} re-run with a tiny model", item=name))
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
