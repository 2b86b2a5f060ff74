"""The only place student code runs: a subprocess with limits, no network and a bare working folder.

Parent side: `run_job(job, limits, hide)` starts `python -m autograder.worker`, inside
`unshare --net --mount --pid` when this process is root and unshare works, sends the job as JSON
on stdin and reads one JSON payload from a private pipe. The child hides the kit's solutions,
tests, data and the grading folders behind empty tmpfs mounts, makes the rest read-only, drops
to an unprivileged uid of its own, applies resource limits and only then runs student code.
Nothing from the worker is unpickled.
"""
from __future__ import annotations

import functools
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from alignment_kit import paths as runtime_paths
from autograder import paths
from autograder.config import Limits

WORKER_UIDS = (100_000, 60_000)  # unprivileged uids handed out to workers: base .. base + span
_next_worker = itertools.count()


@dataclass
class WorkerResult:
    payload: dict | None
    error: str | None
    output_tail: str
    seconds: float


@functools.lru_cache(maxsize=1)
def sandbox_available() -> bool:
    """Whether `unshare --net --mount --pid` works here (root on Linux)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    try:
        probe = subprocess.run(["unshare", "--net", "--mount", "--pid", "--fork", "true"], capture_output=True, timeout=10)
        return probe.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _tail_reader(stream, keep: int, sink: list) -> None:
    """Read a stream to its end, keeping only the last `keep` bytes."""
    buffer = b""
    for chunk in iter(lambda: stream.read(65536), b""):
        buffer = (buffer + chunk)[-keep:]
    sink.append(buffer)


def _payload_reader(fd: int, cap: int, sink: list) -> None:
    data = b""
    with os.fdopen(fd, "rb") as stream:
        for chunk in iter(lambda: stream.read(65536), b""):
            if len(data) < cap + 1:
                data += chunk
    sink.append(data)


def run_job(job: dict, limits: Limits, hide: list[str] | None = None) -> WorkerResult:
    """Run one job in a fresh worker and return its payload or the reason there is none."""
    scratch = Path(tempfile.mkdtemp(prefix="kit-worker-"))
    read_fd, write_fd = os.pipe()
    sandboxed = sandbox_available()
    base, span = WORKER_UIDS
    uid = base + (os.getpid() * 7919 + next(_next_worker)) % span  # distinct per concurrent worker
    job = dict(job, uid=uid, payload_fd=write_fd, scratch=str(scratch), limits=limits.__dict__, sandboxed=sandboxed,
               hide=[str(p) for p in (hide or []) + default_hidden() if Path(p).exists()])
    command = [sys.executable, "-m", "autograder.worker"]
    if sandboxed:
        command = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child=SIGKILL"] + command
    else:
        os.chmod(scratch, 0o1777)
        (scratch / "tmp").mkdir(mode=0o1777)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(scratch), "PYTHONPATH": str(paths.REPO_ROOT),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(scratch / "hf"),
           "MPLCONFIGDIR": str(scratch / "mpl"), "MPLBACKEND": "Agg", "TRL_EXPERIMENTAL_SILENCE": "1",
           # The file system is read-only outside the scratch folder, so every cache and temp file goes there.
           "TMPDIR": str(scratch / "tmp"), "XDG_CACHE_HOME": str(scratch / "cache"),
           "TORCHINDUCTOR_CACHE_DIR": str(scratch / "cache" / "inductor"), "TRITON_CACHE_DIR": str(scratch / "cache" / "triton"),
           "KIT_CACHE_DIR": str(runtime_paths.cache_dir()), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
    started = time.time()
    output, payload = [], []
    try:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   cwd=scratch, env=env, pass_fds=(write_fd,), start_new_session=True)
    except OSError as error:
        os.close(read_fd)
        os.close(write_fd)
        return WorkerResult(None, f"could not start the worker: {error}", "", 0.0)
    os.close(write_fd)
    readers = [threading.Thread(target=_tail_reader, args=(process.stdout, limits.output_kb * 1024, output), daemon=True),
               threading.Thread(target=_payload_reader, args=(read_fd, limits.payload_mb << 20, payload), daemon=True)]
    for reader in readers:
        reader.start()
    error = None
    try:
        process.stdin.write(json.dumps(job).encode())
        process.stdin.close()
    except OSError:
        pass
    try:
        process.wait(timeout=limits.timeout_s)
    except subprocess.TimeoutExpired:
        error = f"timed out after {limits.timeout_s:.0f}s (an infinite loop, or far too slow)"
    finally:
        _kill_group(process)
        for reader in readers:
            reader.join(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)
    tail = (output[0] if output else b"").decode("utf-8", errors="replace")
    data = payload[0] if payload else b""
    if error is None:
        error = _payload_error(process.returncode, data, limits)
    parsed = None
    if error is None:
        try:
            parsed = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass
        if not isinstance(parsed, dict):
            parsed, error = None, "the worker sent back something that is not a result"
    return WorkerResult(parsed, error, tail, time.time() - started)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _payload_error(returncode: int, data: bytes, limits: Limits) -> str | None:
    if len(data) > limits.payload_mb << 20:
        return f"the result was larger than {limits.payload_mb} MB"
    if not data:
        if returncode < 0 or returncode == 137:
            return "the worker was killed (likely the memory limit or a crash)"
        return f"the worker exited (code {returncode}) before reporting: sys.exit, os._exit or a crash in student code"
    return None


def default_hidden() -> list[str]:
    """Folders student code must not read: solutions, tests, data (with example submissions), git history."""
    root = paths.REPO_ROOT
    return [str(root / name) for name in ("solutions", "tests", "data", ".git", "grading", "notebooks")]


# ------------------------------------------------------------------------------------------ child
def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _closed_ancestor(path: Path) -> Path | None:
    """The highest ancestor of `path` that other users cannot enter (such as /root), if any."""
    for ancestor in reversed(path.parents):
        if ancestor != Path("/") and not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


def _expose_to_workers(needed: list[Path], scratch: Path) -> None:
    """Keep `needed` folders readable after the privilege drop when they sit under a closed folder.

    Each one is bind-mounted aside, an open tmpfs covers its closed ancestor (such as /root), and
    the folder is bound back at its old path. Nothing else under that ancestor stays visible."""
    moved = []
    for index, path in enumerate(p for p in needed if p.exists()):
        closed = _closed_ancestor(path)
        if closed is not None:
            keep = scratch / f".keep-{index}"
            keep.mkdir()
            _mount("--bind", str(path), str(keep))
            moved.append((path, closed, keep))
    for closed in sorted({closed for _, closed, _ in moved}):
        _mount("-t", "tmpfs", "-o", "mode=755", "tmpfs", str(closed))
    for path, _, keep in moved:
        path.mkdir(parents=True, exist_ok=True)
        _mount("--bind", str(keep), str(path))


def _enter_sandbox(job: dict) -> None:
    """Inside the new mount/net/pid namespaces, as root: hide folders, give a writable scratch, freeze the rest."""
    scratch = Path(job["scratch"])
    _mount("--make-rprivate", "/")
    _mount("-t", "proc", "proc", "/proc")
    for folder in job["hide"]:
        _mount("-t", "tmpfs", "-o", "size=1m,mode=000", "tmpfs", folder)
    _mount("-t", "tmpfs", "-o", "mode=1777", "tmpfs", str(scratch))
    (scratch / "tmp").mkdir(mode=0o1777)
    os.chmod(scratch / "tmp", 0o1777)
    _mount("-t", "tmpfs", "-o", "mode=1777", "tmpfs", "/dev/shm")
    _expose_to_workers([Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), runtime_paths.cache_dir()], scratch)
    _mount("-o", "remount,bind,ro", "/")
    os.chdir(scratch)


def _drop_privileges(limits: Limits, job_uid: int) -> None:
    """Limits for everyone; when root, become an unprivileged uid of this worker's own, so the
    process limit (counted per uid) and file permissions bind without touching other workers."""
    import resource

    memory = limits.memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 20, 256 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.geteuid() == 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        uid = job_uid
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def _send(job: dict, payload: dict) -> None:
    data = json.dumps(payload, allow_nan=True).encode()
    fd = job["payload_fd"]
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.close(fd)


def main() -> None:
    from autograder import run_student

    job = json.loads(sys.stdin.read())
    if job["sandboxed"]:
        _enter_sandbox(job)
    os.chdir(job["scratch"])
    prepared = run_student.prepare(job)  # trusted: probes, models and data, built before student code
    _drop_privileges(Limits(**job["limits"]), job["uid"])
    payload = run_student.execute(job, prepared)
    _send(job, payload)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
