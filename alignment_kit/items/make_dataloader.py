"""`make_dataloader` (data preparation): a DataLoader that collates with pad_collate_fn."""
from __future__ import annotations

from types import SimpleNamespace

from alignment_kit import observe
from alignment_kit.declaration import FUNCTION, Item
from alignment_kit.i18n import say
from alignment_kit.outputs import OutputShapeError, OutputSpec
from alignment_kit.probes import Probe, dataloader_rows

ITEM = Item("make_dataloader", "data_prep", 0.1, FUNCTION, "a DataLoader that collates with pad_collate_fn", order=5)

# make_dataloader is checked on its wiring alone: which rows it batches, in which order, with which
# pad id. This stand-in replaces pad_collate_fn and records exactly that.
RECORDING_COLLATE = '''
def pad_collate_fn(batch, pad_token_id):
    return {"rows": [dict(row) for row in batch], "pad_token_id": pad_token_id}
'''


def read(output) -> dict:
    try:
        batches = list(output)
    except TypeError as error:
        raise OutputShapeError(say("make_dataloader.kind", "make_dataloader should return a DataLoader, got {kind}",
                                   kind=type(output).__name__)) from error
    return {"batches": batches}


OUTPUT = OutputSpec(read, stubs=RECORDING_COLLATE, observe=observe.ITEMS)


def public_probes() -> list[Probe]:
    tokenizer = SimpleNamespace(pad_token_id=9, eos_token_id=9)
    return [Probe("4 rows, batch_size=2, shuffle=False", (dataloader_rows(4), tokenizer),
                  {"batch_size": 2, "shuffle": False})]
