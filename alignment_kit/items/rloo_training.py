"""`rloo_training` (part 5, RLOO edition): RLOO driven by the trained reward model, re-run by the grader."""
from alignment_kit.cell_signature import CellSignature
from alignment_kit.declaration import CELL, Item

ITEM = Item("rloo_training", "ppo", 1.8, CELL, "RLOO with the trained reward model, TRL's reference and a "
            "leave-one-out baseline", track="rloo", finds=CellSignature(calls=("RLOOTrainer",), assigns=("rloo_trainer",)))
