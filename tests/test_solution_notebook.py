"""The reference notebook runs end to end in the smoke profile (its hidden tests grade itself)."""
import pytest
from huggingface_hub import ModelCard

from alignment_kit import items
from alignment_kit.hub_check import SUFFIXES

pytestmark = pytest.mark.slow  # runs the solution notebook


@pytest.mark.slow
def test_solution_runs_in_smoke_mode(solution_run):
    folder, executed = solution_run
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    text = "\n".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "[kit] profile=smoke" in text
    # Each graded test cell's value is its item's score from the kit's grader (nbgrader's partial credit).
    values = {c.metadata["nbgrader"]["grade_id"]: float(o["data"]["text/plain"])
              for c in executed.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
              for o in c.outputs if o.output_type == "execute_result"}
    assert values == {i.grade_id: i.points for i in items.ITEMS if i.autograded}


@pytest.mark.slow
def test_the_cards_are_model_cards_with_the_required_metadata(solution_run):
    folder, _ = solution_run
    for stage, suffix in ((s, SUFFIXES[s]) for s in ("dpo", "ppo", "reward")):  # the PPO edition's three models
        card = ModelCard.load(folder / "outputs" / "hub" / f"your-username__smollm-135m{suffix}" / "README.md")
        assert card.data.library_name == "transformers" and stage in card.data.tags and card.data.license, stage
        assert card.data.base_model and card.data.datasets == ["alignment-kit/preferences"], card.data
        assert "| metric | value |" in card.text and "## Samples" in card.text
