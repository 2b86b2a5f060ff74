"""The RLOO edition of part 5 (`--track rloo`, TRL 1.16): its release, its runtime on current TRL, its grading.

The RLOO cell runs in the RLOO grading environment (`autograder/rloo_env.py`, built once in the grader
cache). Each named mistake of `autograder/items/rloo_training.py` must lose its own line and keep the
others; the accepted variations (another learning rate or batch size, a deep copy for the reference)
keep full marks. `pytest -k rloo` runs them all.
"""
import json
import subprocess
import textwrap

import nbformat
import pytest

from alignment_kit import items, rloo_judge, stack
from alignment_kit import paths as runtime_paths
from autograder import checks, editions, paths, rloo_env
from autograder.items.rloo_training import MISTAKES
from autograder.notebook import parse_notebook
from tests.submissions import build

CHECK = checks.cell_check("rloo_training")
FULL = round(sum(points for _, points in rloo_judge.LINES), 4)
LINE_POINTS = dict(rloo_judge.LINES)
VARIANTS = {  # accepted ways of writing the cell: full marks
    "another learning rate and batch size": (
        "RLOO_LEARNING_RATE = settings.rloo_learning_rate\nRLOO_BATCH_SIZE = settings.rloo_batch_size",
        "RLOO_LEARNING_RATE = 3e-5\nRLOO_BATCH_SIZE = 8"),
    "a deep copy for the reference": ("rloo_trainer.train()",
                                      "rloo_trainer.ref_model = copy.deepcopy(rloo_trainer.model)\nrloo_trainer.train()"),
    "the trainer's arguments in another order": ("    model=rloo_policy,\n    reward_funcs=reward_model,\n",
                                                  "    reward_funcs=reward_model,\n    model=rloo_policy,\n"),
}


def _rloo_notebook(tmp_path, edit: tuple[str, str] | None = None, name: str = "rloo.ipynb"):
    notebook = build.solution_notebook("rloo")
    if edit is not None:
        cell = notebook.cells[build.cell_index(notebook, "rloo_training")]
        assert edit[0] in cell.source, f"the reference cell no longer holds {edit[0]!r}"
        cell.source = cell.source.replace(*edit)
    return build.write(notebook, tmp_path / name)


def _rloo_lines(grader, path):
    lines, _ = grader._cell_lines(parse_notebook(path), CHECK)
    return {line.name.split(": ", 1)[1]: line for line in lines}


@pytest.mark.slow
def test_rloo_reference_gets_full_marks(grader, tmp_path):
    lines = _rloo_lines(grader, _rloo_notebook(tmp_path))
    assert sum(line.score for line in lines.values()) == pytest.approx(FULL), lines


@pytest.mark.slow
@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_rloo_mistake_loses_only_its_own_line(grader, tmp_path, mistake):
    old, new, costs = MISTAKES[mistake]
    lines = _rloo_lines(grader, _rloo_notebook(tmp_path, (old, new)))
    lost = {name for name, line in lines.items() if line.score < line.max_score}
    if mistake == "never_trained":  # nothing was trained: the grader has no run to read any aspect off
        assert lost == set(LINE_POINTS) and "train() never ran" in lines[costs].output, lines
        return
    assert lost == {costs}, f"{mistake} should cost only {costs!r}; it cost {lost}:\n" + \
        "\n".join(f"{n}: {line.output}" for n, line in lines.items())
    assert lines[costs].score == 0 and lines[costs].output != "ok"


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rloo_accepted_variant_keeps_full_marks(grader, tmp_path, variant):
    lines = _rloo_lines(grader, _rloo_notebook(tmp_path, VARIANTS[variant]))
    assert sum(line.score for line in lines.values()) == pytest.approx(FULL), \
        "\n".join(f"{n}: {line.output}" for n, line in lines.items())


@pytest.mark.slow
def test_rloo_notebook_without_metadata_is_graded_as_its_edition(grader, tmp_path):
    """Found by its code (RLOOTrainer), graded with the edition's items and totals."""
    notebook = build.functions_only(build.solution_notebook("rloo"), "rloo")
    notebook.cells[build.cell_index(notebook, "rloo_training")].source = build.source("rloo_training", "rloo")
    for cell in notebook.cells:
        cell.metadata = {}
    notebook.metadata.pop("alignment_kit", None)
    result = grader.grade(build.write(notebook, tmp_path / "stripped.ipynb"), "stripped")
    assert result.track == "rloo" and result.maximum == pytest.approx(items.autograded_maximum("rloo"))
    assert {t.item for t in result.tests} == {i.name for i in items.edition_items("rloo")}
    rloo = [t for t in result.tests if t.item == "rloo_training" and t.max_score]
    assert sum(t.score for t in rloo) == pytest.approx(FULL), [(t.name, t.output) for t in rloo]
    maximum = items.autograded_maximum("rloo")
    assert f" / {maximum:.2f} autograded" in result.summary() and maximum != items.autograded_maximum("ppo")


def test_rloo_stack_on_the_ppo_trl_names_the_fix():
    with pytest.raises(stack.StackError, match='pip install "trl>=1.16"'):
        stack.rloo_classes()


def test_rloo_and_ppo_editions_share_every_other_item_cell():
    source = json.loads(paths.SOLUTION_NOTEBOOK.read_text())
    ppo, rloo = (editions.of_track(source, t)["cells"] for t in ("ppo", "rloo"))
    shared = {i.grade_id for i in items.ALL_ITEMS if not i.track} | {i.callable_name for i in items.ALL_ITEMS
                                                                       if not i.track and i.kind == items.FUNCTION}
    by_id = lambda cells: {c["metadata"].get("nbgrader", {}).get("grade_id"): c["source"] for c in cells}
    assert {k: v for k, v in by_id(ppo).items() if k in shared} == {k: v for k, v in by_id(rloo).items() if k in shared}


@pytest.mark.slow
@pytest.mark.parametrize("language", ["ru"])  # the editions combine: --track rloo --lang ru
def test_rloo_release_holds_only_its_part_5(tmp_path, language):
    from autograder.release import ReleaseConfig, build as release

    written, report = release(ReleaseConfig(out_dir=str(tmp_path), track="rloo", language=language))
    assert not report.leaks
    notebook = json.loads((tmp_path / paths.STUDENT_NOTEBOOK.name).read_text())
    text = "\n".join("".join(c["source"]) for c in notebook["cells"])
    assert notebook["metadata"]["alignment_kit"] == {"language": language, "track": "rloo"}
    assert "RLOOTrainer" in text and "PPOTrainer" not in text and "ppo_trainer" not in text
    assert 'KIT_EDITION = "rloo"' in text and "alignment-kit[{KIT_EDITION}]" in text
    grade_ids = {c["metadata"].get("nbgrader", {}).get("grade_id") for c in notebook["cells"]}
    assert {"test_rloo_training", "rloo_baseline_answer"} <= grade_ids and "test_ppo_training" not in grade_ids
    readme = (tmp_path / "README.md").read_text()
    assert "rloo" in readme


@pytest.mark.slow
def test_rloo_student_notebook_stops_at_the_first_todo_on_trl_1_16(tmp_path, kit_assets):
    """The RLOO edition's student notebook in a kernel of the RLOO environment (TRL 1.16)."""
    script = textwrap.dedent('''
        import sys, nbformat, trl
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError
        notebook = nbformat.read(sys.argv[1], as_version=4)
        try:
            NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
            print("RAN TO THE END")
        except CellExecutionError as error:
            print("STOPPED", trl.__version__, str(error)[-800:])
    ''')
    done = subprocess.run([rloo_env.python(), "-c", script, str(paths.student_notebook("en", "rloo"))], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                                                           "KIT_PROFILE": "smoke", "HF_HUB_OFFLINE": "1",
                                                                           "KIT_CACHE_DIR": str(runtime_paths.cache_dir())})
    assert "STOPPED 1.16" in done.stdout and "TODO in `apply_chat_template`" in done.stdout, done.stdout + done.stderr


PUBLIC_CHECK = """
import os, types
from datasets import Dataset
from transformers import AutoModelForCausalLM
from alignment_kit import assets, selfcheck
from alignment_kit.settings import HomeworkSettings
from alignment_kit.stack import rloo_classes
from alignment_kit.probes import kit_tokenizer
from alignment_kit.tiny import make_tiny_reward_model
RLOOConfig, RLOOTrainer = rloo_classes()
path = str(assets.ensure_tiny_model(verbose=False))
tok = kit_tokenizer()
rm = make_tiny_reward_model(tok, seed=1); rm.config.pad_token_id = tok.pad_token_id
settings = HomeworkSettings(profile="smoke", model_path=path, dataset="", output_dir="{out}")
prompts = Dataset.from_list([{"prompt": [{"role": "user", "content": f"hi {i}"}]} for i in range(16)])
reward_trainer = types.SimpleNamespace(state=types.SimpleNamespace(global_step=1), model=rm)
for mode in ("ok", "ref_is_policy"):
    cfg = RLOOConfig(output_dir="{out}", per_device_train_batch_size=settings.rloo_batch_size, max_steps=settings.rloo_steps,
                     num_generations=settings.rloo_generations, max_completion_length=settings.max_new_tokens, beta=settings.rloo_beta,
                     report_to="none", save_strategy="no", disable_tqdm=True, **settings.trl_precision())
    tr = RLOOTrainer(model=AutoModelForCausalLM.from_pretrained(path), reward_funcs=rm, args=cfg, train_dataset=prompts,
                     processing_class=tok, reward_processing_classes=tok)
    if mode == "ref_is_policy": tr.ref_model = tr.model
    tr.train()
    try:
        selfcheck.check_rloo_training(tr, reward_trainer, settings, prompts)
    except Exception as e:
        print("RAISED", type(e).__name__, str(e)[:300])
"""


@pytest.mark.slow
def test_rloo_public_check_passes_on_a_right_run_and_names_a_wrong_reference(tmp_path, kit_assets):
    """The notebook's own check, on TRL 1.16 with the tiny model: a right trainer, then one whose reference is
    the policy itself."""
    done = subprocess.run([rloo_env.python(), "-c", PUBLIC_CHECK.replace("{out}", str(tmp_path))], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)
    checks_printed = [line for line in done.stdout.splitlines() if line.startswith(("✓", "✗"))]
    assert len(checks_printed) == 2 * len(rloo_judge.LINES), done.stdout[-3000:] + done.stderr[-3000:]
    first, second = checks_printed[:len(rloo_judge.LINES)], checks_printed[len(rloo_judge.LINES):]
    assert all(line.startswith("✓") for line in first), first
    assert [line for line in second if line.startswith("✗")] == [next(line for line in second if "reference" in line
                                                                        and line.startswith("✗"))], second
    assert "RAISED SelfCheckFailed" in done.stdout


def test_rloo_gradescope_zip_records_the_edition(tmp_path):
    import zipfile

    from autograder.gradescope import GradescopeConfig, build as gradescope_zip

    with pytest.raises(ValueError, match="ppo, rloo"):
        GradescopeConfig(track="grpo")
    with zipfile.ZipFile(gradescope_zip(GradescopeConfig(out=str(tmp_path / "a.zip"), track="rloo"))) as archive:
        assert json.loads(archive.read("gradescope.json"))["track"] == "rloo"
        assert "constraints-rloo.txt" in archive.namelist()
        assert "autograder/rloo_env.py" in archive.namelist()


@pytest.mark.slow
def test_rloo_scores_go_into_an_nbgrader_course_gradebook(tmp_path, kit_assets):
    """`grade COURSE` on an RLOO edition's submission: the course's gradebook gets the RLOO edition's cells."""
    from nbgrader.api import Gradebook

    from autograder import grade
    from autograder.config import GradeConfig

    notebook = build.functions_only(build.solution_notebook("rloo"), "rloo")
    notebook.cells[build.cell_index(notebook, "rloo_training")].source = build.source("rloo_training", "rloo")
    notebook.metadata["alignment_kit"] = {"language": "en", "track": "rloo"}
    submitted = tmp_path / "course" / "submitted" / "rita" / paths.ASSIGNMENT
    submitted.mkdir(parents=True)
    build.write(notebook, submitted / f"{paths.ASSIGNMENT}.ipynb")
    assert grade.main(GradeConfig(paths=[str(tmp_path / "course")], out_dir=str(tmp_path / "out"), jobs=1)) == 0
    with Gradebook(f"sqlite:///{tmp_path / 'course' / 'gradebook.db'}") as gradebook:
        assert gradebook.find_grade("test_rloo_training", paths.ASSIGNMENT, paths.ASSIGNMENT, "rita").auto_score == \
            pytest.approx(FULL)
        cells = {c.name for c in gradebook.find_notebook(paths.ASSIGNMENT, paths.ASSIGNMENT).grade_cells}
        assert "rloo_baseline_answer" in cells and "test_ppo_training" not in cells


@pytest.mark.slow
def test_rloo_feedback_speaks_russian_for_the_russian_edition(grader, tmp_path):
    import re

    from alignment_kit import i18n

    old, new, costs = MISTAKES["no_kl"]
    with i18n.speaking("ru"):
        lines = _rloo_lines(grader, _rloo_notebook(tmp_path, (old, new)))
    wrong = [line for line in lines.values() if line.score < line.max_score]
    assert len(wrong) == 1 and re.search("[А-Яа-я]", wrong[0].output) and "beta" in wrong[0].output, wrong
