"""The RLOO edition's grading environment: the kit's own venv with the TRL of constraints-rloo.txt on top.

The kit's environment stays on one TRL (1.12, the PPO edition's). The workers that run the RLOO cell, its
reference and its replays use a second interpreter: a venv without packages of its own except TRL,
which sees the kit's venv after its own site-packages (so its TRL wins). It is built once, on first use,
as `.venv-rloo/` in the kit's checkout (pip downloads one wheel: TRL, no dependencies; `make test` and
Gradescope's setup.sh build it up front), or named by $KIT_RLOO_PYTHON. Workers read it, so it is not in
the grader cache, which they must not read.
"""
from __future__ import annotations

import functools
import os
import re
import site
import subprocess
import sys
from pathlib import Path

from autograder import paths

CONSTRAINTS = paths.REPO_ROOT / "constraints-rloo.txt"
VARIABLE = "KIT_RLOO_PYTHON"


class RlooEnvironmentError(RuntimeError):
    """The RLOO grading environment cannot be had; the message names the fix."""


def trl_pin() -> str:
    found = re.search(r"^trl==(\S+)", CONSTRAINTS.read_text(encoding="utf-8"), re.M)
    if not found:
        raise RlooEnvironmentError(f"{CONSTRAINTS.name} pins no trl")
    return found.group(1)


def folder() -> Path:
    return paths.REPO_ROOT / ".venv-rloo"


def _site_packages(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def build(venv: Path) -> Path:
    """Make the layered venv at `venv` and install the pinned TRL into it; returns its interpreter."""
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", "--clear", str(venv)], check=True, capture_output=True)
    own = _site_packages(venv)
    # addsitedir, not a bare path: the kit venv's own .pth files (the editable runtime) are read too
    (own / "zz_kit_environment.pth").write_text(f"import site; site.addsitedir({site.getsitepackages()[0]!r})\n")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target",
                           str(own), f"trl=={trl_pin()}"], capture_output=True, text=True)
    if done.returncode != 0:
        raise RlooEnvironmentError(f"installing trl=={trl_pin()} for the RLOO edition's grading failed (pip needs "
                                   f"PyPI once, or set ${VARIABLE} to a Python that has it):\n{done.stderr[-1500:]}")
    return venv / "bin" / "python"


@functools.lru_cache(maxsize=1)
def python() -> str:
    """The interpreter that runs the RLOO edition's workers: $KIT_RLOO_PYTHON, else the cached layered venv
    (built now when missing). Its TRL is checked to be the pinned one."""
    given = os.environ.get(VARIABLE, "")
    venv = folder()
    interpreter = Path(given) if given else venv / "bin" / "python"
    complete = venv / ".complete"  # holds the TRL it was built with: another pin rebuilds it
    if not given and not (complete.is_file() and complete.read_text() == trl_pin()):
        print(f"building the RLOO grading environment (trl=={trl_pin()} over this venv) in {venv} ...", flush=True)
        build(venv)
        complete.write_text(trl_pin())
    done = subprocess.run([str(interpreter), "-c", "import trl; print(trl.__version__)"], capture_output=True, text=True)
    if done.returncode != 0:
        raise RlooEnvironmentError(f"{interpreter} cannot import trl: {done.stderr[-500:]}")
    if not given and done.stdout.strip() != trl_pin():
        raise RlooEnvironmentError(f"{interpreter} has trl {done.stdout.strip()}, not {trl_pin()}: delete {venv} "
                                   "and grade again")
    return str(interpreter)
