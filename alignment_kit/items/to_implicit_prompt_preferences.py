"""`to_implicit_prompt_preferences` (reward model): rows as implicit-prompt conversations."""
from __future__ import annotations

from alignment_kit.declaration import FUNCTION, Item
from alignment_kit.i18n import say
from alignment_kit.outputs import OutputShapeError, OutputSpec
from alignment_kit.probes import PUBLIC_ROWS, Probe

ITEM = Item("to_implicit_prompt_preferences", "reward_model", 0.3, FUNCTION, "rows as implicit-prompt conversations",
            order=1)


def read(output) -> dict:
    if not isinstance(output, dict) or "chosen" not in output or "rejected" not in output:
        raise OutputShapeError(say("to_implicit_prompt_preferences.shape", "to_implicit_prompt_preferences should return "
                                   "a dict with `chosen` and `rejected`"))
    return {"chosen": output["chosen"], "rejected": output["rejected"]}


OUTPUT = OutputSpec(read)


def public_probes() -> list[Probe]:
    return [Probe("a preference row", (dict(PUBLIC_ROWS[0]),))]
