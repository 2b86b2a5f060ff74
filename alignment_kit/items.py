"""The graded items of the homework: the one place where each item is declared.

Every other list of items derives from this table: the grader's registry and part totals, the
feedback and gradebook columns, the markers that find a re-run cell, and the public self-checks.
A test compares it with the nbgrader metadata of the source notebook, item by item and part by part.

Kinds:
* `function`: a function the student writes; graded by calling it on probe inputs.
* `cell`: a code cell the grader re-runs in a prepared namespace (training loops, trainers).
* `manual`: an answer a person grades (text, plots); the autograder copies it into the feedback.
"""
from __future__ import annotations

from dataclasses import dataclass

FUNCTION, CELL, MANUAL = "function", "cell", "manual"
KINDS = (FUNCTION, CELL, MANUAL)


@dataclass(frozen=True)
class Part:
    """A section of the homework; its points are the sum of its items' points."""

    name: str
    title: str
    bonus: bool = False  # bonus points come on top of the homework's total

    @property
    def points(self) -> float:
        return round(sum(item.points for item in ITEMS if item.part == self.name), 4)

    @property
    def autograded_points(self) -> float:
        return round(sum(item.points for item in ITEMS if item.part == self.name and item.autograded), 4)


@dataclass(frozen=True)
class Item:
    """One graded item."""

    name: str  # the function's name, or the grade_id of the re-run cell or of the answer cell
    part: str
    points: float
    kind: str
    title: str
    marker: str = ""  # re-run cells: a line that finds the cell when its nbgrader metadata is gone
    figures: str = ""  # hand-graded: the grade_id of the cell whose saved figures the grader is shown
    function: str = ""  # graded functions: the function called, when it is not the item's name

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == CELL and not self.marker:
            raise ValueError(f"the re-run cell {self.name!r} needs a marker line")

    @property
    def grade_id(self) -> str:
        """The nbgrader cell that carries the points: the test cell, or the answer cell itself."""
        return self.name if self.kind == MANUAL else f"test_{self.name}"

    @property
    def autograded(self) -> bool:
        return self.kind != MANUAL

    @property
    def callable_name(self) -> str:
        """The notebook function a FUNCTION item calls (usually the item's own name)."""
        return self.function or self.name


PARTS = (
    Part("data_prep", "Data preparation"),
    Part("dpo_loss", "DPO loss"),
    Part("dpo_training", "DPO training"),
    Part("reward_model", "Reward model"),
    Part("ppo", "PPO"),
    Part("analysis", "Analysis"),
    Part("bonus", "Bonus: model cards", bonus=True),
    Part("star", "Star tasks (optional): online and weighted DPO", bonus=True),
)

ITEMS = (
    Item("apply_chat_template", "data_prep", 0.2, FUNCTION, "render a preference row with the chat template"),
    Item("tokenize_row", "data_prep", 0.2, FUNCTION, "token ids with EOS, truncated on the right sides"),
    Item("pad", "data_prep", 0.2, FUNCTION, "stack 1-D tensors, padded on one side"),
    Item("pad_collate_fn", "data_prep", 0.2, FUNCTION, "collate rows into padded ids and masks"),
    Item("make_dataloader", "data_prep", 0.1, FUNCTION, "a DataLoader that collates with pad_collate_fn"),
    Item("truncation_answer", "data_prep", 0.1, MANUAL, "why the prompt is truncated from the left"),
    Item("get_log_prob", "dpo_loss", 1.0, FUNCTION, "per-sequence log-probabilities with the one-token shift"),
    Item("dpo_loss", "dpo_loss", 1.0, FUNCTION, "the DPO loss, reward accuracy and reward margin"),
    Item("dpo_training_loop", "dpo_training", 2.0, CELL, "the hand-written DPO training loop",
         marker="losses.append"),
    Item("to_implicit_prompt_preferences", "reward_model", 0.3, FUNCTION, "rows as implicit-prompt conversations"),
    Item("reward_training", "reward_model", 0.7, CELL, "a reward model trained with RewardTrainer",
         marker="RewardTrainer("),
    Item("ppo_training", "ppo", 2.0, CELL, "PPO with policy, reference, reward and value models",
         marker="PPOTrainer("),
    Item("analysis_plots", "analysis", 0.5, MANUAL, "log-prob plots, train vs unseen, base vs DPO",
         figures="analysis_plots"),
    Item("analysis_conclusion", "analysis", 0.5, MANUAL, "written conclusion of the analysis"),
    Item("write_model_card", "bonus", 0.5, FUNCTION, "a model card with the required metadata and the run's numbers"),
    Item("model_card_links", "bonus", 0.5, MANUAL, "the published models and how well their cards read"),
    Item("build_preference_pairs", "star", 0.4, FUNCTION, "DPO pairs from scored candidates, with counts"),
    Item("weighted_dpo_loss", "star", 0.3, FUNCTION, "dpo_loss with optional per-pair weights", function="dpo_loss"),
    Item("online_dpo_reading", "star", 0.3, MANUAL, "the online round's plot and its written reading",
         figures="online_round"),
)


def item(name: str) -> Item:
    """The item called `name`; the error lists the known names."""
    for candidate in ITEMS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no graded item {name!r}; known items: {[i.name for i in ITEMS]}")


def part(name: str) -> Part:
    for candidate in PARTS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no part {name!r}; known parts: {[p.name for p in PARTS]}")


def items_of(kind: str) -> list[Item]:
    return [i for i in ITEMS if i.kind == kind]


def homework_points() -> float:
    """Points of the homework without the bonus parts (9 in the original)."""
    return round(sum(p.points for p in PARTS if not p.bonus), 4)


def autograded_points() -> float:
    """Autograded points of the homework without the bonus parts."""
    return round(sum(p.autograded_points for p in PARTS if not p.bonus), 4)


def hand_graded_points() -> float:
    """Points a person grades, bonus included."""
    return round(sum(i.points for i in ITEMS if not i.autograded), 4)
