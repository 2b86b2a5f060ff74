"""The public checks of the re-run cells catch the loop and PPO mistakes, with the grader's messages.

One kernel runs the student notebook with the reference answers filled in, up to the training
loop. Then, for each mistake, the setup cell is run again (fresh models), the loop cell is replaced
by a mistaken one, and the public check cell must fail, naming the mistake as the grader does. The
same is done for the PPO cell after the reward model is trained.
"""
from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from autograder import paths
from autograder.generate import strip_markers
from autograder.checks.loop_mistakes import MISTAKES, loop_source
from submissions import build

pytestmark = pytest.mark.slow  # runs the public cell checks with the tiny models

LOOP_MISTAKES = ["prompt_in_mask", "truncates_left", "reference_with_gradients", "no_zero_grad", "no_optimizer_step"]


def _index(notebook, grade_id: str) -> int:
    return next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _ppo_source(old: str, new: str) -> str:
    """The PPO cell with one change; it first takes back the trained reward model (a case may rebind it)."""
    source = build.source("ppo_training")
    assert old in source, f"the reference ppo_training cell changed: {old!r} not found"
    return "reward_model = reward_trainer.model\n" + strip_markers(source.replace(old, new))


PPO_MISTAKES = {
    "the value model is the reward model": (
        _ppo_source("value_model=value_model)", "value_model=reward_model)"), "value_model must be its own"),
    "an untrained reward model reloaded in the PPO cell": (
        _ppo_source("ppo_policy = AutoModelForCausalLM",
                    "reward_model = AutoModelForSequenceClassification.from_pretrained(settings.model_path, num_labels=1)\n"
                    "reward_model.config.pad_token_id = tokenizer.pad_token_id\nppo_policy = AutoModelForCausalLM"),
        "reward_model must be the reward model trained above"),
    "a value model without pad_token_id": (
        _ppo_source("value_model.config.pad_token_id = tokenizer.pad_token_id\n", ""), "config.pad_token_id set"),
}


@pytest.fixture(scope="module")
def kernel(tmp_path_factory, kit_assets):
    """(run, notebook): run(index, source) executes one cell in a kernel that ran the filled notebook so far."""
    student = nbformat.read(paths.STUDENT_NOTEBOOK, as_version=4)
    notebook = build.filled_student_notebook(student)
    workdir = tmp_path_factory.mktemp("public-cells")
    os.environ.update(KIT_PROFILE="smoke", HF_HUB_OFFLINE="1", MPLBACKEND="Agg")
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}})
    with client.setup_kernel():
        def run(index: int, source: str | None = None):
            cell = notebook.cells[index]
            if source is not None:
                cell.source = source
            cell.outputs = []
            return client.execute_cell(cell, index)

        for index in range(_index(notebook, "dpo_training_loop")):
            run(index)
        yield run, notebook


def _public_failure(run, notebook, check_id: str) -> str:
    with pytest.raises(CellExecutionError) as caught:
        run(_index(notebook, check_id))
    return str(caught.value)


@pytest.mark.parametrize("mistake", LOOP_MISTAKES)
def test_the_public_loop_check_names_each_loop_mistake(kernel, mistake):
    run, notebook = kernel
    message, switches, _ = MISTAKES[mistake]
    run(_index(notebook, "dpo_setup"))
    run(_index(notebook, "dpo_training_loop"), loop_source(**switches))
    failure = _public_failure(run, notebook, "test_dpo_training_loop")
    assert message in failure, f"{mistake}: the public check does not give the grader's message:\n{failure[-2500:]}"


def test_the_public_loop_check_passes_the_reference_loop(kernel):
    run, notebook = kernel
    run(_index(notebook, "dpo_setup"))
    run(_index(notebook, "dpo_training_loop"), loop_source())
    output = run(_index(notebook, "test_dpo_training_loop")).outputs
    text = "".join(o.get("text", "") for o in output)
    assert "✗" not in text and text.count("✓") == 5, text


@pytest.fixture(scope="module")
def trained_reward(kernel):
    run, notebook = kernel
    for grade_id in ("dpo_setup", "dpo_training_loop"):
        run(_index(notebook, grade_id))
    for index in range(_index(notebook, "dpo_training_loop") + 1, _index(notebook, "ppo_training")):
        run(index)
    return run, notebook


@pytest.mark.parametrize("mistake", PPO_MISTAKES)
def test_the_public_ppo_check_names_each_ppo_mistake(trained_reward, mistake):
    run, notebook = trained_reward
    source, message = PPO_MISTAKES[mistake]
    run(_index(notebook, "ppo_training"), source)
    failure = _public_failure(run, notebook, "test_ppo_training")
    assert message in failure, f"{mistake}:\n{failure[-2500:]}"
