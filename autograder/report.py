"""Per-student feedback: Markdown, HTML and the loss curve against the reference."""
from __future__ import annotations

import html
from pathlib import Path

from autograder.checks import PARTS
from autograder.results import SubmissionResult

PART_TITLES = {"data_prep": "Data preparation", "dpo_loss": "DPO loss", "dpo_training": "DPO training",
               "reward_model": "Reward model", "ppo": "PPO", "analysis": "Analysis", "bonus": "Bonus"}


def _mark(status: str) -> str:
    return {"passed": "✅", "failed": "❌", "manual": "📝"}.get(status, "")


def markdown(result: SubmissionResult) -> str:
    lines = [f"# Feedback for {result.student}", "",
             f"Autograded score: **{result.score:g}** (hand-graded items are added later).", ""]
    if result.error:
        lines += [f"> **The notebook could not be graded:** {result.error}", ""]
    for warning in result.warnings:
        lines += [f"> Note: {warning}", ""]
    scores = result.part_scores()
    for part, points in PARTS.items():
        lines += [f"## {PART_TITLES[part]}: {scores[part]:g} / {points:g}", "", "| | check | points | message |", "|---|---|---|---|"]
        for test in (t for t in result.tests if t.part == part):
            message = test.output.split("\n\n")[0].replace("\n", "<br>").replace("|", "\\|")
            lines.append(f"| {_mark(test.status)} | {test.name} | {test.score:g} / {test.max_score:g} | {message} |")
        for test in (t for t in result.tests if t.part == part and t.status == "manual"):
            answer = test.output.split("\n\n", 1)[1] if "\n\n" in test.output else ""
            lines += ["", f"**Your answer ({test.name}):**", "", "```", answer.strip(), "```"]
        if part == "dpo_training" and result.training_curves.get("student"):
            lines += ["", "![loss curve](loss_curve.png)"]
        lines.append("")
    return "\n".join(lines)


def html_page(result: SubmissionResult) -> str:
    rows = []
    scores = result.part_scores()
    for part, points in PARTS.items():
        rows.append(f"<h2>{PART_TITLES[part]}: {scores[part]:g} / {points:g}</h2><table border=1 cellpadding=4>"
                    "<tr><th></th><th>check</th><th>points</th><th>message</th></tr>")
        for test in (t for t in result.tests if t.part == part):
            rows.append(f"<tr><td>{_mark(test.status)}</td><td>{html.escape(test.name)}</td>"
                        f"<td>{test.score:g} / {test.max_score:g}</td><td><pre>{html.escape(test.output)}</pre></td></tr>")
        rows.append("</table>")
        if part == "dpo_training" and result.training_curves.get("student"):
            rows.append('<p><img src="loss_curve.png" alt="loss curve" width="480"></p>')
    error = f"<p><b>The notebook could not be graded:</b> {html.escape(result.error)}</p>" if result.error else ""
    return (f"<!doctype html><meta charset='utf-8'><title>Feedback {html.escape(result.student)}</title>"
            f"<h1>Feedback for {html.escape(result.student)}</h1>{error}"
            f"<p>Autograded score: <b>{result.score:g}</b> (hand-graded items are added later).</p>" + "".join(rows))


def loss_curve(result: SubmissionResult, path: Path) -> bool:
    curves = result.training_curves
    if not curves.get("student"):
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3))
    axis.plot(curves.get("reference") or [], "o-", label="reference")
    axis.plot(curves["student"], "x--", label="your loop")
    axis.set_xlabel("step")
    axis.set_ylabel("DPO loss")
    axis.set_title("Training loop re-run with a tiny model")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return True


def write_feedback(result: SubmissionResult, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    loss_curve(result, folder / "loss_curve.png")
    (folder / "feedback.md").write_text(markdown(result))
    (folder / "feedback.html").write_text(html_page(result))
