"""Any file a student submits gets a record with a reason, and the batch goes on.

A few hundred broken versions of a real submission (every field of it with another type or value,
random bytes, other encodings, lone surrogates, huge outputs, JSON of other shapes) are graded in one
batch: each gets a record that reads back exactly, none is a grader fault, and the batch finishes.
Then the cases named in the issues one by one: a lone surrogate, an nbformat-3 notebook whose cells are
not a list, nbformat 1 and 2 layouts, UTF-16 files.

The base submission is alice's without its three re-run cells, so that the batch costs function
workers only, and only where the code itself changed (the grader does not grade the same code twice).
"""
from __future__ import annotations

import copy
import json
import random

import pytest

from autograder import paths
from autograder.grade import grade_all
from autograder.config import GradeConfig, Limits
from autograder.notebook import parse_notebook
from autograder.results import GradeRecord
from submissions import build

pytestmark = pytest.mark.slow  # grades a batch of malformed notebooks

RE_RUN_CELLS = ("dpo_training_loop", "reward_training", "ppo_training")
ODD_VALUES = (None, 0, -7, 2.5, True, "", "text", [], {}, [1, "a", None, {}], {"a": [1]}, "\ud83d broken",
              ["line\n", 3, None], {"nbgrader": "not a dict"}, 10**30)


def base_notebook() -> dict:
    nb = json.loads((paths.EXAMPLE_SUBMISSIONS / "alice.ipynb").read_text(encoding="utf-8"))
    nb["cells"] = [c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") not in RE_RUN_CELLS]
    return nb


def _fields(value, where=()) -> list[tuple]:
    """Every path into a JSON value (long strings and arrays of text are not walked into)."""
    found = [where]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _fields(inner, where + (key,))
    elif isinstance(value, list) and not all(isinstance(v, str) for v in value):
        for index, inner in enumerate(value):
            found += _fields(inner, where + (index,))
    return found


def _replaced(data, where: tuple, value):
    data = copy.deepcopy(data)
    if not where:
        return value
    target = data
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = value
    return data


def broken_files(seed: int = 7, count: int = 300) -> list[tuple[str, bytes]]:
    """(name, bytes) of `count` broken versions of the base submission, the same for every run."""
    rng, base = random.Random(seed), base_notebook()
    text = json.dumps(base)
    fields = _fields(base)
    code_sources = [f for f in fields if len(f) == 3 and f[0] == "cells" and f[2] == "source"
                    and base["cells"][f[1]]["cell_type"] == "code"]
    other = [f for f in fields if f not in code_sources]
    files = [
        ("random-bytes", bytes(rng.getrandbits(8) for _ in range(4000))),
        ("empty", b""),
        ("utf16-bom", text.encode("utf-16")),
        ("utf16-no-bom", text.encode("utf-16-le")),
        ("utf32", text.encode("utf-32")),
        ("latin1-bytes", text.replace("basil", "basïl").encode("latin-1", errors="replace")),
        ("bom", b"\xef\xbb\xbf" + text.encode()),
        ("a-list", b"[1, 2, 3]"),
        ("a-number", b"42"),
        ("null", b"null"),
        ("deep", b"[" * 100_000 + b"]" * 100_000),
        ("truncated", text.encode()[: len(text) // 2]),
        ("huge-output", json.dumps(_replaced(base, ("cells", 3, "outputs"),
                                             [{"output_type": "stream", "name": "stdout", "text": "x" * 9_000_000}])).encode()),
        ("huge-figure", json.dumps(_replaced(base, ("cells", 3, "outputs"),
                                             [{"output_type": "display_data", "data": {"image/png": "A" * 4_000_000}}])).encode()),
        ("surrogates-everywhere", text.replace("the", "the\\ud83d").encode()),
    ]
    for where in rng.sample(code_sources, 8):  # a few changed codes: each costs a worker
        files.append((f"code-{where[1]}", json.dumps(_replaced(base, where, rng.choice(ODD_VALUES))).encode()))
    while len(files) < count:
        where, value = rng.choice(other), rng.choice(ODD_VALUES)
        files.append(("field-" + "-".join(map(str, where))[:60], json.dumps(_replaced(base, where, value)).encode()))
    return [(f"{index:03d}-{name}", data) for index, (name, data) in enumerate(files)]


@pytest.fixture(scope="module")
def batch(tmp_path_factory, kit_assets):
    inputs, out = tmp_path_factory.mktemp("broken"), tmp_path_factory.mktemp("broken-grades")
    files = broken_files()
    for name, data in files:
        (inputs / f"{name}.ipynb").write_bytes(data)
    config = GradeConfig(out_dir=str(out), jobs=2, gradebook_db=None, limits=Limits(timeout_s=60))
    return files, out, {r.student: r for r in grade_all([str(inputs)], config)}


def test_every_broken_file_gets_a_record_and_the_batch_finishes(batch):
    files, out, results = batch
    assert len(files) >= 300 and len(results) == len(files)
    missing = [name for name, _ in files if not (out / name / "record.json").is_file()]
    assert not missing, f"no record for {missing[:10]}"
    assert len((out / "gradebook.csv").read_text(encoding="utf-8").splitlines()) == len(files) + 1


def test_no_broken_file_is_a_fault_of_the_grader(batch):
    faults = {name: r.error for name, r in batch[2].items() if r.grader_fault}
    assert not faults, faults


def test_every_record_gives_a_reason_and_reads_back_exactly(batch):
    _, out, results = batch
    for name, result in results.items():
        text = (out / name / "record.json").read_text(encoding="utf-8")
        assert GradeRecord.from_record(json.loads(text)).to_record() == json.loads(text), name
        assert result.error or all(t.output.strip() for t in result.tests), name
        for export in ("feedback.md", "feedback.html", "results.json"):
            assert (out / name / export).is_file(), f"{name}: no {export}"


def test_unreadable_files_say_what_to_do(batch):
    results = batch[2]
    for name, expected in (("000-random-bytes", "not valid JSON"), ("001-empty", "not valid JSON"),
                           ("007-a-list", "not a JSON object"), ("010-deep", "nested too deeply")):
        assert results[name].error and expected in results[name].error, (name, results[name].error)
        assert "re-save it from Jupyter" in results[name].error


def test_other_encodings_are_read_as_the_notebook_they_are(batch):
    results = batch[2]
    reference = results["006-bom"].score
    assert reference > 0
    for name in ("002-utf16-bom", "003-utf16-no-bom", "004-utf32"):
        assert results[name].error is None and results[name].score == reference, (name, results[name].error)


# ---------------------------------------------------------------------- the cases the issue names
def _write(tmp_path, name: str, data) -> str:
    path = tmp_path / f"{name}.ipynb"
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return str(path)


def test_a_lone_surrogate_costs_nothing_and_is_stored_as_a_replacement(tmp_path, kit_assets):
    nb = base_notebook()
    answer = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "truncation_answer")
    answer["source"] = ["An answer with a broken emoji: \ud83d (the rest is fine)"]
    nb["metadata"]["\udc00key"] = "\ud800"
    inputs = tmp_path / "in"
    inputs.mkdir()
    _write(inputs, "zoe", nb)
    out = tmp_path / "out"
    [result] = grade_all([str(inputs)], GradeConfig(out_dir=str(out), jobs=1, gradebook_db=None))
    assert not result.grader_fault and result.error is None and result.score > 0
    stored = (out / "zoe" / "record.json").read_text(encoding="utf-8")
    assert "\ufffd (the rest is fine)" in stored and "\\ud83d" not in stored
    assert "\ufffd (the rest is fine)" in (out / "zoe" / "feedback.md").read_text(encoding="utf-8")
    assert any("lone surrogates" in w for w in result.warnings)


def test_nbformat_3_whose_cells_are_not_a_list_is_the_students_to_fix(tmp_path):
    parsed = parse_notebook(_write(tmp_path, "v3", {"nbformat": 3, "worksheets": [{"cells": 7}]}))
    assert parsed.error and "cells are not a list" in parsed.error and "re-save it from Jupyter" in parsed.error


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_nbformat_1_and_2_layouts_are_read(layout, tmp_path, grader):
    nb = build.solution_notebook()
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            cells.append({"cell_type": "code", "code" if layout == "v1" else "input": cell.source,
                          "metadata": dict(cell.metadata)})
        else:
            cells.append({"cell_type": "text" if layout == "v1" else "markdown", "source": cell.source})
    data = {"nbformat": 1, "cells": cells} if layout == "v1" else {"nbformat": 2, "worksheets": [{"cells": cells}]}
    parsed = parse_notebook(_write(tmp_path, layout, data))
    assert parsed.error is None and parsed.cell("dpo_training_loop"), parsed.error
    results = {r.name: r for r in grader.grade_functions(parsed, ["pad", "dpo_loss"])}
    assert all(r.score == r.max_score for r in results.values()), {n: r.output for n, r in results.items()}
