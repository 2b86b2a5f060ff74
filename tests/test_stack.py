"""The runtime installs on every Python students use, and checks the library stack under it.

`make platforms` runs the bundle on Python 3.13 with Colab's packages and with the newest releases;
these tests keep what it proved true on this machine: the wheel admits Python 3.10 to 3.13 (and has
no upper bound), the runtime's code is Python 3.10, and the stack check names the command that fixes
a TRL without PPO or a library outside what the kit was proven on.
"""
import ast
import tomllib
import zipfile

import pytest
from packaging.specifiers import SpecifierSet

from alignment_kit import stack
from autograder import paths
from autograder.release import build_runtime_wheel

STUDENT_PYTHONS = ("3.10.0", "3.11.0", "3.12.0", "3.13.0")


def test_the_runtime_admits_every_python_students_use_with_no_upper_bound():
    declared = SpecifierSet(tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"])
    assert all(declared.contains(version) for version in STUDENT_PYTHONS), declared
    assert declared.contains("3.99.0"), f"{declared} has an upper bound that no dependency forces"


def test_the_built_wheel_says_so(tmp_path):
    wheel = build_runtime_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    line = next(line for line in metadata.splitlines() if line.startswith("Requires-Python:"))
    declared = SpecifierSet(line.split(":", 1)[1].strip())
    assert all(declared.contains(version) for version in STUDENT_PYTHONS), line


def test_the_runtime_is_python_3_10_code():
    """No syntax and no standard-library module newer than the oldest Python students use."""
    newer_modules = {"tomllib", "wsgiref.types"}  # added in 3.11
    for source in sorted(paths.RUNTIME_DIR.rglob("*.py")):
        tree = ast.parse(source.read_text(), feature_version=(3, 10))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not imported & newer_modules, f"{source.name} imports {imported & newer_modules}"


def test_the_kits_own_pins_are_within_what_was_proven():
    pins = dict(line.split("==") for line in (paths.REPO_ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    for package, (low, high) in stack.PROVEN.items():
        assert SpecifierSet(f">={low},<={high}").contains(pins[package]), f"{package} {pins[package]} not in {low}..{high}"


def test_this_machines_stack_has_no_problem():
    assert stack.check() == []
    assert stack.has_ppo()


def test_a_trl_without_ppo_stops_the_ppo_section_with_the_command(monkeypatch):
    monkeypatch.setattr(stack, "has_ppo", lambda: False)
    [problem] = [p for p in stack.check() if p.package == "trl"]
    assert problem.blocking
    assert '%pip install "trl<1.13,>=0.29"' in problem.line() and "restart" in problem.line()
    with pytest.raises(stack.StackError, match="trl.experimental.ppo"):
        stack.ppo_classes()
    student = paths.STUDENT_NOTEBOOK.read_text()
    assert "stack.ppo_classes()" in student and "from trl.experimental.ppo import" not in student


def test_a_library_outside_what_was_proven_is_a_warning_with_the_command(monkeypatch):
    real = stack.installed
    monkeypatch.setattr(stack, "installed", lambda package: "9.1.0" if package == "transformers" else real(package))
    [problem] = stack.check()
    low, high = stack.PROVEN["transformers"]
    assert not problem.blocking and "transformers 9.1.0 is newer" in problem.line()
    assert f'%pip install "transformers>={low},<={high}"' in problem.line()


def test_a_local_build_suffix_counts_as_its_release(monkeypatch):
    real = stack.installed
    monkeypatch.setattr(stack, "installed", lambda package: "2.11.0+cu128" if package == "torch" else real(package))
    assert stack.check() == []


def test_the_settings_line_reports_the_problems(monkeypatch, capsys, kit_assets):
    from alignment_kit.settings import HomeworkSettings

    problem = stack.Problem("datasets", "datasets 1.0.0 is older than the versions this homework was tested with",
                            '%pip install "datasets>=5.2.0,<=5.2.0"', blocking=False)
    monkeypatch.setattr(stack, "PROBLEMS", [problem])
    monkeypatch.setenv("KIT_PROFILE", "smoke")
    HomeworkSettings.from_env()
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("[kit] profile=smoke")
    assert printed[1] == f"[kit] warning: {problem.line()}"
