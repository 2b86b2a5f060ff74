"""The grader's side of `make_dataloader`: hidden probes and the mistakes it names (its wiring: rows, order, pad id)."""
from __future__ import annotations

from types import SimpleNamespace

from alignment_kit.probes import Probe, dataloader_rows
from autograder.checks.function_check import FunctionCheck


def dataloader_probes() -> list[Probe]:
    tokenizer = SimpleNamespace(pad_token_id=9, eos_token_id=9)
    return [Probe("hidden: 5 rows, batch_size=3, shuffle=False", (dataloader_rows(5), tokenizer),
                  {"batch_size": 3, "shuffle": False})]


CHECK = FunctionCheck(name="make_dataloader", hidden_probes=dataloader_probes)
