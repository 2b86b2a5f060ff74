"""The points in the part headings of the student notebook, written from the item declarations.

A part's heading cell in the source notebook says which part it opens (`"alignment_kit": {"part": ...}`
in its metadata) and names no points; every edition's heading gets them when the edition is made
(`editions.edition`), in its language, for example "(2 points)", "(1 point, graded by hand)" or
"(1 bonus point: 0.7 autograded, 0.3 by hand)". So adding an item changes no heading text, and no
translation goes stale for it.
"""
from __future__ import annotations

from alignment_kit import i18n, items
from alignment_kit.i18n import say

METADATA = "part"  # the key, under the kit's cell metadata, of the part a heading cell opens


def _number(value: float) -> str:
    return f"{value:g}".replace(".", say("number.decimal_point", "."))


def _points(value: float, bonus: bool) -> str:
    forms = (say("noun.bonus_point", "bonus point|bonus points") if bonus else say("noun.point", "point|points"))
    if float(value).is_integer():
        return i18n.counted(int(value), forms)
    words = forms.split("|")
    return f"{_number(value)} {words[1] if len(words) == 3 else words[-1]}"  # a fraction takes the plural (ru: few)


def label(part: items.Part, track: str) -> str:
    """What the heading of `part` says about its points in the edition `track`, in the current language."""
    total, autograded = part.points_in(track), part.points_in(track, autograded_only=True)
    points, by_hand = _points(total, part.bonus), round(total - autograded, 4)
    if not by_hand:
        return points
    if not autograded:
        return say("heading.by_hand", "{points}, graded by hand", points=points)
    return say("heading.mixed", "{points}: {autograded} autograded, {by_hand} by hand", points=points,
               autograded=_number(autograded), by_hand=_number(by_hand))


def with_points(notebook: dict, language: str, track: str) -> dict:
    """`notebook` with " (<label>)" after the first line of each part heading cell."""
    with i18n.speaking(language):
        for cell in notebook.get("cells", []):
            kit = cell.get("metadata", {}).get("alignment_kit")
            if cell.get("cell_type") != "markdown" or not isinstance(kit, dict) or METADATA not in kit:
                continue
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            first, _, rest = source.partition("\n")
            text = f"{first} ({label(items.part(kit[METADATA]), track)})" + ("\n" + rest if _ else "")
            cell["source"] = text.splitlines(keepends=True)
    return notebook
