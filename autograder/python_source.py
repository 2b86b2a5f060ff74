"""Parsing the Python of a submitted cell in the grader, and saying why a cell does not compile.

CPython 3.11 keeps the AST builder's recursion counter per interpreter, not per thread, so two threads
parsing at once can fail with "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905).
`grade --jobs N` grades in N threads, so every parse in the grader goes through `_PARSE_LOCK`.
"""
from __future__ import annotations

import ast
import functools
import threading

from alignment_kit.i18n import say
from alignment_kit.notebook_code import PYTHON_CELL_MAGICS, strip_magics

_PARSE_LOCK = threading.Lock()


def parse_python(source: str) -> ast.Module:
    """`ast.parse`, one thread at a time (see _PARSE_LOCK)."""
    with _PARSE_LOCK:
        return ast.parse(source)


def parse_cell(source: str) -> ast.Module | None:
    """A cell's code as a tree (its magics made `pass`), or None when it does not compile."""
    try:
        return parse_python(strip_magics(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def cell_magic(source: str) -> str | None:
    """The cell magic a cell starts with when it runs the cell as something other than Python (%%bash)."""
    words = source.lstrip().split(None, 1)
    first = words[0] if words else ""
    return first if first.startswith("%%") and first not in PYTHON_CELL_MAGICS else None


@functools.lru_cache(maxsize=4096)
def _flaw(source: str) -> tuple | None:
    """What keeps a cell from running as Python, as data (cached: a notebook's cells are looked at often)."""
    if "\x00" in source:
        return ("nul", source[:source.index("\x00")].count("\n") + 1)
    magic = cell_magic(source)
    if magic:
        return ("magic", magic)
    try:
        parse_python(strip_magics(source))
    except SyntaxError as error:
        return ("syntax", error.lineno, error.msg)
    except (ValueError, RecursionError, MemoryError) as error:
        return ("other", f"{type(error).__name__}: {error}")
    return None


def compile_problem(source: str) -> str | None:
    """Why a cell's code cannot be run as Python, for the student (None: it can)."""
    flaw = _flaw(source)
    if flaw is None:
        return None
    kind, *details = flaw
    if kind == "nul":
        return say("cell.nul", "it contains a NUL byte (an invisible character 0) on line {line}: retype that line "
                   "and run the cell again", line=details[0])
    if kind == "magic":
        return say("cell.magic", "it starts with {magic}, which runs it as something other than Python, so the grader "
                   "cannot run it: remove that line", magic=details[0])
    if kind == "syntax":
        return say("cell.syntax", "a syntax error on line {line}: {message}", line=details[0], message=details[1])
    return say("cell.uncompilable", "Python cannot compile it ({error})", error=details[0])
