"""Command line: `python -m autograder VERB ...`. Each verb calls one module's `main(**options)`."""
from __future__ import annotations

import argparse
import sys


def _assets(force: bool) -> int:
    from autograder import assets

    try:
        assets.ensure_assets(force=force)
    except assets.AssetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _resolve() -> int:
    from autograder.settings import HomeworkSettings

    HomeworkSettings.from_env()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    assets = verbs.add_parser("assets", help="prepare the offline model checkpoints (idempotent)")
    assets.add_argument("--force", action="store_true", help="rebuild even if they verify")
    verbs.add_parser("resolve", help="print which model and data the current settings use")
    return parser


def cli(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verb == "assets":
        return _assets(args.force)
    if args.verb == "resolve":
        return _resolve()
    raise AssertionError(args.verb)


if __name__ == "__main__":
    sys.exit(cli())
