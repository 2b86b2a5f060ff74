"""The library's own implementation of each graded function, as one more student of the class.

An item's policy names its `twin` (TRL's `pad` for `pad`). The class report compares every student's
code for the item with the twin's source, read from the library installed where the report runs; a
pasted copy, however renamed and recommented, shares the twin's rare windows and scores high. The
library is a student named `package==version`, so the report says which version was compared.
"""
from __future__ import annotations

import ast
import importlib.util
import inspect
import textwrap
from importlib import metadata
from pathlib import Path

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
    """The source of the library function `twin` names, as installed here ("" where it is not): read from the
    package's files without importing it (importing TRL costs seconds), else from the imported object."""
    return _source_in_files(twin) or _source_imported(twin)


def _source_in_files(twin: str) -> str:
    parts = twin.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])  # a top-level package is found without being imported
    except (ImportError, ValueError):
        return ""
    if spec is None or not spec.submodule_search_locations:
        return ""
    folder = Path(next(iter(spec.submodule_search_locations)))
    for cut in range(len(parts) - 1, 0, -1):
        module = folder.joinpath(*parts[1:cut])
        for path in (module.with_suffix(".py"), module / "__init__.py"):
            if path.is_file():
                return _defined_in(path.read_text(encoding="utf-8"), parts[cut:])
    return ""


def _defined_in(text: str, qualname: list[str]) -> str:
    """The source of the function or class `qualname` defined in `text` ("" if it is not defined there)."""
    body, node = ast.parse(text).body, None
    for name in qualname:
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == name), None)
        if node is None:
            return ""
        body = node.body
    return textwrap.dedent(ast.get_source_segment(text, node) or "")


def _source_imported(twin: str) -> str:
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
