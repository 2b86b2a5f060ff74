"""`python -m alignment_kit assets|resolve`: prepare the offline models, or show what a run would use."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alignment_kit", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    assets = verbs.add_parser("assets", help="prepare the offline model checkpoints (idempotent)")
    assets.add_argument("--force", action="store_true", help="rebuild even if they verify")
    verbs.add_parser("resolve", help="print which profile, device, model and data the current settings use")
    args = parser.parse_args(argv)
    if args.verb == "assets":
        from alignment_kit.assets import AssetError, ensure_assets

        try:
            ensure_assets(force=args.force)
        except AssetError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        return 0
    from alignment_kit.settings import HomeworkSettings

    HomeworkSettings.from_env()
    return 0


if __name__ == "__main__":
    sys.exit(main())
