"""The grader's side of `dpo_training_loop`: its hidden configurations, and how its runs are judged.

The cell is re-run with tiny seeded models and the reference helpers under two hidden
configurations that differ in every input the cell is given (BETA, NUM_DPO_STEPS, MAX_SEQ_LEN, the
batch size and the rows), so a loop that ignores any of them shows up, and is named. The rows'
token ids are renumbered into a small vocabulary (`compact_vocabulary`), which makes a re-run about
10x cheaper (3.6 s to 0.34 s for a worker here). The rows are cut so that chosen and rejected
completions end at different places, some inside the window and some beyond it, so every mask and
truncation mistake changes what is recorded. The reference model
starts from other weights than the policy, so the first step's loss depends on the sequences, the
mask and the reference. In the second configuration the optimizer also holds the reference model's
parameters: a reference run with gradients then trains, which changes its weights. Each line of the
loop earns its points from the outcome that depends on it, evaluated by the grader
(`cell_outcomes.evaluate_loop`, `loop_judge`).

`VARIATIONS` are the ways of writing the loop that keep full marks although they change its run:
gradient clipping by norm or by value, at whatever threshold the student chose. Declare one with
`accepted=False` to make it cost the trajectory's points instead.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from alignment_kit import cell_outcomes, loop_judge, paths
from alignment_kit.i18n import say
from alignment_kit.loop_judge import SEQUENCES, STEPS, TRAJECTORY
from alignment_kit.recorders import LOOP
from autograder.checks.cell_check import CellCheck
from autograder.checks.loop_mistakes import MISTAKES, clipping, loop_source
from autograder.checks.variation import Variation

# What the cell is given, as the cell names it -> (the configuration's key, the line ignoring it costs).
INPUTS = {"BETA": ("beta", TRAJECTORY), "NUM_DPO_STEPS": ("steps", STEPS), "MAX_SEQ_LEN": ("max_seq_len", SEQUENCES)}
VARIATIONS = {
    "clip_grad_norm": Variation("gradient clipping at norm {value:g}", clipping("clip_grad_norm_", "max_norm"),
                                default=1.0, seen_in="clip_norms"),
    "clip_grad_value": Variation("gradient clipping at value {value:g}", clipping("clip_grad_value_", "clip_value"),
                                 default=1.0, seen_in="clip_values"),
}


@dataclass(frozen=True)
class LoopSetup:
    """Which rows, cut how, and the sizes of one re-run."""

    label: str
    split: str
    first_row: int
    batch_size: int
    steps: int
    beta: float
    max_seq_len: int
    chosen_lengths: tuple[int, ...]  # each row's chosen completion is cut to this many tokens
    rejected_lengths: tuple[int, ...]
    learning_rate: float = 1e-3
    reference_seed: int = 1  # the reference model starts from other weights than the policy (seed 0)
    device: str = "cpu"  # where the cell is re-run (the GPU tests re-run the public one on CUDA)
    optimizer_holds_reference: bool = False  # the optimizer also holds ref_model's parameters (see above)

    def config(self) -> dict:
        """The configuration as data: rows tokenized with the reference functions (trusted side)."""
        from alignment_kit.probes import kit_tokenizer
        from autograder.reference import reference_function

        tokenizer = kit_tokenizer()
        template, tokenize = reference_function("apply_chat_template"), reference_function("tokenize_row")
        count = len(self.chosen_lengths)
        lines = (paths.DATA_DIR / f"{self.split}.jsonl").read_text(encoding="utf-8").splitlines()[self.first_row:self.first_row + count]
        rows = []
        for line, chosen, rejected in zip(lines, self.chosen_lengths, self.rejected_lengths):
            row = tokenize(template(json.loads(line), tokenizer), tokenizer, max_prompt_length=64)
            rows.append({"prompt_input_ids": row["prompt_input_ids"], "chosen_input_ids": row["chosen_input_ids"][:chosen],
                         "rejected_input_ids": row["rejected_input_ids"][:rejected]})
        rows, vocab_size = compact_vocabulary(rows, keep=max(tokenizer.all_special_ids) + 1)
        return {"rows": rows, "pad_token_id": tokenizer.pad_token_id, "vocab_size": vocab_size,
                "batch_size": self.batch_size, "steps": self.steps, "beta": self.beta, "max_seq_len": self.max_seq_len,
                "learning_rate": self.learning_rate, "reference_seed": self.reference_seed, "device": self.device,
                "optimizer_holds_reference": self.optimizer_holds_reference}


def compact_vocabulary(rows: list[dict], keep: int) -> tuple[list[dict], int]:
    """The rows with their token ids renumbered densely, and the size of the vocabulary that holds them. Ids
    below `keep` (the special tokens: padding, end of turn) stay as they are, so the tokenizer's still name
    them; the others are numbered in order from `keep`. A few hundred ids instead of 49152 make the tiny
    models' output layer, the log-softmax over it and the weights handed over some 250x smaller (192 ids), which is most of a
    re-run's cost, and nothing a loop does depends on which ids its words have."""
    seen = sorted({i for row in rows for ids in row.values() for i in ids if i >= keep})
    number = {old: keep + rank for rank, old in enumerate(seen)}
    renumbered = [{side: [number.get(i, i) for i in ids] for side, ids in row.items()} for row in rows]
    return renumbered, -(-(keep + len(seen)) // 64) * 64  # a multiple of 64, as vocabularies are


# Prompts take 38-52 tokens: a window of 64 (or 56) leaves 4 to 26 completion tokens, so in every batch
# one side ends inside the window and the other is cut by it.
HIDDEN_SETUPS = (
    LoopSetup("", "test", 0, batch_size=2, steps=3, beta=0.1, max_seq_len=64,
              chosen_lengths=(6, 30, 11, 4, 25, 9), rejected_lengths=(14, 5, 27, 10, 3, 19)),
    LoopSetup("with BETA = 0.5, NUM_DPO_STEPS = 2, MAX_SEQ_LEN = 56 and 3 pairs per batch", "test", 12,
              batch_size=3, steps=2, beta=0.5, max_seq_len=56,
              chosen_lengths=(3, 22, 8, 17, 5, 12), rejected_lengths=(12, 7, 20, 4, 15, 9), optimizer_holds_reference=True),
)
# The public check in the notebook uses other rows and sizes (the student runtime stores its expectations).
PUBLIC_SETUP = LoopSetup("", "train", 200, batch_size=2, steps=3, beta=0.1, max_seq_len=60,
                         chosen_lengths=(5, 28, 12, 7, 20, 10), rejected_lengths=(16, 6, 24, 13, 4, 18),
                         optimizer_holds_reference=True)


def ignores_message(name: str, value, default) -> str:
    return say("dpo_training_loop.ignores", "the loop ignores `{name}`: given {name} = {value}, it does what the "
               "reference does with {name} = {default} (use {name}, not a number of your own)", name=name, value=value,
               default=default)


def judge(student: list[dict], expected: list[dict], setups: list[tuple[str, dict]]):
    """The loop's lines; which line each mistake costs and which variations are accepted are read from the
    declarations here, so changing them needs no new reference runs."""
    declared = {"costs": CHECK.costs, "variations": CHECK.variations_as_data()}
    configs = [loop_judge.Configuration.of(label, run, {**e, **declared}, config.get("device", "cpu"))
               for (label, config), run, e in zip(setups, student, expected)]
    return loop_judge.judge_loop(configs)


CHECK = CellCheck(
    grade_id=LOOP,
    helpers=("get_log_prob", "dpo_loss", "pad", "pad_collate_fn"),
    setups=lambda: [(s.label, s.config()) for s in HIDDEN_SETUPS],
    judge=judge,
    mistakes={key: switches for key, (_, switches, _) in MISTAKES.items()},
    mistaken_source=loop_source,
    messages={key: message for key, (message, _, _) in MISTAKES.items()},
    costs={**{key: line for key, (_, _, line) in MISTAKES.items()},
           **{f"ignores:{name}": line for name, (_, line) in INPUTS.items()}},
    variations=VARIATIONS,
    inputs={name: key for name, (key, _) in INPUTS.items()},
    ignores_message=ignores_message,
    curve="losses",
    evaluate=cell_outcomes.evaluate_loop,
)
