"""The student notebook in each language: the English edition from nbgrader, the others from catalogs.

The source notebook holds the English text and the only copy of the reference. A translation of the
notebook is data: `locales/<language>/notebook.json` maps each cell id to the cell's text in that
language (a markdown cell's source, or the list of a code cell's fragments, see `notebook_text.py`)
and to a hash of the English it was written from. `edition` applies it to the generated student
notebook and records the language in the notebook's metadata, where the grader reads it back.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

from alignment_kit import i18n, tracks
from autograder import notebook_text, part_headings, paths

LOCALES = Path(__file__).resolve().parent / "locales"
NOTEBOOK_CATALOG = "notebook.json"
METADATA_KEY = "alignment_kit"  # notebook metadata: {"language": ..., "track": ...}; a cell's: {"track": ...}
ANSWER_STUB = "YOUR ANSWER HERE"  # what nbgrader leaves in a written answer's cell (nbgrader_config.py)
ANSWER_STUB_KEY = "notebook.answer_stub"
EDITION_LINE = 'KIT_EDITION = "{track}"'  # the install cell's line naming the runtime's extra (one per track)


class TranslationError(RuntimeError):
    """A translation is missing or stale; the message names the cells and the command that lists them all."""


def notebook_catalog_path(language: str) -> Path:
    return LOCALES / language / NOTEBOOK_CATALOG


def notebook_catalog(language: str) -> dict:
    path = notebook_catalog_path(language)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def english_texts(notebook: dict) -> dict[str, str | list[str]]:
    """Cell id -> the English a student reads in it: markdown sources, and code cells' fragments.
    A written answer's cell is left out: students get nbgrader's stub there (`ANSWER_STUB_KEY`)."""
    texts: dict[str, str | list[str]] = {}
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution") and cell["cell_type"] == "markdown":
            continue
        if cell["cell_type"] == "markdown":
            texts[cell["id"]] = _source(cell)
        elif cell["cell_type"] == "code" and (fragments := notebook_text.fragments(_source(cell))):
            texts[cell["id"]] = fragments
    return texts


def source_sha(english: str | list[str]) -> str:
    return i18n.source_sha(english if isinstance(english, str) else json.dumps(english, ensure_ascii=False))


def source_texts() -> dict[str, str | list[str]]:
    return english_texts(json.loads(paths.SOLUTION_NOTEBOOK.read_text(encoding="utf-8")))


def stale_cells(language: str) -> dict[str, str]:
    """Cell id -> why its `language` translation cannot be used (missing, or written from other English)."""
    catalog, found = notebook_catalog(language), {}
    for cell_id, english in source_texts().items():
        entry = catalog.get(cell_id)
        if entry is None:
            found[cell_id] = "no translation"
        elif entry.get("source_sha") != source_sha(english):
            found[cell_id] = "the English changed after the translation was written"
    return found


def cell_track(cell) -> str:
    """The edition of part 5 a cell of the source belongs to ("" for a cell of every edition)."""
    recorded = cell.get("metadata", {}).get(METADATA_KEY) if isinstance(cell, dict) else None
    return recorded.get("track", "") if isinstance(recorded, dict) else ""


def of_track(notebook: dict, track: str) -> dict:
    """A copy of `notebook` (the source, or a notebook generated from it) with only the cells of edition `track`."""
    tracks.checked(track)
    kept = copy.deepcopy(notebook)
    kept["cells"] = [cell for cell in kept["cells"] if cell_track(cell) in ("", track)]
    default_line, line = EDITION_LINE.format(track=tracks.DEFAULT), EDITION_LINE.format(track=track)
    for cell in kept["cells"]:
        if cell["cell_type"] == "code" and default_line in _source(cell):
            text = _source(cell).replace(default_line, line)  # kept as it was: a string (nbformat) or lines (JSON)
            cell["source"] = text if isinstance(cell["source"], str) else text.splitlines(keepends=True)
    return kept


def edition(student: dict, language: str, strict: bool = True, track: str = tracks.DEFAULT) -> dict:
    """The generated student notebook in `language` with part 5 of `track`, both recorded in the metadata. A
    cell whose translation is missing or stale raises TranslationError, or with `strict=False` stays in English."""
    i18n.checked(language)
    notebook = of_track(student, track)
    notebook.setdefault("metadata", {})[METADATA_KEY] = {"language": language, "track": track}
    if language == i18n.SOURCE:
        return part_headings.with_points(notebook, language, track)
    stale = stale_cells(language)
    if stale and strict:
        reasons = "; ".join(f"{cell}: {why}" for cell, why in list(stale.items())[:5])
        raise TranslationError(f"the {language} translation of the notebook is not current in {len(stale)} cell(s) "
                               f"({reasons}); `python -m autograder translations` lists what to update")
    catalog = {key: entry for key, entry in notebook_catalog(language).items() if key not in stale}
    for cell in notebook["cells"]:
        source = _source(cell)
        if cell["cell_type"] == "markdown" and source.strip() == ANSWER_STUB:
            text = i18n.text(ANSWER_STUB_KEY, ANSWER_STUB, language)
        elif cell["cell_type"] == "markdown" and cell.get("id") in catalog:
            text = catalog[cell["id"]]["text"]
        elif cell["cell_type"] == "code" and notebook_text.spans(source):
            texts = catalog[cell["id"]]["text"] if cell.get("id") in catalog else notebook_text.fragments(source)
            text = notebook_text.translated(source, texts, language)
        else:
            continue
        cell["source"] = text.splitlines(keepends=True)
    return part_headings.with_points(notebook, language, track)


def language_of(metadata) -> str | None:
    """The edition's language recorded in a notebook's metadata, if it is one the kit speaks."""
    recorded = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    language = recorded.get("language") if isinstance(recorded, dict) else None
    return language if language in i18n.LANGUAGES else None


def track_of(metadata) -> str | None:
    """The edition of part 5 recorded in a notebook's metadata, if it is a known one."""
    recorded = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    track = recorded.get("track") if isinstance(recorded, dict) else None
    return track if track in tracks.TRACKS else None
