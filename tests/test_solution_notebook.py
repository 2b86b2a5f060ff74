"""The reference notebook runs end to end in the smoke profile (its hidden tests grade itself)."""
import nbformat
import pytest

from alignment_kit import items
from autograder import paths
from autograder.demo import run_notebook


@pytest.mark.slow
def test_solution_runs_in_smoke_mode(tmp_path, kit_assets):
    executed = nbformat.read(run_notebook(paths.SOLUTION_NOTEBOOK, tmp_path), as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    text = "\n".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "[kit] profile=smoke" in text
    # Each graded test cell's value is its item's score from the kit's grader (nbgrader's partial credit).
    values = {c.metadata["nbgrader"]["grade_id"]: float(o["data"]["text/plain"])
              for c in executed.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
              for o in c.outputs if o.output_type == "execute_result"}
    assert values == {i.grade_id: i.points for i in items.ITEMS if i.autograded}
    hub = tmp_path / "outputs" / "hub"
    for stage in ("dpo", "reward", "ppo"):
        card = hub / f"your-username__smollm-135m-{stage}" / "README.md"
        assert card.is_file() and "| metric | value |" in card.read_text()
