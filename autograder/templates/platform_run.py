"""One platform run of the student bundle, inside the target Python (`python -m autograder platforms`).

Run by the target's own Python with only the standard library; it makes a virtual environment,
installs the platform's preinstalled packages, then does what a student does there:
1. the notebook's first cell (the installer) in a folder without the wheel: it installs from the
   release's `--install-from` URL (pip's changes to the preinstalled packages are recorded here);
2. the same cell beside the wheel, after the runtime is uninstalled: it installs the wheel;
3. the student notebook, which must stop at the first `todo()`;
4. the notebook with the reference answers filled in, in the smoke profile, which must reach the end
   with every public self-check passing.
It writes what it saw to `result.json` in the work folder. `--execute NB OUT` (used by step 3 and 4,
with the venv's Python) runs one notebook with nbclient.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

NOTEBOOK_TIMEOUT_S = 1200
PROGRESS = re.compile(r"\d+%\||\d+/\d+ \[")  # a tqdm progress bar, not a warning


def execute(source: str, target: str) -> None:
    """Run a notebook to its end or its first error; print the outcome on the last line."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(source, as_version=4)
    client = NotebookClient(notebook, timeout=NOTEBOOK_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(source).parent)}})
    try:
        client.execute()
        outcome = {"ran_to_the_end": True, "error": ""}
    except CellExecutionError as error:
        outcome = {"ran_to_the_end": False, "error": str(error)[-1500:]}
    finally:
        nbformat.write(notebook, target)
    print("OUTCOME " + json.dumps(outcome))


def freeze(python: str) -> dict[str, str]:
    listed = subprocess.run([python, "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True)
    return {entry["name"].lower().replace("_", "-"): entry["version"] for entry in json.loads(listed.stdout)}


def run(command: list[str], cwd: Path, env: dict, log: list) -> subprocess.CompletedProcess:
    started = time.time()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    log.append({"command": " ".join(command), "cwd": str(cwd), "returncode": done.returncode,
                "seconds": round(time.time() - started, 1), "output": (done.stdout[-4000:] + done.stderr[-4000:])})
    return done


def stderr_lines(notebook: Path) -> list[str]:
    """The distinct warning lines the student sees in the cells' stderr outputs."""
    data = json.loads(notebook.read_text(encoding="utf-8"))
    seen = []
    for cell in data["cells"]:
        for output in cell.get("outputs", []):
            if output.get("name") == "stderr":
                for line in "".join(output.get("text", "")).splitlines():
                    line = line.strip()
                    if line and not PROGRESS.search(line) and line not in seen:
                        seen.append(line)
    return seen


def public_checks(notebook: Path) -> dict:
    data = json.loads(notebook.read_text(encoding="utf-8"))
    cells = [c for c in data["cells"] if c["cell_type"] == "code" and "selfcheck.check_" in "".join(c["source"])]
    failed = []
    for cell in cells:
        printed = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
        if "✓" not in printed or "✗" in printed:
            failed.append("".join(cell["source"])[:80])
    return {"cells": len(cells), "failed": failed}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path)
    parser.add_argument("--preinstall", default="")
    parser.add_argument("--execute", nargs=2, metavar=("NOTEBOOK", "OUT"))
    args = parser.parse_args()
    if args.execute:
        execute(*args.execute)
        return 0
    work = args.work.resolve()
    venv, log = work / "venv", []
    result = {"python": sys.version.split()[0], "steps": log}
    env = dict(os.environ, PATH=f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", HOME=str(work / "home"),
               KIT_PROFILE="smoke", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", MPLBACKEND="Agg",
               KIT_CACHE_DIR=str(work / "model-cache"), PIP_DISABLE_PIP_VERSION_CHECK="1")
    (work / "home").mkdir(exist_ok=True)
    python = str(venv / "bin" / "python")
    started = time.time()
    assert run([sys.executable, "-m", "venv", str(venv)], work, env, log).returncode == 0, log[-1]
    preinstalled = args.preinstall.split()
    # A notebook platform has a kernel and widgets: they come with it (as on Colab and Kaggle).
    done = run([python, "-m", "pip", "install", "--quiet", *preinstalled, "ipykernel", "ipywidgets", "nbclient",
                "nbformat"], work, env, log)
    assert done.returncode == 0, log[-1]
    result["preinstall_seconds"] = round(time.time() - started, 1)
    before = freeze(python)

    bundle = work / "bundle"
    install_cell = (work / "install_cell.py").read_text(encoding="utf-8")
    from_url = work / "from-url"
    from_url.mkdir(exist_ok=True)
    done = run([python, "-c", install_cell], from_url, env, log)
    result["install_from_url"] = {"ok": done.returncode == 0 and "installed the course runtime from http" in done.stdout,
                                  "seconds": log[-1]["seconds"], "printed": done.stdout[-500:] + done.stderr[-1500:]}
    result["before"], result["after"] = before, freeze(python)
    run([python, "-m", "pip", "uninstall", "--quiet", "--yes", "alignment-kit"], work, env, log)
    done = run([python, "-c", install_cell], bundle, env, log)
    result["install_beside"] = {"ok": done.returncode == 0 and "installed the course runtime from alignment_kit-" in done.stdout,
                                "seconds": log[-1]["seconds"], "printed": done.stdout[-500:] + done.stderr[-1500:]}

    for name, notebook in (("student", "dpo_homework.ipynb"), ("filled", "filled.ipynb")):
        executed = bundle / f"{name}-run.ipynb"
        done = run([python, str(work / "platform_run.py"), "--execute", str(bundle / notebook), str(executed)], bundle, env, log)
        lines = [line for line in done.stdout.splitlines() if line.startswith("OUTCOME ")]
        outcome = json.loads(lines[-1][len("OUTCOME "):]) if lines else {"ran_to_the_end": False, "error": log[-1]["output"]}
        outcome["seconds"] = log[-1]["seconds"]
        if executed.is_file():
            outcome["stderr"] = stderr_lines(executed)
            outcome["public_checks"] = public_checks(executed)
        result[f"{name}_notebook"] = outcome
    result["total_seconds"] = round(time.time() - started, 1)
    (work / "result.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
