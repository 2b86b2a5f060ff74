"""The README's points, written from the item declarations by `python -m autograder generate`.

Three places follow the declarations: the heading, the points column and the graded items column of
"The homework" table (one row per part, in the parts' order), the totals line under it, and the feedback's score line for
full marks quoted under "With the kit's CLI". A test keeps them current.
"""
from __future__ import annotations

import re

from alignment_kit import i18n, items
from autograder import results

HEADING = "## The homework ("
TOTALS = "Of the "  # the totals line under the table starts so
SCORE_LINE = "> "  # the quoted score line, two lines below the line that ends with SCORE_INTRO
SCORE_INTRO = "what a person grades later; for full marks:"
COLUMNS = 4  # part, points, what the student writes, how it is graded; the items column comes third


def heading() -> str:
    return f"{HEADING}{items.homework_points():g} points + {items.bonus_points():g} bonus)"


def totals() -> str:
    return (f"{TOTALS}{items.homework_points():g} points, {items.autograded_points():g} are autograded; the bonus parts "
            f"add {items.bonus_points(autograded_only=True):g} autograded points; {items.hand_graded_points():g} "
            "points, bonus included, are graded by hand.")


def graded_items(part) -> str:
    """The items of `part`, each with its points and how it is graded (every edition's; an edition's own say so)."""
    how = {items.FUNCTION: "function", items.CELL: "re-run cell", items.MANUAL: "by hand"}
    return ", ".join(f"`{i.name}` {i.points:g} ({how[i.kind]}{f', {i.track} edition' if i.track else ''})"
                     for i in sorted((i for i in items.ALL_ITEMS if i.part == part.name), key=lambda i: (i.order, i.name)))


def score_line() -> str:
    with i18n.speaking(i18n.SOURCE):
        return SCORE_LINE + results.score_line(items.autograded_maximum(), items.hand_graded_points())


def render(text: str) -> str:
    """`text` (the README) with its points heading, points column, totals line and score line written anew."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(HEADING)), None)
    if start is None:
        raise ValueError(f"the README has no line starting with {HEADING!r}")
    lines[start] = heading()
    rows = [i for i in range(start + 1, len(lines)) if re.match(r"\| (?!part |-)", lines[i])]
    table = [i for n, i in enumerate(rows) if i == rows[0] + n]  # the first run of adjacent rows
    if len(table) != len(items.PARTS):
        raise ValueError(f"the README's points table has {len(table)} rows and there are {len(items.PARTS)} parts: "
                         "add or remove a row, in the parts' order")
    for index, part in zip(table, items.PARTS):
        cells = lines[index].split("|")
        if len(cells) == COLUMNS + 2:  # a row written before the items column (and its two outer bars) gets one
            cells.insert(3, "")
        cells[2] = f" {part.points:g} "
        cells[3] = f" {graded_items(part)} "
        lines[index] = "|".join(cells)
    after = table[-1] + 1
    found = next((i for i in range(after, min(after + 4, len(lines))) if lines[i].startswith(TOTALS)), None)
    if found is None:
        lines[after:after] = ["", totals()]
    else:
        lines[found] = totals()
    intro = next((i for i, line in enumerate(lines) if line.endswith(SCORE_INTRO)), None)
    if intro is None or not "".join(lines[intro + 2:intro + 3]).startswith(SCORE_LINE):
        raise ValueError(f"the README has no line ending with {SCORE_INTRO!r} followed by a blank line and the "
                         f"quoted score line ({SCORE_LINE!r}...)")
    lines[intro + 2] = score_line()
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")
