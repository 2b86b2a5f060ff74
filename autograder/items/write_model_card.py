"""Hidden probes of `write_model_card` (its objective part: the card's metadata and the run's numbers)."""
from __future__ import annotations

from alignment_kit.probes import Probe, card_probe
from autograder.checks.function_check import FunctionCheck


def card_probes() -> list[Probe]:
    return [card_probe("hidden: a PPO card", "grace/tiny-aligned-ppo", "ppo", {"episodes": 64.0, "mean_reward": -0.4137},
                       {"prompt": "Plans for the weekend?", "before": "I cannot have plans.", "after": "Hiking! You?"},
                       "grace/base-360m-chat", "grace/friendly-pairs-v2"),
            card_probe("hidden: a reward-model card", "linus/rm-reward-model", "reward", {"held_out_accuracy": 0.9062},
                       {"a chosen reply": "2.134", "a rejected reply": "-1.977"},
                       "/home/linus/models/SmolLM2-135M-Instruct", "local/kit-preference-pairs")]


CHECK = FunctionCheck(name="write_model_card", hidden_probes=card_probes)
