"""`reward_training` (reward model): a reward model trained with RewardTrainer, re-run by the grader."""
from alignment_kit.cell_signature import CellSignature
from alignment_kit.declaration import CELL, Item

ITEM = Item("reward_training", "reward_model", 0.7, CELL, "a reward model trained with RewardTrainer",
            order=2, finds=CellSignature(calls=("RewardTrainer",), assigns=("reward_model",)))
