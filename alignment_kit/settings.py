"""Homework settings: one dataclass, filled from the profile and a few environment variables.

KIT_PROFILE=smoke|full picks the sizes; KIT_DPO_STEPS, KIT_REWARD_STEPS and KIT_PPO_EPISODES
override the length of each training stage; MODEL_ID and DATASET_ID pick the model and data.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from alignment_kit import device as device_lib
from alignment_kit import resolve

# Sizes per profile. `smoke` runs the whole notebook on a CPU in a few minutes with the tiny model;
# `full` is the homework as designed (about 10 minutes of DPO on 2 CPU cores, much less on a GPU).
PROFILE_SIZES = {
    "smoke": dict(dpo_steps=4, batch_size=2, reward_steps=4, ppo_episodes=8, analysis_rows=16,
                  max_new_tokens=16, learning_rate=1e-3, reward_learning_rate=1e-3, reward_batch_size=8,
                  ppo_learning_rate=1e-5, ppo_batch_size=4, online_prompts=6, online_candidates=4),
    "full": dict(dpo_steps=50, batch_size=4, reward_steps=100, ppo_episodes=64, analysis_rows=100,
                 max_new_tokens=60, learning_rate=5e-5, reward_learning_rate=2e-5, reward_batch_size=8,
                 ppo_learning_rate=1e-5, ppo_batch_size=4, online_prompts=32, online_candidates=4),
}
SMOKE = PROFILE_SIZES["smoke"]  # the dataclass's defaults
STAGE_OVERRIDES = {"dpo_steps": "KIT_DPO_STEPS", "reward_steps": "KIT_REWARD_STEPS",
                   "ppo_episodes": "KIT_PPO_EPISODES"}


@dataclass
class HomeworkSettings:
    """Everything the homework notebook needs to know about this run."""

    profile: str = field(default="smoke", metadata={"help": "smoke (tiny model, few steps) or full"})
    model_path: str = field(default="", metadata={"help": "Hub ID or local checkpoint directory"})
    dataset: str = field(default="", metadata={"help": "Hub ID or local directory of jsonl files"})
    online: bool = field(default=False, metadata={"help": "whether the Hub was reachable"})
    device: str = field(default="cpu", metadata={"help": "cuda, mps or cpu"})
    precision: str = field(default="fp32", metadata={"help": "bf16, fp16 or fp32, from the device"})
    seed: int = field(default=42, metadata={"help": "seed for every random choice"})
    dpo_steps: int = field(default=SMOKE["dpo_steps"], metadata={"help": "optimizer steps of the manual DPO loop"})
    batch_size: int = field(default=SMOKE["batch_size"], metadata={"help": "preference pairs per DPO step"})
    learning_rate: float = field(default=SMOKE["learning_rate"], metadata={"help": "DPO learning rate"})
    beta: float = field(default=0.1, metadata={"help": "DPO beta (strength of the KL anchor)"})
    max_prompt_length: int = field(default=96, metadata={"help": "prompt tokens kept (the last ones)"})
    max_completion_length: int = field(default=96, metadata={"help": "completion tokens kept (the first ones)"})
    max_seq_len: int = field(default=128, metadata={"help": "prompt+completion tokens fed to the model"})
    reward_steps: int = field(default=SMOKE["reward_steps"], metadata={"help": "RewardTrainer max_steps"})
    reward_learning_rate: float = field(default=SMOKE["reward_learning_rate"], metadata={"help": "RewardTrainer learning rate"})
    reward_batch_size: int = field(default=SMOKE["reward_batch_size"], metadata={"help": "RewardTrainer batch size"})
    ppo_episodes: int = field(default=SMOKE["ppo_episodes"], metadata={"help": "PPOTrainer total_episodes"})
    ppo_learning_rate: float = field(default=SMOKE["ppo_learning_rate"], metadata={"help": "PPOTrainer learning rate"})
    ppo_batch_size: int = field(default=SMOKE["ppo_batch_size"], metadata={"help": "PPOTrainer batch size"})
    online_prompts: int = field(default=SMOKE["online_prompts"], metadata={
        "help": "held-out prompts the online DPO round samples from (and as many others it is measured on)"})
    online_candidates: int = field(default=SMOKE["online_candidates"], metadata={"help": "replies sampled per prompt"})
    analysis_rows: int = field(default=SMOKE["analysis_rows"], metadata={"help": "rows per split in the log-prob analysis"})
    max_new_tokens: int = field(default=SMOKE["max_new_tokens"], metadata={"help": "tokens generated in before/after samples"})
    output_dir: str = field(default="outputs", metadata={"help": "where checkpoints and cards are saved"})
    origin: str = field(default="", metadata={"help": "one line saying which model and data were used"})

    @classmethod
    def from_env(cls, verbose: bool = True) -> "HomeworkSettings":
        """Resolve the profile, the model, the data and the device, then print one summary line."""
        profile = resolve.check_profile(os.environ.get("KIT_PROFILE", "smoke"))
        online = profile == "full" and resolve.hub_reachable()
        model = resolve.resolve_model(profile, online)
        dataset = resolve.resolve_dataset(profile, online)
        device = device_lib.pick_device()
        sizes = dict(PROFILE_SIZES[profile])
        for name, variable in STAGE_OVERRIDES.items():
            if os.environ.get(variable):
                sizes[name] = int(os.environ[variable])
        settings = cls(profile=profile, model_path=model.location, dataset=dataset.location,
                       online=online, device=device, precision=device_lib.pick_precision(device),
                       output_dir=os.environ.get("KIT_OUTPUT_DIR", "outputs"), **sizes)
        settings.origin = (f"[kit] profile={profile} device={device}/{settings.precision} | "
                           f"model: {model.location} ({model.origin}) | "
                           f"data: {dataset.location} ({dataset.origin})")
        if verbose:
            print(settings.origin, flush=True)
        return settings

    def trl_precision(self) -> dict[str, bool]:
        return device_lib.trl_precision_flags(self.precision)
