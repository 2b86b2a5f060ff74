"""Versions: constraints.txt pins the kit's environment, environment.yml mirrors it, pyproject.toml's
ranges admit it (students install the runtime with those ranges), and the venv has it."""
import re
import tomllib
from importlib.metadata import version

import pytest
from packaging.requirements import Requirement

from alignment_kit import tracks

from autograder import paths


def _pins(text: str) -> dict[str, str]:
    return {name.lower().replace("_", "-"): pinned
            for name, pinned in re.findall(r"^\s*(?:-\s*)?([A-Za-z0-9_.-]+)==([^\s#]+)\s*$", text, re.M)}


EDITION_PINS = {"rloo": "constraints-rloo.txt"}  # an edition whose TRL is not the kit's own: its pins on top


def _requirements(extras_wanted: tuple[str, ...] | None = None) -> list[Requirement]:
    """The runtime's requirements: the base and the extras (all, or those named)."""
    data = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())
    extras = {name: group for name, group in data["project"]["optional-dependencies"].items()
              if extras_wanted is None or name in extras_wanted}
    return [Requirement(r) for r in data["project"]["dependencies"] + [r for group in extras.values() for r in group]]


def test_environment_yml_mirrors_the_constraints():
    constraints = _pins((paths.REPO_ROOT / "constraints.txt").read_text())
    assert _pins((paths.REPO_ROOT / "environment.yml").read_text()) == constraints


@pytest.mark.parametrize("edition", sorted(tracks.TRACKS))
def test_every_requirement_is_pinned_and_its_range_admits_the_pin(edition):
    """The kit's environment (the PPO edition's TRL), and the RLOO grading environment (its TRL on top), each
    satisfy the runtime's requirements with that edition's extra and the grader's."""
    constraints = _pins((paths.REPO_ROOT / "constraints.txt").read_text())
    if edition in EDITION_PINS:
        constraints.update(_pins((paths.REPO_ROOT / EDITION_PINS[edition]).read_text()))
    for requirement in _requirements((edition, "grader", "dev")):
        name = requirement.name.lower().replace("_", "-")
        assert name in constraints, f"{requirement.name} has no pin in constraints.txt"
        assert requirement.specifier.contains(constraints[name]), f"{requirement} excludes the pin {constraints[name]}"


def test_each_edition_declares_the_trl_its_track_says():
    for name, track in tracks.TRACKS.items():
        assert [str(r) for r in _requirements((name,)) if r.name == "trl"][-1] == str(Requirement(track.trl)), name


def test_trl_range_stays_in_the_window_that_has_ppo():
    trl = [r for r in _requirements(("ppo",)) if r.name == "trl"][-1]
    assert trl.specifier.contains("1.12.0") and not trl.specifier.contains("1.13.0") and not trl.specifier.contains("0.28.0")
    from trl.experimental.ppo import PPOTrainer  # noqa: F401


def test_the_rloo_edition_takes_current_trl():
    trl = [r for r in _requirements(("rloo",)) if r.name == "trl"][-1]
    assert trl.specifier.contains("1.16.0") and not trl.specifier.contains("1.12.0")


def test_installed_versions_match_the_pins():
    for name, pinned in _pins((paths.REPO_ROOT / "constraints.txt").read_text()).items():
        assert version(name).split("+")[0] == pinned, f"{name}: installed {version(name)}, pinned {pinned}"
