"""`python -m autograder demo` (what `make demo` runs): the kit's main job, offline.

1. prepare the offline assets and print which model and data each profile resolves to;
2. execute the solution notebook in the smoke profile (nbclient), saving the executed copy;
3. grade the bundled example submissions and print the class table.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from alignment_kit import assets, tracks
from autograder import paths

DEMO_OUT = paths.REPO_ROOT / "outputs" / "demo"


def run_notebook(source: Path, workdir: Path, timeout: int = 1200, profile: str = "smoke",
                 track: str = tracks.DEFAULT) -> Path:
    """Execute a notebook in `workdir` (offline, in `profile`; of a notebook with both editions of part 5, the
    cells of `track`); returns the executed copy's path."""
    import nbformat
    from nbclient import NotebookClient

    from autograder import editions

    workdir.mkdir(parents=True, exist_ok=True)
    copy = workdir / source.name
    copy.write_text(json.dumps(editions.of_track(json.loads(source.read_text(encoding="utf-8")), track), indent=1,
                               ensure_ascii=False), encoding="utf-8")
    notebook = nbformat.read(copy, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute(env=dict(os.environ, KIT_PROFILE=profile, HF_HUB_OFFLINE="1", MPLBACKEND="Agg"))
    finally:
        nbformat.write(notebook, copy)
    return copy


def main() -> int:
    from alignment_kit.settings import HomeworkSettings
    from autograder import grade
    from autograder.config import GradeConfig, Limits

    assets.ensure_assets()
    for profile in ("full", "smoke"):
        os.environ["KIT_PROFILE"] = profile
        HomeworkSettings.from_env()
    started = time.time()
    print("\n== running the solution notebook (smoke profile) ...", flush=True)
    executed = run_notebook(paths.SOLUTION_NOTEBOOK, DEMO_OUT / "solution-run")
    print(f"   done in {time.time() - started:.0f}s; executed notebook: {executed}")
    print("\n== grading the example submissions in data/example_submissions ...", flush=True)
    return grade.main(GradeConfig(paths=[str(paths.EXAMPLE_SUBMISSIONS)], out_dir=str(DEMO_OUT / "grades"), jobs=2,
                                  limits=Limits(timeout_s=300, memory_mb=6144)))
