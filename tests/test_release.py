"""What students get: a runtime wheel without answers, and a bundle that works on its own.

The slow test copies the bundle out of the repository, makes a fresh virtual environment offline
(it reuses the packages already installed here, but never this checkout), installs the wheel and
runs two notebooks: the student notebook, which must stop at the first `todo()`, and the student
notebook with the reference answers filled in, which must run to the end in the smoke profile with
every public self-check passing. It does so for the English and for the Russian edition, where the
stop and the self-checks speak Russian.
"""
from __future__ import annotations

import json
import re
import shutil
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest

from alignment_kit import items
from autograder import boundary, paths
from autograder.release import ReleaseConfig, build, build_runtime_wheel
from submissions import build as notebooks

pytestmark = pytest.mark.slow  # builds and installs the release bundle

URL = "https://example.org/course/alignment_kit-0.1.0-py3-none-any.whl"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, kit_assets):
    course = tmp_path_factory.mktemp("course")
    out = tmp_path_factory.mktemp("bundle")
    written, report = build(ReleaseConfig(out_dir=str(out), install_from=URL, nbgrader_course=str(course)))
    return out, written, report, course


@pytest.fixture(scope="module")
def ru_bundle(tmp_path_factory, kit_assets):
    out = tmp_path_factory.mktemp("bundle-ru")
    written, report = build(ReleaseConfig(out_dir=str(out), install_from=URL, language="ru"))
    return out, written, report, None


# Each edition's bundle, its stop at the first todo(), and whether its self-checks speak Russian.
EDITION = {"en": ("bundle", "TODO in `apply_chat_template`", False), "ru": ("ru_bundle", "TODO в `apply_chat_template`", True)}


def test_the_russian_bundle_has_the_russian_notebook_and_readme(ru_bundle):
    out, written, report, _ = ru_bundle
    assert not report.leaks
    notebook = json.loads((out / "dpo_homework.ipynb").read_text())
    assert notebook["metadata"]["alignment_kit"] == {"language": "ru", "track": "ppo"}
    assert "Домашнее задание" in "".join(notebook["cells"][0]["source"])
    readme = (out / "README.md").read_text()
    for topic in ("Где запускать", "Сохраните его вместе с выходами", "KIT_PROFILE", URL, "крошечная случайная Llama"):
        assert topic in readme, topic


def test_the_runtime_wheel_holds_no_grader_no_hidden_probe_and_no_solution(tmp_path):
    wheel = build_runtime_wheel(tmp_path)
    report = boundary.scan([wheel])
    print(report.summary())
    assert not report.leaks, report.summary()
    assert report.solution_lines > 50 and report.hidden_texts > 10 and report.text_lines > 1000, "the scan saw too little"
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith("autograder")], names
    assert {"alignment_kit/data/train.jsonl", "alignment_kit/fixtures/public.json", "alignment_kit/selfcheck.py"} <= set(names)


def test_the_boundary_scan_catches_each_kind_of_leak(tmp_path):
    """A planted grader module, hidden probe label and solution line are each reported."""
    from autograder import checks

    solution_line = sorted(boundary.solution_lines())[0]
    hidden_label = checks.function_check("pad").probes(hidden=True)[0].label
    planted = tmp_path / "planted.whl"
    with zipfile.ZipFile(planted, "w") as archive:
        archive.writestr("autograder/grade.py", "pass\n")
        archive.writestr("alignment_kit/leak.py", f"x = 1\n    {solution_line}\nLABEL = {hidden_label!r}\n")
    leaks = "\n".join(boundary.scan([planted]).leaks)
    assert "grader module" in leaks and "hidden probe" in leaks and "solution line" in leaks, leaks


def test_the_bundle_holds_notebook_wheel_readme_and_zip(bundle):
    out, written, report, course = bundle
    names = sorted(p.name for p in written)
    assert names == sorted(["dpo_homework.ipynb", "alignment_kit-0.1.0-py3-none-any.whl", "README.md",
                            "dpo_homework-student.zip"])
    assert not report.leaks
    with zipfile.ZipFile(out / "dpo_homework-student.zip") as archive:
        assert sorted(archive.namelist()) == sorted(n for n in names if not n.endswith(".zip"))
    release = course / "release" / paths.ASSIGNMENT
    assert sorted(p.name for p in release.iterdir()) == sorted(n for n in names if not n.endswith(".zip"))
    readme = (out / "README.md").read_text()
    for topic in ("Colab", "Kaggle", "KIT_PROFILE", "offline", "Save it with its outputs", URL):
        assert topic in readme, topic


def test_both_readmes_show_the_measured_platform_table(bundle):
    from autograder.student_readme_texts import PLATFORMS_TABLE

    table = PLATFORMS_TABLE.read_text().strip()
    assert table in (bundle[0] / "README.md").read_text()
    assert table in (paths.REPO_ROOT / "README.md").read_text(), "README.md's platform table differs from the template"


def test_the_released_notebook_installs_from_the_given_location(bundle):
    notebook = json.loads((bundle[0] / "dpo_homework.ipynb").read_text())
    first_code = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    assert f"KIT_INSTALL_FROM = {json.dumps(URL)}" in "".join(first_code["source"])


def _install_cell(url: str) -> str:
    notebook = json.loads(paths.STUDENT_NOTEBOOK.read_text())
    source = "".join(next(c for c in notebook["cells"] if c["cell_type"] == "code")["source"])
    return source.replace('KIT_INSTALL_FROM = ""', f"KIT_INSTALL_FROM = {json.dumps(url)}")


def test_the_install_cell_explains_itself_without_a_location(tmp_path):
    """Where the runtime is missing and no location was given, the first cell says what to do."""
    script = "import importlib.util\n_real = importlib.util.find_spec\n" \
             "importlib.util.find_spec = lambda name, *a: None if name == 'alignment_kit' else _real(name, *a)\n"
    done = subprocess.run([sys.executable, "-c", script + _install_cell("")], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "not installed" in done.stdout and "alignment_kit-*.whl" in done.stdout


def test_the_install_cell_does_nothing_where_the_runtime_is_installed(tmp_path):
    done = subprocess.run([sys.executable, "-c", _install_cell(URL)], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", (done.stdout, done.stderr)


# ---------------------------------------------------------------------- the bundle alone
RUN_NOTEBOOK = textwrap.dedent('''
    import sys
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(sys.argv[1], as_version=4)
    client = NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": "."}})
    try:
        client.execute()
        print("NOTEBOOK RAN TO THE END")
    except CellExecutionError as error:
        print("NOTEBOOK STOPPED:", str(error)[-1500:])
    finally:
        nbformat.write(notebook, sys.argv[2])
''')


def _fresh_venv(root: Path) -> Path:
    """A new venv that sees this machine's installed packages, but not this checkout or its runtime."""
    reuse = root / "reused" / "site-packages"  # dill hashes modules outside a `site-packages` folder by value
    reuse.mkdir(parents=True)
    for entry in Path(site.getsitepackages()[0]).iterdir():
        if entry.name.startswith(("alignment_kit", "__editable__", "_alignment_kit")) or entry.suffix == ".pth":
            continue
        (reuse / entry.name).symlink_to(entry)
    venv = root / "venv"  # without its own pip and setuptools: the reused (pinned) ones serve
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (next(venv.glob("lib/python*/site-packages")) / "reuse_installed.pth").write_text(f"{reuse}\n")
    return venv


@pytest.mark.slow
@pytest.mark.parametrize("language", sorted(EDITION))
def test_the_bundle_alone_runs_in_a_fresh_venv_offline(language, request, tmp_path, kit_assets):
    fixture, stop, russian = EDITION[language]
    bundle = request.getfixturevalue(fixture)
    log = []
    work = tmp_path / "student"
    shutil.copytree(bundle[0], work)
    venv = _fresh_venv(tmp_path)
    (tmp_path / "home").mkdir()
    python = str(venv / "bin" / "python")
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path / "home"), "KIT_PROFILE": "smoke",
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": "/dev/null",
           "MPLBACKEND": "Agg",
           "KIT_CACHE_DIR": str(tmp_path / "model-cache"), "TRL_EXPERIMENTAL_SILENCE": "1"}

    def run(*command, check=True):
        done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
        log.append(f"$ {' '.join(map(str, command))}\n{done.stdout[-3000:]}{done.stderr[-1500:]}")
        assert not check or done.returncode == 0, log[-1]
        return done

    for folder in kit_assets.values():  # converted once per session; test_assets.py rebuilds from nothing
        shutil.copytree(folder, tmp_path / "model-cache" / folder.name)
    wheel = next(work.glob("alignment_kit-*.whl")).name
    run(python, "-m", "pip", "install", "--no-index", wheel)  # offline: its dependencies are already there
    where = run(python, "-c", "import alignment_kit; print(alignment_kit.__file__)").stdout
    assert str(venv) in where, f"the runtime does not come from the bundle's wheel: {where}"
    assert run(python, "-c", "import autograder", check=False).returncode != 0, "the grader is importable"

    (work / "run_notebook.py").write_text(RUN_NOTEBOOK)
    stopped = run(python, "run_notebook.py", "dpo_homework.ipynb", "student-run.ipynb").stdout
    assert "NOTEBOOK STOPPED" in stopped and stop in stopped, stopped
    if not russian:  # the English answers run to the end in test_solution_notebook and `make platforms`; the
        return       # Russian bundle, whose checks must also speak Russian, runs them here

    filled = notebooks.filled_student_notebook(nbformat.read(work / "dpo_homework.ipynb", as_version=4))
    nbformat.write(filled, work / "filled.ipynb")
    finished = run(python, "run_notebook.py", "filled.ipynb", "filled-run.ipynb").stdout
    print("\n\n".join(log))
    assert "NOTEBOOK RAN TO THE END" in finished, finished
    executed = nbformat.read(work / "filled-run.ipynb", as_version=4)
    text = "\n".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    checks = [c for c in executed.cells if c.cell_type == "code" and "selfcheck.check_" in c.source]
    assert len(checks) == len([i for i in items.ITEMS if i.autograded]), "a public check cell per autograded item"
    for cell in checks:
        printed = "".join(o.get("text", "") for o in cell.outputs)
        assert "✓" in printed and "✗" not in printed, f"a public check did not pass:\n{cell.source}\n{printed}"
        assert bool(re.search("[А-Яа-я]", printed)) == russian, f"the check does not speak {language}:\n{printed}"
    assert "[kit] profile=smoke" in text and "Llama" in text
