"""Hostile tests of the grader's integrity: what student code can see, what it can reach in memory,
and how much scratch space it can fill. Each attack is tried as a submission would try it, and must
get no points for its own item, with a reason, while the batch goes on.

The full sandbox needs root and `unshare`; the fallback (KIT_SANDBOX=fallback) is exercised too, and
must give the same grades while saying which protections it lacks.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from alignment_kit import paths as runtime_paths
from autograder import checks, paths, worker
from autograder.config import Limits
from autograder.grade_notebook import Grader
from autograder.notebook import parse_notebook
from submissions import build

pytestmark = pytest.mark.slow  # starts sandboxed workers

ALL_FUNCTIONS = [c.name for c in checks.FUNCTION_CHECKS]
full_sandbox = pytest.mark.skipif(not worker.sandbox().namespaces, reason="needs root and a working `unshare`")


def _grade(grader, cells: dict[str, str], path: Path, names: list[str]) -> dict:
    nb = build.with_cells({k: textwrap.dedent(v) for k, v in cells.items()})
    return {r.name: r for r in grader.grade_functions(parse_notebook(build.write(nb, path)), names)}


def _zero_with_reason(result, *reasons) -> None:
    assert result.score == 0, f"{result.name} earned {result.score}:\n{result.output}"
    assert any(reason in result.output for reason in reasons), f"{result.name}: expected one of {reasons}:\n{result.output}"


# ====================================================================== 1. a default-deny file system
@pytest.fixture(scope="module")
def second_copy(tmp_path_factory):
    """Another checkout of the kit elsewhere on the machine, as an instructor's other course might have."""
    other = tmp_path_factory.mktemp("other-course") / "kit"
    shutil.copytree(paths.REPO_ROOT / "solutions", other / "solutions")
    shutil.copytree(paths.REPO_ROOT / "autograder", other / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
    return other


def test_solutions_found_anywhere_on_disk_earn_nothing(mode, second_copy, tmp_path):
    solution = second_copy / "solutions" / "dpo_homework" / "dpo_homework.ipynb"
    cells = {
        # Knows where the other copy is.
        "get_log_prob": f'''
            def get_log_prob(logits, labels, mask):
                import json
                cells = json.load(open({str(solution)!r}))["cells"]
                code = next("".join(c["source"]) for c in cells if "".join(c["source"]).startswith("def get_log_prob"))
                namespace = {{"torch": torch, "F": F}}
                exec(code, namespace)
                return namespace["get_log_prob"](logits, labels, mask)
            ''',
        # Searches the usual places for any copy.
        "dpo_loss": '''
            def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
                import glob, os
                found = []
                for top in ("/tmp", "/root", "/home", "/work", "/srv", "/opt", os.path.expanduser("~")):
                    found += glob.glob(top + "/**/solutions/**/*.ipynb", recursive=True)
                raise RuntimeError(f"found {found}")
            ''',
        # Reads the grader's own checkout and another user's home folder.
        "pad": f'''
            def pad(tensors, padding_value=0, padding_side="right"):
                for secret in ({str(paths.SOLUTION_NOTEBOOK)!r}, "/root/.bash_history", "/etc/shadow", "/etc/passwd"):
                    open(secret).read()
                return torch.nn.utils.rnn.pad_sequence(list(tensors), batch_first=True, padding_value=padding_value)
            ''',
    }
    results = _grade(Grader(), cells, tmp_path / "finder.ipynb", ["get_log_prob", "dpo_loss", "pad", "tokenize_row"])
    _zero_with_reason(results["get_log_prob"], "No such file", "sandbox refuses")
    _zero_with_reason(results["dpo_loss"], "found []", "sandbox refuses")
    _zero_with_reason(results["pad"], "No such file", "sandbox refuses")
    assert results["tokenize_row"].score == results["tokenize_row"].max_score, results["tokenize_row"].output


@full_sandbox
def _ancestors(roots: list[str]) -> dict[str, set[str]]:
    """Every folder above a bound root, with the names a listing of it may show (the next steps down)."""
    allowed: dict[str, set[str]] = {}
    for root in roots:
        parts = Path(root).parts
        for depth in range(1, len(parts)):
            allowed.setdefault(str(Path(*parts[:depth])), set()).add(parts[depth])
    return allowed


def test_the_private_root_holds_only_python_the_runtime_and_the_models(second_copy, tmp_path, kit_assets):
    """Look around inside the worker's root (before the uid drop, as root: the view is the kernel's).
    Wherever the checkout lies (a CI clone under /tmp, say), each folder above a bound path lists only the
    way down to it."""
    roots = worker.readable_roots() + [p for p in worker.SYSTEM_FILES if os.path.exists(p)]
    above = _ancestors(roots)
    above["/"] |= {"dev", "proc", worker.SCRATCH_INSIDE.strip("/").split("/")[0]}
    probe = textwrap.dedent(f'''
        import json, os
        def exists(p):
            return os.path.exists(p)
        report = {{
            "listings": {{folder: sorted(os.listdir(folder)) for folder in {sorted(above)!r}}},
            "hidden": [p for p in {[str(paths.REPO_ROOT / n) for n in ("solutions", "tests", "autograder", ".git", "data")]
                                   + [str(second_copy), str(Path.home() / ".bash_history"), "/etc/passwd"]!r}
                       if exists(p)],
            "visible": [exists({str(runtime_paths.PACKAGE_DIR)!r}), exists({str(runtime_paths.cache_dir())!r}),
                        exists({sys.prefix!r})],
        }}
        try:
            open({str(runtime_paths.cache_dir() / "planted")!r}, "w")
            report["wrote_outside"] = True
        except OSError:
            report["wrote_outside"] = False
        stats = os.statvfs("{worker.SCRATCH_INSIDE}")
        report["scratch_mb"] = stats.f_blocks * stats.f_frsize / 2**20
        print("REPORT" + json.dumps(report))
        ''')
    limits = Limits(scratch_mb=96)
    root = tmp_path / "root"
    root.mkdir()
    done = subprocess.run(worker.UNSHARE + [worker.launch_script(root, limits, [sys.executable, "-c", probe])],
                          capture_output=True, text=True, timeout=120)
    line = next((l for l in done.stdout.splitlines() if l.startswith("REPORT")), None)
    assert line, done.stdout + done.stderr
    report = json.loads(line[len("REPORT"):])
    assert report["hidden"] == [], f"visible inside the sandbox: {report['hidden']}"
    assert all(report["visible"]), "the runtime, the model cache and Python must be visible"
    extra = {folder: sorted(set(names) - above[folder]) for folder, names in report["listings"].items()
             if set(names) - above[folder]}
    assert not extra, f"folders that show more than the way to a bound path: {extra}"
    assert not report["wrote_outside"], "the model cache is writable from the sandbox"
    assert 90 <= report["scratch_mb"] <= 100, report["scratch_mb"]


# ====================================================================== 2. no grader in the worker's memory
def test_reaching_for_the_grader_earns_nothing(mode, tmp_path):
    cells = {
        "tokenize_row": '''
            def tokenize_row(example, tokenizer, max_prompt_length=512, max_completion_length=None):
                from autograder.items.tokenize_row import _tokenize_mistake
                return _tokenize_mistake(eos=True, eos_after=False, truncate_completion=True)(
                    example, tokenizer, max_prompt_length, max_completion_length)
            ''',
        "pad": '''
            def pad(tensors, padding_value=0, padding_side="right"):
                import sys
                grader = [m for name, m in list(sys.modules.items()) if "autograder" in name]
                return grader[0]._pad_variant(None, None)(tensors, padding_value, padding_side)
            ''',
        "pad_collate_fn": f'''
            def pad_collate_fn(batch, pad_token_id):
                import importlib.util
                spec = importlib.util.spec_from_file_location("data_checks", {str(paths.REPO_ROOT / "autograder/items/pad_collate_fn.py")!r})
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                return module._collate_variant("left", "right", "lengths")(batch, pad_token_id)
            ''',
        "apply_chat_template": '''
            def apply_chat_template(example, tokenizer):
                import gc
                for obj in gc.get_objects():
                    if getattr(obj, "__module__", "").startswith("autograder"):
                        return obj
                raise RuntimeError("nothing of the grader found")
            ''',
        "dpo_loss": '''
            def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
                import importlib
                return importlib.import_module("autograder.reference").reference_function("dpo_loss")(
                    chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)
            ''',
    }
    names = list(cells) + ["get_log_prob"]
    results = _grade(Grader(), cells, tmp_path / "reach.ipynb", names)
    for name in ("tokenize_row", "dpo_loss"):
        _zero_with_reason(results[name], "tried to import the grader")
    _zero_with_reason(results["pad"], "IndexError")  # nothing of the grader is loaded to find
    _zero_with_reason(results["pad_collate_fn"], "No such file", "sandbox refuses")
    _zero_with_reason(results["apply_chat_template"], "sandbox refuses gc.get_objects")
    assert results["get_log_prob"].score == 1.0, "an honest function beside them keeps its points"


def test_a_top_level_grader_import_costs_every_item_of_the_notebook(tmp_path, kit_assets):
    nb = build.insert_before("apply_chat_template", build.code_cell("import autograder.checks as answers\n"))
    results = {r.name: r for r in Grader().grade_functions(parse_notebook(build.write(nb, tmp_path / "top.ipynb")),
                                                           ["pad", "dpo_loss"])}
    for result in results.values():
        _zero_with_reason(result, "tried to import the grader")


# ====================================================================== 3. bounded scratch
FILLERS = {
    "pad": '''
        def pad(tensors, padding_value=0, padding_side="right"):
            with open("filler.bin", "wb") as handle:  # the working folder
                for _ in range(400):
                    handle.write(b"x" * 2**20)
            return torch.nn.utils.rnn.pad_sequence(list(tensors), batch_first=True, padding_value=padding_value)
        ''',
    "tokenize_row": '''
        def tokenize_row(example, tokenizer, max_prompt_length=512, max_completion_length=None):
            import tempfile
            with tempfile.NamedTemporaryFile(delete=False) as handle:  # TMPDIR
                for _ in range(400):
                    handle.write(b"x" * 2**20)
            return {}
        ''',
    "dpo_loss": '''
        def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
            with open("/dev/shm/filler", "wb") as handle:  # shared memory
                for _ in range(400):
                    handle.write(b"x" * 2**20)
            return 0.0, 0.0, 0.0
        ''',
}


def test_filling_the_scratch_space_costs_only_that_item(mode, tmp_path):
    grader = Grader(Limits(scratch_mb=64, timeout_s=60, function_timeout_s=20))
    results = _grade(grader, FILLERS, tmp_path / "filler.ipynb", list(FILLERS) + ["apply_chat_template", "get_log_prob"])
    for name in FILLERS:
        _zero_with_reason(results[name], "scratch space", "sandbox refuses")
    for name in ("apply_chat_template", "get_log_prob"):
        assert results[name].score == results[name].max_score, f"{name} lost points to another item's filler"


def test_a_worker_cannot_see_what_an_earlier_worker_left(mode, tmp_path):
    """Each worker gets a fresh scratch space: nothing written by one is there for the next."""
    cells = {
        "pad": '''
            def pad(tensors, padding_value=0, padding_side="right"):
                open("left-behind.txt", "w").write("secret")
                return torch.nn.utils.rnn.pad_sequence(list(tensors), batch_first=True, padding_value=padding_value)
            ''',
        "pad_collate_fn": '''
            def pad_collate_fn(batch, pad_token_id):
                import os
                found = [p for p in ("left-behind.txt", os.path.expanduser("~/left-behind.txt")) if os.path.exists(p)]
                raise RuntimeError(f"found {found}")
            ''',
    }
    results = _grade(Grader(), cells, tmp_path / "leftovers.ipynb", ["pad", "pad_collate_fn"])  # two workers
    assert "found []" in results["pad_collate_fn"].output, results["pad_collate_fn"].output


@full_sandbox
def test_many_small_files_hit_the_file_cap(tmp_path, kit_assets):
    grader = Grader(Limits(scratch_files=2000, timeout_s=60))
    cells = {"pad": '''
        def pad(tensors, padding_value=0, padding_side="right"):
            for index in range(10_000):
                open(f"f{index}", "w").close()
            return None
        '''}
    results = _grade(grader, cells, tmp_path / "files.ipynb", ["pad", "dpo_loss"])
    _zero_with_reason(results["pad"], "scratch space is full")
    assert results["dpo_loss"].score == 1.0


# ====================================================================== 4. no way out through native code
def _marked_processes(marker: str) -> list[str]:
    """Command lines of running processes that contain `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline and "pytest" not in cmdline:
                found.append(cmdline)
    return found


NATIVE_ESCAPES = {
    # Read the solution with the C library's open and read.
    "get_log_prob": f'''
        def get_log_prob(logits, labels, mask):
            import ctypes
            libc = ctypes.CDLL(None)
            fd = libc.open({str(paths.SOLUTION_NOTEBOOK).encode()!r}, 0)
            buffer = ctypes.create_string_buffer(1 << 20)
            libc.read(fd, buffer, 1 << 20)
            raise RuntimeError(buffer.value[:80])
        ''',
    # Start a program that outlives the worker, with the function subprocess uses underneath (no audit event).
    "dpo_loss": '''
        def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
            import os, _posixsubprocess
            r, w = os.pipe()
            args = [b"/bin/sleep", b"317"]
            _posixsubprocess.fork_exec(args, args, True, (), None, None, -1, -1, -1, -1, -1, -1, r, w, False, True,
                                       False, None, None, None, -1, None, False)
            return chosen_logps.mean(), chosen_logps.mean(), chosen_logps.mean()
        ''',
    # Fork through the C library.
    "tokenize_row": '''
        def tokenize_row(example, tokenizer, max_prompt_length=512, max_completion_length=None):
            import ctypes
            if ctypes.CDLL(None).fork() == 0:
                import time
                time.sleep(317)
            return {}
        ''',
    # Load compiled code written into the scratch folder (a copy of a standard module, under its own name).
    "pad": '''
        def pad(tensors, padding_value=0, padding_side="right"):
            import glob, importlib.util, os, shutil, sys
            source = next(p for p in glob.glob(os.path.join(sys.base_prefix, "lib", "python3*", "lib-dynload", "_json*.so")))
            shutil.copyfile(source, os.path.abspath("_json.so"))
            spec = importlib.util.spec_from_file_location("_json", os.path.abspath("_json.so"))
            module = importlib.util.module_from_spec(spec)
            raise RuntimeError(f"loaded {module}")
        ''',
    # Signal every process this user may (the grader among them).
    "apply_chat_template": '''
        def apply_chat_template(example, tokenizer):
            import os, signal
            os.kill(-1, signal.SIGSTOP)
            return {}
        ''',
}


def test_native_code_earns_nothing_and_starts_nothing_that_survives(mode, tmp_path):
    results = _grade(Grader(Limits(timeout_s=40, function_timeout_s=10)), NATIVE_ESCAPES, tmp_path / "native.ipynb",
                     list(NATIVE_ESCAPES) + ["pad_collate_fn"])
    for name in NATIVE_ESCAPES:
        _zero_with_reason(results[name], "sandbox refuses", "Operation not permitted", "No such file")
    assert results["pad_collate_fn"].score == results["pad_collate_fn"].max_score, results["pad_collate_fn"].output
    assert not _marked_processes("sleep 317"), _marked_processes("sleep 317")
    assert not [line for line in _marked_processes("alignment_kit") if "zygote" not in line], "a worker outlived its job"


# ====================================================================== the fallback says what it lacks and grades alike
def test_the_fallback_names_what_it_lacks(monkeypatch):
    monkeypatch.setenv("KIT_SANDBOX", "fallback")
    worker.sandbox.cache_clear()
    try:
        described = worker.sandbox().describe(Limits())
    finally:
        monkeypatch.delenv("KIT_SANDBOX")
        worker.sandbox.cache_clear()
    for missing in ("reduced", "private root", "network", "PID", "scratch cap"):
        assert missing in described, described


def test_when_the_uid_cannot_be_dropped_the_first_line_says_what_that_exposes_and_the_fix(monkeypatch, tmp_path, capsys):
    from autograder.grade import grade_all
    from autograder.config import GradeConfig
    from alignment_kit.sandbox import guard

    monkeypatch.setenv("KIT_SANDBOX", "fallback")
    monkeypatch.setattr(guard, "blocking_folder", lambda path: "/opt/locked-python")
    monkeypatch.setattr(guard, "readable_by_others", lambda path: False)
    worker.sandbox.cache_clear()
    try:
        shutil.copy(paths.EXAMPLE_SUBMISSIONS / "erin.ipynb", tmp_path / "erin.ipynb")  # needs no worker
        grade_all([str(tmp_path / "erin.ipynb")], GradeConfig(out_dir=str(tmp_path / "out"), jobs=1, gradebook_db=None))
    finally:
        monkeypatch.delenv("KIT_SANDBOX")
        worker.sandbox.cache_clear()
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("sandbox: reduced") and "WARNING: student code runs as" in first, first
    assert "/opt/locked-python" in first and "chmod o+rX /opt/locked-python" in first, first


def test_the_fallback_gives_the_reference_full_marks(monkeypatch, tmp_path, kit_assets):
    monkeypatch.setenv("KIT_SANDBOX", "fallback")
    worker.sandbox.cache_clear()
    try:
        grader = Grader()
        parsed = parse_notebook(build.write(build.solution_notebook(), tmp_path / "reference.ipynb"))
        lost = [(r.name, r.output) for r in grader.grade_functions(parsed, ALL_FUNCTIONS) if r.score != r.max_score]
        items, _ = grader.grade_cell(parsed, checks.cell_check("dpo_training_loop"))
        lost += [(i.name, i.output) for i in items if not i.passed]
    finally:
        monkeypatch.delenv("KIT_SANDBOX")
        worker.sandbox.cache_clear()
    assert not lost, lost


def test_an_unknown_sandbox_setting_names_the_choices(monkeypatch):
    monkeypatch.setenv("KIT_SANDBOX", "off")
    worker.sandbox.cache_clear()
    try:
        with pytest.raises(ValueError, match="fallback"):
            worker.sandbox()
    finally:
        monkeypatch.delenv("KIT_SANDBOX")
        worker.sandbox.cache_clear()
    assert replace(Limits(), scratch_mb=1).scratch_mb == 1
