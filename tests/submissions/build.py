"""Build student submissions for the grader tests: the reference notebook with cells swapped out.

Every helper returns a fresh nbformat notebook (never the cached original), so tests can edit
freely. `write` puts a notebook in a pytest tmp_path; `write_bytes` writes anything at all, for
notebooks that are not even JSON.
"""
from __future__ import annotations

import copy
import functools
import textwrap
from pathlib import Path

import nbformat

from alignment_kit import items, tracks
from autograder import paths

# Autograded totals of the example submissions (data/make_example_submissions.py): alice answers
# everything; bob loses get_log_prob (1.0) and one of pad's four checks (0.05), and so does boris, who
# has the Russian edition; erin is not JSON.
ALL_AUTOGRADED = round(sum(i.points for i in items.ITEMS if i.autograded), 4)
EXAMPLE_TOTALS = {"alice": ALL_AUTOGRADED, "bob": round(ALL_AUTOGRADED - 1.05, 4), "boris": round(ALL_AUTOGRADED - 1.05, 4),
                  "erin": 0.0}


@functools.lru_cache(maxsize=None)
def _reference(track: str = tracks.DEFAULT) -> nbformat.NotebookNode:
    """The source notebook of edition `track` as a student who solved everything would have it: hidden tests
    removed."""
    import json

    from autograder import editions
    from autograder.notebook_text import HIDDEN_TESTS

    source = editions.of_track(json.loads(paths.SOLUTION_NOTEBOOK.read_text(encoding="utf-8")), track)
    notebook = nbformat.reads(json.dumps(source), as_version=4)
    for cell in notebook.cells:
        cell.source = HIDDEN_TESTS.sub("", cell.source)
    return notebook


def solution_notebook(track: str = tracks.DEFAULT) -> nbformat.NotebookNode:
    """A deep copy of the reference (nbgrader source) notebook of edition `track`, solutions included, hidden
    tests removed."""
    return copy.deepcopy(_reference(track))


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def cell_index(nb, grade_id_: str) -> int:
    for index, cell in enumerate(nb.cells):
        if grade_id(cell) == grade_id_:
            return index
    raise KeyError(f"no cell with grade_id {grade_id_!r} in the notebook")


def source(grade_id_: str, track: str = tracks.DEFAULT) -> str:
    """The reference source of one cell (of edition `track`)."""
    return _reference(track).cells[cell_index(_reference(track), grade_id_)].source


def _clean(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


def replace_cell(nb, grade_id_: str, new_source: str) -> nbformat.NotebookNode:
    """Replace, in place, the whole source of the cell tagged `grade_id_` (dedented); returns nb."""
    nb.cells[cell_index(nb, grade_id_)].source = _clean(new_source)
    return nb


def with_cell(grade_id_: str, new_source: str, nb=None) -> nbformat.NotebookNode:
    """A copy of `nb` (default: the reference) whose cell `grade_id_` has `new_source` as its source."""
    return replace_cell(copy.deepcopy(nb) if nb is not None else solution_notebook(), grade_id_, new_source)


def with_cells(replacements: dict[str, str], nb=None) -> nbformat.NotebookNode:
    """A copy with several cells replaced at once."""
    result = copy.deepcopy(nb) if nb is not None else solution_notebook()
    for grade_id_, new_source in replacements.items():
        replace_cell(result, grade_id_, new_source)
    return result


def without_cell(grade_id_: str, nb=None) -> nbformat.NotebookNode:
    """A copy with the cell tagged `grade_id_` deleted."""
    result = copy.deepcopy(nb) if nb is not None else solution_notebook()
    del result.cells[cell_index(result, grade_id_)]
    return result


def code_cell(text: str, grade_id_: str | None = None) -> nbformat.NotebookNode:
    """A new code cell, untagged unless `grade_id_` is given."""
    cell = nbformat.v4.new_code_cell(_clean(text))
    if grade_id_ is not None:
        cell.metadata["nbgrader"] = {"grade": False, "grade_id": grade_id_, "locked": False,
                                     "schema_version": 3, "solution": True, "task": False}
    return cell


def insert_before(grade_id_: str, cell, nb=None) -> nbformat.NotebookNode:
    """A copy with `cell` inserted just before the cell tagged `grade_id_`."""
    result = copy.deepcopy(nb) if nb is not None else solution_notebook()
    result.cells.insert(cell_index(result, grade_id_), cell)
    return result


def insert_after(grade_id_: str, cell, nb=None) -> nbformat.NotebookNode:
    """A copy with `cell` inserted just after the cell tagged `grade_id_`."""
    result = copy.deepcopy(nb) if nb is not None else solution_notebook()
    result.cells.insert(cell_index(result, grade_id_) + 1, cell)
    return result


def write(nb, path: Path | str) -> Path:
    """Write `nb` as an .ipynb file (without validation: tests also build odd notebooks)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path), version=nbformat.NO_CONVERT)
    return path


def write_bytes(data: bytes, path: Path | str) -> Path:
    """Write raw bytes as a 'notebook' (broken JSON, other formats)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def cell_of(function_item: str) -> str:
    """The notebook cell that defines what a function item calls (weighted_dpo_loss lives in dpo_loss)."""
    from alignment_kit import items

    return items.item(function_item).callable_name


def one_per_function(items: list) -> list[list]:
    """Batch i holds the i-th item of every function cell (items have `.function` and `.source`), so a
    batch never has two versions of one cell and can be graded as a single notebook."""
    per_function: dict[str, list] = {}
    for item in items:
        per_function.setdefault(cell_of(item.function), []).append(item)
    size = max(len(group) for group in per_function.values())
    return [[group[i] for group in per_function.values() if i < len(group)] for i in range(size)]


def batch_grader(grader, batches: list[list], folder_factory, names: list[str]):
    """A function index -> {name: ScoredLine} that grades batch `index` once, in one worker."""
    from autograder.notebook import parse_notebook

    cache: dict[int, dict] = {}

    def grade(index: int) -> dict:
        if index not in cache:
            notebook = with_cells({cell_of(item.function): item.source for item in batches[index]})
            path = write(notebook, folder_factory() / f"batch{index}.ipynb")
            cache[index] = {r.name: r for r in grader.grade_functions(parse_notebook(path), names)}
        return cache[index]

    return grade


@functools.lru_cache(maxsize=1)
def examples_script():
    """data/make_example_submissions.py, loaded as a module (it is a script, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_example_submissions",
                                                  paths.REPO_ROOT / "data" / "make_example_submissions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def filled_student_notebook(student: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student notebook with every solution region answered from the source notebook, as a
    student who solved everything would hand it in (no solution markers, no hidden tests)."""
    from autograder.generate import answered

    return answered(student, nbformat.read(str(paths.SOLUTION_NOTEBOOK), as_version=4))  # answers by grade id


def functions_only(nb: nbformat.NotebookNode, track: str = tracks.DEFAULT) -> nbformat.NotebookNode:
    """A copy without the re-run cells' code (of edition `track`): grading it starts workers for the graded
    functions only."""
    return with_cells({item.name: "pass\n" for item in items.items_of(items.CELL, track)}, nb)
