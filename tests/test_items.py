"""The item table is the one declaration of what is graded: the source notebook and the grader agree with it."""
import ast
import json

import nbformat
import pytest

from alignment_kit import items, tracks
from alignment_kit.notebook_code import strip_magics
from autograder import checks, editions, paths, readme_points
from autograder.notebook_text import HIDDEN_TESTS


@pytest.fixture(scope="module")
def source_cells():
    notebook = nbformat.read(paths.SOLUTION_NOTEBOOK, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c for c in notebook.cells if "nbgrader" in c.metadata}


def test_notebook_points_equal_the_declared_points_item_by_item(source_cells):
    graded = {gid: c.metadata["nbgrader"]["points"] for gid, c in source_cells.items() if c.metadata["nbgrader"]["grade"]}
    assert graded == {item.grade_id: item.points for item in items.ALL_ITEMS}


@pytest.mark.parametrize("track", sorted(tracks.TRACKS))
def test_notebook_points_equal_the_declared_points_part_by_part(source_cells, track):
    """Each edition's cells (the source with its part 5 only) hold each part's points, and so 9 + 1 + 1."""
    kept = {c["id"] for c in editions.of_track(json.loads(paths.SOLUTION_NOTEBOOK.read_text()), track)["cells"]}
    for part in items.PARTS:
        in_notebook = sum(c.metadata["nbgrader"]["points"] for gid, c in source_cells.items()
                          if c.get("id") in kept and c.metadata["nbgrader"]["grade"]
                          and items.item(gid.removeprefix("test_")).part == part.name)
        assert in_notebook == pytest.approx(part.points_in(track)), (track, part.name)
    assert items.homework_points(track) == pytest.approx(items.homework_points(tracks.DEFAULT))


def test_every_cell_of_one_edition_names_a_known_track():
    source = json.loads(paths.SOLUTION_NOTEBOOK.read_text())
    assert {editions.cell_track(c) for c in source["cells"]} == {"", *tracks.TRACKS}
    for track in tracks.TRACKS:
        ids = {c["metadata"].get("nbgrader", {}).get("grade_id") for c in editions.of_track(source, track)["cells"]}
        assert {i.grade_id for i in items.edition_items(track)} <= ids, track


def test_the_totals_are_sums_of_the_declared_points():
    """No total is written down anywhere but derived (the README's are checked by the next tests)."""
    assert items.homework_points() == pytest.approx(sum(i.points for i in items.ITEMS if not items.part(i.part).bonus))
    assert items.bonus_points() == pytest.approx(sum(i.points for i in items.ITEMS if items.part(i.part).bonus))
    assert items.homework_points() + items.bonus_points() == pytest.approx(sum(i.points for i in items.ITEMS))
    assert items.autograded_points() + items.bonus_points(autograded_only=True) + items.hand_graded_points() == (
        pytest.approx(sum(i.points for i in items.ITEMS)))


def test_every_autograded_item_has_exactly_one_check():
    assert [c.name for c in checks.FUNCTION_CHECKS] == [i.name for i in items.items_of(items.FUNCTION)]
    assert [c.grade_id for c in checks.CELL_CHECKS] == [i.name for i in items.items_of(items.CELL)]


def test_each_graded_function_and_cell_has_its_solution_cell(source_cells):
    for item in items.ALL_ITEMS:
        if item.kind == items.MANUAL:
            assert source_cells[item.name].metadata["nbgrader"]["solution"], item.name
            continue
        cell = item.callable_name if item.kind == items.FUNCTION else item.name
        assert source_cells[cell].metadata["nbgrader"]["solution"], f"no solution cell {cell!r}"
        if item.kind == items.CELL:
            fitting = [name for name, c in source_cells.items() if c.cell_type == "code"
                       and item.finds.fits(ast.parse(strip_magics(HIDDEN_TESTS.sub("", c.source))))]
            assert fitting == [item.name], f"the signature of {item.name} fits the cells {fitting}, not its own alone"


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(KeyError, match="apply_chat_template"):
        items.item("nope")
    with pytest.raises(ValueError, match="function"):
        items.Item("x", "data_prep", 1.0, "quiz", "a quiz")


def test_the_readme_points_are_current():
    """`python -m autograder generate` writes them; this fails when a declaration changed and it was not run."""
    text = (paths.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_points.render(text) == text, "run `python -m autograder generate` to rewrite the README's points"


def test_the_readme_points_table_follows_the_item_table():
    text = (paths.REPO_ROOT / "README.md").read_text()
    section = text[text.index("## The homework ("):]
    heading = section.splitlines()[0]
    bonus = sum(p.points for p in items.PARTS if p.bonus)
    assert heading == f"## The homework ({items.homework_points():g} points + {bonus:g} bonus)", heading
    rows = [line.split("|")[1:3] for line in section.splitlines()[4:] if line.startswith("| ")]
    rows = rows[:len(items.PARTS)]
    assert [float(points) for _, points in rows] == [p.points for p in items.PARTS], rows


def test_the_readme_quotes_the_score_line_for_full_marks():
    """The feedback's score line that the README quotes is the grader's own, for full marks."""
    text = (paths.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    line = readme_points.score_line()
    maximum = items.autograded_points() + items.bonus_points(autograded_only=True)
    assert line.startswith(f"> {maximum:.2f} / {maximum:.2f} autograded") and line in text.splitlines()
    assert readme_points.render(text.replace(line, "> 8.05 of 7.9 autograded points")) == text
