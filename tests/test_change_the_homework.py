"""The README's guide "Change the homework", followed step by step in a copy of the kit.

The test adds a graded function, `ipo_loss`, touching only the files the guide's "Add a graded
function" lists (the two lists are compared), runs the regeneration commands the guide gives, and
grades two notebooks in the copy: the reference earns the new item's points, and a planted mistake
loses them with the mistake named. The copy runs on a venv of its own that sees this venv's
packages but neither this checkout's runtime nor its grader, so the workers import the copy's.
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

NAME = "ipo_loss"
SECTION = "### Add a graded function"

SOLUTION = '''def ipo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    """IPO: the squared distance of the log-ratio margin from 1 / (2 beta), averaged over the batch."""
    ### BEGIN SOLUTION
    margins = (chosen_logps - ref_chosen_logps) - (rejected_logps - ref_rejected_logps)
    return ((margins - 1 / (2 * beta)) ** 2).mean()
    ### END SOLUTION
'''
TEST_CELL = f'''### BEGIN HIDDEN TESTS
from autograder.nbgrader_cells import item_score, quiet_public_checks
selfcheck = quiet_public_checks()
### END HIDDEN TESTS
selfcheck.check_{NAME}({NAME})
### BEGIN HIDDEN TESTS
item_score("{NAME}")
### END HIDDEN TESTS
'''
TASK = f"""### 2.3 `{NAME}`

IPO replaces DPO's log-sigmoid with a squared loss: push the margin of log-ratios,
`(chosen - ref_chosen) - (rejected - ref_rejected)`, towards `1 / (2 * beta)`, and average over the batch.
"""
RUNTIME_MODULE = f'''"""`{NAME}` (DPO loss): the IPO loss, a squared margin of log-ratios."""
from __future__ import annotations

import torch

from alignment_kit.declaration import FUNCTION, Item
from alignment_kit.observe import Gradient
from alignment_kit.outputs import OutputShapeError, OutputSpec
from alignment_kit.probes import Probe, loss_probe

ITEM = Item("{NAME}", "dpo_loss", 0.5, FUNCTION, "the IPO loss", order=3)


def read(output) -> dict:
    if not isinstance(output, torch.Tensor) or output.numel() != 1:
        raise OutputShapeError("{NAME} should return the loss as a scalar tensor (averaged over the batch)")
    return {{"loss": output.float().reshape(())}}


OUTPUT = OutputSpec(read, gradient=Gradient({{0: "chosen_logps", 1: "rejected_logps"}}))


def public_probes() -> list[Probe]:
    return [loss_probe("batch of 5, beta=0.1", 31, 0.1, 5), loss_probe("batch of 3, beta=0.4", 32, 0.4, 3)]
'''
GRADER_MODULE = f'''"""The grader's side of `{NAME}`: hidden probes and the mistakes it names."""
from __future__ import annotations

from alignment_kit.probes import Probe, loss_probe
from autograder.checks.function_check import FunctionCheck
from autograder.checks.mistake import Mistake

MISSES_THE_HALF = "the target margin is 1 / beta: IPO pushes the margin towards 1 / (2 * beta)"


def hidden_probes() -> list[Probe]:
    return [loss_probe("hidden: batch of 4, beta=0.25", 331, 0.25, 4), loss_probe("hidden: batch of 6, beta=0.05", 332, 0.05, 6)]


def _target_one_over_beta(c, r, rc, rr, beta=0.1):
    return (((c - rc) - (r - rr) - 1 / beta) ** 2).mean()


CHECK = FunctionCheck(name="{NAME}", hidden_probes=hidden_probes,
                      mistakes=[Mistake(MISSES_THE_HALF, _target_one_over_beta)])
'''
MUTANT = f'''

FUNCTION_MUTANTS.append(_m("ipo_target_one_over_beta", "{NAME}", "1 / (2 * beta)", \'\'\'
    def {NAME}(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
        margins = (chosen_logps - ref_chosen_logps) - (rejected_logps - ref_rejected_logps)
        return ((margins - 1 / beta) ** 2).mean()
    \'\'\'))
'''


def guide() -> str:
    text = (paths.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return text[text.index("## Change the homework"):text.index("## Versions")]


def guide_files() -> list[str]:
    """The files the guide's "Add a graded function" says to edit by hand, with the item's name put in."""
    section = guide()[guide().index(SECTION):]
    section = section[:section.index("\n### ", 1)]
    return [path.replace("<name>", NAME) for path in re.findall(r"^- `([^`]+)`$", section, re.M)]


def regeneration_commands() -> list[list[str]]:
    """The commands of the guide's code block, without the venv's path and the comments."""
    block = re.search(r"```bash\n(.*?)```", guide(), re.S).group(1)
    return [line.split("#")[0].split()[1:] for line in block.splitlines() if line.strip()]


def edit_source_notebook(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in notebook.cells]
    after = ids.index("test_dpo_loss") + 1

    def meta(**fields):
        return {"nbgrader": {"schema_version": 3, "task": False, "locked": False, "solution": False, "grade": False,
                             **fields}}

    notebook.cells[after:after] = [
        nbformat.v4.new_markdown_cell(TASK),
        nbformat.v4.new_code_cell(SOLUTION, metadata=meta(grade_id=NAME, solution=True)),
        nbformat.v4.new_code_cell(TEST_CELL, metadata=meta(grade_id=f"test_{NAME}", grade=True, locked=True, points=0.5)),
    ]
    for cell in notebook.cells:  # the part's heading names its points
        if cell.cell_type == "markdown" and cell.source.startswith("## 2. The DPO loss (2 points)"):
            cell.source = cell.source.replace("(2 points)", "(2.5 points)", 1)
    nbformat.write(notebook, path)


EDITS = {
    "solutions/dpo_homework/dpo_homework.ipynb": edit_source_notebook,
    f"alignment_kit/items/{NAME}.py": lambda path: path.write_text(RUNTIME_MODULE, encoding="utf-8"),
    f"autograder/items/{NAME}.py": lambda path: path.write_text(GRADER_MODULE, encoding="utf-8"),
    "tests/test_mutants.py": lambda path: path.write_text(path.read_text(encoding="utf-8") + MUTANT, encoding="utf-8"),
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
NOTEBOOKS_SCRIPT = textwrap.dedent('''
    import sys
    import nbformat
    from autograder import paths
    from autograder.generate import answered, with_sources
    student, solution = nbformat.read(paths.STUDENT_NOTEBOOK, 4), nbformat.read(paths.SOLUTION_NOTEBOOK, 4)
    nbformat.write(answered(student, solution), sys.argv[1])
    nbformat.write(with_sources(answered(student, solution), {sys.argv[3]: sys.argv[4]}), sys.argv[2])
''')


@pytest.fixture(scope="module")
def copy_of_the_kit(tmp_path_factory) -> tuple[Path, Path]:
    """(the kit's tracked files, copied; a python that imports the copy's runtime and grader, not ours)."""
    root = tmp_path_factory.mktemp("change-the-homework")
    kit = root / "kit"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=paths.REPO_ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
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


def _run(python: Path, kit: Path, *command: str, timeout: int = 900) -> str:
    done = subprocess.run([str(python), *command], cwd=kit, capture_output=True, text=True, timeout=timeout,
                          env={"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(kit.parent), "HF_HUB_OFFLINE": "1",
                               "HF_DATASETS_OFFLINE": "1", "TRL_EXPERIMENTAL_SILENCE": "1", "MPLBACKEND": "Agg",
                               "KIT_CACHE_DIR": str(runtime_paths.cache_dir())})
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_guide_lists_the_files_this_test_edits():
    assert guide_files() == list(EDITS), (guide_files(), list(EDITS))


def test_the_guide_adds_a_graded_function(copy_of_the_kit):
    kit, python = copy_of_the_kit
    assert _run(python, kit, "-c", "import alignment_kit, autograder; print(alignment_kit.__file__, autograder.__file__)"
                ).split() == [str(kit / "alignment_kit" / "__init__.py"), str(kit / "autograder" / "__init__.py")]
    for name in guide_files():
        EDITS[name](kit / name)
    for command in regeneration_commands():
        _run(python, kit, *command)
    # What the suite checks about a change: the declarations, the notebook's points, the README's and the mutants agree
    # (the generated notebook was just written by the guide's `generate`).
    _run(python, kit, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_items.py",
         "tests/test_mutants.py::test_every_mutant_targets_a_graded_function")
    student = nbformat.read(kit / "notebooks" / "dpo_homework" / "dpo_homework.ipynb", 4)
    assert any(f"selfcheck.check_{NAME}({NAME})" in c.source for c in student.cells)
    assert "| 2.5 |" in (kit / "README.md").read_text(encoding="utf-8")

    planted = textwrap.dedent('''
        def ipo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
            margins = (chosen_logps - ref_chosen_logps) - (rejected_logps - ref_rejected_logps)
            return ((margins - 1 / beta) ** 2).mean()
        ''')
    good, bad = kit.parent / "good.ipynb", kit.parent / "planted.ipynb"
    _run(python, kit, "-c", NOTEBOOKS_SCRIPT, str(good), str(bad), NAME, planted)
    graded = json.loads(_run(python, kit, "-c", GRADE_SCRIPT, str(good), str(bad)).splitlines()[-1])
    lines = {which: {item: (score, most, output) for item, score, most, output in graded[str(path)]}
             for which, path in (("good", good), ("planted", bad))}
    assert lines["good"][NAME][:2] == (0.5, 0.5), lines["good"][NAME]
    assert all(score == most for score, most, _ in lines["good"].values()), lines["good"]
    score, most, output = lines["planted"][NAME]
    assert score < most and "1 / (2 * beta)" in output, lines["planted"][NAME]
    others = {item: line for item, line in lines["planted"].items() if item != NAME}
    assert all(score == most for score, most, _ in others.values()), others
