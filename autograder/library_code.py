"""The library's own implementation of each graded function, as one more student of the class.

An item's policy names its `twin` (TRL's `pad` for `pad`). The class report compares every student's
code for the item with the twin's source, read from the library installed where the report runs; a
pasted copy, however renamed and recommented, shares the twin's rare windows and scores high. The
library is a student named `package==version`, so the report says which version was compared.
"""
from __future__ import annotations

import inspect
import textwrap
from importlib import metadata

from alignment_kit.handover import resolve
from autograder import checks

COPY_SCORE = 0.5  # a student's code for an item that scores this much with the library's is listed as a copy


def student_name(dotted: str) -> str:
    package = dotted.split(".")[0]
    try:
        return f"{package}=={metadata.version(package)}"
    except metadata.PackageNotFoundError:
        return package


def twin_source(twin: str) -> str:
    """The source of the library function `twin` names, as installed here ("" where it is not)."""
    target = resolve(twin)
    try:
        return textwrap.dedent(inspect.getsource(target)) if target is not None else ""
    except (OSError, TypeError):
        return ""


def units() -> dict[str, dict[str, str]]:
    """Library student -> item -> the source of the item's twin (items whose twin is not installed are left out)."""
    found: dict[str, dict[str, str]] = {}
    seen = set()
    for check in checks.FUNCTION_CHECKS:
        twin = check.hand_over.twin
        if not twin or twin in seen:
            continue
        seen.add(twin)
        source = twin_source(twin)
        if source:
            found.setdefault(student_name(twin), {})[check.name] = source
    return found
