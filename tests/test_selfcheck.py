"""Student self-checks: pass for the reference, and name the mistake for a wrong function."""
import pytest
import torch
import torch.nn.functional as F

from autograder import selfcheck
from autograder.checks import FUNCTION_CHECKS
from autograder.reference import reference_function


@pytest.mark.parametrize("name", [c.name for c in FUNCTION_CHECKS])
@pytest.mark.parametrize("hidden", [False, True])
def test_reference_passes(name, hidden):
    getattr(selfcheck, f"check_{name}")(reference_function(name), hidden=hidden)


def test_public_check_names_the_missing_shift():
    def get_log_prob(logits, labels, mask):
        picked = torch.gather(F.log_softmax(logits, -1), 2, labels.unsqueeze(-1)).squeeze(-1)
        return (picked * mask).sum(-1)

    with pytest.raises(AssertionError, match="one-token shift"):
        selfcheck.check_get_log_prob(get_log_prob)


def test_hidden_probes_differ_from_public_ones():
    for check in FUNCTION_CHECKS:
        public = [p.label for p in check.build_probes(False)]
        hidden = [p.label for p in check.build_probes(True)]
        assert not set(public) & set(hidden), check.name


def test_training_log_check_catches_wrong_lengths():
    with pytest.raises(AssertionError, match="entries"):
        selfcheck.check_training_log([0.69], [0.5], [0.0], num_steps=3)
