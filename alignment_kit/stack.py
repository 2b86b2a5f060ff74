"""The library stack under the runtime: what the kit was proven on, and a check of what is installed.

`alignment_kit` runs `check()` once when it is imported (it reads package metadata only, so it
imports none of the libraries). The settings line prints the problems found, each with the exact
command that fixes it, and the PPO section asks `ppo_classes()` for TRL's PPO, which stops with
that command instead of an ImportError deep in a cell.

TRL removed `PPOTrainer`, `PPOConfig` and the value-head models after 1.12 (huggingface/trl#7020,
2026-09-02). Each edition of part 5 (`tracks.py`) installs its own TRL as an extra of the runtime: the
PPO edition keeps TRL inside the window that has PPO (`trl.experimental.ppo` exists for 0.29 <= trl <
1.13), the RLOO edition takes current TRL; `ppo_classes()` and `rloo_classes()` name the fix when the
installed TRL is the other edition's.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from alignment_kit import tracks
from alignment_kit.i18n import say

DISTRIBUTION = "alignment-kit"
# Lowest and highest versions the platform runs passed with (`make platforms`: Python 3.13 with Colab's
# preinstalled packages, and this machine's Python with the newest releases the ranges admit; 2026-12-07).
PROVEN = {
    "torch": ("2.11.0", "2.14.1"),
    "transformers": ("5.15.0", "5.25.0"),
    "datasets": ("5.2.0", "5.2.0"),
}
# The TRL each edition was proven on (the same platform runs).
PROVEN_TRL = {"ppo": ("1.12.0", "1.12.0"), "rloo": ("1.16.0", "1.16.0")}


class StackError(ImportError):
    """The installed libraries cannot run this part of the homework; the message names the fix."""


@dataclass(frozen=True)
class Problem:
    """One finding about the installed stack: what is wrong and the command that fixes it."""

    package: str
    message: str | Callable[[], str]  # a callable gives it in the language spoken when it is shown
    command: str
    blocking: bool  # True: a part of the homework cannot run (PPO without trl.experimental.ppo)

    def line(self) -> str:
        message = self.message() if callable(self.message) else self.message
        return say("stack.fix", "{problem}. Fix: run `{command}`, then restart the kernel (on Colab: Runtime > Restart "
                   "session) and run the notebook from the top.", problem=message, command=self.command)


def installed(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def requirement(package: str, track: str = "") -> str:
    """The runtime's own requirement on `package`, as pip takes it (e.g. 'trl>=0.29,<1.13'); with `track`, the
    requirement of that edition's extra."""
    from packaging.requirements import Requirement

    try:
        declared = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        declared = []
    for text in declared:
        parsed = Requirement(text)
        wanted = parsed.marker is None if not track else (parsed.marker is not None
                                                           and parsed.marker.evaluate({"extra": track}))
        if parsed.name.lower() == package and wanted:
            return f"{parsed.name}{parsed.specifier}"
    return tracks.TRACKS[track].trl if track else package


def install_command(track: str) -> str:
    """What installs the TRL of edition `track` (the runtime's extra, as the notebook's first cell does)."""
    return f'%pip install "{requirement("trl", track)}"'


def has_ppo() -> bool:
    """Whether the installed TRL has `trl.experimental.ppo` (looked up on disk: TRL is not imported)."""
    spec = importlib.util.find_spec("trl")
    if spec is None or not spec.submodule_search_locations:
        return False
    return any((Path(root) / "experimental" / "ppo" / "__init__.py").is_file() for root in spec.submodule_search_locations)


def has_rloo() -> bool:
    """Whether the installed TRL is one the RLOO edition's extra admits (`trl.RLOOTrainer` taking a reward model in
    `reward_funcs`: 1.16 or newer)."""
    from packaging.requirements import Requirement
    from packaging.version import InvalidVersion, Version

    version = installed("trl")
    try:
        return version is not None and Requirement(requirement("trl", "rloo")).specifier.contains(
            Version(version).base_version)
    except InvalidVersion:
        return False


def _outside(package: str, version: str, proven: tuple[str, str] | None = None) -> Problem | None:
    from packaging.version import InvalidVersion, Version

    low, high = proven or PROVEN[package]
    try:
        current = Version(version)
    except InvalidVersion:
        return None
    release = Version(current.base_version)  # 2.11.0+cu128 counts as 2.11.0
    if Version(low) <= release <= Version(high):
        return None
    span = low if low == high else f"{low} - {high}"

    def message() -> str:
        if release < Version(low):
            return say("stack.older", "{package} {version} is older than the versions this homework was tested with "
                       "({span}); if a cell fails", package=package, version=version, span=span)
        return say("stack.newer", "{package} {version} is newer than the versions this homework was tested with "
                   "({span}); if a cell fails", package=package, version=version, span=span)
    return Problem(package, message, f'%pip install "{package}>={low},<={high}"', blocking=False)


def _trl_problem(track: str) -> Problem | None:
    """Why the installed TRL cannot run edition `track`'s part 5, or None."""
    trl = installed("trl")
    if trl is not None and (has_ppo() if track == "ppo" else has_rloo()):
        return None

    def message() -> str:
        if trl is None:
            return say("stack.no_trl", "TRL is not installed, so part 5 cannot run")
        if track == "ppo":
            return say("stack.no_ppo", "trl {version} has no trl.experimental.ppo (TRL removed PPO after 1.12), so the "
                       "PPO section cannot run", version=trl)
        return say("stack.no_rloo", "trl {version} is older than the RLOO section needs ({needed})", version=trl,
                   needed=requirement("trl", track))
    return Problem("trl", message, install_command(track), blocking=True)


def check() -> list[Problem]:
    """What is wrong with the installed stack (nothing, usually). TRL is judged against both editions: it is
    wrong only when it runs neither (each edition's part 5 names its own fix)."""
    installed_trl = installed("trl")
    editions = {track: _trl_problem(track) for track in tracks.TRACKS}
    runs = [track for track, problem in editions.items() if problem is None]
    problems = [] if runs else [editions[tracks.DEFAULT]]
    if runs:
        problem = _outside("trl", installed_trl, PROVEN_TRL[runs[0]])
        if problem is not None:
            problems.append(problem)
    for package in PROVEN:
        version = installed(package)
        if version is not None:
            problem = _outside(package, version)
            if problem is not None:
                problems.append(problem)
    return problems


PROBLEMS: list[Problem] = []  # filled when the package is imported


def notes() -> list[str]:
    """The problems as lines for the settings line."""
    return [f"[kit] {say('stack.error', 'error') if p.blocking else say('stack.warning', 'warning')}: {p.line()}"
            for p in PROBLEMS]


def ppo_classes():
    """(PPOConfig, PPOTrainer) from `trl.experimental.ppo`, or a StackError that names the fix."""
    problem = _trl_problem("ppo")
    if problem is not None:
        raise StackError(problem.line())
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    return PPOConfig, PPOTrainer


def rloo_classes():
    """(RLOOConfig, RLOOTrainer) from current TRL, or a StackError that names the fix."""
    problem = _trl_problem("rloo")
    if problem is not None:
        raise StackError(problem.line())
    from trl import RLOOConfig, RLOOTrainer

    return RLOOConfig, RLOOTrainer
