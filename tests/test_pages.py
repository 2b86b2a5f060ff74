"""The kit's pages in a real browser (Debian's chromium, headless), at 1000 px wide.

Feedback for a passing, a failing and an ungradable student, the class report, and check-hub's
report: none is wider than the viewport, every item row and its badge are on screen, every image
loaded and fits. The screenshots stay in outputs/test-artifacts/screenshots/.
"""
from __future__ import annotations

import json

import pytest

import browser
from alignment_kit import hub_check, items
from autograder import class_report
from autograder.results import GradeRecord

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    browser.chromium() is None, reason="no chromium here: `apt-get install chromium` (.ci/run installs it)")]


def _reads_well(seen: dict, rows: int) -> None:
    assert seen["page"] <= seen["viewport"], f"the page is {seen['page']} px wide in a {seen['viewport']} px window"
    assert len(seen["rows"]) == rows, (len(seen["rows"]), rows)
    hidden = [r["text"] for r in seen["rows"] if not (r["shown"] and r["badge"])]
    assert not hidden, f"rows off screen or without a badge: {hidden}"
    broken = [i["src"] for i in seen["images"] if not (i["loaded"] and i["fits"])]
    assert not broken, f"images that did not load or do not fit: {broken}"


@pytest.mark.parametrize("student", ["alice", "bob", "boris", "erin"])
def test_feedback_pages_read_well(graded_examples, student):
    out = graded_examples[0]
    record = GradeRecord.from_record(json.loads((out / student / "record.json").read_text(encoding="utf-8")))
    seen = browser.look(out / student / "feedback.html", browser.ARTIFACTS, f"feedback-{student}")
    _reads_well(seen, len(record.tests))
    if student == "alice":
        assert seen["images"], "the loss curve of the training loop is missing"


def test_the_class_page_reads_well(graded_examples, tmp_path):
    out = graded_examples[0]
    written = class_report.write(class_report.build(out), tmp_path)
    seen = browser.look(written[0], browser.ARTIFACTS, "class")
    _reads_well(seen, sum(1 for i in items.ITEMS if i.autograded))
    assert {i["src"] for i in seen["images"]} == {"totals.png", "parts.png"}


def test_the_check_hub_page_reads_well(tmp_path):
    names = ["reward score", "chosen-rejected log-prob margin per token", "emoji rate", "question rate", "as an AI rate"]
    report = {"base": "HuggingFaceTB/SmolLM2-135M-Instruct",
              "verdicts": ["✓ dpo: loads, trained; the log-prob margin moved +0.412 per token (towards the chosen replies)",
                           "✗ ppo: its weights equal the base model's: it was not trained", "✓ reward: loads, trained"],
              "models": {s: {"location": f"/home/ada/outputs/hub/smollm-135m-{s}-with-a-long-folder-name", "architecture":
                             "LlamaForCausalLM"} for s in ("dpo", "ppo", "reward")},
              "measures": {m: {n: 0.1 * k for k, n in enumerate(names)} for m in ("base", "dpo", "ppo")},
              "reward_accuracy": 0.72, "prompts": ["Any tips for keeping basil alive?"],
              "generations": {m: {"greedy": ["Oh, basil! Lots of sun and water when the top feels dry. " * 6]}
                              for m in ("base", "dpo", "ppo")}}
    written = hub_check.write(report, tmp_path)
    seen = browser.look(written[2], browser.ARTIFACTS, "check-hub")
    assert seen["page"] <= seen["viewport"], seen
    assert [i["src"] for i in seen["images"]] == ["measures.png"] and all(i["loaded"] and i["fits"] for i in seen["images"])
    assert seen["badges"] == 3
    text = written[2].read_text(encoding="utf-8")
    assert "# Published models" not in text and "| stage |" not in text and "<table>" in text
