"""`online_dpo_reading` (star task, graded by hand): the online round's plot and its written reading."""
from alignment_kit.declaration import MANUAL, Item

ITEM = Item("online_dpo_reading", "star", 0.3, MANUAL, "the online round's plot and its written reading", order=3,
            figures="online_round")
