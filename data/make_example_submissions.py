"""Write the example submissions that `make demo` grades: one correct, several realistically flawed.

Each submission starts from the student notebook with the solution regions answered from the source
(as a student's finished notebook looks: no solution markers, no hidden tests) and replaces a few
graded cells. boris has bob's two mistakes in the Russian edition (his feedback comes in Russian). Re-run after changing the solution (tests/test_examples.py checks they are current):
    python data/make_example_submissions.py [--out DIR]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import nbformat

from autograder.generate import answered, with_sources
from autograder.paths import EXAMPLE_SUBMISSIONS as OUT
from autograder.paths import SOLUTION_NOTEBOOK as SOLUTION
from autograder.paths import STUDENT_NOTEBOOK as STUDENT
from autograder.paths import student_notebook

LOG_PROB_NO_SHIFT = '''def get_log_prob(logits, labels, mask):
    log_probs = F.log_softmax(logits, dim=-1)
    picked = log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return (picked * mask).sum(-1)
'''
PAD_ALWAYS_RIGHT = '''def pad(tensors, padding_value=0, padding_side="right"):
    return torch.nn.utils.rnn.pad_sequence(tensors, batch_first=True, padding_value=padding_value)
'''
LOSS_SUMMED = '''def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    chosen_rewards = beta * (chosen_logps - ref_chosen_logps)
    rejected_rewards = beta * (rejected_logps - ref_rejected_logps)
    loss = -F.logsigmoid(chosen_rewards - rejected_rewards).sum()
    return loss, (chosen_rewards > rejected_rewards).float().mean(), (chosen_rewards - rejected_rewards).mean()
'''
COLLATE_PAD_MASK = '''def pad_collate_fn(batch, pad_token_id):
    out = {}
    for part, side in (("prompt", "left"), ("chosen", "right"), ("rejected", "right")):
        ids = pad([torch.tensor(row[part + "_input_ids"]) for row in batch], pad_token_id, side)
        out[part + "_input_ids"] = ids
        out[part + "_attn_mask"] = (ids != pad_token_id).long()
    return out
'''
ANSWER = "We keep the end of the prompt because it is closest to the answer, and the start of the answer because that is where it begins."
ANSWER_RU = "Конец промпта ближе всего к ответу, поэтому его и оставляем; у ответа важно начало, с него он и читается."


def main(out: Path = OUT) -> None:
    student = nbformat.read(STUDENT, as_version=4)
    solution = answered(student, nbformat.read(SOLUTION, as_version=4))
    training = next(c.source for c in solution.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "dpo_training_loop")
    submissions = {
        "alice": with_sources(solution, {"truncation_answer": ANSWER}),
        "bob": with_sources(solution, {"get_log_prob": LOG_PROB_NO_SHIFT, "pad": PAD_ALWAYS_RIGHT}),
        "boris": with_sources(answered(nbformat.read(student_notebook("ru"), as_version=4), nbformat.read(SOLUTION, as_version=4)),
                              {"get_log_prob": LOG_PROB_NO_SHIFT, "pad": PAD_ALWAYS_RIGHT, "truncation_answer": ANSWER_RU}),
        "carol": with_sources(solution, {"dpo_loss": LOSS_SUMMED, "pad_collate_fn": COLLATE_PAD_MASK,
                                         "dpo_training_loop": training.replace(
                                             "            with torch.no_grad():\n                ref_chosen",
                                             "            if True:\n                ref_chosen")}),
        "dave": answered(student, nbformat.read(SOLUTION, as_version=4),
                         {"apply_chat_template", "tokenize_row", "pad", "pad_collate_fn", "make_dataloader",
                          "get_log_prob", "dpo_loss"}),
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, notebook in submissions.items():
        nbformat.write(notebook, out / f"{name}.ipynb")
    # erin saved a notebook that was cut off mid-write: invalid JSON.
    (out / "erin.ipynb").write_text(nbformat.writes(solution)[:5000])
    print(f"wrote {len(submissions) + 1} submissions to {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default: {OUT})")
    main(parser.parse_args().out)
