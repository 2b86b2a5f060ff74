"""Hostile and broken submissions: each gets a correct, non-inflated grade with a clear message,
and grading goes on.

Most cases go through `grade_functions` (one worker, ~5 s). Cases that kill the worker make the
grader retry each function in its own worker, so they grade only a few functions. Only the
forged-results case runs the batch command (`grade_all`), on a notebook without the re-run cells
to keep it fast. Cases that rely on the Linux sandbox (hidden folders, pid namespace) are skipped
where it is unavailable.
"""
from __future__ import annotations

import json
import textwrap
import time

import nbformat
import pytest

from alignment_kit import items
from autograder import checks, paths
from autograder.grade import grade_all
from autograder.config import GradeConfig, Limits
from autograder.grade_notebook import Grader
from autograder.notebook import parse_notebook
from autograder.worker import sandbox
from submissions import build

pytestmark = pytest.mark.slow  # grades hostile submissions in workers

ALL_FUNCTIONS = [c.name for c in checks.FUNCTION_CHECKS]
needs_sandbox = pytest.mark.skipif(not sandbox().namespaces,
                                   reason="needs the Linux sandbox (root and `unshare --net --mount --pid`)")




@pytest.fixture(scope="module")
def fast_grader(kit_assets):
    """Short limits for the loop and fork cases."""
    return Grader(Limits(timeout_s=30, function_timeout_s=5))


def _grade(grader, nb, path, names=None) -> dict:
    parsed = parse_notebook(build.write(nb, path))
    return {r.name: r for r in grader.grade_functions(parsed, names or ALL_FUNCTIONS)}


def _full(result) -> bool:
    return result.score == result.max_score


def _describe(results: dict) -> str:
    return "\n".join(f"  {name}: {r.score}/{r.max_score} {r.output[:300]!r}" for name, r in results.items())


# ====================================================================== misbehaving functions, one worker
SOLUTION_PATH = paths.REPO_ROOT / "solutions" / "dpo_homework" / "dpo_homework.ipynb"

MISBEHAVING = {
    "dpo_loss": '''
        def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
            import sys
            sys.exit("giving up on the loss")
        ''',
    "pad": '''
        def pad(tensors, padding_value=0, padding_side="right"):
            padding_side = input("which side? ") or padding_side
            return torch.nn.utils.rnn.pad_sequence(list(tensors), batch_first=True, padding_value=padding_value)
        ''',
    "tokenize_row": '''
        def tokenize_row(example, tokenizer, max_prompt_length=512, max_completion_length=None):
            cache = bytearray(50 * 2**30)  # "preallocate" 50 GiB
            return {"prompt_input_ids": [], "chosen_input_ids": [], "rejected_input_ids": [], "cache": cache}
        ''',
    "get_log_prob": f'''
        def get_log_prob(logits, labels, mask):
            import json
            with open({str(SOLUTION_PATH)!r}) as handle:
                solution = json.load(handle)
            for cell in solution["cells"]:
                code = "".join(cell["source"])
                if code.startswith("def get_log_prob"):
                    namespace = {{"torch": torch, "F": F}}
                    exec(code, namespace)
                    return namespace["get_log_prob"](logits, labels, mask)
        ''',
    "make_dataloader": '''
        def make_dataloader(rows, tokenizer, batch_size, shuffle=True):
            print("debug " * 2_000_000)  # megabytes of output
            print("x" * 10**7)
            collate = functools.partial(pad_collate_fn, pad_token_id=tokenizer.pad_token_id)
            return DataLoader(rows, batch_size=batch_size, shuffle=shuffle, collate_fn=collate)
        ''',
}


@pytest.fixture(scope="module")
def misbehaving(grader, tmp_path_factory):
    started = time.time()
    results = _grade(grader, build.with_cells({k: textwrap.dedent(v) for k, v in MISBEHAVING.items()}),
                     tmp_path_factory.mktemp("hostile") / "misbehaving.ipynb")
    return results, time.time() - started


@pytest.mark.parametrize("function, phrase", [
    ("dpo_loss", "sys.exit"),
    ("pad", "EOFError"),  # stdin is closed: input() fails at once instead of hanging
    ("tokenize_row", "MemoryError"),
])
def test_misbehaving_function_scores_zero_with_a_reason(misbehaving, function, phrase):
    results, seconds = misbehaving
    result = results[function]
    assert result.score == 0, f"{function} misbehaves but scored {result.score}:\n{result.output}"
    assert phrase in result.output, f"{function}: the feedback should say {phrase!r}, got:\n{result.output}"
    assert seconds < 120, f"grading the notebook took {seconds:.0f}s: something hung"


@needs_sandbox
def test_solution_notebook_cannot_be_read_from_student_code(misbehaving):
    result = misbehaving[0]["get_log_prob"]
    assert result.score == 0, ("get_log_prob copied from solutions/ earned points: the solution notebook is "
                               f"readable inside the worker:\n{result.output}")
    assert any(reason in result.output for reason in ("Permission denied", "No such file", "sandbox refuses")), result.output


def test_printing_megabytes_costs_nothing(misbehaving):
    result = misbehaving[0]["make_dataloader"]
    assert _full(result), f"a correct make_dataloader that prints 20 MB lost points:\n{result.output}"


def test_misbehaving_functions_do_not_cost_the_others(misbehaving):
    results = misbehaving[0]
    others = {name: r for name, r in results.items() if items.item(name).callable_name not in MISBEHAVING}
    assert others and all(_full(r) for r in others.values()), f"untouched functions lost points:\n{_describe(others)}"


# ====================================================================== the process ends itself
def test_os_exit_at_definition_time_scores_zero_and_grading_goes_on(grader, tmp_path):
    nb = build.with_cell("tokenize_row", build.source("tokenize_row").replace(
        "max_completion_length=None):", "max_completion_length=None, _=__import__('os')._exit(0)):"))
    results = _grade(grader, nb, tmp_path / "exit_on_def.ipynb", ["tokenize_row", "apply_chat_template"])
    culprit = results["tokenize_row"]
    assert culprit.score == 0 and "os._exit" in culprit.output, f"tokenize_row:\n{culprit.output}"
    other = results["apply_chat_template"]
    # The notebook cannot even be defined, so nothing is owed; a grader that isolates definitions may still
    # grade it. Either way: no inflated score and a reason.
    assert _full(other) or (other.score == 0 and "os._exit" in other.output), other.output


@pytest.fixture(scope="module")
def exit_inside_function(grader, tmp_path_factory):
    nb = build.with_cell("dpo_loss", '''
        def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
            import os
            os._exit(0)
        ''')
    return _grade(grader, nb, tmp_path_factory.mktemp("hostile") / "exit.ipynb", ["dpo_loss", "pad", "apply_chat_template"])


def test_os_exit_inside_a_function_scores_zero_with_a_reason(exit_inside_function):
    culprit = exit_inside_function["dpo_loss"]
    assert culprit.score == 0, culprit.output
    assert "os._exit" in culprit.output, f"the feedback should say the worker was ended:\n{culprit.output}"


def test_os_exit_inside_a_function_does_not_cost_the_others(exit_inside_function):
    others = {n: r for n, r in exit_inside_function.items() if n != "dpo_loss"}
    assert all(_full(r) for r in others.values()), f"the others lost points after a worker died:\n{_describe(others)}"


def test_one_function_of_the_reference_graded_alone_gets_full_marks(grader, tmp_path):
    """What the per-function retry does after a worker dies."""
    parsed = parse_notebook(build.write(build.solution_notebook(), tmp_path / "reference.ipynb"))
    results = {r.name: r for r in grader.grade_functions(parsed, ["pad"])}
    assert _full(results["pad"]), f"the reference pad graded on its own:\n{results['pad'].output}"


# ====================================================================== resource exhaustion
def test_infinite_loop_times_out_and_the_rest_is_graded(fast_grader, tmp_path):
    nb = build.with_cell("dpo_loss", '''
        def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
            while True:
                pass
        ''')
    started = time.time()
    results = _grade(fast_grader, nb, tmp_path / "loop.ipynb", ["dpo_loss", "apply_chat_template"])
    seconds = time.time() - started
    assert results["dpo_loss"].score == 0 and "timed out" in results["dpo_loss"].output, results["dpo_loss"].output
    assert _full(results["apply_chat_template"]), results["apply_chat_template"].output
    assert seconds < 60, f"an infinite loop held grading for {seconds:.0f}s (limits: 5 s per function, 30 s per worker)"


@needs_sandbox
def test_fork_bomb_is_contained(tmp_path, kit_assets):
    grader = Grader(Limits(timeout_s=15, function_timeout_s=5))
    nb = build.with_cell("tokenize_row", '''
        def tokenize_row(example, tokenizer, max_prompt_length=512, max_completion_length=None):
            import os
            while True:
                os.fork()
        ''')
    started = time.time()
    results = _grade(grader, nb, tmp_path / "fork.ipynb", ["tokenize_row", "apply_chat_template"])
    seconds = time.time() - started
    assert results["tokenize_row"].score == 0, f"a fork bomb earned points:\n{results['tokenize_row'].output}"
    assert results["tokenize_row"].output.strip(), "no reason given for the fork bomb's zero"
    assert _full(results["apply_chat_template"]), results["apply_chat_template"].output
    # one worker for both functions, then one per function, each killed after at most 15 s
    assert seconds < 3 * 15 + 40, f"the fork bomb held grading for {seconds:.0f}s"


# ====================================================================== forged results
@needs_sandbox
def test_forged_results_json_is_replaced_by_the_graders(tmp_path):
    out, inputs = tmp_path / "grading-out", tmp_path / "submissions"
    forged = json.dumps({"score": 999, "output": "FORGED", "tests": []})
    forger = f'''
        def _forge():
            import os
            for target in ({str(out / "mallory" / "results.json")!r}, {str(out / "gradebook.csv")!r}):
                try:
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with open(target, "w") as handle:
                        handle.write({forged!r})
                except OSError:
                    pass
            return None


        def pad(tensors, padding_value=0, padding_side="right", _forged=_forge()):
            _forge()
            longest = max(len(t) for t in tensors)
            output = torch.full((len(tensors), longest), padding_value, dtype=tensors[0].dtype)
            for row, t in enumerate(tensors):
                if padding_side == "left":
                    output[row, longest - len(t):] = t
                else:
                    output[row, :len(t)] = t
            return output
        '''
    nb = build.with_cell("pad", forger)
    for grade_id in ("dpo_training_loop", "reward_training", "ppo_training"):  # functions only: fast
        nb = build.without_cell(grade_id, nb)
    build.write(nb, inputs / "mallory.ipynb")
    build.write_bytes(b'{"cells": [ this is not json', inputs / "broken.ipynb")

    config = GradeConfig(out_dir=str(out), jobs=1, gradebook_db=None)
    results = {r.student: r for r in grade_all([str(inputs)], config)}

    assert set(results) == {"mallory", "broken"}, f"the batch did not grade both notebooks: {sorted(results)}"
    written = json.loads((out / "mallory" / "results.json").read_text())
    assert written["score"] == results["mallory"].score != 999, f"results.json is not the grader's: {written}"
    assert "FORGED" not in json.dumps(written)
    pad_line = next(t for t in written["tests"] if t["name"] == "pad")
    assert pad_line["score"] == pad_line["max_score"], f"the (correct) pad lost points: {pad_line}"
    assert {t["name"] for t in written["tests"]} >= set(ALL_FUNCTIONS)
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".csv", ".md", ".html"):
            assert "FORGED" not in path.read_text(errors="replace"), f"{path} holds the forged text"
    broken = json.loads((out / "broken" / "results.json").read_text())
    assert broken["score"] == 0 and "not valid JSON" in broken["output"], broken["output"]


# ====================================================================== monkeypatching the checker
def test_patched_comparisons_and_builtins_do_not_inflate(grader, tmp_path):
    nb = build.with_cells({
        "dpo_loss": '''
            import builtins

            def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1,
                         _a=setattr(torch, "allclose", lambda *args, **kwargs: True),
                         _b=setattr(torch, "equal", lambda *args, **kwargs: True),
                         _c=setattr(torch.Tensor, "__eq__", lambda self, other: torch.tensor(True)),
                         _d=setattr(builtins, "abs", lambda value: 0)):
                chosen_rewards = beta * (chosen_logps - ref_chosen_logps)
                rejected_rewards = beta * (rejected_logps - ref_rejected_logps)
                margins = chosen_rewards - rejected_rewards
                return -F.logsigmoid(margins).sum(), (chosen_rewards > rejected_rewards).float().mean(), margins.mean()
            ''',
        "get_log_prob": '''
            def numerically_stable(fn):
                F.log_softmax = lambda x, dim=-1, **kwargs: torch.softmax(x, dim=dim)  # "stable" log-softmax
                return fn

            @numerically_stable
            def get_log_prob(logits, labels, mask):
                logits, labels, mask = logits[:, :-1, :], labels[:, 1:], mask[:, 1:]
                token_log_probs = torch.gather(F.log_softmax(logits, dim=-1), 2, labels.unsqueeze(-1)).squeeze(-1)
                return (token_log_probs * mask).sum(dim=-1)
            ''',
    })
    results = _grade(grader, nb, tmp_path / "patched.ipynb")
    loss, log_prob = results["dpo_loss"], results["get_log_prob"]
    assert loss.score == 0 and "summed over the batch" in loss.output, (
        f"patching torch.allclose/torch.equal/Tensor.__eq__/builtins.abs changed the verdict:\n{loss.output}")
    assert log_prob.score == 0 and "probabilities (softmax)" in log_prob.output, (
        f"F.log_softmax patched at definition time should give the softmax mistake:\n{log_prob.output}")
    assert _full(results["apply_chat_template"]), results["apply_chat_template"].output


def test_patched_isinstance_does_not_inflate_or_crash(grader, tmp_path):
    nb = build.with_cell("pad", '''
        import builtins

        def lenient(fn):
            builtins.isinstance = lambda obj, cls: True
            return fn

        @lenient
        def pad(tensors, padding_value=0, padding_side="right"):
            return torch.nn.utils.rnn.pad_sequence(list(tensors), batch_first=True, padding_value=padding_value)
        ''')
    names = ["pad", "apply_chat_template"]
    results = _grade(grader, nb, tmp_path / "isinstance.ipynb", names)
    assert set(results) == set(names), "grading stopped part-way"
    honest = _grade(grader, build.with_cell("pad", '''
        def pad(tensors, padding_value=0, padding_side="right"):
            return torch.nn.utils.rnn.pad_sequence(list(tensors), batch_first=True, padding_value=padding_value)
        '''), tmp_path / "honest.ipynb", ["pad"])["pad"]
    assert results["pad"].score == honest.score < honest.max_score, (
        f"patching isinstance changed the grade of a pad that ignores padding_side:\n{results['pad'].output}")
    assert "padding_side" in results["pad"].output, results["pad"].output
    assert all(r.output.strip() for r in results.values()), f"a result without a reason:\n{_describe(results)}"




def test_patched_tolist_does_not_inflate(grader, tmp_path):
    nb = build.with_cell("make_dataloader", '''
        def quiet(fn, _=setattr(torch.Tensor, "tolist", lambda self: [])):
            return fn

        @quiet
        def make_dataloader(rows, tokenizer, batch_size, shuffle=True):
            collate = functools.partial(pad_collate_fn, pad_token_id=0)  # wrong: pads with 0
            return DataLoader(rows, batch_size=batch_size, shuffle=shuffle, collate_fn=collate)
        ''')
    result = _grade(grader, nb, tmp_path / "tolist.ipynb")["make_dataloader"]
    assert result.score == 0, f"a make_dataloader that pads with 0 earned points by patching tolist:\n{result.output}"




def test_reference_helpers_sent_to_the_worker_cannot_be_stolen(grader, tmp_path):
    nb = build.with_cell("pad", '''
        def pad(tensors, padding_value=0, padding_side="right"):
            import gc
            for obj in gc.get_objects():
                if type(obj) is dict and type(obj.get("substitutes")) is dict:
                    for code in obj["substitutes"].values():
                        if "def pad(" in code:
                            namespace = {}
                            exec(code, namespace)
                            return namespace["pad"](tensors, padding_value, padding_side)
            raise NotImplementedError("no luck")
        ''')
    result = _grade(grader, nb, tmp_path / "steal.ipynb")["pad"]
    assert result.score == 0, f"a pad that execs the reference found in the worker's memory earned points:\n{result.output}"


# ====================================================================== broken notebooks
def test_invalid_json_scores_zero_with_a_reason(grader, tmp_path):
    path = build.write_bytes(b'\x89PNG\r\n{"cells": [}', tmp_path / "garbage.ipynb")
    result = grader.grade(path, "garbage")
    assert result.score == 0 and result.error and "not valid JSON" in result.error, result.error
    assert result.tests and all(t.score == 0 for t in result.tests)
    assert all("not valid JSON" in t.output for t in result.tests if t.status != "manual")


def test_nbformat_v3_notebook_is_graded(grader, tmp_path):
    v3 = nbformat.convert(build.solution_notebook(), 3)
    path = tmp_path / "old.ipynb"
    path.write_text(nbformat.writes(v3, version=3))
    assert "worksheets" in json.loads(path.read_text()), "the test notebook is not in the v3 layout"
    parsed = parse_notebook(path)
    assert parsed.error is None and any("v3" in w for w in parsed.warnings), (parsed.error, parsed.warnings)
    assert parsed.cell("dpo_training_loop"), "the re-run cells of a v3 notebook are not found"
    results = {r.name: r for r in grader.grade_functions(parsed, ALL_FUNCTIONS)}
    lost = {n: r.output[:300] for n, r in results.items() if not _full(r)}
    assert not lost, f"the reference solution saved as nbformat v3 lost points: {lost}"


@pytest.fixture(scope="module")
def messy(grader, tmp_path_factory):
    """Deleted, duplicated, broken and magic-laden cells in one notebook."""
    nb = build.without_cell("pad")
    # A wrong get_log_prob, then the cell copied (same metadata) and fixed further down: the last one wins.
    nb = build.with_cell("get_log_prob", '''
        def get_log_prob(logits, labels, mask):
            return (F.log_softmax(logits, -1).gather(-1, labels[..., None])[..., 0] * mask).sum(-1)
        ''', nb)
    fixed = nbformat.from_dict(json.loads(json.dumps(nb.cells[build.cell_index(nb, "get_log_prob")])))
    fixed.source = build.source("get_log_prob")
    if "id" in fixed:
        fixed["id"] = "get-log-prob-fixed-copy"  # Jupyter gives a pasted cell a new id, keeps its metadata
    nb = build.insert_after("dpo_loss", fixed, nb)
    nb = build.with_cell("dpo_loss", build.source("dpo_loss").replace("):", ")", 1), nb)  # syntax error
    nb = build.with_cell("tokenize_row", "!pip install foo\n%time _ = 1 + 1\n%matplotlib inline\n"
                         + build.source("tokenize_row"), nb)
    nb = build.with_cell("apply_chat_template", "%%time\n" + build.source("apply_chat_template"), nb)
    path = build.write(nb, tmp_path_factory.mktemp("hostile") / "messy.ipynb")
    parsed = parse_notebook(path)
    return parsed, {r.name: r for r in grader.grade_functions(parsed, ALL_FUNCTIONS)}


def test_deleted_cell_costs_only_that_function(messy):
    results = messy[1]
    assert results["pad"].score == 0 and "not defined" in results["pad"].output, results["pad"].output
    for name in ("pad_collate_fn", "make_dataloader"):  # graded with the reference pad
        assert _full(results[name]), f"{name} lost points because pad is missing:\n{results[name].output}"


def test_duplicated_cell_last_definition_wins(messy):
    result = messy[1]["get_log_prob"]
    assert _full(result), f"a wrong get_log_prob fixed in a later copy of the cell lost points:\n{result.output}"


def test_syntax_error_costs_only_its_cell(messy):
    parsed, results = messy
    output = results["dpo_loss"].output
    assert results["dpo_loss"].score == 0 and "cannot be compiled: a syntax error on line 1" in output, output
    assert any("syntax error" in w for w in parsed.warnings), parsed.warnings
    for name in ("tokenize_row", "to_implicit_prompt_preferences", "get_log_prob"):
        assert _full(results[name]), f"{name} lost points because another cell has a syntax error"


def test_line_magics_and_shell_escapes_are_ignored(messy):
    result = messy[1]["tokenize_row"]
    assert _full(result), f"tokenize_row in a cell with !pip / %time / %matplotlib lost points:\n{result.output}"




def test_time_cell_magic_keeps_the_cell(messy):
    result = messy[1]["apply_chat_template"]
    assert _full(result), f"apply_chat_template in a %%time cell lost points:\n{result.output}"


def test_time_cell_magic_on_the_training_loop_keeps_the_cell(grader, tmp_path):
    nb = build.with_cell("dpo_training_loop", "%%time\n" + build.source("dpo_training_loop"))
    parsed = parse_notebook(build.write(nb, tmp_path / "timed_loop.ipynb"))
    items, _ = grader.grade_cell(parsed, checks.cell_check("dpo_training_loop"))
    failed = [(i.name, i.output) for i in items if not i.passed]
    assert not failed, f"the reference training loop under %%time lost points: {failed}"
