"""Command line: `python -m autograder VERB ...`. Each verb calls one module's `main(...)`.

Options that configure a dataclass (`GradeConfig`, `Limits`, `ReleaseConfig`) take their help text
and default from that dataclass's fields, so the CLI and the code cannot disagree.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys


def _option(parser: argparse.ArgumentParser, flag: str, config: type, name: str, **kwargs) -> None:
    """Add `flag` for the dataclass field `config.name`, with the field's help and default."""
    field = next(f for f in dataclasses.fields(config) if f.name == name)
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    kwargs.setdefault("default", default)
    if "action" not in kwargs:
        kwargs.setdefault("type", type(default) if default not in (None, "") else str)
    help_text = field.metadata["help"] + ("" if kwargs.get("action") else f" (default: {default})")
    parser.add_argument(flag, dest=name, help=help_text, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    from autograder.config import GradeConfig, Limits
    from autograder.release import ReleaseConfig

    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    assets = verbs.add_parser("assets", help="prepare the offline model checkpoints (idempotent)")
    assets.add_argument("--force", action="store_true", help="rebuild even if they verify")
    verbs.add_parser("resolve", help="print which model and data the current settings use")
    fixtures = verbs.add_parser("fixtures", help="write the public self-check expectations from the solution")
    fixtures.add_argument("--check", action="store_true", help="only report whether they are up to date")
    verbs.add_parser("generate", help="regenerate the student notebook with nbgrader generate_assignment")

    release = verbs.add_parser("release", help="build what students get: notebook, runtime wheel, README, zip")
    _option(release, "--out", ReleaseConfig, "out_dir", required=True)
    _option(release, "--install-from", ReleaseConfig, "install_from")
    _option(release, "--nbgrader-course", ReleaseConfig, "nbgrader_course")
    _option(release, "--model-wheel", ReleaseConfig, "model_wheel")

    grade = verbs.add_parser("grade", help="grade notebooks: files, folders or an nbgrader submitted/ tree")
    grade.add_argument("paths", nargs="+", help=".ipynb files or folders")
    _option(grade, "--out", GradeConfig, "out_dir")
    _option(grade, "--jobs", GradeConfig, "jobs")
    _option(grade, "--timeout", Limits, "timeout_s")
    _option(grade, "--memory-mb", Limits, "memory_mb")
    _option(grade, "--gradebook", GradeConfig, "gradebook_db", type=str)
    grade.add_argument("--no-gradebook", action="store_true", help="skip nbgrader's gradebook database")
    _option(grade, "--scratch-mb", Limits, "scratch_mb")
    verbs.add_parser("demo", help="the main job: assets, smoke run of the solution, grading the examples")
    return parser


def cli(argv: list[str] | None = None) -> int:
    # The reference solution imports trl.experimental; its "unstable API" warning means nothing here.
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    args = build_parser().parse_args(argv)
    if args.verb in ("assets", "resolve"):
        from alignment_kit.__main__ import main as runtime_main

        return runtime_main([args.verb] + (["--force"] if getattr(args, "force", False) else []))
    if args.verb == "fixtures":
        from autograder import public_fixtures

        return public_fixtures.main(check_only=args.check)
    if args.verb == "generate":
        from autograder import generate

        return generate.main()
    if args.verb == "release":
        from autograder import release

        return release.main(release.ReleaseConfig(out_dir=args.out_dir, install_from=args.install_from,
                                                  nbgrader_course=args.nbgrader_course, model_wheel=args.model_wheel))
    if args.verb == "grade":
        from autograder import batch

        return batch.main(args.paths, args.out_dir, args.jobs, args.timeout_s, args.memory_mb, args.gradebook_db,
                          args.no_gradebook, args.scratch_mb)
    if args.verb == "demo":
        from autograder import demo

        return demo.main()
    raise AssertionError(args.verb)


if __name__ == "__main__":
    sys.exit(cli())
