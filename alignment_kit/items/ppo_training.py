"""`ppo_training` (PPO): PPO with policy, reference, reward and value models, re-run by the grader."""
from alignment_kit.cell_signature import CellSignature
from alignment_kit.declaration import CELL, Item

ITEM = Item("ppo_training", "ppo", 2.0, CELL, "PPO with policy, reference, reward and value models",
            track="ppo", finds=CellSignature(calls=("PPOTrainer",), assigns=("ppo_trainer",)))
