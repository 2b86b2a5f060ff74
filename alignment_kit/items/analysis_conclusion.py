"""`analysis_conclusion` (analysis, graded by hand): the written conclusion of the analysis."""
from alignment_kit.declaration import MANUAL, Item

ITEM = Item("analysis_conclusion", "analysis", 0.5, MANUAL, "written conclusion of the analysis", order=2)
