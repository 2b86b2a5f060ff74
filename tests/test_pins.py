"""Versions: constraints.txt pins the kit's environment, environment.yml mirrors it, pyproject.toml's
ranges admit it (students install the runtime with those ranges), and the venv has it."""
import re
import tomllib
from importlib.metadata import version

from packaging.requirements import Requirement

from autograder import paths


def _pins(text: str) -> dict[str, str]:
    return {name.lower().replace("_", "-"): pinned
            for name, pinned in re.findall(r"^\s*(?:-\s*)?([A-Za-z0-9_.-]+)==([^\s#]+)\s*$", text, re.M)}


def _requirements() -> list[Requirement]:
    data = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())
    extras = data["project"]["optional-dependencies"]
    return [Requirement(r) for r in data["project"]["dependencies"] + [r for group in extras.values() for r in group]]


def test_environment_yml_mirrors_the_constraints():
    constraints = _pins((paths.REPO_ROOT / "constraints.txt").read_text())
    assert _pins((paths.REPO_ROOT / "environment.yml").read_text()) == constraints


def test_every_requirement_is_pinned_and_its_range_admits_the_pin():
    constraints = _pins((paths.REPO_ROOT / "constraints.txt").read_text())
    for requirement in _requirements():
        name = requirement.name.lower().replace("_", "-")
        assert name in constraints, f"{requirement.name} has no pin in constraints.txt"
        assert requirement.specifier.contains(constraints[name]), f"{requirement} excludes the pin {constraints[name]}"


def test_trl_range_stays_in_the_window_that_has_ppo():
    trl = next(r for r in _requirements() if r.name == "trl")
    assert trl.specifier.contains("1.12.0") and not trl.specifier.contains("1.13.0") and not trl.specifier.contains("0.28.0")
    from trl.experimental.ppo import PPOTrainer  # noqa: F401


def test_installed_versions_match_the_pins():
    for name, pinned in _pins((paths.REPO_ROOT / "constraints.txt").read_text()).items():
        assert version(name).split("+")[0] == pinned, f"{name}: installed {version(name)}, pinned {pinned}"
