"""The English texts the student README is written from, each under its catalog key (translated like
every other message; `release` fills them in)."""
from __future__ import annotations

from pathlib import Path

TEMPLATE = Path(__file__).parent / "templates" / "student_readme.md"
PLATFORMS_TABLE = Path(__file__).parent / "templates" / "platforms.md"  # measured by `make platforms`; README.md shows it too
# catalog keys of the student README's texts: its template, the timings table and the platforms table
README_KEY, TIMINGS_KEY, PLATFORMS_KEY = "release.student_readme", "release.timings", "release.platforms"
TIMINGS = """Measured on this kit's 2-core CPU machine (no GPU):

| run | time |
|---|---|
| `smoke`, the whole notebook | about 1 minute |
| `full`, DPO stage (50 steps of 4 pairs, length 128) | about 6 minutes |
| `full`, the whole notebook with `KIT_DPO_STEPS=20 KIT_REWARD_STEPS=40 KIT_PPO_EPISODES=16 KIT_ONLINE_PROMPTS=8` | about 18 minutes |

On a GPU, `full` runs the course sizes (one DPO epoch, 16 pairs per step, length 1024; on a T4 as
4 x 4 with gradient accumulation). GPU times have not been measured by the kit: the original
homework quotes about an hour for its 10.9k-pair epoch on a Colab T4; the kit's offline data has
2,400 pairs."""


def readme_texts() -> dict[str, str]:
    """Key -> English of the texts the student README is written from (the translations are the catalog's)."""
    return {README_KEY: TEMPLATE.read_text(encoding="utf-8"), TIMINGS_KEY: TIMINGS,
            PLATFORMS_KEY: PLATFORMS_TABLE.read_text(encoding="utf-8").strip()}
