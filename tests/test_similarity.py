"""Similarity of graded code: the normalisation a disguise does not defeat, and a synthetic class.

The class (tests/submissions/synthetic_class.py) mixes the suite's valid alternatives and known
mistakes per item, and plants disguised copies: every planted pair must rank above every
independent pair.
"""
from __future__ import annotations

import textwrap

import pytest

from autograder import paths, similarity
from autograder.notebook import parse_notebook
from submissions import synthetic_class

PAD = '''
def pad(tensors, padding_value=0, padding_side="right"):
    longest = max(len(t) for t in tensors)  # the longest row
    out = torch.full((len(tensors), longest), padding_value, dtype=tensors[0].dtype)
    for i, t in enumerate(tensors):
        if padding_side == "left":
            out[i, longest - len(t):] = t
        else:
            out[i, :len(t)] = t
    return out
'''
DISGUISED = '''
def pad(tensors, padding_value=0, padding_side="right"):
    """Pads the rows."""
    # fill with the padding value first
    result = torch.full((len(tensors), max(len(x) for x in tensors)), padding_value, dtype=tensors[0].dtype)
    for row, x in enumerate(tensors):
        if padding_side == 'left':
            result[row, result.shape[1] - len(x):] = x
        else:
            result[row, :len(x)] = x
    return result
'''


def test_renaming_comments_and_order_do_not_change_the_fingerprint():
    a = "def f(a, b):\n    x = a + 1  # one\n    y = b * 2\n    return x - y\n"
    b = "def f(a, b):\n    # the other way round\n    second = b * 2\n    first = a + 1\n    return first - second\n"
    c = "def f(a, b):\n    x = a + 7\n    y = b * 3\n    return x - y\n"  # other literals
    assert similarity.normalise(a) == similarity.normalise(b) == similarity.normalise(c)
    d = "def f(a, b):\n    x = a + 1\n    y = x * 2\n    return x - y\n"  # a real dependency: not the same code
    assert similarity.normalise(a) != similarity.normalise(d)


def test_dependent_statements_keep_their_order():
    a = "def f(t):\n    t = t + 1\n    u = t * 2\n    return u\n"
    b = "def f(t):\n    u = t * 2\n    t = t + 1\n    return u\n"
    assert similarity.normalise(a) != similarity.normalise(b)


def test_code_that_does_not_parse_is_still_compared():
    broken = "def f(a:\n    return a +"
    assert similarity.normalise(broken) and similarity.fingerprint(broken)


def test_given_code_is_left_out():
    stub = 'def pad(tensors, padding_value=0, padding_side="right"):\n    todo()\n'
    assert similarity.fingerprint(stub, stub) == set()
    assert similarity.fingerprint(PAD, stub) and similarity.fingerprint(PAD, stub) < similarity.fingerprint(PAD)


def test_code_everyone_writes_alike_flags_no_one():
    units = {f"s{n}": {"pad": PAD} for n in range(6)}
    units["s6"] = {"pad": DISGUISED}
    units["s7"] = {"pad": DISGUISED}
    whole = [p for p in similarity.pair_scores(similarity.class_fingerprints(units, {})) if p.item == similarity.ALL]
    assert {whole[0].student_a, whole[0].student_b} == {"s6", "s7"} and whole[0].score > 0.4, whole[:3]
    assert all(p.score < 0.2 for p in whole[1:]), whole[:4]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic-class")
    planted = synthetic_class.make(40, 8, folder)
    units = {path.stem: similarity.graded_units(parse_notebook(path)) for path in sorted(folder.glob("*.ipynb"))}
    given = similarity.graded_units(parse_notebook(paths.STUDENT_NOTEBOOK))
    return planted, similarity.pair_scores(similarity.class_fingerprints(units, given))


def test_planted_copies_rank_above_every_independent_pair(synthetic):
    planted, pairs = synthetic
    wanted = {frozenset((p.original, p.copy)) for p in planted}
    whole = [p for p in pairs if p.item == similarity.ALL]
    planted_scores = [p.score for p in whole if frozenset((p.student_a, p.student_b)) in wanted]
    others = [p for p in whole if frozenset((p.student_a, p.student_b)) not in wanted]
    assert len(planted_scores) == len(wanted)
    assert min(planted_scores) > others[0].score, (min(planted_scores), others[0])
    top = {frozenset((p.student_a, p.student_b)) for p in whole[:len(wanted)]}
    assert top == wanted


def test_the_disguise_changes_the_text_but_not_the_code():
    disguised = synthetic_class.disguise(textwrap.dedent(PAD), __import__("random").Random(3))
    assert disguised != textwrap.dedent(PAD) and "longest" not in disguised.replace("longest_", "")
    assert similarity.normalise(disguised) == similarity.normalise(textwrap.dedent(PAD))
