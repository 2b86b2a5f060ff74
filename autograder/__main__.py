"""Command line: `python -m autograder VERB ...`. Each verb calls one module's `main(...)`.

Options that configure a dataclass (`GradeConfig`, `Limits`, `ReleaseConfig`) take their help text
and default from that dataclass's fields, so the CLI and the code cannot disagree.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path


def _help(config: type, name: str) -> str:
    return next(f for f in dataclasses.fields(config) if f.name == name).metadata["help"]


def _option(parser: argparse.ArgumentParser, flag: str, config: type, name: str, **kwargs) -> None:
    """Add `flag` for the dataclass field `config.name`, with the field's help and default."""
    field = next(f for f in dataclasses.fields(config) if f.name == name)
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    kwargs.setdefault("default", default)
    if "action" not in kwargs:
        kwargs.setdefault("type", type(default) if default not in (None, "") else str)
    help_text = _help(config, name) + ("" if kwargs.get("action") or default is None else f" (default: {default})")
    parser.add_argument(flag, dest=name, help=help_text, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    from autograder.config import GradeConfig, Limits
    from autograder.gradescope import VISIBILITIES, GradescopeConfig
    from autograder.platforms import PlatformsConfig
    from alignment_kit import i18n, tracks
    from autograder.lms_export import LMS, ExportConfig
    from autograder.release import ReleaseConfig  # gradescope's imports the items, and so torch: see cli()

    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    assets = verbs.add_parser("assets", help="prepare the offline model checkpoints (idempotent)")
    assets.add_argument("--force", action="store_true", help="rebuild even if they verify")
    verbs.add_parser("resolve", help="print which model and data the current settings use")
    fixtures = verbs.add_parser("fixtures", help="write the public self-check expectations from the solution")
    fixtures.add_argument("--check", action="store_true", help="only report whether they are up to date")
    verbs.add_parser("generate", help="regenerate the student notebook with nbgrader generate_assignment")
    answered = verbs.add_parser("answered", help="write the student notebook with the reference answers filled in "
                                "(a gradable copy of the solution)")
    answered.add_argument("--out", required=True, help="the .ipynb to write")
    answered.add_argument("--lang", dest="language", default=i18n.SOURCE, choices=i18n.LANGUAGES,
                          help=f"the edition's language (default: {i18n.SOURCE})")
    answered.add_argument("--track", default=tracks.DEFAULT, choices=list(tracks.TRACKS),
                          help=f"the edition of part 5 (default: {tracks.DEFAULT})")

    release = verbs.add_parser("release", help="build what students get: notebook, runtime wheel, README, zip")
    _option(release, "--out", ReleaseConfig, "out_dir", required=True)
    _option(release, "--install-from", ReleaseConfig, "install_from")
    _option(release, "--nbgrader-course", ReleaseConfig, "nbgrader_course")
    _option(release, "--model-wheel", ReleaseConfig, "model_wheel")
    _option(release, "--lang", ReleaseConfig, "language", choices=i18n.LANGUAGES)
    _option(release, "--track", ReleaseConfig, "track", choices=list(tracks.TRACKS))
    translations = verbs.add_parser("translations", help="report untranslated keys, and stale or mismatched "
                                    "translations (exit 1 for those only: `release --lang` refuses untranslated keys)")
    translations.add_argument("--lang", default="", choices=[lang for lang in i18n.LANGUAGES if lang != i18n.SOURCE],
                              help="one language (default: every language but English)")
    translations.add_argument("--stamp", nargs="+", default=[], metavar="KEY",
                              help="record that the translations of these keys match the current English")

    platforms = verbs.add_parser("platforms", help="run the student bundle on Python 3.13 as on Colab, and with "
                                 "the newest releases the runtime admits (needs PyPI)")
    _option(platforms, "--out", PlatformsConfig, "out_dir")
    _option(platforms, "--only", PlatformsConfig, "only")
    _option(platforms, "--track", PlatformsConfig, "track")
    _option(platforms, "--python313", PlatformsConfig, "python313")

    grade = verbs.add_parser("grade", help="grade notebooks: files, folders or an nbgrader submitted/ tree")
    grade.add_argument("paths", nargs="+", help=_help(GradeConfig, "paths"))
    _option(grade, "--out", GradeConfig, "out_dir")
    _option(grade, "--jobs", GradeConfig, "jobs")
    _option(grade, "--timeout", Limits, "timeout_s")
    _option(grade, "--memory-mb", Limits, "memory_mb")
    _option(grade, "--gradebook", GradeConfig, "gradebook_db", type=str)
    grade.add_argument("--no-gradebook", dest="gradebook", action="store_false", help="skip nbgrader's gradebook database")
    _option(grade, "--scratch-mb", Limits, "scratch_mb")
    _option(grade, "--lang", GradeConfig, "language", choices=i18n.LANGUAGES)
    _option(grade, "--track", GradeConfig, "track", choices=list(tracks.TRACKS))
    _option(grade, "--shard", GradeConfig, "shard")
    _option(grade, "--hand-over-costs-points", GradeConfig, "hand_over_costs_points", action="store_true")
    merge = verbs.add_parser("merge", help="join the --out folders of `grade --shard K/N` runs into one gradebook")
    merge.add_argument("folders", nargs="+", metavar="OUT_DIR", help="the shards' --out folders")
    merge.add_argument("--out", required=True, help="folder for the joined records, gradebook.csv and class report")
    merge.add_argument("--gradebook", dest="gradebook_db", default=None,
                       help="also record the scores in this nbgrader gradebook (a URL: sqlite:///path/gradebook.db)")
    merge.add_argument("--no-report", dest="class_report", action="store_false", help="skip the class report")
    export = verbs.add_parser("export", help="write the grades as the LMS imports them (Canvas or Moodle CSV)")
    _option(export, "--lms", ExportConfig, "lms", choices=list(LMS), required=True)
    export.add_argument("grades", metavar="GRADES", help=_help(ExportConfig, "grades"))
    _option(export, "--roster", ExportConfig, "roster", required=True)
    _option(export, "--out", ExportConfig, "out", required=True)
    _option(export, "--assignment", ExportConfig, "assignment")
    _option(export, "--match", ExportConfig, "match")
    export.add_argument("--no-bonus", dest="bonus", action="store_false", help=_help(ExportConfig, "bonus"))
    gradescope = verbs.add_parser("gradescope", help="write the Gradescope autograder zip")
    _option(gradescope, "--out", GradescopeConfig, "out")
    _option(gradescope, "--visibility", GradescopeConfig, "visibility", choices=VISIBILITIES)
    _option(gradescope, "--part-visibility", GradescopeConfig, "part_visibility", action="append",
            metavar="PART=VISIBILITY", default=None)
    _option(gradescope, "--deadline", GradescopeConfig, "deadline_s")
    _option(gradescope, "--memory-mb", GradescopeConfig, "memory_mb")
    _option(gradescope, "--model-wheel", GradescopeConfig, "model_wheel")
    _option(gradescope, "--lang", GradescopeConfig, "language", choices=i18n.LANGUAGES)
    _option(gradescope, "--track", GradescopeConfig, "track", choices=list(tracks.TRACKS))
    _option(gradescope, "--hand-over-costs-points", GradescopeConfig, "hand_over_costs_points", action="store_true")
    run = verbs.add_parser("gradescope-run", help="(inside Gradescope) grade /autograder/submission")
    run.add_argument("--root", default=os.environ.get("KIT_GRADESCOPE_ROOT", "/autograder"),
                     help="the autograder layout's root (default: $KIT_GRADESCOPE_ROOT or /autograder)")
    reference = verbs.add_parser("reference", help="compute and store the reference outputs for this grader version")
    _option(reference, "--track", GradeConfig, "track", choices=list(tracks.TRACKS))
    report = verbs.add_parser("report", help="the class report: distributions, pass rates, common mistakes, grader "
                              "faults, time per stage, and similar code")
    report.add_argument("grades", metavar="GRADES", help="the --out folder of `grade` (one record.json per student)")
    report.add_argument("--out", default=None, help="folder for class.html, class.md and the CSVs (default: GRADES)")
    hub = verbs.add_parser("check-hub", help="check the models a student published (Hub repo IDs or folders)")
    hub.add_argument("target", metavar="PREFIX_OR_DIR",
                     help="a Hub repo prefix (user/name: name-dpo, name-ppo, name-reward-model) or a folder of saved models")
    for stage in ("dpo", "ppo", "rloo", "reward"):
        hub.add_argument(f"--{stage}", default=None, metavar="ID_OR_DIR", help=f"the {stage} model (a repo ID or folder)")
    hub.add_argument("--base", default=None, metavar="ID_OR_DIR",
                     help="the base model (default: the one the DPO card names, else the kit's)")
    hub.add_argument("--out", default="check-hub-report", help="folder for the report (default: check-hub-report)")
    verbs.add_parser("demo", help="the main job: assets, smoke run of the solution, grading the examples")
    return parser


GRADING_VERBS = ("grade", "gradescope-run", "reference")


def _start_worker_template() -> None:
    """Start the template process that forks grading workers now: its imports (torch, transformers, TRL)
    then overlap the grader's own start-up instead of following it."""
    from autograder.worker import zygote

    try:
        zygote()
    except ValueError:  # a bad KIT_SANDBOX: the verb itself reports it where it can
        pass


def cli(argv: list[str] | None = None) -> int:
    # The reference solution imports trl.experimental; its "unstable API" warning means nothing here.
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    given = sys.argv[1:] if argv is None else argv
    if next((word for word in given if not word.startswith("-")), None) in GRADING_VERBS:
        _start_worker_template()  # before the parser, whose configs' modules import torch
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
    if args.verb == "answered":
        from autograder import answered_copy

        return answered_copy.main(args.out, args.language, args.track)
    if args.verb == "release":
        from autograder import release

        return release.main(release.ReleaseConfig(out_dir=args.out_dir, install_from=args.install_from,
                                                  nbgrader_course=args.nbgrader_course, model_wheel=args.model_wheel,
                                                  language=args.language, track=args.track))
    if args.verb == "translations":
        from autograder import translations

        return translations.main(args.lang, args.stamp)
    if args.verb == "platforms":
        from autograder import platforms

        return platforms.main(platforms.PlatformsConfig(out_dir=args.out_dir, only=args.only, python313=args.python313,
                                                            track=args.track))
    if args.verb == "grade":
        from autograder import grade
        from autograder.config import GradeConfig, Limits

        limits = Limits(timeout_s=args.timeout_s, memory_mb=args.memory_mb, scratch_mb=args.scratch_mb)
        return grade.main(GradeConfig(paths=args.paths, out_dir=args.out_dir, jobs=args.jobs, limits=limits,
                                      gradebook_db=args.gradebook_db, gradebook=args.gradebook, language=args.language,
                                      track=args.track, shard=args.shard,
                                      hand_over_costs_points=args.hand_over_costs_points))
    if args.verb == "merge":
        from autograder import merge

        return merge.main(args.folders, args.out, args.gradebook_db, args.class_report)
    if args.verb == "export":
        from autograder import lms_export

        try:
            config = lms_export.ExportConfig(lms=args.lms, grades=args.grades, roster=args.roster, out=args.out,
                                             assignment=args.assignment, match=args.match, bonus=args.bonus)
        except lms_export.ExportError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        return lms_export.main(config)
    if args.verb == "gradescope":
        from autograder import gradescope

        pairs = [entry.split("=", 1) for entry in (args.part_visibility or [])]
        if any(len(pair) != 2 for pair in pairs):
            print("error: --part-visibility takes PART=VISIBILITY", file=sys.stderr)
            return 2
        try:
            config = gradescope.GradescopeConfig(out=args.out, visibility=args.visibility, part_visibility=dict(pairs),
                                                 deadline_s=args.deadline_s, memory_mb=args.memory_mb,
                                                 model_wheel=args.model_wheel, language=args.language,
                                                 track=args.track, hand_over_costs_points=args.hand_over_costs_points)
        except (ValueError, KeyError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        return gradescope.main(config)
    if args.verb == "gradescope-run":
        from autograder import gradescope

        return gradescope.run(Path(args.root))
    if args.verb == "reference":
        from autograder import gradescope

        return gradescope.warm_reference(args.track)
    if args.verb == "report":
        from autograder import class_report

        return class_report.main(args.grades, args.out)
    if args.verb == "check-hub":
        from autograder import check_hub

        return check_hub.main(args.target, args.dpo, args.ppo, args.reward, args.base, args.out, rloo=args.rloo)
    if args.verb == "demo":
        from autograder import demo

        return demo.main()
    raise AssertionError(args.verb)


def _exit(code: int) -> None:
    """Exit without the interpreter's last full garbage collection, which walks the millions of objects of torch
    and transformers for a second or so: the process ends anyway."""
    import gc

    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    _exit(cli())
