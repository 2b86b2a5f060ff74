"""The registry of graded items: function checks, re-run cell checks and hand-graded answers."""
from __future__ import annotations

from dataclasses import dataclass

from autograder.checks.data import APPLY_CHAT_TEMPLATE, MAKE_DATALOADER, PAD, PAD_COLLATE_FN, TOKENIZE_ROW
from autograder.checks.loss import DPO_LOSS, GET_LOG_PROB
from autograder.checks.training import TRAINING_LOOP
from autograder.checks.trl_parts import PPO_TRAINING, REWARD_TRAINING, TO_IMPLICIT


@dataclass(frozen=True)
class ManualItem:
    """An answer a person grades; the autograder copies it into the feedback."""

    grade_id: str
    part: str
    points: float
    title: str


FUNCTION_CHECKS = [APPLY_CHAT_TEMPLATE, TOKENIZE_ROW, PAD, PAD_COLLATE_FN, MAKE_DATALOADER,
                   GET_LOG_PROB, DPO_LOSS, TO_IMPLICIT]
CELL_CHECKS = [TRAINING_LOOP, REWARD_TRAINING, PPO_TRAINING]
MANUAL_ITEMS = [
    ManualItem("truncation_answer", "data_prep", 0.1, "why the prompt is truncated from the left"),
    ManualItem("analysis_plots", "analysis", 0.5, "log-prob plots, train vs unseen"),
    ManualItem("analysis_conclusion", "analysis", 0.5, "written conclusion of the analysis"),
    ManualItem("write_model_card", "bonus", 1.0, "model cards for the pushed models (bonus)"),
]
PARTS = {"data_prep": 1.0, "dpo_loss": 2.0, "dpo_training": 2.0, "reward_model": 1.0, "ppo": 2.0,
         "analysis": 1.0, "bonus": 1.0}


def function_check(name: str):
    return next(c for c in FUNCTION_CHECKS if c.name == name)


def cell_check(grade_id: str):
    return next(c for c in CELL_CHECKS if c.grade_id == grade_id)
