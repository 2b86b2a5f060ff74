"""`truncation_answer` (data preparation, graded by hand): why the prompt is truncated from the left."""
from alignment_kit.declaration import MANUAL, Item

ITEM = Item("truncation_answer", "data_prep", 0.1, MANUAL, "why the prompt is truncated from the left", order=6)
