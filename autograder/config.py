"""Grading configuration: limits for the worker that runs student code, and batch settings."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Limits:
    """Limits for one worker subprocess."""

    timeout_s: float = field(default=120.0, metadata={"help": "wall-clock seconds before the worker is killed"})
    memory_mb: int = field(default=6144, metadata={"help": "address-space limit (RLIMIT_AS) in MiB"})
    processes: int = field(default=512, metadata={"help": "process/thread limit for the worker's user"})
    output_kb: int = field(default=64, metadata={"help": "stdout/stderr kept from the worker (the tail)"})
    payload_mb: int = field(default=128, metadata={
        "help": "largest result a worker may send back, in MiB (a re-run cell sends its trained weights: about 13 each)"})
    scratch_mb: int = field(default=512, metadata={
        "help": "cap in MiB shared by the worker's working folder, TMPDIR and /dev/shm (also the largest file)"})
    scratch_files: int = field(default=50_000, metadata={"help": "cap on the number of files in the scratch space"})
    function_timeout_s: float = field(default=20.0, metadata={"help": "seconds per graded function call batch"})


@dataclass
class GradeConfig:
    """Settings of one `grade` run."""

    paths: list[str] = field(default_factory=list, metadata={
        "help": ".ipynb files, folders, or an nbgrader course folder with submitted/<student>/<assignment>/"})
    out_dir: str = field(default="grading-out", metadata={"help": "folder for results, feedback and the gradebook"})
    jobs: int = field(default=2, metadata={"help": "grading workers at a time (one core each)"})
    limits: Limits = field(default_factory=Limits)
    gradebook_db: str | None = field(default=None, metadata={
        "help": "nbgrader gradebook URL (default: the course's gradebook.db, else OUT/gradebook.db)"})
    gradebook: bool = field(default=True, metadata={"help": "record the scores in nbgrader's gradebook"})
    assignment: str = field(default="dpo_homework", metadata={"help": "nbgrader assignment name"})
    shard: str = field(default="", metadata={
        "help": "grade only share K of N of the submissions (K/N, by a stable hash of each student id); "
                "`python -m autograder merge` joins the shards' --out folders"})
    track: str = field(default="", metadata={
        "help": "grade every notebook as this edition of part 5, ppo or rloo (default: the edition each notebook's "
                "metadata records, else the one its code shows, else ppo)"})
    language: str = field(default="", metadata={
        "help": "the language of the feedback, en or ru (default: the language each notebook's metadata records, "
                "else en)"})
    hand_over_costs_points: bool = field(default=False, metadata={
        "help": "a graded function that hands its work to a library function its item bans (the `hand_over` policy "
                "in autograder/items/<item>.py) gets no points for the item; by default it is only flagged"})
