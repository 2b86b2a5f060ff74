"""Read whatever file a student submitted into cells, or into a reason addressed to the student.

Any bytes get an answer and none raises: text in UTF-8, UTF-16 or UTF-32 (with or without a byte
order mark; broken UTF-8 is read with the bad bytes replaced), JSON of any shape, lone surrogates
(which JSON allows, and which could not be written back as UTF-8: they become U+FFFD), notebook
formats 1 to 4 (cells in `cells`, or in `worksheets`; sources in `source`, `input`, `code` or
`text`), and fields of the wrong type (they are skipped or read as empty, with a warning). What
cannot be read at all is a `NotebookProblem`: its message says what is wrong and what to do, and the
notebook then scores zero as the student's problem, never as a fault of the grader.

`read` takes the file's bytes, whole. A file over MAX_BYTES is not loaded whole: `parse_notebook` has
`stream_notebook.read` stream it with its outputs dropped, and what that keeps is read here (`read_text`),
as any notebook's text is.
"""
from __future__ import annotations

import codecs
import json
from dataclasses import dataclass, field
from typing import Any

from alignment_kit.i18n import counted, say
from alignment_kit.sandbox.wire import clean_text

MAX_BYTES = 50_000_000  # the largest file loaded whole; a larger one is streamed, without its outputs
MAX_FIGURES, MAX_FIGURE_CHARS = 6, 3_000_000


def resave() -> str:
    return say("read.resave", "re-save it from Jupyter (File > Save Notebook) and submit it again")
KINDS = {"code": "code", "markdown": "markdown", "raw": "raw", "heading": "markdown", "text": "markdown"}
SOURCE_FIELDS = ("source", "input", "code", "text")  # v4, v2-v3 code cells, v1 code cells, v1 text cells
BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
UNMARKED = ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be")  # tried, in this order, on text with many NULs


class NotebookProblem(ValueError):
    """The file cannot be read as a notebook; the message is for the student."""


@dataclass
class RawCell:
    """One cell as read from the file: kind, source, grade_id, how many outputs, its PNG figures, and its
    cell id (nbformat 4.5; it survives when the nbgrader metadata is lost)."""

    kind: str
    source: str
    grade_id: str | None
    outputs: int = 0
    images: list[str] = field(default_factory=list)
    cell_id: str | None = None


def megabytes(size: int) -> int:
    """A size in MB, rounded up (so a file over the cap never reads as the cap's size)."""
    return -(-size // 1_000_000)


def read_as(encoding: str) -> str:
    return say("read.encoding", "the file is {encoding}, not UTF-8: read as such", encoding=encoding.upper())


def replaced_characters(count: int) -> str:
    replaced = counted(count, say("noun.unreadable_character", "unreadable character|unreadable characters"))
    return say("read.not_utf8", "the file is not valid UTF-8: {replaced} replaced", replaced=replaced)


def not_json(error: str) -> NotebookProblem:
    return NotebookProblem(say("read.not_json", "the notebook is not valid JSON ({error}); {fix}", error=error,
                               fix=resave()))


def not_object(kind: str) -> NotebookProblem:
    return NotebookProblem(say("read.not_object", "the notebook is not a JSON object (it is a {kind}): {fix}", kind=kind,
                               fix=resave()))


def bom_encoding(raw: bytes) -> str | None:
    """The encoding the byte order mark `raw` starts with names, if it starts with one."""
    return next((encoding for mark, encoding in BOMS if raw.startswith(mark)), None)


def unmarked_encoding(raw: bytes, final: bool = True) -> str | None:
    """UTF-16 or UTF-32 without a byte order mark (NUL is valid UTF-8 too): the first that reads the start of
    `raw` as JSON's (`final=False`: `raw` is only the file's first bytes)."""
    if raw[:200].count(b"\x00") > 20:
        for encoding in UNMARKED:
            try:
                text = codecs.getincrementaldecoder(encoding)().decode(raw, final)
            except UnicodeDecodeError:
                continue
            if text.lstrip().startswith(("{", "[")):
                return encoding
    return None


def decode(raw: bytes) -> tuple[str, list[str]]:
    """The file's text, and warnings about how it had to be read."""
    encoding = bom_encoding(raw)
    if encoding:
        try:
            return raw.decode(encoding), []
        except UnicodeDecodeError:
            pass
    encoding = unmarked_encoding(raw)
    if encoding:
        return raw.decode(encoding), [read_as(encoding)]
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", errors="replace")
    return text, [replaced_characters(text.count(chr(0xFFFD)))]


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
            warnings.append(say("read.not_text_entries", "{where} holds entries that are not text: they were left out",
                                where=where))
        return "".join(part for part in value if isinstance(part, str))
    if value is not None:
        warnings.append(say("read.not_text", "{where} is not text ({kind}): read as empty", where=where,
                            kind=type(value).__name__))
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
    where = say("read.cell_field", "cell {number}'s {field}", number=number, field=key)
    source = _text(raw.get(key), where, warnings) if key else ""
    metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    nbgrader = metadata.get("nbgrader") if isinstance(metadata.get("nbgrader"), dict) else {}
    grade_id = nbgrader.get("grade_id") if isinstance(nbgrader.get("grade_id"), str) else None
    outputs = raw.get("outputs") if isinstance(raw.get("outputs"), list) else []
    cell_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    return RawCell(kind, source, grade_id, len(outputs), _images(outputs), cell_id)


def _cell_list(data: dict, warnings: list[str]) -> list:
    """The raw cells of a notebook of format 1 to 4."""
    if "cells" in data:
        if not isinstance(data["cells"], list):
            raise NotebookProblem(say("read.cells_not_list", "the notebook's cells are not a list ({kind}): {fix}",
                                      kind=type(data["cells"]).__name__, fix=resave()))
        return data["cells"]
    worksheets = data.get("worksheets")
    if worksheets is None:
        raise NotebookProblem(say("read.no_cells", "the file is JSON but not a notebook: it has no cells: {fix}", fix=resave()))
    if not isinstance(worksheets, list) or not all(isinstance(w, dict) for w in worksheets):
        raise NotebookProblem(say("read.worksheets", "the notebook's worksheets are not a list of worksheets: {fix}",
                                  fix=resave()))
    warnings.append(say("read.old_format", "old notebook format v{version}: read as best we can",
                        version=data.get("nbformat")))
    cells = []
    for number, worksheet in enumerate(worksheets, 1):
        found = worksheet.get("cells", [])
        if not isinstance(found, list):
            raise NotebookProblem(say("read.worksheet_cells", "the notebook's cells are not a list (worksheet {number} "
                                      "holds a {kind}): {fix}", number=number, kind=type(found).__name__, fix=resave()))
        cells += found
    return cells


def read(raw: bytes) -> tuple[list[RawCell], list[str], dict]:
    """The cells of a submitted file, warnings about it and its metadata (a dict, maybe empty); raises
    NotebookProblem when there are no cells to read."""
    return read_text(*decode(raw))


def read_text(text: str, warnings: list[str]) -> tuple[list[RawCell], list[str], dict]:
    """`read` once the file is text (`warnings`: those about how it was decoded)."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise NotebookProblem(say("read.too_deep", "the notebook is not valid JSON (it is nested too deeply); {fix}",
                                  fix=resave())) from None
    except ValueError as error:
        raise not_json(str(error)[:160]) from None
    if not isinstance(data, dict):
        raise not_object(type(data).__name__)
    changed = [False]
    data = cleaned(data, changed)
    if changed[0]:
        warnings.append(say("read.surrogates", "the notebook holds text that is not valid Unicode (lone surrogates): it "
                            "was replaced by �"))
    cells, skipped = [], 0
    for number, raw_cell in enumerate(_cell_list(data, warnings), 1):
        if isinstance(raw_cell, dict):
            cells.append(_cell(raw_cell, number, warnings))
        else:
            skipped += 1
    if skipped:
        warnings.append(say("read.not_cells", "skipped {entries} of the cell list that are not cells",
                            entries=counted(skipped, say("noun.entry", "entry|entries"))))
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    return cells, warnings[:20], metadata
