"""Checks for the synthetic preference data in alignment_kit/data/ (written by data/generate_preferences.py).

Regenerate the files with ``python data/generate_preferences.py``.
"""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PREF_DIR = ROOT / "alignment_kit" / "data"
GENERATOR = ROOT / "data" / "generate_preferences.py"
EXPECTED_ROWS = {"train": 2400, "test": 240, "unseen": 240}
KEYS = {"prompt", "chosen", "rejected"}
MAX_TOKEN_RATIO = 0.90


def path_of(split):
    return PREF_DIR / f"{split}.jsonl"


def load(split):
    lines = path_of(split).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def has_emoji(text):
    """Rough emoji test: misc symbols/dingbats and the supplementary planes."""
    return any(0x2600 <= ord(ch) <= 0x27BF or ord(ch) >= 0x1F000 for ch in text)


def worst_token(rows):
    """(ratio, side, token) of the token that best separates chosen from rejected."""
    picks_chosen, picks_rejected = Counter(), Counter()
    for row in rows:
        chosen = set(row["chosen"].lower().split())
        rejected = set(row["rejected"].lower().split())
        picks_chosen.update(chosen - rejected)
        picks_rejected.update(rejected - chosen)
    n = len(rows)
    candidates = [(c / n, "chosen", t) for t, c in picks_chosen.items()]
    candidates += [(c / n, "rejected", t) for t, c in picks_rejected.items()]
    return max(candidates)


@pytest.fixture(scope="module", params=sorted(EXPECTED_ROWS))
def split(request):
    return request.param


@pytest.fixture(scope="module")
def rows(split):
    return load(split)


def test_file_exists_with_exact_row_count(split, rows):
    assert path_of(split).is_file()
    assert len(rows) == EXPECTED_ROWS[split]


def test_schema_and_non_empty_strings(rows):
    for i, row in enumerate(rows):
        assert set(row) == KEYS, f"row {i}: keys {sorted(row)}"
        for key in KEYS:
            assert isinstance(row[key], str) and row[key].strip(), f"row {i}: empty {key}"


def test_lengths(rows):
    for row in rows:
        assert 5 <= len(row["prompt"].split()) <= 30, row["prompt"]
        assert 15 <= len(row["chosen"].split()) <= 60, row["chosen"]
        assert 15 <= len(row["rejected"].split()) <= 60, row["rejected"]


def test_no_duplicates_and_chosen_differs(rows):
    triples = [(r["prompt"], r["chosen"], r["rejected"]) for r in rows]
    assert len(set(triples)) == len(triples)
    assert all(r["chosen"] != r["rejected"] for r in rows)


def test_no_single_token_separates_the_pair(split, rows):
    ratio, side, token = worst_token(rows)
    assert ratio <= MAX_TOKEN_RATIO, (
        f"{split}: token {token!r} appears only in {side} for {ratio:.1%} of pairs"
    )


def test_style(rows):
    n = len(rows)
    chosen_q = sum("?" in r["chosen"] for r in rows) / n
    rejected_q = sum("?" in r["rejected"] for r in rows) / n
    chosen_emoji = sum(has_emoji(r["chosen"]) for r in rows) / n
    assert chosen_q > 0.5, f"only {chosen_q:.0%} of chosen contain '?'"
    assert rejected_q < 0.5, f"{rejected_q:.0%} of rejected contain '?'"
    assert 0.0 < chosen_emoji < 1.0, f"{chosen_emoji:.0%} of chosen have an emoji"
    assert not any(has_emoji(r["rejected"]) for r in rows)


def test_held_out_prompts_are_disjoint():
    train = {r["prompt"] for r in load("train")}
    test = {r["prompt"] for r in load("test")}
    unseen = {r["prompt"] for r in load("unseen")}
    assert not test & train, sorted(test & train)[:3]
    assert not unseen & train, sorted(unseen & train)[:3]
    assert not unseen & test, sorted(unseen & test)[:3]


def test_generator_is_deterministic(tmp_path):
    subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(tmp_path), "--seed", "0"],
        check=True, capture_output=True,
    )
    for name in EXPECTED_ROWS:
        fresh = (tmp_path / f"{name}.jsonl").read_bytes()
        assert fresh == path_of(name).read_bytes(), f"{name}.jsonl is stale; re-run the generator"


def test_loads_with_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    files = {name: str(path_of(name)) for name in EXPECTED_ROWS}
    ds = datasets.load_dataset("json", data_files=files, cache_dir=str(tmp_path / "cache"))
    for name, n in EXPECTED_ROWS.items():
        assert ds[name].num_rows == n
        assert sorted(ds[name].column_names) == sorted(KEYS)
