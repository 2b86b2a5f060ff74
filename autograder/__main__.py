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
    fixtures = verbs.add_parser("fixtures", help="write the public self-check fixtures from the solution")
    fixtures.add_argument("--check", action="store_true", help="only report whether they are up to date")
    verbs.add_parser("generate", help="regenerate the student notebook with nbgrader generate_assignment")
    grade = verbs.add_parser("grade", help="grade notebooks: files, folders or an nbgrader submitted/ tree")
    grade.add_argument("paths", nargs="+", help=".ipynb files or folders")
    grade.add_argument("--out", default="grading-out", help="output folder (default: grading-out)")
    grade.add_argument("--jobs", type=int, default=2, help="submissions graded in parallel (default: 2)")
    grade.add_argument("--timeout", type=float, default=120.0, help="seconds per worker (default: 120)")
    grade.add_argument("--memory-mb", type=int, default=6144, help="memory limit per worker in MiB (default: 6144)")
    grade.add_argument("--gradebook", default=None, help="nbgrader db URL (default: sqlite:///OUT/gradebook.db)")
    grade.add_argument("--no-gradebook", action="store_true", help="skip nbgrader's gradebook database")
    grade.add_argument("--hide", action="append", default=[], metavar="DIR",
                       help="another folder student code must not see, e.g. a course's source/ (repeatable)")
    verbs.add_parser("demo", help="the main job: assets, smoke run of the solution, grading the examples")
    return parser


def cli(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verb == "assets":
        return _assets(args.force)
    if args.verb == "resolve":
        return _resolve()
    if args.verb == "fixtures":
        from autograder import public_fixtures

        return public_fixtures.main(check_only=args.check)
    if args.verb == "generate":
        from autograder import generate

        return generate.main()
    if args.verb == "grade":
        from autograder import batch

        return batch.main(args.paths, args.out, args.jobs, args.timeout, args.memory_mb, args.gradebook,
                          args.no_gradebook, args.hide)
    if args.verb == "demo":
        from autograder import demo

        return demo.main()
    raise AssertionError(args.verb)


if __name__ == "__main__":
    sys.exit(cli())
