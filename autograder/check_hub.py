"""`python -m autograder check-hub PREFIX_OR_DIR`: check the models a student published.

PREFIX_OR_DIR is a Hub repo prefix (`user/smollm-135m` means user/smollm-135m-dpo, -ppo and
-reward-model; -rloo instead of -ppo for the RLOO edition, named with `--rloo`) or a folder holding the
three saved models (as the notebook saves them under outputs/hub/); `--dpo/--ppo/--rloo/--reward` name one
model directly. The work is done by the student
runtime's `hub_check`, the same code as the notebook's checker section. The report (report.md,
report.html, summary.json and measures.png) goes to `--out`. Problems with the models are findings,
not errors: the exit status is non-zero only when the check itself cannot run.
"""
from __future__ import annotations

import sys
from pathlib import Path


def main(target: str, dpo: str | None, ppo: str | None, reward: str | None, base: str | None, out: str,
         rloo: str | None = None) -> int:
    from alignment_kit import hub_check, resolve

    locations = hub_check.locate(target, {"dpo": dpo, "ppo": ppo, "rloo": rloo, "reward": reward})
    if base is None:
        default = resolve.resolve_model("full", resolve.hub_reachable()).location
        base = hub_check.base_model_of(locations, default)
    try:
        report = hub_check.check(locations, base)
    except (hub_check.CheckProblem, OSError, ValueError) as error:
        print(f"error: the base model {base} cannot be used: {error}", file=sys.stderr)
        return 2
    written = hub_check.write(report, Path(out))
    print("\n".join(report["verdicts"]))
    print(f"report: {', '.join(str(p) for p in written)}")
    return 0
