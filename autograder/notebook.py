"""A submitted notebook as the grader sees it: its cells, and the code, answers and figures in them.

`parse_notebook` never raises for bad student input: reading the file is `read_notebook.py`'s job, and
a file it cannot read gives a `ParsedNotebook` whose `error` explains why, to the student. Code is
collected per top-level statement, so a broken cell costs only that cell, and the last definition of
a name wins, as it would when run top to bottom.
"""
from __future__ import annotations

import ast
import threading
from dataclasses import dataclass, field
from pathlib import Path

from alignment_kit import items
from alignment_kit.notebook_code import strip_magics
from alignment_kit.i18n import counted, say
from autograder.editions import language_of
from autograder.read_notebook import NotebookProblem, RawCell, read

# Cells the grader re-runs are found by nbgrader grade_id, else by their item's marker line.
CELL_NAMES = {i.name for i in items.items_of(items.CELL)}


@dataclass
class ParsedNotebook:
    cells: list[RawCell] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    language: str | None = None  # the edition's language, as its metadata records it

    def code_cells(self) -> list[RawCell]:
        return [c for c in self.cells if c.kind == "code"]

    def definitions(self) -> str:
        """Source of every top-level import, function, class and literal constant, in notebook order."""
        return "\n\n".join(ast.unparse(node) for node in self._definition_nodes())

    def _definition_nodes(self) -> list[ast.stmt]:
        nodes = []
        for cell in self.code_cells():
            tree = parse_cell(cell.source)
            if tree is None:
                continue
            for node in tree.body:
                if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    nodes.append(node)
                elif isinstance(node, ast.Assign) and _is_literal(node.value):
                    nodes.append(node)
        return nodes

    def defined_names(self) -> set[str]:
        return {n.name for n in self._definition_nodes() if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}

    def cell(self, grade_id: str) -> str | None:
        """The source of the graded cell `grade_id` (the last one if duplicated), found by id or marker."""
        tagged = [c for c in self.code_cells() if c.grade_id == grade_id]
        if tagged:
            return strip_magics(tagged[-1].source)
        marker = items.item(grade_id).marker if grade_id in CELL_NAMES else ""
        marked = [c for c in self.code_cells() if marker and marker in c.source]
        return strip_magics(marked[-1].source) if marked else None

    def answer(self, grade_id: str) -> str | None:
        tagged = [c for c in self.cells if c.grade_id == grade_id]
        return tagged[-1].source if tagged else None

    def figures(self, grade_id: str) -> list[str]:
        """The PNG figures saved in the outputs of the cell `grade_id` (the last one if duplicated)."""
        tagged = [c for c in self.cells if c.grade_id == grade_id]
        return tagged[-1].images if tagged else []

    def saved_with_outputs(self) -> bool:
        return any(c.outputs for c in self.cells)


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return False


# CPython 3.11 keeps the AST builder's recursion counter per interpreter, not per thread, so two threads
# parsing at once can fail with "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905).
# `grade --jobs N` grades in N threads, so every parse in the grader goes through this lock.
_PARSE_LOCK = threading.Lock()


def parse_python(source: str) -> ast.Module:
    """`ast.parse`, one thread at a time (see _PARSE_LOCK)."""
    with _PARSE_LOCK:
        return ast.parse(source)


def parse_cell(source: str) -> ast.Module | None:
    try:
        return parse_python(strip_magics(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def parse_notebook(path: Path | str) -> ParsedNotebook:
    """Read any notebook-ish file; unreadable input yields ParsedNotebook(error=...) with the reason."""
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        return ParsedNotebook(error=f"cannot read the file: {error.strerror or error}")
    try:
        cells, warnings, metadata = read(raw)
    except NotebookProblem as problem:
        return ParsedNotebook(error=str(problem))
    parsed = ParsedNotebook(cells, warnings=warnings, language=language_of(metadata))
    broken = sum(1 for c in parsed.code_cells() if parse_cell(c.source) is None)
    if broken:
        parsed.warnings.append(say("read.syntax_errors", "skipped {cells} with syntax errors", cells=counted(
            broken, say("noun.code_cell", "code cell|code cells"))))
    return parsed
