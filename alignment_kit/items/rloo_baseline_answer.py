"""`rloo_baseline_answer` (part 5, RLOO edition, graded by hand): what replaces PPO's value model."""
from alignment_kit.declaration import MANUAL, Item

ITEM = Item("rloo_baseline_answer", "ppo", 0.2, MANUAL, "what replaces the value model in RLOO", order=1,
            track="rloo")
