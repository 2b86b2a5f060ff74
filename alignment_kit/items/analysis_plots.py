"""`analysis_plots` (analysis, graded by hand): log-prob plots, train vs unseen, base vs DPO."""
from alignment_kit.declaration import MANUAL, Item

ITEM = Item("analysis_plots", "analysis", 0.5, MANUAL, "log-prob plots, train vs unseen, base vs DPO", order=1,
            figures="analysis_plots")
