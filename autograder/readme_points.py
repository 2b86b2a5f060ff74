"""The README's points, written from the item declarations by `python -m autograder generate`.

Two places follow the declarations: the heading and the points column of "The homework" table
(one row per part, in the parts' order), and the totals line under it. A test keeps both current.
"""
from __future__ import annotations

import re

from alignment_kit import items

HEADING = "## The homework ("
TOTALS = "Of the "  # the totals line under the table starts so


def heading() -> str:
    return f"{HEADING}{items.homework_points():g} points + {items.bonus_points():g} bonus)"


def totals() -> str:
    return (f"{TOTALS}{items.homework_points():g} points, {items.autograded_points():g} are autograded; the bonus parts "
            f"add {items.bonus_points(autograded_only=True):g} autograded points; {items.hand_graded_points():g} "
            "points, bonus included, are graded by hand.")


def render(text: str) -> str:
    """`text` (the README) with its points heading, points column and totals line written anew."""
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
        cells[2] = f" {part.points:g} "
        lines[index] = "|".join(cells)
    after = table[-1] + 1
    found = next((i for i in range(after, min(after + 4, len(lines))) if lines[i].startswith(TOTALS)), None)
    if found is None:
        lines[after:after] = ["", totals()]
    else:
        lines[found] = totals()
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")
