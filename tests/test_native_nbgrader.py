"""The native nbgrader flow: generate_assignment, then autograde runs the source's test cells."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alignment_kit import paths as runtime_paths
from autograder import paths


@pytest.mark.slow
def test_nbgrader_autograde_scores_the_reference(tmp_path, kit_assets):
    from nbgrader.api import Gradebook

    shutil.copytree(paths.REPO_ROOT / "solutions", tmp_path / "solutions")
    shutil.copy(paths.REPO_ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    submitted = tmp_path / "submitted" / "alice" / "dpo_homework"
    submitted.mkdir(parents=True)
    shutil.copy(paths.EXAMPLE_SUBMISSIONS / "alice.ipynb", submitted / "dpo_homework.ipynb")
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path), "KIT_PROFILE": "smoke",
           "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg", "TRL_EXPERIMENTAL_SILENCE": "1",
           "KIT_CACHE_DIR": str(runtime_paths.cache_dir())}
    for verb in ("generate_assignment", "autograde"):
        done = subprocess.run([sys.executable, "-m", "nbgrader", verb, "dpo_homework", "--force"],
                              cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission("dpo_homework", "alice")
        assert submission.code_score == pytest.approx(7.9), [(g.name, g.score) for g in gradebook.find_submission_notebook(
            "dpo_homework", "dpo_homework", "alice").grades]
        assert submission.needs_manual_grade
