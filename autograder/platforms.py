"""`python -m autograder platforms` (`make platforms`): prove the student bundle where students work.

For each platform the release bundle is copied out of the repository and run by
`templates/platform_run.py` inside that platform's Python: a fresh virtual environment gets the
platform's preinstalled packages, then the notebook's installer cell installs the runtime from the
release's `--install-from` URL (served here on loopback) and, after an uninstall, from the wheel
beside the notebook; the student notebook must stop at the first `todo()`, and the notebook with the
reference answers filled in must run to the end in the smoke profile with every public check passing.

* `colab`: Python 3.13 (Colab's default runtime since 2026-08-25) through `../shared/tools/python313`,
  with Colab's preinstalled versions (googlecolab/backend-info, 2026-08-19) installed first.
* `newest`: this machine's Python with the newest releases the runtime's ranges admit, so that a new
  transformers or datasets release that breaks TRL 1.12 shows up here before students find it.

It needs PyPI. A platform whose Python cannot be had (no tool, no network) is skipped with the reason.
The report (what pip changed on top of the preinstalled packages, the times, the warnings a student
sees) is printed and written to `--out` as report.md and report.json.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from alignment_kit import items, stack, tracks
from autograder import paths

DRIVER = Path(__file__).parent / "templates" / "platform_run.py"
PYTHON313_TOOL = paths.REPO_ROOT.parent / "shared" / "tools" / "python313"


@dataclass(frozen=True)
class Platform:
    """Where students run the notebook, as this machine can reproduce it."""

    name: str
    title: str
    preinstall: tuple[str, ...]  # what the platform has before the student's first cell
    python313: bool  # run inside the Python 3.13 root (else this machine's own Python)


PLATFORMS = (
    Platform("colab", "Colab's default runtime (Python 3.13, packages of 2026-08-19)",
             ("torch==2.11.0", "transformers==5.15.0", "datasets==4.0.0", "huggingface_hub==1.27.0"), python313=True),
    Platform("newest", "this machine's Python with the newest releases the runtime's ranges admit", (), python313=False),
)
WATCHED = ("torch", "transformers", "datasets", "huggingface-hub", "trl", "accelerate")


@dataclass
class PlatformsConfig:
    """Settings of one `platforms` run."""

    out_dir: str = field(default="outputs/platforms", metadata={"help": "folder for the report and the run folders"})
    only: str = field(default="", metadata={"help": f"run one platform: {', '.join(p.name for p in PLATFORMS)}"})
    track: str = field(default="", metadata={"help": f"run one edition of part 5: {', '.join(tracks.TRACKS)} "
                                                     "(default: each)"})
    python313: str = field(default=str(PYTHON313_TOOL), metadata={
        "help": "the tool that runs a command under Python 3.13 ($KIT_PYTHON313 overrides)"})


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve `folder` on loopback (where `--install-from` points); returns the server and its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _version_key(version: str):
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version)
    except InvalidVersion:
        return Version("0")


def pip_changes(before: dict[str, str], after: dict[str, str]) -> dict[str, list]:
    """What installing the runtime did to the packages already there: upgraded, downgraded, added."""
    moved = [(name, before[name], after[name]) for name in sorted(before) if name in after and after[name] != before[name]]
    return {"upgraded": [m for m in moved if _version_key(m[2]) > _version_key(m[1])],
            "downgraded": [m for m in moved if _version_key(m[2]) < _version_key(m[1])],
            "added": [(name, after[name]) for name in sorted(after) if name not in before]}


def install_cell(notebook: Path) -> str:
    import nbformat

    first = next(c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code")
    return first.source


def prepare(work: Path, bundle: Path) -> None:
    """A run folder: the bundle (plus the filled notebook), the installer cell and the driver."""
    import nbformat

    from autograder.generate import answered

    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(bundle, work / "bundle", ignore=shutil.ignore_patterns("*.zip"))
    student = work / "bundle" / paths.STUDENT_NOTEBOOK.name
    filled = answered(nbformat.read(student, as_version=4), nbformat.read(paths.SOLUTION_NOTEBOOK, as_version=4))
    nbformat.write(filled, work / "bundle" / "filled.ipynb")
    (work / "install_cell.py").write_text(install_cell(student), encoding="utf-8")
    shutil.copyfile(DRIVER, work / "platform_run.py")


def command(platform: Platform, work: Path, tool: str) -> tuple[list[str], dict] | str:
    """The command that runs the driver for `platform`, with its environment, or why it cannot run."""
    preinstall = ["--preinstall", " ".join(platform.preinstall)]
    if not platform.python313:
        return [getattr(sys, "_base_executable", sys.executable), str(work / "platform_run.py"), "--work", str(work),
                *preinstall], dict(os.environ)
    if not Path(tool).is_file():
        return f"no Python 3.13 here: the tool {tool} is missing (set $KIT_PYTHON313)"
    if os.geteuid() != 0:
        return "the Python 3.13 tool needs root (it builds and enters a Debian root file system)"
    return ["bash", tool, "python3.13", "/work/platform_run.py", "--work", "/work", *preinstall], \
        dict(os.environ, PY313_WORK=str(work))


def judge(platform: Platform, result: dict, track: str = tracks.DEFAULT) -> dict:
    """The platform's outcome: each step's verdict, pip's changes to the preinstalled packages, the times."""
    watched = {name: result["after"].get(name) for name in WATCHED}
    preinstalled = {spec.split("==")[0].lower().replace("_", "-") for spec in platform.preinstall}
    before = {name: version for name, version in result["before"].items() if name in preinstalled}
    changes = pip_changes(before, {name: result["after"][name] for name in before if name in result["after"]})
    student, filled = result["student_notebook"], result["filled_notebook"]
    autograded = sum(1 for item in items.edition_items(track) if item.autograded)
    checks = filled.get("public_checks", {"cells": 0, "failed": ["no executed notebook"]})
    verdicts = {
        "installer cell, --install-from URL": result["install_from_url"]["ok"],
        "installer cell, wheel beside the notebook": result["install_beside"]["ok"],
        "student notebook stops at the first todo()": (not student["ran_to_the_end"]
                                                        and "TODO in `apply_chat_template`" in student["error"]),
        "filled notebook runs to the end, every public check passing": (filled["ran_to_the_end"]
                                                                         and checks["cells"] == autograded
                                                                         and not checks["failed"]),
    }
    proven = dict(stack.PROVEN, trl=stack.PROVEN_TRL[track])
    outside = [f"{name} {version}" for name, version in watched.items() if name in proven and version
               and not _within(proven[name], version)]
    return {"platform": platform.name, "track": track, "title": platform.title, "python": result["python"], "verdicts": verdicts,
            "passed": all(verdicts.values()), "versions": watched, "pip_changes": changes,
            "outside_proven": outside, "seconds": {"preinstall": result["preinstall_seconds"],
                                                   "install from URL": result["install_from_url"]["seconds"],
                                                   "student notebook": student["seconds"],
                                                   "filled notebook": filled["seconds"]},
            "warnings": filled.get("stderr", []), "errors": {"student": student["error"][-600:],
                                                            "filled": filled["error"][-1500:]}}


def _within(proven: tuple[str, str], version: str) -> bool:
    low, high = proven
    release = _version_key(_version_key(version).base_version)
    return _version_key(low) <= release <= _version_key(high)


def markdown(outcomes: list[dict], skipped: dict[str, str]) -> str:
    lines = [f"# Platform runs ({time.strftime('%Y-%m-%d')})", ""]
    for outcome in outcomes:
        lines += [f"## {outcome['platform']}, {outcome['track']} edition: {outcome['title']}", "",
                  f"Python {outcome['python']}", ""]
        lines += [f"- {'passed' if ok else 'FAILED'}: {step}" for step, ok in outcome["verdicts"].items()]
        changes = outcome["pip_changes"]
        moved = [f"{n} {a} -> {b}" for n, a, b in changes["upgraded"] + changes["downgraded"]]
        lines += ["", "Versions after the install: " + ", ".join(f"{n} {v}" for n, v in outcome["versions"].items()),
                  "", "pip changed the preinstalled packages: " + (", ".join(moved) or "nothing"),
                  "", "Seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in outcome["seconds"].items())]
        if outcome["outside_proven"]:
            lines += ["", "Outside alignment_kit/stack.py's PROVEN ranges: " + ", ".join(outcome["outside_proven"])]
        lines += ["", "What a student sees on stderr (filled notebook):", ""]
        lines += [f"    {line}" for line in outcome["warnings"]] or ["    (nothing)"]
        lines.append("")
    for name, reason in skipped.items():
        lines += [f"## {name}: skipped", "", reason, ""]
    return "\n".join(lines)


def run(config: PlatformsConfig) -> tuple[list[dict], dict[str, str]]:
    from autograder.release import ReleaseConfig, build

    out = Path(config.out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    tool = os.environ.get("KIT_PYTHON313", config.python313)
    chosen = [p for p in PLATFORMS if not config.only or p.name == config.only]
    if not chosen:
        raise ValueError(f"unknown platform {config.only!r}; known: {[p.name for p in PLATFORMS]}")
    editions = [tracks.checked(config.track)] if config.track else list(tracks.TRACKS)
    outcomes, skipped = [], {}
    for track in editions:
        with tempfile.TemporaryDirectory() as scratch:
            served = Path(scratch) / "served"
            served.mkdir()
            server, base = serve(served)
            try:
                print(f"building the release bundle ({track} edition) ...", flush=True)
                wheel_name = f"alignment_kit-{_runtime_version()}-py3-none-any.whl"
                build(ReleaseConfig(out_dir=str(served), install_from=f"{base}/{wheel_name}", track=track))
                if not (served / wheel_name).is_file():
                    raise RuntimeError(f"the release wrote no {wheel_name}")
                for platform in chosen:
                    outcome = _run_one(platform, track, out / f"{platform.name}-{track}", served, tool, skipped)
                    if outcome is not None:
                        outcomes.append(outcome)
            finally:
                server.shutdown()
    (out / "report.json").write_text(json.dumps({"outcomes": outcomes, "skipped": skipped}, indent=1), encoding="utf-8")
    (out / "report.md").write_text(markdown(outcomes, skipped), encoding="utf-8")
    return outcomes, skipped


def _run_one(platform: Platform, track: str, work: Path, served: Path, tool: str, skipped: dict) -> dict | None:
    """One platform run of one edition's bundle; None (with the reason in `skipped`) when it could not run."""
    name = f"{platform.name} ({track})"
    prepare(work, served)
    how = command(platform, work, tool)
    if isinstance(how, str):
        skipped[name] = how
        print(f"{name}: skipped: {how}", flush=True)
        return None
    print(f"{name}: {platform.title} ... (installs from PyPI: minutes)", flush=True)
    started = time.time()
    done = subprocess.run(how[0], env=how[1], capture_output=True, text=True)
    if not (work / "result.json").is_file():
        skipped[name] = f"the run did not finish (exit {done.returncode}): {(done.stdout + done.stderr)[-2000:]}"
        print(f"{name}: {skipped[name]}", flush=True)
        return None
    outcome = judge(platform, json.loads((work / "result.json").read_text(encoding="utf-8")), track)
    print(f"{name}: {'passed' if outcome['passed'] else 'FAILED'} in {time.time() - started:.0f}s", flush=True)
    return outcome


def _runtime_version() -> str:
    import alignment_kit

    return alignment_kit.__version__


def main(config: PlatformsConfig) -> int:
    try:
        outcomes, skipped = run(config)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print()
    print(markdown(outcomes, skipped))
    print(f"report: {Path(config.out_dir).resolve() / 'report.md'}")
    return 0 if outcomes and all(o["passed"] for o in outcomes) else 1
