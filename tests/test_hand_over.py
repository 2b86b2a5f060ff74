"""Graded functions that hand their work to a library: flagged from the code, from the worker's calls, and
as copies of the library's own code; never on the reference, a valid variant or the given code."""
from __future__ import annotations

import ast
import inspect
import json
import random
import textwrap

import nbformat
import pytest

from alignment_kit import i18n
from alignment_kit.handover import HandOver, resolve
from alignment_kit.handover_scan import uses
from autograder import checks, class_report, hand_overs, library_code, paths, similarity
from autograder.notebook import parse_notebook
from autograder.results import GradeRecord
from submissions import build, synthetic_class


def _flags(source: str, item: str) -> list[str]:
    check = checks.function_check(item)
    tree = ast.parse(textwrap.dedent(source))
    return [use.entry for use in uses(tree, check.item.callable_name, check.hand_over,
                                      hand_overs.graded_names() - {check.item.callable_name})]


# Each case reaches a banned function in its own way; each is the item's whole answer.
HANDED_OVER = {
    "a module alias, through a partial in a helper": ("pad", "trl.trainer.utils.pad", '''
        import functools
        import trl.trainer.utils as tu

        def _filler(side):
            return functools.partial(tu.pad, padding_side=side)

        def pad(tensors, padding_value=0, padding_side="right"):
            return _filler(padding_side)(tensors, padding_value=padding_value)
        '''),
    "a local import under another name": ("apply_chat_template", "trl.data_utils.maybe_apply_chat_template", '''
        def apply_chat_template(example, tokenizer):
            from trl.data_utils import maybe_apply_chat_template as render
            return render(example, tokenizer)
        '''),
    "sys.modules and a concatenated name": ("get_log_prob", "trl.trainer.utils.selective_log_softmax", '''
        import sys
        import trl

        def get_log_prob(logits, labels, mask):
            tools = sys.modules["trl.trainer" + ".utils"]
            per_token = getattr(tools, "selective_" + "log_softmax")(logits[:, :-1], labels[:, 1:])
            return (per_token * mask[:, 1:]).sum(-1)
        '''),
    "__import__ with a fromlist and a joined name": ("apply_chat_template", "trl.data_utils.apply_chat_template", '''
        def apply_chat_template(example, tokenizer):
            data = __import__("trl.data_utils", fromlist=["unused"])
            return getattr(data, "_".join(["apply", "chat", "template"]))(example, tokenizer)
        '''),
    "importlib and a reversed string kept in a constant": ("pad", "trl.trainer.utils.pad", '''
        import importlib
        NAME = "dap"

        def pad(tensors, padding_value=0, padding_side="right"):
            utilities = importlib.import_module(f"trl.{'trainer'}.utils")
            return getattr(utilities, NAME[::-1])(tensors, padding_value, padding_side)
        '''),
    "a method of the DPO trainer through vars()": ("dpo_loss", "trl.DPOTrainer.*", '''
        import trl

        def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1, weights=None):
            compute = vars(trl.DPOTrainer)["_compute_loss"]
            return compute(None, None, None)
        '''),
    "the library's function imported under the graded name": ("pad", "trl.trainer.utils.pad", '''
        from trl.trainer.utils import pad
        '''),
    "a collator class built in the function": ("pad_collate_fn", "trl.trainer.dpo_trainer.DataCollatorForPreference.*", '''
        from trl.trainer import dpo_trainer as dt

        def pad_collate_fn(batch, pad_token_id):
            return dt.DataCollatorForPreference(pad_token_id=pad_token_id).torch_call(batch)
        '''),
}


@pytest.mark.parametrize("case", list(HANDED_OVER))
def test_each_way_of_reaching_a_banned_function_is_read_in_the_code(case):
    item, entry, source = HANDED_OVER[case]
    assert _flags(source, item) == [entry]


ALLOWED = {
    "pad_sequence and F.pad": ("pad", '''
        import torch.nn.functional as F
        from torch.nn.utils.rnn import pad_sequence

        def pad(tensors, padding_value=0, padding_side="right"):
            if padding_side == "left":
                return pad_sequence([t.flip(0) for t in tensors], batch_first=True, padding_value=padding_value).flip(1)
            longest = max(len(t) for t in tensors)
            return F.pad(tensors[0], (0, longest - len(tensors[0])))
        '''),
    "log_softmax and gather, named pad inside": ("get_log_prob", '''
        import torch
        import torch.nn.functional as F

        def get_log_prob(logits, labels, mask):
            pad = "not TRL's"
            picked = torch.gather(F.log_softmax(logits[:, :-1], -1), 2, labels[:, 1:, None])[..., 0]
            return (picked * mask[:, 1:]).sum(-1)
        '''),
    "a student's own module named like TRL's": ("pad", '''
        import mytools.trl.trainer.utils as u

        def pad(tensors, padding_value=0, padding_side="right"):
            return u.pad(tensors)
        '''),
}


@pytest.mark.parametrize("case", list(ALLOWED))
def test_tools_and_look_alike_names_are_not_flagged(case):
    item, source = ALLOWED[case]
    assert _flags(source, item) == []


def test_hostile_code_is_read_without_blowing_up(monkeypatch):
    """Names bound to themselves, long chains of aliases, string bombs and hundreds of library names: the scan
    works each expression out once, folds no string longer than it can use, and looks up a bounded number of
    names, so it ends (an alarm fails the test otherwise) and still finds the hand-over."""
    import signal

    doubling = "NAME = 'p'\n" + "NAME = NAME + NAME\n" * 60
    chain = "a0 = trl.trainer.utils\n" + "".join(f"a{i} = a{i - 1}\n" for i in range(1, 400))
    many = "".join(f"    t{i} = transformers.models.m{i}.pad\n" for i in range(300))  # each shares "pad"
    source = (f"import trl, transformers\n{doubling}{chain}def pad(tensors, padding_value=0, padding_side='right'):\n{many}"
              "    bomb = getattr(trl, 'x' * 10 ** 9)\n    wide = getattr(trl, 'pad' * 100000)\n"
              "    return a5.pad(tensors)\n")
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the scan did not end"))
    signal.alarm(60)
    try:
        assert _flags(source, "pad") == ["trl.trainer.utils.pad"]
    finally:
        signal.alarm(0)


def test_a_graded_function_is_not_flagged_for_another_graded_function_it_calls():
    source = '''
        from trl.trainer.utils import pad
        import torch

        def pad_collate_fn(batch, pad_token_id):
            return {"prompt_input_ids": pad([torch.tensor(r["prompt_input_ids"]) for r in batch], pad_token_id, "left")}
        '''
    assert _flags(source, "pad_collate_fn") == [] and _flags(source, "pad") == ["trl.trainer.utils.pad"]


def test_the_reference_the_given_code_and_every_valid_variant_raise_no_flag(tmp_path):
    from test_equivalent import VARIANTS

    def flags(notebook, check):
        source = similarity.function_sources(notebook).get(check.item.callable_name, "")
        return hand_overs.flags(check, hand_overs.notebook_tree(notebook), {}, source)

    reference = parse_notebook(build.write(build.solution_notebook(), tmp_path / "reference.ipynb"))
    student = parse_notebook(paths.STUDENT_NOTEBOOK)  # the given trainer cells included
    for check in checks.FUNCTION_CHECKS:
        assert flags(reference, check) == [], check.name
        assert flags(student, check) == [], check.name
    for variant in VARIANTS:
        notebook = parse_notebook(build.write(build.with_cells({build.cell_of(variant.function): variant.source}),
                                              tmp_path / f"{variant.id}.ipynb"))
        for check in checks.FUNCTION_CHECKS:
            assert flags(notebook, check) == [], (variant.id, check.name)


def test_only_calls_the_grader_asked_to_watch_are_believed():
    check = checks.function_check("pad")
    empty = ast.Module([], type_ignores=[])
    forged = {"calls": ["trl.trainer.utils.selective_log_softmax", 7, {"x": 1}, "trl.trainer.utils.pad"]}
    assert [(f.function, f.found_by) for f in hand_overs.flags(check, empty, forged)] == \
        [("trl.trainer.utils.pad", hand_overs.CALLED)]
    assert hand_overs.flags(check, empty, {"calls": "trl.trainer.utils.pad"}) == []


def test_policies_name_what_is_installed_and_reach_the_self_check():
    from alignment_kit.paths import FIXTURES

    stored = json.loads(FIXTURES.read_text(encoding="utf-8"))["hand_overs"]
    for check in checks.FUNCTION_CHECKS:
        policy = check.hand_over
        assert stored.get(check.name, HandOver().as_data()) == policy.as_data()
        for entry in (*policy.banned, *policy.allowed, *([policy.twin] if policy.twin else [])):
            assert resolve(entry.removesuffix(".*")) is not None, (check.name, entry)
        assert all(policy.banned_as(entry) is None for entry in policy.allowed)


def test_the_self_check_warns_about_a_call_to_a_banned_function(capsys):
    from trl.trainer.utils import pad as library_pad

    from alignment_kit import selfcheck

    selfcheck.check_pad(lambda tensors, padding_value=0, padding_side="right":
                        library_pad(tensors, padding_value, padding_side))
    shown = capsys.readouterr().out
    assert "⚠ pad: uses `trl.trainer.utils.pad`" in shown and "✓ pad" in shown
    selfcheck.check_pad(_own_pad())
    assert "⚠" not in capsys.readouterr().out


def _own_pad():
    """The reference's pad, as written in the source notebook."""
    import torch

    namespace = {"torch": torch}
    exec(build.source("pad"), namespace)  # noqa: S102 - the kit's own reference
    return namespace["pad"]


def test_the_note_is_said_in_both_languages():
    note = hand_overs.notes([hand_overs.Flag("pad", "trl.trainer.utils.pad", hand_overs.CALLED, "x")])
    with i18n.speaking("ru"):
        russian = hand_overs.notes([hand_overs.Flag("pad", "trl.trainer.utils.pad", hand_overs.CALLED, "x")])
    assert note == ["uses `trl.trainer.utils.pad`: the homework asks you to write it"]
    assert russian != note and "`trl.trainer.utils.pad`" in russian[0]


# ---------------------------------------------------------------- copies of the library's code
def _pasted_pad(rng: random.Random) -> str:
    """TRL's own pad under the homework's signature, disguised the way the synthetic class disguises copies."""
    source = textwrap.dedent(inspect.getsource(resolve(checks.function_check("pad").hand_over.twin)))
    tree = ast.parse(source)
    tree.body[0].returns = None
    for argument in tree.body[0].args.args:
        argument.annotation = None
    return synthetic_class.disguise("import numpy as np\n" + ast.unparse(tree), rng)


def _record(folder, student: str, notebook) -> None:
    path = build.write(notebook, folder / "notebooks" / f"{student}.ipynb")
    record = GradeRecord(student, str(path), "")
    (folder / student).mkdir(parents=True)
    (folder / student / "record.json").write_text(json.dumps(record.to_record()), encoding="utf-8")


def test_a_pasted_copy_of_the_library_pad_ranks_above_every_independent_pad(tmp_path):
    synthetic_class.make(24, 2, tmp_path / "class")
    for path in sorted((tmp_path / "class").glob("*.ipynb")):
        _record(tmp_path / "grades", path.stem, nbformat.read(path, as_version=4))
    _record(tmp_path / "grades", "paster", build.with_cells({"pad": _pasted_pad(random.Random(5))}))
    report = class_report.build(tmp_path / "grades", log=lambda *_: None)
    library = library_code.student_name(checks.function_check("pad").hand_over.twin)
    pads = sorted((p for p in report.library_pairs if p.item == "pad"), key=lambda p: -p.score)
    assert pads[0].student_a == library and pads[0].student_b == "paster", pads[:3]
    assert [(p.student_b, p.item) for p in report.library_copies] == [("paster", "pad")]
    assert all(library not in (p.student_a, p.student_b) for p in report.pairs)
    written = class_report.write(report, tmp_path / "out")
    rows = (tmp_path / "out" / "hand_overs.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "student,item,function,found_by,evidence" and rows[1].startswith(f"paster,pad,{library},copy,")
    assert "paster and " + library in (tmp_path / "out" / "class.html").read_text(encoding="utf-8")
    assert tmp_path / "out" / "hand_overs.csv" in written


def test_a_pasted_copy_is_flagged_on_its_own_line_and_no_other_answer_of_the_suite_is():
    check = checks.function_check("pad")
    for seed in range(4):
        pasted = _pasted_pad(random.Random(seed))
        found = hand_overs.flags(check, ast.parse(pasted), {}, pasted)
        assert [(f.function, f.found_by) for f in found] == [(check.hand_over.twin, hand_overs.COPIED)]
        assert hand_overs.twin_share(check, pasted) >= hand_overs.TWIN_SHARE
        assert hand_overs.notes(found) == [f"is a copy of `{check.hand_over.twin}` (renamed or not): the homework "
                                           "asks you to write it"]
    for cell, sources in synthetic_class.options().items():  # the reference, valid variants and known mistakes
        for name in (c.name for c in checks.FUNCTION_CHECKS if build.cell_of(c.name) == cell):
            shares = [hand_overs.twin_share(checks.function_check(name), source) for source in sources]
            assert max(shares) < hand_overs.TWIN_SHARE / 2, (name, max(shares))


# ---------------------------------------------------------------- graded in workers
HIDDEN_FROM_READING = '''
def pad(tensors, padding_value=0, padding_side="right"):
    import importlib
    name = "".join(sorted("apd"))  # "adp": no constant says "pad"
    utilities = importlib.import_module(".".join(["trl", "trainer", "utils"]))
    return getattr(utilities, name[2] + name[0] + name[1])(tensors, padding_value, padding_side)
'''
TURNS_THE_WATCH_OFF = '''
import sys
import trl.trainer.utils

def pad(tensors, padding_value=0, padding_side="right"):
    sys.setprofile(None)
    return trl.trainer.utils.pad(tensors, padding_value, padding_side)
'''


@pytest.mark.slow
def test_a_call_the_code_hides_is_recorded_and_costs_points_only_when_the_course_says(tmp_path, kit_assets):
    from autograder.grade_notebook import Grader

    notebook = parse_notebook(build.write(build.with_cells({"pad": HIDDEN_FROM_READING}), tmp_path / "hidden.ipynb"))
    assert hand_overs.flags(checks.function_check("pad"), hand_overs.notebook_tree(notebook), {}) == []
    lines, flags = Grader().graded_functions(notebook)
    costly_lines, costly_flags = Grader(hand_over_costs_points=True).graded_functions(notebook)
    assert [(f.item, f.function, f.found_by) for f in flags] == [("pad", "trl.trainer.utils.pad", hand_overs.CALLED)]
    assert costly_flags == flags
    scores = {line.name: line.score for line in lines}
    costly = {line.name: line.score for line in costly_lines}
    assert scores["pad"] == checks.function_check("pad").item.points and costly["pad"] == 0.0
    assert {k: v for k, v in costly.items() if k != "pad"} == {k: v for k, v in scores.items() if k != "pad"}
    pad_line = next(line for line in lines if line.name == "pad")
    assert pad_line.output.endswith("uses `trl.trainer.utils.pad`: the homework asks you to write it")


@pytest.mark.slow
def test_a_worker_that_turns_the_watch_off_gains_nothing(tmp_path, kit_assets):
    from autograder.grade_notebook import Grader

    notebook = parse_notebook(build.write(build.with_cells({"pad": TURNS_THE_WATCH_OFF}), tmp_path / "off.ipynb"))
    lines, flags = Grader(hand_over_costs_points=True).graded_functions(notebook, ["pad"])
    assert [(f.function, f.found_by) for f in flags] == [("trl.trainer.utils.pad", hand_overs.IN_THE_CODE)]
    assert lines[0].score == 0.0
