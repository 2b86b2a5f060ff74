"""`model_card_links` (bonus, graded by hand): the published models and how well their cards read."""
from alignment_kit.declaration import MANUAL, Item

ITEM = Item("model_card_links", "bonus", 0.5, MANUAL, "the published models and how well their cards read", order=2)
