"""Run the solution notebook in the full profile with shortened stages, then review what it saved.

    .venv/bin/python benchmarks/full_cpu_run.py [--dpo-steps 20] [--reward-steps 40] [--ppo-episodes 16]
                                                [--online-prompts 8] [--out outputs/full-cpu-run]

Prints the time of the run, the online round's mean reward on held-out prompts (before, after the
unweighted round, after the weighted round) and the `check-hub` verdicts on the three saved models.
The real 135M model is used (offline: the embedded SmolLM2); only the stage lengths are cut.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from autograder import demo, paths


def printed(notebook: Path, grade_id: str) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    cell = next(c for c in cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)
    texts = [o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"]
    return "".join("".join(t) if isinstance(t, list) else t for t in texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dpo-steps", type=int, default=20)
    parser.add_argument("--reward-steps", type=int, default=40)
    parser.add_argument("--ppo-episodes", type=int, default=16)
    parser.add_argument("--online-prompts", type=int, default=8)
    parser.add_argument("--out", type=Path, default=paths.REPO_ROOT / "outputs" / "full-cpu-run")
    args = parser.parse_args()
    os.environ.update(KIT_DPO_STEPS=str(args.dpo_steps), KIT_REWARD_STEPS=str(args.reward_steps),
                      KIT_PPO_EPISODES=str(args.ppo_episodes), KIT_ONLINE_PROMPTS=str(args.online_prompts))
    started = time.time()
    executed = demo.run_notebook(paths.SOLUTION_NOTEBOOK, args.out, timeout=3600, profile="full")
    print(f"full profile, shortened stages ({args.dpo_steps} DPO steps, {args.reward_steps} reward steps, "
          f"{args.ppo_episodes} PPO episodes, {args.online_prompts} online prompts): {time.time() - started:.0f} s")
    print(next(line for line in printed(executed, "setup").splitlines() if line.startswith("[kit]")))
    print("DPO:", printed(executed, "dpo_training_loop").strip()[-300:])
    print("online round:", printed(executed, "online_round").strip())
    subprocess.run([sys.executable, "-m", "autograder", "check-hub", str(args.out / "outputs" / "hub"),
                    "--out", str(args.out / "review")], check=True)


if __name__ == "__main__":
    main()
