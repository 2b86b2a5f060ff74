"""Finding a graded cell in a submitted notebook, however the notebook was edited.

A cell is found by its nbgrader grade id; when no cell has it (metadata lost, cells retyped, a
notebook from an older release), by its cell id, which nbformat keeps outside the metadata; then
by its content: a function by its definition's name (`ParsedNotebook.definitions`), a re-run cell
by what it must do (its item's `CellSignature`), a hand-graded answer as the cell after its
question. Of several candidates the last one is graded, as the last cell run wins. What is found
says how, when it was not plainly its grade id. A graded code cell turned into markdown or raw is
found too, and is graded as not run, with how to fix it; a cell that does not compile says why in
the line of every item it holds.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass

from alignment_kit import i18n, items
from alignment_kit.cell_signature import CellSignature
from alignment_kit.i18n import counted, say
from alignment_kit.notebook_code import strip_magics
from autograder import editions, paths
from autograder.python_source import compile_problem, parse_cell
from autograder.read_notebook import RawCell


@dataclass(frozen=True)
class Found:
    """A graded cell as found: its code (None when there is none to run), how it was found when that was not
    plainly by its grade id, and why it cannot be graded."""

    source: str | None
    how: str = ""
    problem: str = ""


def _kind(cell: RawCell) -> str:
    return say("cell.kind_markdown", "markdown") if cell.kind == "markdown" else say("cell.kind_raw", "raw")


def _not_code(cell: RawCell, name: str) -> str:
    return say("cell.not_code", "`{name}` is in a {kind} cell, which never runs, so it was graded as not run: make it a "
               "code cell again (in Jupyter: select the cell, then Cell type > Code, or press Y) and run it",
               name=name, kind=_kind(cell))


def _fits(signature: CellSignature, cell: RawCell) -> bool:
    return _source_fits(signature, cell.source)


@functools.lru_cache(maxsize=4096)
def _source_fits(signature: CellSignature, source: str) -> bool:
    tree = parse_cell(source)
    return signature.fits(tree) if tree is not None else signature.fits_text(source)


def find_rerun_cell(cells: list[RawCell], name: str) -> Found:
    """The re-run cell of item `name`: by grade id (of several, the last that does what the cell must), by cell
    id, then by content."""
    signature = items.item(name).finds
    code = [c for c in cells if c.kind == "code"]
    tagged = [c for c in code if c.grade_id == name]
    fitting = [c for c in code if _fits(signature, c)]
    tagged_fitting = [c for c in tagged if c in fitting]
    if tagged_fitting:
        chosen = tagged_fitting[-1]
        how = "" if len(tagged) == 1 else say("cell.found_duplicate", "found by its grade id: of {cells} that have "
                                                  "it, the last that {does}", cells=counted(len(tagged), say(
                                                      "noun.cell", "cell|cells")), does=signature.describe())
    elif by_id := [c for c in fitting if c.cell_id == name]:
        chosen, how = by_id[-1], say("cell.found_by_cell_id", "found by its cell id (its nbgrader metadata is gone)")
    elif fitting:
        chosen = fitting[-1]
        why = (say("cell.tagged_does_not", "the cell with the grade id `{name}` does not", name=name) if tagged
               else say("cell.no_grade_id", "no cell has the grade id `{name}`", name=name))
        how = say("cell.found_by_content", "found by its content, as the last code cell that {does} ({why})",
                  does=signature.describe(), why=why)
    elif tagged:
        chosen, how = tagged[-1], ""
    else:
        other = [c for c in cells if c.kind != "code" and (c.grade_id == name or c.cell_id == name
                                                           or signature.fits_text(c.source))]
        if other:
            return Found(None, problem=_not_code(other[-1], name))
        return Found(None, problem=say("cell.not_found", "the `{name}` cell was not found: no code cell {does}",
                                       name=name, does=signature.describe()))
    problem = compile_problem(chosen.source)
    if problem:
        return Found(None, how, say("cell.cannot_compile", "the `{name}` cell cannot be compiled: {problem}", name=name,
                                    problem=problem))
    return Found(strip_magics(chosen.source), how)


def _defines(name: str, source: str) -> bool:
    return re.search(rf"^[ \t]*(async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(", source, re.M) is not None


def function_problem(cells: list[RawCell], name: str) -> str | None:
    """Why the function `name` is not defined, when a cell shows why: the cell that defines it does not compile,
    or is not a code cell (the last such cell)."""
    for cell in reversed(cells):
        if not _defines(name, cell.source):
            continue
        if cell.kind != "code":
            return _not_code(cell, name)
        problem = compile_problem(cell.source)
        if problem:
            return say("cell.defining_cannot_compile", "the cell that defines `{name}` cannot be compiled: {problem}",
                       name=name, problem=problem)
    return None


def function_note(cells: list[RawCell], name: str) -> str:
    """How the function `name` was found, when not plainly in the cell with its grade id: by its name elsewhere,
    the last of several definitions, or an earlier definition because a later one does not compile."""
    defining = [c for c in cells if c.kind == "code" and _defines(name, c.source)]
    compiled = [c for c in defining if compile_problem(c.source) is None]
    if not compiled:
        return ""
    notes = []
    if compiled[-1] is not defining[-1]:
        notes.append(say("cell.later_uncompilable", "a later cell that defines it cannot be compiled ({problem}), so an "
                         "earlier definition was graded", problem=compile_problem(defining[-1].source)))
    elif len(compiled) > 1:
        notes.append(say("cell.defined_again", "it is defined in {cells}: the last definition was graded",
                         cells=counted(len(compiled), say("noun.cell", "cell|cells"))))
    if compiled[-1].grade_id != name:
        why = (say("cell.tagged_does_not_define", "the cell with its grade id does not define it")
               if any(c.grade_id == name for c in cells) else say("cell.no_own_grade_id", "no cell has its grade id"))
        notes.append(say("cell.found_by_name", "found by its name ({why})", why=why))
    return "; ".join(notes)


@functools.lru_cache(maxsize=1)
def _questions() -> dict[str, tuple[str, set[str]]]:
    """Hand-graded item -> (the cell id of the cell before its answer in the source notebook, that cell's text in
    every language), to find an answer whose metadata is gone as the cell after its question."""
    source = json.loads(paths.SOLUTION_NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    found = {}
    for index, cell in enumerate(source[1:], 1):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in {i.name for i in items.items_of(items.MANUAL)}:
            question = source[index - 1]
            text = "".join(question["source"]) if isinstance(question["source"], list) else question["source"]
            texts = {text.strip()} | {entry["text"].strip() for language in i18n.LANGUAGES if language != i18n.SOURCE
                                      if isinstance(entry := editions.notebook_catalog(language).get(question["id"]), dict)
                                      and isinstance(entry.get("text"), str)}
            found[grade_id] = (question["id"], texts)
    return found


def find_answer(cells: list[RawCell], name: str) -> RawCell | None:
    """The cell of the hand-graded item `name`: by grade id, by cell id, else the cell after its question."""
    for matches in (lambda c: c.grade_id == name, lambda c: c.cell_id == name):
        found = [c for c in cells if matches(c)]
        if found:
            return found[-1]
    question_id, texts = _questions().get(name, ("", set()))
    for index, cell in enumerate(cells[:-1]):
        if question_id in (cell.grade_id, cell.cell_id) or cell.source.strip() in texts:
            return cells[index + 1]
    return None
