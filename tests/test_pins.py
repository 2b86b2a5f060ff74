"""Pinned versions: pyproject.toml and environment.yml agree, and the venv has them."""
import re
import tomllib
from importlib.metadata import version

from autograder import paths


def _pyproject_pins() -> dict[str, str]:
    data = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())
    pins = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["dev"]
    return dict(p.split("==") for p in pins)


def _environment_pins() -> dict[str, str]:
    text = (paths.REPO_ROOT / "environment.yml").read_text()
    return dict(re.findall(r"^\s*-\s*([A-Za-z0-9_.-]+)==([^\s]+)\s*$", text, re.M))


def test_environment_yml_matches_pyproject():
    assert _environment_pins() == _pyproject_pins()


def test_trl_is_in_the_window_that_has_ppo():
    major, minor = (int(x) for x in _pyproject_pins()["trl"].split(".")[:2])
    assert (0, 29) <= (major, minor) < (1, 13), "trl.experimental.ppo exists only for 0.29 <= trl < 1.13"
    from trl.experimental.ppo import PPOTrainer  # noqa: F401


def test_installed_versions_match_the_pins():
    for name, pinned in _pyproject_pins().items():
        assert version(name).split("+")[0] == pinned, f"{name}: installed {version(name)}, pinned {pinned}"
