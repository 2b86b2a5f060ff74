"""Public self-checks (student runtime): the reference passes, and a wrong function hears its mistake."""
import pytest
import torch
import torch.nn.functional as F

from alignment_kit import items, selfcheck
from autograder.checks import FUNCTION_CHECKS
from autograder.reference import reference_function


@pytest.mark.parametrize("name", [i.name for i in items.items_of(items.FUNCTION)])
def test_reference_passes_the_public_check(name, capsys):
    getattr(selfcheck, f"check_{name}")(reference_function(items.item(name).callable_name))
    assert f"✓ {name}:" in capsys.readouterr().out


def test_every_function_item_has_a_public_check_and_probes():
    for item in items.items_of(items.FUNCTION):
        assert callable(getattr(selfcheck, f"check_{item.name}", None)), item.name
        assert items.public_probes(item.name), item.name


def test_public_check_names_the_missing_shift():
    def get_log_prob(logits, labels, mask):
        picked = torch.gather(F.log_softmax(logits, -1), 2, labels.unsqueeze(-1)).squeeze(-1)
        return (picked * mask).sum(-1)

    with pytest.raises(AssertionError, match="one-token shift"):
        selfcheck.check_get_log_prob(get_log_prob)


def test_public_check_names_a_stated_requirement():
    """The instructions say to keep the input's dtype; a pad that builds floats hears exactly that."""
    def pad(tensors, padding_value=0, padding_side="right"):
        longest = max(len(t) for t in tensors)
        out = torch.full((len(tensors), longest), float(padding_value))
        for row, t in enumerate(tensors):
            if padding_side == "left":
                out[row, longest - len(t):] = t
            else:
                out[row, :len(t)] = t
        return out

    with pytest.raises(AssertionError, match="keep the input's dtype"):
        selfcheck.check_pad(pad)


def test_hidden_probes_differ_from_public_ones():
    for check in FUNCTION_CHECKS:
        public = [p.label for p in check.probes(hidden=False)]
        hidden = [p.label for p in check.probes(hidden=True)]
        assert not set(public) & set(hidden), check.name


def test_messages_count_checks_in_plain_english(capsys):
    selfcheck.report("one thing", [selfcheck.Verdict("a", True, "ok")])
    selfcheck.report("two things", [selfcheck.Verdict("a", True, "ok"), selfcheck.Verdict("b", True, "ok")])
    printed = capsys.readouterr().out
    assert "one thing: the check passed" in printed and "two things: all 2 checks passed" in printed
    with pytest.raises(AssertionError, match="1 of 1 check failed"):
        selfcheck.report("x", [selfcheck.Verdict("a", False, "broken")])


def test_public_cell_checks_are_offered_by_selfcheck():
    for name in ("check_dpo_training_loop", "check_reward_training", "check_ppo_training"):
        assert callable(getattr(selfcheck, name)), name
