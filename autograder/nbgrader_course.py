"""Leave an nbgrader course as `nbgrader autograde` would: autograded notebooks, and the gradebook.

When `python -m autograder grade COURSE` is pointed at a course (a folder with
`submitted/<student>/<assignment>/`), each graded notebook is also written to
`COURSE/autograded/<student>/<assignment>/`, with every autograded test cell carrying the kit's
lines for its item and its score (as nbgrader's partial credit), and the scores go into the course's
gradebook (`COURSE/gradebook.db` unless `--gradebook` names another). nbgrader's own tools then work
on the result: formgrader opens each submission for its hand-graded cells, and `nbgrader
generate_feedback` and `nbgrader export` read what is there.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from alignment_kit import items
from autograder import paths
from autograder.results import GradeRecord


def course_of(inputs: list[str]) -> Path | None:
    """The nbgrader course among the inputs, if one is a course folder."""
    for given in map(Path, inputs):
        if given.is_dir() and (given / "submitted").is_dir():
            return given.resolve()
    return None


def assignment_of(course: Path, notebook: Path) -> str:
    relative = Path(notebook).resolve().relative_to(course / "submitted")
    return relative.parts[1] if len(relative.parts) > 2 else paths.ASSIGNMENT


def _outputs(result: GradeRecord, item: items.Item) -> list:
    import nbformat

    lines = [t for t in result.tests if t.item == item.name and t.status != "manual"]
    text = "\n".join(f"{'✓' if t.status == 'passed' else '✗'} {t.name}: {t.score:g} / {t.max_score:g}\n  "
                     + t.output.replace("\n", "\n  ") for t in lines)
    score = round(sum(t.score for t in lines), 4)
    return [nbformat.v4.new_output("stream", name="stdout", text=text + "\n"),
            nbformat.v4.new_output("execute_result", data={"text/plain": repr(score)}, execution_count=1)]


def write_autograded(course: Path, notebook: Path, result: GradeRecord) -> Path:
    """COURSE/autograded/<student>/<assignment>/<notebook>: the submission with the kit's scores in its test cells."""
    import nbformat

    assignment = assignment_of(course, notebook)
    target = course / "autograded" / result.student / assignment / Path(notebook).name
    target.parent.mkdir(parents=True, exist_ok=True)
    for extra in Path(notebook).parent.iterdir():  # nbgrader copies the rest of the submission too
        if extra.is_file() and extra.suffix != ".ipynb":
            shutil.copy2(extra, target.parent / extra.name)
    if result.error:  # unreadable: the released notebook, with the reason on top, so graders can open it
        content = nbformat.read(paths.STUDENT_NOTEBOOK, as_version=4)
        content.cells.insert(0, nbformat.v4.new_markdown_cell(f"**The submitted notebook could not be read:** "
                                                              f"{result.error}"))
    else:
        content = nbformat.read(notebook, as_version=4)
    by_grade_id = {i.grade_id: i for i in items.ALL_ITEMS if i.autograded}
    for cell in content.cells:
        item = by_grade_id.get(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"))
        if item is not None and cell.cell_type == "code":
            cell.outputs = _outputs(result, item)
    nbformat.write(content, target)
    return target
