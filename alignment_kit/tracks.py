"""The editions of part 5 ("tracks"): which online RL method the homework teaches, on which TRL.

* `ppo`: the seed's homework, `trl.experimental.ppo.PPOTrainer`, which exists only for 0.29 <= trl < 1.13
  (TRL removed PPO after 1.12, huggingface/trl#7020).
* `rloo`: `trl.RLOOTrainer` on current TRL (1.16 and newer), driven by the student's reward model.

Everything else in the homework is the same in both. A track is installed as an extra of the runtime
(`alignment-kit[ppo]`, `alignment-kit[rloo]`), released with `python -m autograder release --track`, and
recorded in the notebook's metadata beside the language.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Track:
    """One edition of part 5."""

    name: str
    method: str  # what the part is called ("PPO", "RLOO")
    trainer: str  # the TRL class the student builds
    trl: str  # the runtime's requirement on TRL for this track (its extra in pyproject.toml)
    stage: str  # the setting that sets part 5's length (`HomeworkSettings`; its environment variable shortens it)


TRACKS = {
    "ppo": Track("ppo", "PPO", "PPOTrainer", "trl>=0.29,<1.13", "ppo_episodes"),
    "rloo": Track("rloo", "RLOO", "RLOOTrainer", "trl>=1.16", "rloo_steps"),
}
DEFAULT = "ppo"  # the seed's homework


def checked(name: str) -> str:
    """`name` if it is a track, else a ValueError that lists the tracks."""
    if name not in TRACKS:
        raise ValueError(f"unknown track {name!r}; choose one of: {', '.join(TRACKS)}")
    return name
