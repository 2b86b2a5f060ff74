"""Shared test setup: offline, quiet, and the assets the suite needs."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

FAST = os.environ.get("KIT_FAST_TESTS") == "1"  # `make test-fast`: no grading worker, no model


@pytest.fixture(autouse=True)
def _fast_tests_start_no_worker_and_load_no_model(monkeypatch):
    """Under `make test-fast`, a test that starts a grading worker or builds the models fails and says to
    mark it slow, so the fast set stays fast."""
    if not FAST:
        return

    def refuse(*args, **kwargs):
        raise RuntimeError("this test starts a grading worker or loads a model: mark it slow (pytest.mark.slow)")

    from alignment_kit import assets
    from autograder import worker

    monkeypatch.setattr(worker, "run_job", refuse)
    monkeypatch.setattr(worker, "zygote", refuse)
    monkeypatch.setattr(assets, "ensure_assets", refuse)


@pytest.fixture(scope="session")
def kit_assets():
    """The offline checkpoints (built by `make test` before pytest starts; verified here)."""
    from alignment_kit import assets

    return assets.ensure_assets()


@pytest.fixture(scope="session")
def grader(kit_assets):
    """One grader for the whole run, so reference outputs are computed once."""
    from autograder.grade_notebook import Grader

    return Grader()


@pytest.fixture(scope="session")
def graded_examples(tmp_path_factory, kit_assets):
    """The example submissions (and a second copy of alice) graded by the CLI, in a run that is killed
    once the first student is written and then resumed: (out, inputs, survivors, config, results)."""
    import shutil

    from autograder import paths
    from autograder.config import GradeConfig, Limits
    from autograder.grade import grade_all
    from submissions.batches import start_and_kill

    out = tmp_path_factory.mktemp("grades")
    inputs = tmp_path_factory.mktemp("inputs")
    for notebook in paths.EXAMPLE_SUBMISSIONS.glob("*.ipynb"):
        shutil.copy(notebook, inputs / notebook.name)
    shutil.copy(paths.EXAMPLE_SUBMISSIONS / "alice.ipynb", inputs / "alice_again.ipynb")
    survivors = start_and_kill(inputs, out)
    config = GradeConfig(out_dir=str(out), jobs=2, gradebook_db=f"sqlite:///{out / 'gradebook.db'}",
                         limits=Limits(timeout_s=300))
    results = grade_all([str(inputs)], config)
    return out, inputs, survivors, config, {r.student: r for r in results}


@pytest.fixture(scope="session")
def solution_run(tmp_path_factory, kit_assets):
    """The solution notebook executed once in the smoke profile: (folder it ran in, executed notebook)."""
    import nbformat

    from autograder import paths
    from autograder.demo import run_notebook

    folder = tmp_path_factory.mktemp("solution-run")
    return folder, nbformat.read(run_notebook(paths.SOLUTION_NOTEBOOK, folder), as_version=4)


@pytest.fixture(params=["full", "fallback"])
def mode(request, monkeypatch, kit_assets):
    """Run a test once in each sandbox mode this machine offers (the fallback is what runs where namespaces
    are refused, as in Gradescope's containers)."""
    from autograder import worker

    if request.param == "full" and not worker.sandbox().namespaces:
        pytest.skip("needs root and a working `unshare`")
    if request.param == "fallback":
        monkeypatch.setenv("KIT_SANDBOX", "fallback")
    worker.sandbox.cache_clear()
    yield request.param
    monkeypatch.delenv("KIT_SANDBOX", raising=False)
    worker.sandbox.cache_clear()
