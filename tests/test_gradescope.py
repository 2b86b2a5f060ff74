"""The Gradescope autograder, end to end without Gradescope: its zip is unpacked into a temporary
root laid out like /autograder, setup.sh installs offline (reusing the packages installed here), and
run_autograder grades several submissions. Every results.json must follow Gradescope's spec."""
from __future__ import annotations

import json
import os
import shutil
import site
import stat
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest

from alignment_kit import items
from autograder import paths
from autograder.gradescope import MAX_TEST_NAME, VISIBILITIES, GradescopeConfig, build
from submissions import build as notebooks

pytestmark = pytest.mark.slow  # builds and runs the Gradescope autograder

STATUSES = ("passed", "failed")
OUTPUT_FORMATS = ("text", "html", "simple_format", "md", "ansi")


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory, kit_assets):
    folder = tmp_path_factory.mktemp("zip")
    return build(GradescopeConfig(out=str(folder / "autograder.zip"), part_visibility={"data_prep": "visible"}))


@pytest.fixture(scope="module")
def gradescope_root(autograder_zip, tmp_path_factory, kit_assets):
    """A /autograder layout after setup.sh. What this session already computed (the converted models, and
    the reference outputs of this same grader version, if graded already) is copied in first, so setup.sh
    verifies it instead of computing it again; test_assets.py rebuilds a model cache from nothing."""
    from autograder.grade_notebook import grader_version

    root = tmp_path_factory.mktemp("autograder")
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):  # zipfile does not restore permissions
        os.chmod(root / "source" / name, 0o755)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    for folder in kit_assets.values():
        shutil.copytree(folder, root / "models" / folder.name)
    computed = paths.grader_cache() / "reference" / f"{grader_version()}.json"
    if computed.is_file():
        (root / "grader-cache" / "reference").mkdir(parents=True)
        shutil.copy(computed, root / "grader-cache" / "reference" / computed.name)
    env = dict(os.environ, KIT_GRADESCOPE_ROOT=str(root), KIT_REUSE_SITE_PACKAGES=site.getsitepackages()[0])
    done = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "reference outputs computed" in done.stdout and "embedded model verified" in done.stdout, done.stdout
    return root


def run_autograder(root: Path, files: dict[str, bytes], **env) -> tuple[dict, str]:
    submission = root / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    submission.mkdir()
    for name, data in files.items():
        (submission / name).parent.mkdir(parents=True, exist_ok=True)
        (submission / name).write_bytes(data)
    done = subprocess.run(["bash", str(root / "run_autograder")], capture_output=True, text=True,
                          env=dict(os.environ, KIT_GRADESCOPE_ROOT=str(root), **env), timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((root / "results" / "results.json").read_text()), done.stdout


def follows_the_spec(data: dict) -> None:
    assert isinstance(data["score"], (int, float)) and isinstance(data["tests"], list)
    assert data.get("output_format", "text") in OUTPUT_FORMATS
    assert data.get("visibility", "visible") in VISIBILITIES and data.get("stdout_visibility", "hidden") in VISIBILITIES
    for test in data["tests"]:
        assert isinstance(test["name"], str) and 0 < len(test["name"]) <= MAX_TEST_NAME, test["name"]
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
        assert 0 <= test["score"] <= test["max_score"] + 1e-9, test
        assert test["status"] in STATUSES and test["visibility"] in VISIBILITIES, test
        assert isinstance(test.get("output", ""), str) and test.get("output_format", "text") in OUTPUT_FORMATS
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"])), "scores must sum to the total"


def test_the_zip_has_setup_and_run_at_its_root(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    for name in ("setup.sh", "run_autograder", "gradescope.json", "constraints.txt",
                 "solutions/dpo_homework/dpo_homework.ipynb", "autograder/grade.py"):
        assert name in names, name
    assert any(n.startswith("alignment_kit-") and n.endswith(".whl") for n in names)
    assert all(modes[n] & stat.S_IXUSR for n in ("setup.sh", "run_autograder"))
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]


def test_the_reference_gets_every_autograded_point(gradescope_root):
    data, stdout = run_autograder(gradescope_root, {"hw.ipynb": (paths.EXAMPLE_SUBMISSIONS / "alice.ipynb").read_bytes()})
    follows_the_spec(data)
    assert data["score"] == pytest.approx(notebooks.EXAMPLE_TOTALS["alice"]), stdout
    assert data["tests"][0]["visibility"] == "visible" and "hw.ipynb" in data["tests"][0]["output"]
    parts = {t["tags"][0]: t["visibility"] for t in data["tests"][1:]}
    assert parts["data_prep"] == "visible" and parts["dpo_loss"] == "after_due_date"
    assert str(notebooks.EXAMPLE_TOTALS["alice"]) not in data["output"], "the overall output must not show the score before the tests are shown"
    assert "sandbox:" in stdout, "stdout (for instructors) says how student code was isolated"


def test_a_russian_edition_notebook_gets_its_results_in_russian(gradescope_root, tmp_path):
    boris = notebooks.functions_only(nbformat.read(paths.EXAMPLE_SUBMISSIONS / "boris.ipynb", as_version=4))
    data, _ = run_autograder(gradescope_root, {"hw.ipynb": notebooks.write(boris, tmp_path / "b.ipynb").read_bytes()})
    follows_the_spec(data)
    tests = {t["name"]: t for t in data["tests"]}
    assert tests["pad"]["score"] == pytest.approx(0.15) and tests["dpo_loss"]["score"] == 1.0
    assert "Проверен `hw.ipynb`" in tests["submission"]["output"] and "после срока сдачи" in data["output"]
    assert "нет сдвига на один токен" in tests["get_log_prob"]["output"]


@pytest.mark.parametrize("files, reason", [
    ({"hw.ipynb": (b'{"cells": [ oops')}, "not valid JSON"),
    ({"notes.txt": b"I forgot the notebook"}, "no notebook"),
    ({"a.ipynb": b"{}", "b/b.ipynb": b"{}"}, "2 notebooks were submitted"),
], ids=["invalid-json", "missing", "several"])
def test_an_ungradable_submission_gets_a_clear_zero(gradescope_root, files, reason):
    data, _ = run_autograder(gradescope_root, files)
    follows_the_spec(data)
    assert data["score"] == 0 and reason in data["tests"][0]["output"] and data["tests"][0]["visibility"] == "visible"


def test_a_flawed_submission_that_kills_its_worker_names_its_mistakes_and_loses_only_those(gradescope_root, tmp_path):
    """bob's notebook (no one-token shift, pad ignores its side) with a dpo_loss that kills its worker."""
    bob = nbformat.read(paths.EXAMPLE_SUBMISSIONS / "bob.ipynb", as_version=4)
    killer = notebooks.with_cell("dpo_loss", "def dpo_loss(*args, **kwargs):\n    import os, signal\n"
                                             "    os.kill(os.getpid(), signal.SIGKILL)\n", bob)
    data, _ = run_autograder(gradescope_root, {"killer.ipynb": notebooks.write(killer, tmp_path / "k.ipynb").read_bytes()})
    follows_the_spec(data)
    tests = {t["name"]: t for t in data["tests"]}
    assert tests["get_log_prob"]["score"] == 0 and "one-token shift" in tests["get_log_prob"]["output"]
    assert tests["get_log_prob"]["status"] == "failed"
    assert tests["dpo_loss"]["score"] == 0 and "killed" in tests["dpo_loss"]["output"], tests["dpo_loss"]
    lost = tests["dpo_loss"]["max_score"] + tests["weighted_dpo_loss"]["max_score"]  # both call the killed dpo_loss
    assert data["score"] == pytest.approx(notebooks.EXAMPLE_TOTALS["bob"] - lost)


def test_without_namespaces_the_grade_is_the_same_and_stdout_says_so(gradescope_root, tmp_path):
    """bob's graded functions (his re-run cells left out, to keep it quick), in the fallback sandbox."""
    bob = notebooks.functions_only(nbformat.read(paths.EXAMPLE_SUBMISSIONS / "bob.ipynb", as_version=4))
    data, stdout = run_autograder(gradescope_root, {"hw.ipynb": notebooks.write(bob, tmp_path / "b.ipynb").read_bytes()},
                                  KIT_SANDBOX="fallback")
    follows_the_spec(data)
    cells = sum(i.points for i in items.items_of(items.CELL))  # bob's loop, reward and PPO cells are not there
    assert data["score"] == pytest.approx(notebooks.EXAMPLE_TOTALS["bob"] - cells)
    assert "sandbox: reduced" in stdout


def test_a_grader_crash_still_leaves_a_flagged_zero(gradescope_root):
    data, _ = run_autograder(gradescope_root, {"hw.ipynb": b"{}"}, KIT_SANDBOX="nonsense")
    follows_the_spec(data)
    assert data["score"] == 0 and data["extra_data"]["grader_fault"] is True
