"""Graded cells are found however a notebook was edited, and every edit costs exactly what it deserves.

First the cases one by one: nbgrader metadata stripped (cell ids kept, then lost too), a notebook from
an older release (other grade ids), graded cells turned into markdown or raw, a NUL byte, a syntax
error and a non-Python cell magic in a graded cell, duplicated cells. Then a structural fuzz: a few
hundred seeded edits of alice's notebook (metadata stripped, cells inserted, deleted, moved, split,
merged, duplicated, retyped, ids renamed, NUL bytes), each graded; the score each edit deserves is
stated here from the edit itself (a cell that no longer runs costs the items it holds, nothing else
costs anything), never read from the grader, and no edit is a grader fault.
"""
from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass

import pytest

from alignment_kit import items
from autograder import paths
from autograder.results import GradeRecord

pytestmark = pytest.mark.slow  # grades notebooks in workers

RE_RUN = [i.name for i in items.items_of(items.CELL)]
FUNCTION_CELLS = sorted({i.callable_name for i in items.items_of(items.FUNCTION)})
AUTOGRADED = {i.name: i.points for i in items.ITEMS if i.autograded}
TAG = "structure_test"  # the metadata key that tells the fuzz which cell is which, whatever the edits did


def alice() -> dict:
    return json.loads((paths.EXAMPLE_SUBMISSIONS / "alice.ipynb").read_text(encoding="utf-8"))


def grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def index_of(nb: dict, name: str) -> int:
    """Where the cell `name` is: by its grade id or cell id, or by the tag the fuzz gives every cell first (a
    metadata key of its own, which survives the edits that strip nbgrader's)."""
    return next(i for i, c in enumerate(nb["cells"])
                if name in (grade_id(c), c.get("id"), c.get("metadata", {}).get(TAG)))


def source_of(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def held_by(cell_name: str) -> set[str]:
    """The autograded items a cell of the source notebook holds: the functions it defines, or its re-run cell."""
    return {i.name for i in items.ITEMS if i.autograded and (i.callable_name == cell_name or i.name == cell_name)}


def item_scores(record) -> dict[str, float]:
    scores = {}
    for test in record.tests:
        if test.status != "manual":
            scores[test.item] = round(scores.get(test.item, 0) + test.score, 4)
    return scores


def graded(grader, nb: dict, path) -> GradeRecord:
    path.write_text(json.dumps(nb), encoding="utf-8")
    return grader.grade(path, path.stem)


def expected_scores(lost: set[str]) -> dict[str, float]:
    return {name: 0.0 if name in lost else points for name, points in AUTOGRADED.items()}


# ---------------------------------------------------------------------- edits
def strip_metadata(nb: dict, ids: bool = False) -> dict:
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("nbgrader", None)
        if ids:
            cell.pop("id", None)
    return nb


def retype(nb: dict, name: str, kind: str) -> dict:
    """The cell `name` turned into a markdown or raw cell, as Jupyter's Cell type menu does."""
    nb = copy.deepcopy(nb)
    cell = nb["cells"][index_of(nb, name)]
    cell["cell_type"] = kind
    cell.pop("outputs", None)
    cell.pop("execution_count", None)
    return nb


def with_text(nb: dict, name: str, change) -> dict:
    nb = copy.deepcopy(nb)
    cell = nb["cells"][index_of(nb, name)]
    cell["source"] = change(source_of(cell))
    return nb


def nul_in_a_comment(source: str) -> str:
    first, rest = source.split("\n", 1)
    return f"{first}\n# a note \x00 typed by accident\n{rest}"


def renamed_ids(nb: dict, suffix: str = "_v1", ids: bool = True) -> dict:
    """A notebook of an older release: every grade id (and cell id) named otherwise."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if grade_id(cell):
            cell["metadata"]["nbgrader"]["grade_id"] += suffix
        if ids and cell.get("id"):
            cell["id"] += suffix
    return nb


# ---------------------------------------------------------------------- the cases one by one
@pytest.fixture(scope="module")
def reference_record(grader, tmp_path_factory):
    return graded(grader, alice(), tmp_path_factory.mktemp("alice") / "alice.ipynb")


def test_alice_earns_every_autograded_point(reference_record):
    assert item_scores(reference_record) == expected_scores(set())


@pytest.mark.parametrize("ids", [False, True], ids=["cell-ids-kept", "cell-ids-lost"])
def test_stripped_metadata_keeps_every_point_and_says_how_cells_were_found(ids, grader, tmp_path):
    record = graded(grader, strip_metadata(alice(), ids=ids), tmp_path / "stripped.ipynb")
    assert item_scores(record) == expected_scores(set()), record.tests
    found = {t.item: t.output for t in record.tests if t.name.endswith("how the cell was found")}
    assert set(found) == set(RE_RUN), found
    assert all(("by its content" in how) if ids else ("by its cell id" in how) for how in found.values()), found


def test_a_notebook_of_an_older_release_is_graded_by_content(grader, tmp_path):
    record = graded(grader, renamed_ids(alice()), tmp_path / "old.ipynb")
    assert item_scores(record) == expected_scores(set())
    pad = next(t for t in record.tests if t.item == "pad")
    assert "found by its name" in pad.output, pad.output


@pytest.mark.parametrize("kind", ["markdown", "raw"])
@pytest.mark.parametrize("name", ["dpo_training_loop", "dpo_loss"])
def test_a_graded_cell_turned_into_text_is_graded_as_not_run_and_says_how_to_fix_it(name, kind, grader, tmp_path):
    record = graded(grader, retype(alice(), name, kind), tmp_path / f"{name}-{kind}.ipynb")
    assert item_scores(record) == expected_scores(held_by(name))
    for test in (t for t in record.tests if t.item in held_by(name)):
        assert f"in a {kind} cell, which never runs" in test.output and "Cell type > Code" in test.output, test.output


@pytest.mark.parametrize("change, reason", [
    (nul_in_a_comment, "a NUL byte (an invisible character 0) on line 2"),
    (lambda source: source.replace("):", ")::", 1), "a syntax error on line 1"),
    (lambda source: "%%bash\n" + source, "it starts with %%bash"),
], ids=["nul", "syntax", "bash-magic"])
def test_a_cell_that_does_not_compile_says_why_on_every_item_it_holds(change, reason, grader, tmp_path):
    record = graded(grader, with_text(alice(), "dpo_loss", change), tmp_path / "broken.ipynb")
    assert item_scores(record) == expected_scores(held_by("dpo_loss"))
    lines = [t for t in record.tests if t.item in held_by("dpo_loss")]
    assert len(lines) == 2 and all(reason in t.output and "cannot be compiled" in t.output for t in lines), lines


def test_a_nul_byte_in_the_loop_cell_names_the_cause_on_its_line(grader, tmp_path):
    record = graded(grader, with_text(alice(), "dpo_training_loop", nul_in_a_comment), tmp_path / "nul-loop.ipynb")
    assert item_scores(record) == expected_scores({"dpo_training_loop"})
    [line] = [t for t in record.tests if t.item == "dpo_training_loop"]
    assert "cannot be compiled" in line.output and "NUL byte" in line.output, line.output


def test_duplicated_cells_grade_the_last_one_that_does_what_the_cell_must(grader, tmp_path):
    nb = alice()
    loop = nb["cells"][index_of(nb, "dpo_training_loop")]
    edited = copy.deepcopy(loop)
    edited["source"] = "print('plotting the losses again')\n"  # a copy of the cell, later changed into another cell
    nb["cells"].insert(index_of(nb, "dpo_training_loop") + 1, edited)
    record = graded(grader, nb, tmp_path / "duplicate.ipynb")
    assert item_scores(record) == expected_scores(set())
    assert any("of 2 cells that have it, the last" in t.output for t in record.tests if t.item == "dpo_training_loop")


def test_a_re_run_cell_merged_with_the_cell_above_and_a_timed_training_line_keep_their_points(grader, tmp_path):
    """The reward cell merged with the data cell before it (whose code cannot run where the grader re-runs the
    cell), and its training line written `%time reward_trainer.train()`: the cell's own part still runs."""
    nb = alice()
    data, cell = index_of(nb, "reward_data"), index_of(nb, "reward_training")
    merged = source_of(nb["cells"][data]) + "\n" + source_of(nb["cells"][cell]).replace(
        "reward_trainer.train()", "%time reward_trainer.train()")
    assert "%time reward_trainer.train()" in merged
    nb["cells"][cell]["source"] = merged
    del nb["cells"][data]
    record = graded(grader, nb, tmp_path / "merged.ipynb")
    assert item_scores(record) == expected_scores(set()), [t.output for t in record.tests if t.item == "reward_training"]


def test_how_a_cell_was_found_reaches_the_feedback(grader, tmp_path):
    from autograder import report

    record = graded(grader, strip_metadata(alice(), ids=True), tmp_path / "stripped.ipynb")
    assert "found by its content" in report.markdown(record)


# ---------------------------------------------------------------------- structural fuzz
@dataclass
class Edited:
    name: str
    notebook: dict
    lost: set[str]  # the items this edit deserves to lose


def _code_indices(nb: dict, exclude=()) -> list[int]:
    return [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
            and not {grade_id(c), c.get("id"), c.get("metadata", {}).get(TAG)} & set(exclude)]


def _split(nb: dict, rng) -> tuple[dict, str]:
    """A code cell with several top-level statements cut in two between them."""
    import ast

    def statements(source: str) -> list:
        try:
            return ast.parse(source).body
        except (SyntaxError, ValueError):  # a cell an earlier edit broke is not split
            return []

    nb = copy.deepcopy(nb)
    candidates = [i for i in _code_indices(nb, RE_RUN) if len(statements(source_of(nb["cells"][i]))) > 1]
    index = rng.choice(candidates)
    cell = nb["cells"][index]
    source = source_of(cell)
    body = statements(source)
    cut = body[rng.randrange(1, len(body))].lineno - 1
    lines = source.splitlines(keepends=True)
    second = copy.deepcopy(cell)
    second.pop("id", None)
    second.get("metadata", {}).pop("nbgrader", None)
    cell["source"], second["source"] = "".join(lines[:cut]), "".join(lines[cut:])
    nb["cells"].insert(index + 1, second)
    return nb, f"split-{index}"


def _merge(nb: dict, rng) -> tuple[dict, str]:
    """Two neighbouring code cells, neither a re-run cell, joined into the first."""
    nb = copy.deepcopy(nb)
    code = _code_indices(nb, RE_RUN)
    pairs = [i for i in code if i + 1 in code]
    index = rng.choice(pairs)
    nb["cells"][index]["source"] = source_of(nb["cells"][index]).rstrip("\n") + "\n\n" + source_of(nb["cells"][index + 1])
    del nb["cells"][index + 1]
    return nb, f"merge-{index}"


def _insert(nb: dict, rng) -> tuple[dict, str]:
    nb = copy.deepcopy(nb)
    kind = rng.choice(["markdown", "raw", "code"])
    text = {"markdown": "My notes: this part was hard.", "raw": "raw text\x0bwith a vertical tab",
            "code": "print('checking my work')\n"}[kind]
    cell = {"cell_type": kind, "metadata": {}, "source": text}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    index = rng.randrange(len(nb["cells"]) + 1)
    nb["cells"].insert(index, cell)
    return nb, f"insert-{kind}-{index}"


def _delete_text(nb: dict, rng) -> tuple[dict, str]:
    nb = copy.deepcopy(nb)
    text = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown"
            and not (c.get("metadata", {}).get("nbgrader", {}).get("solution"))]
    index = rng.choice(text)
    del nb["cells"][index]
    return nb, f"delete-{index}"


def _move_text(nb: dict, rng) -> tuple[dict, str]:
    nb = copy.deepcopy(nb)
    text = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown"]
    cell = nb["cells"].pop(rng.choice(text))
    nb["cells"].insert(rng.randrange(len(nb["cells"]) + 1), cell)
    return nb, "move-text"


def _duplicate(nb: dict, rng) -> tuple[dict, str]:
    nb = copy.deepcopy(nb)
    index = rng.choice([index_of(nb, name) for name in DUPLICATED])
    nb["cells"].insert(index + 1, copy.deepcopy(nb["cells"][index]))
    return nb, f"duplicate-{index}"


def _strip_some(nb: dict, rng) -> tuple[dict, str]:
    nb = copy.deepcopy(nb)
    ids = rng.random() < 0.5
    for cell in nb["cells"]:
        if rng.random() < 0.6:
            cell.get("metadata", {}).pop("nbgrader", None)
            if ids:
                cell.pop("id", None)
    return nb, f"strip{'-ids' if ids else ''}"


def _rename(nb: dict, rng) -> tuple[dict, str]:
    return renamed_ids(nb, ids=rng.random() < 0.5), "older-release"


# A few cells for the edits that change the notebook's code (each other choice costs one more worker): the
# function cells that are destroyed, and the cells that are duplicated (the setup cell and two re-run cells).
DESTROYABLE = ["pad", "dpo_loss", "tokenize_row"]
DUPLICATED = ["setup", "pad", "dpo_training_loop", "ppo_training"]


def _destroy(nb: dict, rng) -> tuple[dict, str, set[str]]:
    """A graded cell that no longer runs: retyped as text, or holding a NUL byte."""
    name = rng.choice(DESTROYABLE + RE_RUN)
    how = rng.choice(["markdown", "raw", "nul"])
    edited = with_text(nb, name, nul_in_a_comment) if how == "nul" else retype(nb, name, how)
    return edited, f"{how}-{name}", held_by(name)


HARMLESS = [_split, _merge, _insert, _delete_text, _move_text, _strip_some, _rename]  # the code stays as it is


def tagged(nb: dict) -> dict:
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if grade_id(cell):
            cell["metadata"][TAG] = grade_id(cell)
    return nb


def structural_edits(seed: int = 11, count: int = 220) -> list[Edited]:
    """`count` seeded notebooks, each alice's with one to three edits, and the items each deserves to lose."""
    rng, base, found = random.Random(seed), tagged(alice()), []
    while len(found) < count:
        nb, names, lost, coded = base, [], set(), False  # at most one edit per notebook changes its code
        for _ in range(rng.randint(1, 3)):
            if not coded and rng.random() < 0.4:
                coded = True
                if rng.random() < 0.6:
                    nb, name, lost = _destroy(nb, rng)
                else:
                    nb, name = _duplicate(nb, rng)
            else:
                nb, name = rng.choice(HARMLESS)(nb, rng)
            names.append(name)
        found.append(Edited(f"{len(found):03d}-" + "+".join(names), nb, lost))
    return found


@pytest.fixture(scope="module")
def fuzzed(grader, tmp_path_factory):
    folder = tmp_path_factory.mktemp("structure")
    return [(edit, graded(grader, edit.notebook, folder / f"{edit.name[:80]}.ipynb")) for edit in structural_edits()]


def test_every_structural_edit_gets_the_score_it_deserves(fuzzed):
    wrong = [(edit.name, {k: v for k, v in item_scores(record).items() if expected_scores(edit.lost)[k] != v})
             for edit, record in fuzzed if item_scores(record) != expected_scores(edit.lost)]
    assert len(fuzzed) >= 200 and not wrong, wrong[:10]


def test_no_structural_edit_is_a_fault_of_the_grader(fuzzed):
    faults = [(edit.name, record.error) for edit, record in fuzzed if record.grader_fault or record.error]
    assert not faults, faults[:10]


def test_every_edit_that_costs_points_says_why_on_the_lost_lines(fuzzed):
    silent = [(edit.name, t.name) for edit, record in fuzzed for t in record.tests
              if t.item in edit.lost and not t.output.strip()]
    assert not silent, silent[:10]


def test_the_fuzz_is_the_same_for_every_run():
    assert [e.name for e in structural_edits()] == [e.name for e in structural_edits()]
