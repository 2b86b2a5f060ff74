"""The named mistake "cuts the gradient", shared by every graded function whose output feeds training."""
from __future__ import annotations

import torch

from autograder.checks.mistake import Mistake

CUTS_GRADIENT = ("cuts the gradient: the output does not reach its inputs through autograd (a torch.no_grad(), "
                 ".detach(), .item() or a tensor rebuilt from the values on the way), so training cannot learn from it")


def cuts_gradient(function: str) -> Mistake:
    """The mistake, for the graded function `function`: its reference run under torch.no_grad(), which gives
    the right values and no gradient. Every function shares one message (and one translation)."""
    def variant(*args, **kwargs):
        from autograder.reference import reference_function

        with torch.no_grad():
            return reference_function(function)(*args, **kwargs)
    return Mistake(CUTS_GRADIENT, variant, key="checks.cuts_gradient")
