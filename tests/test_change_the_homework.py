"""The README's guide "Change the homework", followed step by step in a copy of the kit.

The copy is made as a user's working tree is: tracked files and untracked ones that git does not
ignore. The test adds a graded function, `ipo_loss`, touching only the files the guide's "Add a
graded function" lists (the two lists are compared), runs the regeneration command the guide gives
(`make homework`, whose recipe the guide quotes), and grades two notebooks in the copy: the
reference (from `answered`) earns the new item's points, and a planted mistake loses them with the
mistake named. The new item is English only: the copy's translation tests pass, `translations`
lists its keys, and `release --lang ru` refuses naming them. Then a second function is added the
same way, and everything holds again. Totals are read from the copy's declarations, never written
here. The copy runs on a venv of its own that sees this venv's packages but neither this checkout's
runtime nor its grader, so the workers import the copy's.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from alignment_kit import paths as runtime_paths
from autograder import paths

pytestmark = pytest.mark.slow

NAME, SECOND = "ipo_loss", "hinge_loss"
SECTION = "### Add a graded function"

# Each function: (its reference body, a task sentence, the declared mistake's message, the mistake's body).
LOSSES = {
    NAME: ("((margins - 1 / (2 * beta)) ** 2).mean()",
           "IPO replaces DPO's log-sigmoid with a squared loss: push the margin towards `1 / (2 * beta)`",
           "the target margin is 1 / beta: IPO pushes the margin towards 1 / (2 * beta)",
           "((margins - 1 / beta) ** 2).mean()"),
    SECOND: ("torch.relu(1 - beta * margins).mean()",
             "the hinge loss of SLiC: `relu(1 - beta * margin)`, averaged over the batch",
             "the margin is not scaled by beta: the hinge is relu(1 - beta * margin)",
             "torch.relu(1 - margins).mean()"),
}
MARGINS = "margins = (chosen_logps - ref_chosen_logps) - (rejected_logps - ref_rejected_logps)"
SIGNATURE = "(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1)"


def solution(name: str) -> str:
    return (f'def {name}{SIGNATURE}:\n    """{LOSSES[name][1]}."""\n    ### BEGIN SOLUTION\n    {MARGINS}\n'
            f"    return {LOSSES[name][0]}\n    ### END SOLUTION\n")


def checked_cell(name: str) -> str:
    return (f"### BEGIN HIDDEN TESTS\nfrom autograder.nbgrader_cells import item_score, quiet_public_checks\n"
            f"selfcheck = quiet_public_checks()\n### END HIDDEN TESTS\nselfcheck.check_{name}({name})\n"
            f'### BEGIN HIDDEN TESTS\nitem_score("{name}")\n### END HIDDEN TESTS\n')


def planted(name: str) -> str:
    return f"import torch\n\ndef {name}{SIGNATURE}:\n    {MARGINS}\n    return {LOSSES[name][3]}\n"


def runtime_module(name: str, order: int) -> str:
    return f'''"""`{name}` (DPO loss): a loss of the margin of log-ratios."""
from __future__ import annotations

import torch

from alignment_kit.declaration import FUNCTION, Item
from alignment_kit.i18n import say
from alignment_kit.observe import Gradient
from alignment_kit.outputs import OutputShapeError, OutputSpec
from alignment_kit.probes import Probe, loss_probe

ITEM = Item("{name}", "dpo_loss", 0.5, FUNCTION, "a margin loss", order={order})


def read(output) -> dict:
    if not isinstance(output, torch.Tensor) or output.numel() != 1:
        raise OutputShapeError(say("{name}.shape", "{name} should return the loss as a scalar tensor"))
    return {{"loss": output.float().reshape(())}}


OUTPUT = OutputSpec(read, gradient=Gradient({{0: "chosen_logps", 1: "rejected_logps"}}))


def public_probes() -> list[Probe]:
    return [loss_probe("batch of 5, beta=0.1", 31, 0.1, 5), loss_probe("batch of 3, beta=0.4", 32, 0.4, 3)]
'''


def grader_module(name: str) -> str:
    return f'''"""The grader's side of `{name}`: hidden probes and the mistake it names."""
from __future__ import annotations

import torch

from alignment_kit.probes import Probe, loss_probe
from autograder.checks.function_check import FunctionCheck
from autograder.checks.mistake import Mistake


def hidden_probes() -> list[Probe]:
    return [loss_probe("hidden: batch of 4, beta=0.25", 331, 0.25, 4), loss_probe("hidden: batch of 6, beta=0.05", 332, 0.05, 6)]


def _mistaken{SIGNATURE}:
    {MARGINS}
    return {LOSSES[name][3]}


CHECK = FunctionCheck(name="{name}", hidden_probes=hidden_probes, mistakes=[Mistake({LOSSES[name][2]!r}, _mistaken)])
'''


def guide() -> str:
    text = (paths.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return text[text.index("## Change the homework"):text.index("## Versions")]


def guide_files(name: str = NAME) -> list[str]:
    """The files the guide's "Add a graded function" says to edit by hand, with the item's name put in."""
    section = guide()[guide().index(SECTION):]
    section = section[:section.index("\n### ", 1)]
    return [path.replace("<name>", name) for path in re.findall(r"^- `([^`]+)`$", section, re.M)]


def regeneration_commands() -> list[list[str]]:
    """The commands of the guide's code block, without the venv's path and the comments."""
    block = re.search(r"```bash\n(.*?)```", guide(), re.S).group(1)
    return [line.split("#")[0].split()[1:] for line in block.splitlines() if line.strip()]


def make_homework() -> list[list[str]]:
    """The recipe of the Makefile's `homework` target, as commands for a python (`$(PY)` left out)."""
    text = (paths.REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^homework:.*\n((?:\t.*\n)+)", text, re.M).group(1)
    return [line.split()[1:] for line in recipe.splitlines() if line.strip().startswith("$(PY)")]


def edit_source_notebook(path: Path, name: str) -> None:
    """Add the task, the function's cell and its test cell after the part's last test cell (the part's heading
    gets its points from the declarations)."""
    notebook = nbformat.read(path, as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in notebook.cells]
    after = max(ids.index(f"test_{other}") for other in ("dpo_loss", *LOSSES) if f"test_{other}" in ids) + 1

    def meta(**fields):
        return {"nbgrader": {"schema_version": 3, "task": False, "locked": False, "solution": False, "grade": False,
                             **fields}}

    notebook.cells[after:after] = [
        nbformat.v4.new_markdown_cell(f"### `{name}`\n\n{LOSSES[name][1]}.\n"),
        nbformat.v4.new_code_cell(solution(name), metadata=meta(grade_id=name, solution=True)),
        nbformat.v4.new_code_cell(checked_cell(name), metadata=meta(grade_id=f"test_{name}", grade=True, locked=True,
                                                                 points=0.5)),
    ]
    nbformat.write(notebook, path)


def edits(name: str, order: int) -> dict:
    """What the guide's steps write, file by file, for the function `name`."""
    return {
        "solutions/dpo_homework/dpo_homework.ipynb": lambda path: edit_source_notebook(path, name),
        f"alignment_kit/items/{name}.py": lambda path: path.write_text(runtime_module(name, order), encoding="utf-8"),
        f"autograder/items/{name}.py": lambda path: path.write_text(grader_module(name), encoding="utf-8"),
    }


GRADE_SCRIPT = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    from autograder.grade_notebook import Grader
    from autograder.notebook import parse_notebook
    grader = Grader()
    print(json.dumps({name: [[l.item, l.score, l.max_score, l.output] for l in grader.grade_functions(parse_notebook(Path(name)))]
                      for name in sys.argv[1:]}))
''')
PLANTED_SCRIPT = textwrap.dedent('''
    import sys
    import nbformat
    from autograder.generate import with_sources
    nbformat.write(with_sources(nbformat.read(sys.argv[1], 4), {sys.argv[3]: sys.argv[4]}), sys.argv[2])
''')
POINTS_SCRIPT = textwrap.dedent('''
    import json
    from alignment_kit import items
    part = items.part("dpo_loss")
    print(json.dumps({"points": part.points, "items": [i.name for i in items.ALL_ITEMS if i.part == part.name]}))
''')


@pytest.fixture(scope="module")
def copy_of_the_kit(tmp_path_factory) -> tuple[Path, Path]:
    """(the kit's working tree, copied as a user has it: tracked files and untracked ones git does not ignore;
    a python that imports the copy's runtime and grader, not ours)."""
    root = tmp_path_factory.mktemp("change-the-homework")
    kit = root / "kit"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=paths.REPO_ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = paths.REPO_ROOT / name
        if source.is_file():
            (kit / name).parent.mkdir(parents=True, exist_ok=True)
            (kit / name).write_bytes(source.read_bytes())
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    ours = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "torch").is_dir())
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "kit.pth").write_text(f"{kit}\n{ours}\n", encoding="utf-8")  # plain paths: no editable finder of ours
    return kit, venv / "bin" / "python"


def _run(python: Path, kit: Path, *command: str, timeout: int = 900, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(python), *command], cwd=kit, capture_output=True, text=True, timeout=timeout,
                          env={"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(kit.parent), "HF_HUB_OFFLINE": "1",
                               "HF_DATASETS_OFFLINE": "1", "TRL_EXPERIMENTAL_SILENCE": "1", "MPLBACKEND": "Agg",
                               "KIT_CACHE_DIR": str(runtime_paths.cache_dir())})
    if ok:
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_the_guide_lists_the_files_this_test_edits_and_the_command_it_runs():
    assert guide_files() == list(edits(NAME, 3)), (guide_files(), list(edits(NAME, 3)))
    assert regeneration_commands() == make_homework(), "the guide's commands are `make homework`'s recipe"
    assert "`make homework`" in guide() and "git add" in guide()


def _add(kit: Path, python: Path, name: str, order: int) -> None:
    """The guide's steps for one function: the three files, then `make homework`."""
    for file in guide_files(name):
        edits(name, order)[file](kit / file)
    for command in make_homework():
        _run(python, kit, *command)


def _holds(kit: Path, python: Path, names: list[str]) -> None:
    """What must hold after the change: the suite's checks of declarations, mistakes, translations and messages
    pass in the copy; the README lists the part's items with points derived from the declarations; the English-only
    items are listed by `translations` and stop `release --lang ru`; the answered notebook earns every new item's
    points, and each one's planted mistake loses them with the mistake named."""
    _run(python, kit, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", "tests/test_items.py",
         "tests/test_mutants.py", "tests/test_translations.py", "tests/test_say.py")
    declared = json.loads(_run(python, kit, "-c", POINTS_SCRIPT).stdout.splitlines()[-1])
    assert set(names) <= set(declared["items"])
    row = next(line for line in (kit / "README.md").read_text(encoding="utf-8").splitlines()
               if line.startswith("| DPO loss |"))
    assert row.split("|")[2].strip() == f"{declared['points']:g}" and all(f"`{n}`" in row for n in declared["items"])
    student = nbformat.read(kit / "notebooks" / "dpo_homework" / "dpo_homework.ipynb", 4)
    assert all(any(f"selfcheck.check_{n}({n})" in c.source for c in student.cells) for n in names)
    assert any(c.source.startswith(f"## 2. The DPO loss ({declared['points']:g} points)") for c in student.cells)

    listed = _run(python, kit, "-m", "autograder", "translations").stdout
    assert all(f"{n}.shape: no translation" in listed for n in names), listed[-2000:]
    refused = _run(python, kit, "-m", "autograder", "release", "--lang", "ru", "--out", str(kit.parent / "release"),
                   ok=False)
    assert refused.returncode == 1 and all(f"{n}.shape" in refused.stderr for n in names), refused.stderr[-2000:]

    good = kit.parent / "answered.ipynb"
    _run(python, kit, "-m", "autograder", "answered", "--out", str(good))
    notebooks = [good]
    for name in names:
        notebooks.append(kit.parent / f"planted_{name}.ipynb")
        _run(python, kit, "-c", PLANTED_SCRIPT, str(good), str(notebooks[-1]), name, planted(name))
    graded = json.loads(_run(python, kit, "-c", GRADE_SCRIPT, *map(str, notebooks)).stdout.splitlines()[-1])
    lines = {path: {item: (score, most, output) for item, score, most, output in graded[str(path)]} for path in notebooks}
    assert all(score == most for score, most, _ in lines[good].values()), lines[good]
    assert all(lines[good][name][:2] == (0.5, 0.5) for name in names), lines[good]
    for name, path in zip(names, notebooks[1:]):
        score, most, output = lines[path][name]
        assert score < most and LOSSES[name][2] in output, lines[path][name]
        others = {item: line for item, line in lines[path].items() if item != name}
        assert all(score == most for score, most, _ in others.values()), others


def test_the_guide_adds_a_graded_function_and_then_a_second(copy_of_the_kit):
    kit, python = copy_of_the_kit
    assert _run(python, kit, "-c", "import alignment_kit, autograder; print(alignment_kit.__file__, autograder.__file__)"
                ).stdout.split() == [str(kit / "alignment_kit" / "__init__.py"), str(kit / "autograder" / "__init__.py")]
    _add(kit, python, NAME, 3)
    _holds(kit, python, [NAME])
    _add(kit, python, SECOND, 4)
    _holds(kit, python, [NAME, SECOND])
