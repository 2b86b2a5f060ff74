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


# ---------------------------------------------------------------------- a mistake is said once
SHIFT = {"en": "forgets the shift", "ru": "забывает сдвиг"}


def _judged(label: str, run: dict):
    from alignment_kit.compare import judge

    return judge("f", label, run, {"output": {"x": 2.0}}, [(SHIFT, {"output": {"x": 1.0}})])


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_problem_seen_on_several_probes_is_said_once_with_its_probes(language):
    from alignment_kit import i18n
    from alignment_kit.compare import said_once

    labels = ["left padding with value -1", "right padding with value 7", "two rows, pad = EOS = 2"]
    with i18n.speaking(language):
        verdicts = [_judged(label, {"output": {"x": 1.0}}) for label in labels]
        verdicts += [_judged("other", {"output": {"x": 5.0}}), _judged("fine", {"output": {"x": 2.0}}),
                     _judged("a", {"error": "TypeError: no"}), _judged("b", {"error": "TypeError: no"})]
        shown = [i18n.label(label) for label in labels]
        lines = said_once(verdicts)
    assert [v.problem for v in verdicts[:3]] == [SHIFT[language]] * 3 and verdicts[4].passed
    assert verdicts[0].message == f"{shown[0]}: {SHIFT[language]}", "the verdict keeps its own line"
    assert len(lines) == 3 and lines[1] == verdicts[3].message, "a problem seen once keeps '{probe}: {problem}'"
    if language == "en":
        assert lines[0] == 'forgets the shift (on 3 probes: "left padding with value -1", "right padding with value 7", ' \
                           '"two rows, pad = EOS = 2")'
        assert lines[2] == 'f raised: TypeError: no (on 2 probes: "a", "b")'
    else:
        assert lines[0] == "забывает сдвиг (на 3 пробах: «" + "», «".join(shown) + "»)" and shown[0] != labels[0]
        assert lines[2] == "f выбросила исключение: TypeError: no (на 2 пробах: «a», «b»)"


def test_a_failed_self_check_counts_every_failed_probe_and_says_each_problem_once():
    verdicts = [_judged(label, {"output": {"x": 1.0}}) for label in ("a", "b", "c")] + [_judged("d", {"output": {"x": 2.0}})]
    with pytest.raises(AssertionError) as raised:
        selfcheck.report("f", verdicts)
    assert str(raised.value) == 'f: 3 of 4 checks failed:\n- forgets the shift (on 3 probes: "a", "b", "c")'
