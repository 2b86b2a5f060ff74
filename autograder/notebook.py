"""Read a submitted notebook, tolerating junk, and pull out what the grader needs.

`parse_notebook` never raises for bad student input: it returns a `ParsedNotebook` whose `error`
explains why nothing could be read. Code is collected per top-level statement, so a broken cell
costs only that cell, and the last definition of a name wins, as it would when run top to bottom.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from alignment_kit import items

# Cells the grader re-runs are found by nbgrader grade_id, else by their item's marker line.
CELL_NAMES = {i.name for i in items.items_of(items.CELL)}
MAGIC = re.compile(r"^(\s*)(%|!)")
# Cell magics that run their body as Python; any other cell magic (%%bash, %%html ...) is not Python.
PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun", "%%debug")


@dataclass
class Cell:
    kind: str
    source: str
    grade_id: str | None


@dataclass
class ParsedNotebook:
    cells: list[Cell] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    def code_cells(self) -> list[Cell]:
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


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return False


def strip_magics(source: str) -> str:
    """Replace IPython magics and shell escapes with `pass`, keeping indentation and line numbers."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        if lines[0].split()[0] in PYTHON_CELL_MAGICS:
            lines = ["pass"] + lines[1:]
        else:
            return "\n".join("pass" if i == 0 else "# " + line for i, line in enumerate(lines))
    return "\n".join(MAGIC.sub(r"\1pass  # ", line) if MAGIC.match(line) else line for line in lines)


def parse_cell(source: str) -> ast.Module | None:
    try:
        return ast.parse(strip_magics(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _text(source) -> str:
    if isinstance(source, list):
        return "".join(str(s) for s in source)
    return source if isinstance(source, str) else ""


def parse_notebook(path: Path | str) -> ParsedNotebook:
    """Read any notebook-ish file; unreadable input yields ParsedNotebook(error=...)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        return ParsedNotebook(error=f"cannot read the file: {error}")
    if len(raw) > 50_000_000:
        return ParsedNotebook(error="the notebook is larger than 50 MB")
    try:
        data = json.loads(raw.decode("utf-8", errors="replace"))
    except (json.JSONDecodeError, RecursionError) as error:
        return ParsedNotebook(error=f"the notebook is not valid JSON ({error}); re-save it from Jupyter")
    if not isinstance(data, dict):
        return ParsedNotebook(error="the notebook is not a JSON object")
    parsed = ParsedNotebook()
    raw_cells = data.get("cells")
    if raw_cells is None and isinstance(data.get("worksheets"), list):  # nbformat 3
        parsed.warnings.append(f"old notebook format v{data.get('nbformat')}: read as best we can")
        raw_cells = [c for ws in data["worksheets"] if isinstance(ws, dict) for c in ws.get("cells", [])]
    if not isinstance(raw_cells, list):
        return ParsedNotebook(error="the notebook has no cells")
    for raw_cell in raw_cells:
        if not isinstance(raw_cell, dict):
            continue
        kind = raw_cell.get("cell_type", "")
        source = _text(raw_cell.get("source", raw_cell.get("input", "")))
        metadata = raw_cell.get("metadata") if isinstance(raw_cell.get("metadata"), dict) else {}
        nbgrader = metadata.get("nbgrader") if isinstance(metadata.get("nbgrader"), dict) else {}
        grade_id = nbgrader.get("grade_id") if isinstance(nbgrader.get("grade_id"), str) else None
        parsed.cells.append(Cell(kind if kind in ("code", "markdown") else "raw", source, grade_id))
    broken = sum(1 for c in parsed.code_cells() if parse_cell(c.source) is None)
    if broken:
        parsed.warnings.append(f"{broken} code cell(s) have syntax errors and were skipped")
    return parsed
