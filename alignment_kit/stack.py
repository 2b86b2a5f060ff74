"""The library stack under the runtime: what the kit was proven on, and a check of what is installed.

`alignment_kit` runs `check()` once when it is imported (it reads package metadata only, so it
imports none of the libraries). The settings line prints the problems found, each with the exact
command that fixes it, and the PPO section asks `ppo_classes()` for TRL's PPO, which stops with
that command instead of an ImportError deep in a cell.

TRL removed `PPOTrainer`, `PPOConfig` and the value-head models after 1.12 (huggingface/trl#7020,
2026-09-02). The runtime's own requirement keeps TRL inside the window that has them
(`trl.experimental.ppo` exists for 0.29 <= trl < 1.13); a TRL installed by other means may be outside.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from alignment_kit.i18n import say

DISTRIBUTION = "alignment-kit"
# Lowest and highest versions the platform runs passed with (`make platforms`: Python 3.13 with Colab's
# preinstalled packages, and this machine's Python with the newest releases the ranges admit; 2026-12-01).
PROVEN = {
    "torch": ("2.11.0", "2.14.1"),
    "transformers": ("5.15.0", "5.24.0"),
    "datasets": ("5.2.0", "5.2.0"),
    "trl": ("1.12.0", "1.12.0"),
}


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


def requirement(package: str) -> str:
    """The runtime's own requirement on `package`, as pip takes it (e.g. 'trl>=0.29,<1.13')."""
    from packaging.requirements import Requirement

    try:
        declared = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        declared = []
    for text in declared:
        parsed = Requirement(text)
        if parsed.name.lower() == package and parsed.marker is None:
            return f"{parsed.name}{parsed.specifier}"
    return package


def has_ppo() -> bool:
    """Whether the installed TRL has `trl.experimental.ppo` (looked up on disk: TRL is not imported)."""
    spec = importlib.util.find_spec("trl")
    if spec is None or not spec.submodule_search_locations:
        return False
    return any((Path(root) / "experimental" / "ppo" / "__init__.py").is_file() for root in spec.submodule_search_locations)


def _outside(package: str, version: str) -> Problem | None:
    from packaging.version import InvalidVersion, Version

    low, high = PROVEN[package]
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


def check() -> list[Problem]:
    """What is wrong with the installed stack (nothing, usually)."""
    problems = []
    trl = installed("trl")
    if trl is None or not has_ppo():
        def message(trl=trl) -> str:
            if trl is None:
                return say("stack.no_trl", "TRL is not installed, so the PPO section cannot run")
            return say("stack.no_ppo", "trl {version} has no trl.experimental.ppo (TRL removed PPO after 1.12), so the "
                       "PPO section cannot run", version=trl)
        problems.append(Problem("trl", message, f'%pip install "{requirement("trl")}"', blocking=True))
    for package in PROVEN:
        version = installed(package)
        if version is not None and (package != "trl" or not problems):
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
    blocking = [p for p in check() if p.package == "trl" and p.blocking]
    if blocking:
        raise StackError(blocking[0].line())
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    return PPOConfig, PPOTrainer
