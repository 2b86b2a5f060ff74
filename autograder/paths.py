"""Where the grader finds the kit's own files: it runs from a checkout of the kit."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "dpo_homework"
SOLUTION_NOTEBOOK = REPO_ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"  # nbgrader source
STUDENT_NOTEBOOK = REPO_ROOT / "notebooks" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"  # generated from it (English)
EXAMPLE_SUBMISSIONS = REPO_ROOT / "data" / "example_submissions"
RUNTIME_DIR = REPO_ROOT / "alignment_kit"  # the student runtime package


def student_notebook(language: str, track: str = "") -> Path:
    """The committed student notebook of an edition: the English PPO one (the source language, the default
    track), each other language's in a folder of its own beside it (notebooks/<assignment>/ru/), and each other
    track's in a folder of its own, with its languages inside (notebooks/<assignment>/rloo/ru/)."""
    from alignment_kit import i18n, tracks

    folder = STUDENT_NOTEBOOK.parent if track in ("", tracks.DEFAULT) else STUDENT_NOTEBOOK.parent / track
    return folder / STUDENT_NOTEBOOK.name if language == i18n.SOURCE else folder / language / STUDENT_NOTEBOOK.name


def grader_cache() -> Path:
    """Where the grader keeps what it computed (reference outputs, nbgrader's grades): $KIT_GRADER_CACHE, else
    .grader-cache in this checkout. Never inside the model cache, which student code may read."""
    return Path(os.environ.get("KIT_GRADER_CACHE", REPO_ROOT / ".grader-cache")).resolve()
