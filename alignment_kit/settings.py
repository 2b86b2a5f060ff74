"""Homework settings: one dataclass, filled from the profile and a few environment variables.

KIT_PROFILE=smoke|full picks the sizes; KIT_DPO_STEPS, KIT_REWARD_STEPS, KIT_PPO_EPISODES (or
KIT_RLOO_STEPS in the RLOO edition) and KIT_ONLINE_PROMPTS override the length of each training stage; MODEL_ID and DATASET_ID pick the model and data.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from alignment_kit import device as device_lib
from alignment_kit import i18n, resolve, stack
from alignment_kit.i18n import say

EPOCH = -1  # a stage length meaning "one epoch over the train split" (resolved by fit_to_data)

# Sizes per profile. `smoke` runs the whole notebook on a CPU in a few minutes with the tiny model;
# `full` on a CPU is a short run of the real model (about 6 minutes of DPO on 2 cores).
PROFILE_SIZES = {
    "smoke": dict(dpo_steps=4, batch_size=2, reward_steps=4, ppo_episodes=8, analysis_rows=16,
                  max_new_tokens=16, learning_rate=1e-3, reward_learning_rate=1e-3, reward_batch_size=8,
                  ppo_learning_rate=1e-5, ppo_batch_size=4, online_prompts=6, online_candidates=4,
                  rloo_steps=2, rloo_generations=2, rloo_batch_size=4, rloo_learning_rate=1e-5),
    "full": dict(dpo_steps=50, batch_size=4, reward_steps=100, ppo_episodes=64, analysis_rows=100,
                 max_new_tokens=60, learning_rate=5e-5, reward_learning_rate=2e-5, reward_batch_size=8,
                 ppo_learning_rate=1e-5, ppo_batch_size=4, online_prompts=32, online_candidates=4,
                 rloo_steps=16, rloo_generations=4, rloo_batch_size=8, rloo_learning_rate=1e-5),
}
# `full` on CUDA: the original course run. One DPO epoch over the train split, 16 pairs per step,
# sequences of 1024 tokens with prompts of 256; a reward-model epoch at the same sizes; PPO on 16
# prompts per batch with 128-token replies.
COURSE_SIZES = dict(dpo_steps=EPOCH, batch_size=16, max_seq_len=1024, max_prompt_length=256,
                    max_completion_length=768, learning_rate=1e-5, reward_steps=EPOCH, reward_batch_size=16,
                    reward_learning_rate=1e-5, ppo_episodes=2048, ppo_batch_size=16, ppo_learning_rate=3e-6,
                    max_new_tokens=128, analysis_rows=200, online_prompts=64, online_candidates=4,
                    rloo_steps=128, rloo_generations=4, rloo_batch_size=16, rloo_learning_rate=3e-6)
# Pairs per forward pass at the course sizes: 16 needs about 40 GiB (the full-vocabulary logits of 32
# sequences of 1024 tokens alone take 6 GiB in fp32); smaller GPUs (a T4's 15 GiB) accumulate 4 x 4.
LARGE_GPU_GIB, SMALL_GPU_MICRO_BATCH = 40, 4
SMOKE = PROFILE_SIZES["smoke"]  # the dataclass's defaults
STAGE_OVERRIDES = {"dpo_steps": "KIT_DPO_STEPS", "reward_steps": "KIT_REWARD_STEPS",
                   "ppo_episodes": "KIT_PPO_EPISODES", "rloo_steps": "KIT_RLOO_STEPS",
                   "online_prompts": "KIT_ONLINE_PROMPTS"}


def choose_sizes(profile: str, device: str) -> tuple[dict, str]:
    """The sizes for this profile on this device, and why they were chosen."""
    if profile == "full" and device == "cuda":
        sizes, memory = dict(COURSE_SIZES), device_lib.gpu_memory_gib()
        if memory < LARGE_GPU_GIB:
            sizes["micro_batch_size"] = SMALL_GPU_MICRO_BATCH
            return sizes, say("settings.small_gpu", "course sizes, with gradient accumulation for a {memory:.0f} GiB GPU",
                              memory=memory)
        return sizes, say("settings.gpu", "course sizes ({memory:.0f} GiB GPU)", memory=memory)
    if profile == "full":
        return dict(PROFILE_SIZES[profile]), say("settings.short", "short sizes ({device}): the course's epoch at length "
                                                 "1024 needs a CUDA GPU", device=device)
    return dict(PROFILE_SIZES[profile]), say("settings.smoke", "smoke sizes: tiny model")


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
    dpo_steps: int = field(default=SMOKE["dpo_steps"], metadata={
        "help": "optimizer steps of the manual DPO loop (-1: one epoch over the train split)"})
    batch_size: int = field(default=SMOKE["batch_size"], metadata={"help": "preference pairs per DPO optimizer step"})
    micro_batch_size: int = field(default=0, metadata={
        "help": "pairs per forward pass (0: batch_size); smaller means gradient accumulation"})
    learning_rate: float = field(default=SMOKE["learning_rate"], metadata={"help": "DPO learning rate"})
    beta: float = field(default=0.1, metadata={"help": "DPO beta (strength of the KL anchor)"})
    max_prompt_length: int = field(default=96, metadata={"help": "prompt tokens kept (the last ones)"})
    max_completion_length: int = field(default=96, metadata={"help": "completion tokens kept (the first ones)"})
    max_seq_len: int = field(default=128, metadata={"help": "prompt+completion tokens fed to the model"})
    reward_steps: int = field(default=SMOKE["reward_steps"], metadata={
        "help": "RewardTrainer max_steps (-1: one epoch over the train split)"})
    reward_learning_rate: float = field(default=SMOKE["reward_learning_rate"], metadata={"help": "RewardTrainer learning rate"})
    reward_batch_size: int = field(default=SMOKE["reward_batch_size"], metadata={"help": "RewardTrainer batch size"})
    ppo_episodes: int = field(default=SMOKE["ppo_episodes"], metadata={"help": "PPOTrainer total_episodes"})
    ppo_learning_rate: float = field(default=SMOKE["ppo_learning_rate"], metadata={"help": "PPOTrainer learning rate"})
    ppo_batch_size: int = field(default=SMOKE["ppo_batch_size"], metadata={"help": "PPOTrainer batch size"})
    rloo_steps: int = field(default=SMOKE["rloo_steps"], metadata={"help": "RLOOTrainer max_steps (RLOO edition)"})
    rloo_generations: int = field(default=SMOKE["rloo_generations"], metadata={
        "help": "RLOOTrainer num_generations: replies sampled per prompt, the leave-one-out baseline's group (>= 2)"})
    rloo_beta: float = field(default=0.05, metadata={"help": "RLOOTrainer beta: the KL penalty's weight (> 0)"})
    rloo_learning_rate: float = field(default=SMOKE["rloo_learning_rate"], metadata={"help": "RLOOTrainer learning rate"})
    rloo_batch_size: int = field(default=SMOKE["rloo_batch_size"], metadata={
        "help": "RLOOTrainer per_device_train_batch_size (a multiple of rloo_generations)"})
    online_prompts: int = field(default=SMOKE["online_prompts"], metadata={
        "help": "held-out prompts the online DPO round samples from (and as many others it is measured on)"})
    online_candidates: int = field(default=SMOKE["online_candidates"], metadata={"help": "replies sampled per prompt"})
    analysis_rows: int = field(default=SMOKE["analysis_rows"], metadata={"help": "rows per split in the log-prob analysis"})
    max_new_tokens: int = field(default=SMOKE["max_new_tokens"], metadata={"help": "tokens generated in before/after samples"})
    output_dir: str = field(default="outputs", metadata={"help": "where checkpoints and cards are saved"})
    sizing: str = field(default="", metadata={"help": "which sizes were chosen, and why"})
    origin: str = field(default="", metadata={"help": "one line saying which model and data were used"})

    def __post_init__(self):
        self.micro_batch_size = self.micro_batch_size or self.batch_size
        if self.batch_size % self.micro_batch_size:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of micro_batch_size "
                             f"({self.micro_batch_size})")

    @property
    def grad_accumulation(self) -> int:
        """Micro-batches per optimizer step (1: none)."""
        return self.batch_size // self.micro_batch_size

    @property
    def loop_steps(self) -> int:
        """Iterations of the DPO loop: one per micro-batch."""
        return self.dpo_steps * self.grad_accumulation

    def describe_sizes(self) -> str:
        steps = (say("settings.epoch", "one epoch") if self.dpo_steps == EPOCH
                 else i18n.counted(self.dpo_steps, say("noun.step", "step|steps")))
        split = say("settings.split", " as {accumulation} x {micro}", accumulation=self.grad_accumulation,
                    micro=self.micro_batch_size) if self.grad_accumulation > 1 else ""
        return say("settings.sizes", "DPO {steps} of {pairs} pairs{split} at length {length} (prompt {prompt})", steps=steps,
                   pairs=self.batch_size, split=split, length=self.max_seq_len, prompt=self.max_prompt_length)

    def fit_to_data(self, train_rows: int) -> None:
        """Turn the stage lengths that mean "one epoch" into step counts for a train split of `train_rows`."""
        if self.dpo_steps == EPOCH:
            self.dpo_steps = max(1, train_rows // self.batch_size)
        if self.reward_steps == EPOCH:
            self.reward_steps = max(1, -(-train_rows // self.reward_batch_size))

    @classmethod
    def from_env(cls, verbose: bool = True) -> "HomeworkSettings":
        """Resolve the profile, the model, the data and the device, then print one summary line."""
        profile = resolve.check_profile(os.environ.get("KIT_PROFILE", "smoke"))
        online = profile == "full" and resolve.hub_reachable()
        model = resolve.resolve_model(profile, online)
        dataset = resolve.resolve_dataset(profile, online)
        device = device_lib.pick_device()
        sizes, why = choose_sizes(profile, device)
        for name, variable in STAGE_OVERRIDES.items():
            if os.environ.get(variable):
                sizes[name] = int(os.environ[variable])
        settings = cls(profile=profile, model_path=model.location, dataset=dataset.location,
                       online=online, device=device, precision=device_lib.pick_precision(device),
                       output_dir=os.environ.get("KIT_OUTPUT_DIR", "outputs"), **sizes)
        settings.sizing = f"{why}: {settings.describe_sizes()}"
        settings.origin = (f"[kit] profile={profile} device={device}/{settings.precision} | {settings.sizing} | "
                           + say("settings.sources", "model: {model} ({model_origin}) | data: {data} ({data_origin})",
                                 model=model.location, model_origin=model.origin, data=dataset.location,
                                 data_origin=dataset.origin))
        if verbose:
            print("\n".join([settings.origin, *stack.notes()]), flush=True)
        return settings

    def trl_precision(self) -> dict[str, bool]:
        return device_lib.trl_precision_flags(self.precision)
