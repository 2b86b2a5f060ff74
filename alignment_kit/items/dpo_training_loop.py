"""`dpo_training_loop` (DPO training): the hand-written DPO training loop, re-run by the grader."""
from alignment_kit.cell_signature import CellSignature
from alignment_kit.declaration import CELL, Item

ITEM = Item("dpo_training_loop", "dpo_training", 2.0, CELL, "the hand-written DPO training loop",
            finds=CellSignature(calls=("dpo_loss", "losses.append")))
