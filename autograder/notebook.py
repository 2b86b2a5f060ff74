"""A submitted notebook as the grader sees it: its cells, and the code, answers and figures in them.

`parse_notebook` never raises for bad student input: reading the file is `read_notebook.py`'s job, and
a file it cannot read gives a `ParsedNotebook` whose `error` explains why, to the student. Code is
collected per top-level statement, so a broken cell costs only that cell, and the last definition of
a name wins, as it would when run top to bottom.
"""
from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from alignment_kit import tracks
from alignment_kit.i18n import counted, say
from autograder import cell_finder, notebook_text
from autograder.editions import language_of, track_of
from autograder.python_source import parse_cell
from autograder import stream_notebook
from autograder.read_notebook import MAX_BYTES, NotebookProblem, RawCell, read


NAMED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)  # the definitions that bind a name


@dataclass
class ParsedNotebook:
    cells: list[RawCell] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    language: str | None = None  # the edition's language, as its metadata records it
    recorded_track: str | None = None  # the edition of part 5, as its metadata records it
    outputs_dropped_bytes: int = 0  # the file's size when it was too large to read its outputs (0: they were read)

    def code_cells(self) -> list[RawCell]:
        return [c for c in self.cells if c.kind == "code"]

    @functools.cached_property
    def _definitions(self) -> str:
        return "\n\n".join(ast.unparse(node) for node in self._definition_nodes)

    def definitions(self) -> str:
        """Source of every top-level import, function, class and literal constant, in notebook order."""
        return self._definitions

    @functools.cached_property
    def _definition_nodes(self) -> list[ast.stmt]:
        """The definitions' nodes (worked out once: the stages of a grade all ask for them)."""
        nodes = []
        for cell in self.code_cells():
            tree = parse_cell(cell.source)
            if tree is None:
                continue
            for node in tree.body:
                if isinstance(node, (ast.Import, ast.ImportFrom, *NAMED)):
                    nodes.append(node)
                elif isinstance(node, ast.Assign) and _is_literal(node.value):
                    nodes.append(node)
        return nodes

    def definitions_for(self, source: str, provided: tuple[str, ...] = ()) -> str:
        """`definitions()` as a re-run cell needs them: every import and literal constant, and the functions and
        classes the cell uses, directly or through each other. The names in `provided` are left out: the grader
        gives the cell its own (the reference helpers), which replace the notebook's. So the cell's outcome, and
        the result kept for it, do not depend on code it never calls."""
        named = [n for n in self._definition_nodes if isinstance(n, NAMED)]
        tree = parse_cell(source)
        wanted, needed = set(_used_names(tree)) if tree else set(), set()
        while wanted:
            name = wanted.pop()
            if name in needed or name in provided:
                continue
            needed.add(name)
            for node in named:
                if node.name == name:
                    wanted |= set(_used_names(node))
        return "\n\n".join(ast.unparse(node) for node in self._definition_nodes
                            if not isinstance(node, NAMED) or node.name in needed)

    def defined_names(self) -> set[str]:
        return {n.name for n in self._definition_nodes if isinstance(n, NAMED)}

    def find_cell(self, grade_id: str) -> cell_finder.Found:
        """The re-run cell `grade_id`, found however the notebook was edited (`cell_finder`)."""
        return cell_finder.find_rerun_cell(self.cells, grade_id)

    def cell(self, grade_id: str) -> str | None:
        """The code of the re-run cell `grade_id`, or None when there is none to run."""
        return self.find_cell(grade_id).source

    def answer(self, grade_id: str) -> str | None:
        found = cell_finder.find_answer(self.cells, grade_id)
        return found.source if found else None

    def figures(self, grade_id: str) -> list[str]:
        """The PNG figures saved in the outputs of the cell `grade_id` (the last one if duplicated)."""
        found = cell_finder.find_answer(self.cells, grade_id)
        return found.images if found else []

    def saved_with_outputs(self) -> bool:
        return any(c.outputs for c in self.cells)


def track_by_content(parsed: ParsedNotebook) -> str | None:
    """The edition of part 5 a notebook's code shows: the one whose trainer class alone it names."""
    named = {name for name, track in tracks.TRACKS.items()
             if any(re.search(rf"\b{track.trainer}\b", c.source) for c in parsed.code_cells())}
    return next(iter(named)) if len(named) == 1 else None


def _used_names(tree: ast.AST):
    """The names a piece of code reads (the roots of its attribute chains included)."""
    return (node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load))


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return False


def source_notebook_problem(parsed: ParsedNotebook) -> str | None:
    """Why a notebook that holds hidden tests (the instructor's source notebook) is not graded, or None."""
    if not any(notebook_text.HIDDEN_TESTS.search(cell.source) for cell in parsed.code_cells()):
        return None
    return say("read.source_notebook", "this is the instructor's source notebook (it holds the hidden tests), not a "
               "student's: `python -m autograder answered --out FILE` writes the student notebook with the reference "
               "answers, which grades as a student's notebook does")


def parse_notebook(path: Path | str) -> ParsedNotebook:
    """Read any notebook-ish file; unreadable input yields ParsedNotebook(error=...) with the reason. A file
    over MAX_BYTES is streamed without its outputs (stream_notebook.read), never loaded whole."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            with path.open("rb") as stream:
                cells, warnings, metadata = stream_notebook.read(stream, size)
        else:
            cells, warnings, metadata = read(path.read_bytes())
    except OSError as error:
        return ParsedNotebook(error=say("read.cannot_read", "cannot read the file: {error}", error=error.strerror or error))
    except NotebookProblem as problem:
        return ParsedNotebook(error=str(problem))
    parsed = ParsedNotebook(cells, warnings=warnings, language=language_of(metadata), recorded_track=track_of(metadata),
                            outputs_dropped_bytes=size if size > MAX_BYTES else 0)
    broken = sum(1 for c in parsed.code_cells() if parse_cell(c.source) is None)
    if broken:
        parsed.warnings.append(say("read.syntax_errors", "skipped {cells} with syntax errors", cells=counted(
            broken, say("noun.code_cell", "code cell|code cells"))))
    return parsed
