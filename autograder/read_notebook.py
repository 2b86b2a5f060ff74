"""Read whatever file a student submitted into cells, or into a reason addressed to the student.

Any bytes get an answer and none raises: text in UTF-8, UTF-16 or UTF-32 (with or without a byte
order mark; broken UTF-8 is read with the bad bytes replaced), JSON of any shape, lone surrogates
(which JSON allows, and which could not be written back as UTF-8: they become U+FFFD), notebook
formats 1 to 4 (cells in `cells`, or in `worksheets`; sources in `source`, `input`, `code` or
`text`), and fields of the wrong type (they are skipped or read as empty, with a warning). What
cannot be read at all is a `NotebookProblem`: its message says what is wrong and what to do, and the
notebook then scores zero as the student's problem, never as a fault of the grader.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from alignment_kit.sandbox.wire import clean_text

MAX_BYTES = 50_000_000
MAX_FIGURES, MAX_FIGURE_CHARS = 6, 3_000_000
RESAVE = "re-save it from Jupyter (File > Save Notebook) and submit it again"
KINDS = {"code": "code", "markdown": "markdown", "raw": "raw", "heading": "markdown", "text": "markdown"}
SOURCE_FIELDS = ("source", "input", "code", "text")  # v4, v2-v3 code cells, v1 code cells, v1 text cells
BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


class NotebookProblem(ValueError):
    """The file cannot be read as a notebook; the message is for the student."""


@dataclass
class RawCell:
    """One cell as read from the file: kind, source, grade_id, how many outputs, and its PNG figures."""

    kind: str
    source: str
    grade_id: str | None
    outputs: int = 0
    images: list[str] = field(default_factory=list)


def decode(raw: bytes) -> tuple[str, list[str]]:
    """The file's text, and warnings about how it had to be read."""
    for mark, encoding in BOMS:
        if raw.startswith(mark):
            try:
                return raw.decode(encoding), []
            except UnicodeDecodeError:
                break
    if raw[:200].count(b"\x00") > 20:  # UTF-16 or UTF-32 without a byte order mark (NUL is valid UTF-8 too)
        for encoding in ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be"):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                continue
            if text.lstrip().startswith(("{", "[")):
                return text, [f"the file is {encoding.upper()}, not UTF-8: read as such"]
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", errors="replace")
    return text, [f"the file is not valid UTF-8: {text.count(chr(0xFFFD))} unreadable character(s) were replaced"]


def cleaned(value: Any, changed: list[bool]) -> Any:
    """`value` with lone surrogates replaced in every string (keys too); `changed` says whether any was."""
    if isinstance(value, str):
        text = clean_text(value)
        if text is not value and text != value:
            changed[0] = True
        return text
    if isinstance(value, list):
        return [cleaned(v, changed) for v in value]
    if isinstance(value, dict):
        return {cleaned(k, changed): cleaned(v, changed) for k, v in value.items()}
    return value


def _text(value, where: str, warnings: list[str]) -> str:
    """A source or output field as text: a string, or the strings of a list."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if not all(isinstance(part, str) for part in value):
            warnings.append(f"{where} holds entries that are not text: they were left out")
        return "".join(part for part in value if isinstance(part, str))
    if value is not None:
        warnings.append(f"{where} is not text ({type(value).__name__}): read as empty")
    return ""


def _images(outputs: list) -> list[str]:
    """Base64 PNGs in a cell's outputs (at most MAX_FIGURES, each at most MAX_FIGURE_CHARS)."""
    found = []
    for output in outputs:
        data = output.get("data") if isinstance(output, dict) else None
        png = data.get("image/png") if isinstance(data, dict) else None
        png = "".join(p for p in png if isinstance(p, str)) if isinstance(png, list) else png
        if isinstance(png, str) and png and len(png) <= MAX_FIGURE_CHARS and len(found) < MAX_FIGURES:
            found.append(png.replace("\n", ""))
    return found


def _cell(raw: dict, number: int, warnings: list[str]) -> RawCell:
    kind = raw.get("cell_type")
    kind = KINDS.get(kind, "raw") if isinstance(kind, str) else "raw"
    key = next((name for name in SOURCE_FIELDS if name in raw), None)
    source = _text(raw.get(key), f"cell {number}'s {key or 'source'}", warnings) if key else ""
    metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    nbgrader = metadata.get("nbgrader") if isinstance(metadata.get("nbgrader"), dict) else {}
    grade_id = nbgrader.get("grade_id") if isinstance(nbgrader.get("grade_id"), str) else None
    outputs = raw.get("outputs") if isinstance(raw.get("outputs"), list) else []
    return RawCell(kind, source, grade_id, len(outputs), _images(outputs))


def _cell_list(data: dict, warnings: list[str]) -> list:
    """The raw cells of a notebook of format 1 to 4."""
    if "cells" in data:
        if not isinstance(data["cells"], list):
            raise NotebookProblem(f"the notebook's cells are not a list ({type(data['cells']).__name__}): {RESAVE}")
        return data["cells"]
    worksheets = data.get("worksheets")
    if worksheets is None:
        raise NotebookProblem(f"the file is JSON but not a notebook: it has no cells: {RESAVE}")
    if not isinstance(worksheets, list) or not all(isinstance(w, dict) for w in worksheets):
        raise NotebookProblem(f"the notebook's worksheets are not a list of worksheets: {RESAVE}")
    warnings.append(f"old notebook format v{data.get('nbformat')}: read as best we can")
    cells = []
    for number, worksheet in enumerate(worksheets, 1):
        found = worksheet.get("cells", [])
        if not isinstance(found, list):
            raise NotebookProblem(f"the notebook's cells are not a list (worksheet {number} holds a "
                                  f"{type(found).__name__}): {RESAVE}")
        cells += found
    return cells


def read(raw: bytes) -> tuple[list[RawCell], list[str]]:
    """The cells of a submitted file and warnings about it; raises NotebookProblem when there are none to read."""
    if len(raw) > MAX_BYTES:
        raise NotebookProblem(f"the notebook is larger than {MAX_BYTES // 1_000_000} MB: clear the largest outputs "
                              "(or save fewer figures) and submit it again")
    text, warnings = decode(raw)
    try:
        data = json.loads(text)
    except RecursionError:
        raise NotebookProblem(f"the notebook is not valid JSON (it is nested too deeply); {RESAVE}") from None
    except ValueError as error:
        raise NotebookProblem(f"the notebook is not valid JSON ({str(error)[:160]}); {RESAVE}") from None
    if not isinstance(data, dict):
        raise NotebookProblem(f"the notebook is not a JSON object (it is a {type(data).__name__}): {RESAVE}")
    changed = [False]
    data = cleaned(data, changed)
    if changed[0]:
        warnings.append("the notebook holds text that is not valid Unicode (lone surrogates): it was replaced by �")
    cells, skipped = [], 0
    for number, raw_cell in enumerate(_cell_list(data, warnings), 1):
        if isinstance(raw_cell, dict):
            cells.append(_cell(raw_cell, number, warnings))
        else:
            skipped += 1
    if skipped:
        warnings.append(f"{skipped} entr{'y' if skipped == 1 else 'ies'} of the cell list are not cells and were skipped")
    return cells, warnings[:20]
