"""`write_model_card` (bonus): a model card with the required metadata and the run's numbers.

Its objective part is autograded (the card's metadata and the numbers, read with huggingface_hub);
how the published cards read is `model_card_links`, graded by hand.
"""
from __future__ import annotations

from alignment_kit import observe
from alignment_kit.declaration import FUNCTION, Item
from alignment_kit.i18n import say
from alignment_kit.outputs import OutputShapeError, OutputSpec
from alignment_kit.probes import Probe, card_probe

ITEM = Item("write_model_card", "bonus", 0.5, FUNCTION, "a model card with the required metadata and the run's numbers",
            order=1)


def _number_shown(value: float, text: str) -> bool:
    """Whether `text` shows `value` in one of the usual roundings."""
    shown = ({f"{value:.{n}g}" for n in (2, 3, 4, 5, 6)} | {f"{value:.{n}f}" for n in (2, 3, 4)}
             | {repr(value), f"{value:f}".rstrip("0").rstrip(".")})
    return any(s in text for s in shown)


def read(output, repo_id, stage, run) -> dict:
    """The facts a card must hold about this run, read with huggingface_hub (a ModelCard or its text)."""
    from huggingface_hub import ModelCard

    try:
        card = ModelCard(str(output), ignore_metadata_errors=False)
        data, body = card.data.to_dict(), card.text
    except (ValueError, TypeError, AttributeError) as error:
        raise OutputShapeError(say("write_model_card.unreadable", "write_model_card should return a model card (a YAML "
                                   "header between '---' lines, then the text); huggingface_hub cannot read it: {error}",
                                   error=error)) from error
    datasets = data.get("datasets") or []
    return {
        "base_model": data.get("base_model"),
        "library_name": data.get("library_name"),
        "stage tag": stage in (data.get("tags") or []),
        "dataset": run["dataset"] in (datasets if isinstance(datasets, list) else [datasets]),
        "license set": bool(data.get("license")),
        "metrics shown": sorted(n for n, v in run["metrics"].items() if n in body and _number_shown(v, body)),
        "settings shown": sorted(n for n, v in run["training"].items() if n in body and (
            _number_shown(v, body) if isinstance(v, (int, float)) else str(v) in body)),
        "samples shown": all(text in body for text in run["samples"].values()),
    }


OUTPUT = OutputSpec(read, reads_probe=True, observe=observe.TEXT, requirements={
    "base_model": "the metadata must name the base model (ModelCardData(base_model=...))",
    "library_name": "the metadata must say library_name: transformers",
    "stage tag": "the tags must name the stage (dpo, ppo or reward)",
    "dataset": "the metadata must list the dataset it was trained on",
    "license set": "the metadata must give a license",
    "metrics shown": "the text must show every measured metric with its value",
    "settings shown": "the text must show every training setting with its value",
    "samples shown": "the text must show the sample generations",
})


def public_probes() -> list[Probe]:
    return [card_probe("a DPO card", "ada/smollm-135m-dpo", "dpo", {"final_loss": 0.2541, "final_reward_accuracy": 0.875},
                       {"prompt": "Any tips for basil?", "before": "Basil needs light.", "after": "Oh, basil loves sun! 🌿"},
                       "HuggingFaceTB/SmolLM-135M-Instruct", "HumanLLMs/Human-Like-DPO-Dataset")]
