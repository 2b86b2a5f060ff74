"""The grader's registry: one check per autograded item of `alignment_kit.items`, in the table's order."""
from __future__ import annotations

from alignment_kit import items
from autograder.checks.cards import WRITE_MODEL_CARD
from autograder.checks.cell_check import CellCheck
from autograder.checks.data import APPLY_CHAT_TEMPLATE, MAKE_DATALOADER, PAD, PAD_COLLATE_FN, TOKENIZE_ROW
from autograder.checks.function_check import FunctionCheck
from autograder.checks.loss import DPO_LOSS, GET_LOG_PROB
from autograder.checks.star import BUILD_PREFERENCE_PAIRS, WEIGHTED_DPO_LOSS
from autograder.checks.training import TRAINING_LOOP
from autograder.checks.trl_parts import PPO_TRAINING, REWARD_TRAINING, TO_IMPLICIT

_CHECKS = {check.name: check for check in (APPLY_CHAT_TEMPLATE, TOKENIZE_ROW, PAD, PAD_COLLATE_FN, MAKE_DATALOADER,
                                           GET_LOG_PROB, DPO_LOSS, TO_IMPLICIT, WRITE_MODEL_CARD,
                                           BUILD_PREFERENCE_PAIRS, WEIGHTED_DPO_LOSS)}
_CHECKS.update({check.grade_id: check for check in (TRAINING_LOOP, REWARD_TRAINING, PPO_TRAINING)})

FUNCTION_CHECKS: list[FunctionCheck] = [_CHECKS[i.name] for i in items.items_of(items.FUNCTION)]
CELL_CHECKS: list[CellCheck] = [_CHECKS[i.name] for i in items.items_of(items.CELL)]
MANUAL_ITEMS: list[items.Item] = items.items_of(items.MANUAL)


def unmatched() -> set[str]:
    """Checks without an item and autograded items without a check (a test keeps this empty)."""
    autograded = {i.name for i in items.ITEMS if i.autograded}
    return autograded ^ set(_CHECKS)


def function_check(name: str) -> FunctionCheck:
    return _CHECKS[name]


def cell_check(grade_id: str) -> CellCheck:
    return _CHECKS[grade_id]
