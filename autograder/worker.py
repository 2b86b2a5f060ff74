"""Run grading workers in a default-deny sandbox, forked from a pre-imported template process.

Full sandbox (root, and `unshare` works): the template process (`alignment_kit.sandbox.zygote`) runs in new
mount, network and PID namespaces, in a private root file system that holds only the Python
installation with its site-packages, the student runtime and the model cache (all read-only) and a
few device files. Nothing else exists in there: no home folders, no shared /tmp, no other software's
data, no copy of the kit or its solutions. Each worker it forks gets a mount namespace of its own
with a fresh tmpfs capped at `Limits.scratch_mb`, which serves as working folder, HOME, TMPDIR and
/dev/shm, then drops to an unprivileged uid of its own.

Fallback (namespaces refused, as in some containers): the template process is a plain subprocess.
Grades stay the same; what is lost is said by `Sandbox.describe()`: files are refused by the
worker's Python audit hook instead of the kernel, the network is not cut, and the scratch cap is
enforced by watching the folder's size.

Neither the template process nor a worker ever holds grader code: the launcher is a shell script
that execs Python on the runtime, and jobs reach each worker on its own pipe after the fork, so the
template process never holds student or reference data. Results come back as JSON on a private pipe;
nothing is unpickled.
"""
from __future__ import annotations

import atexit
import functools
import itertools
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from alignment_kit import paths as runtime_paths
from alignment_kit.i18n import say
from alignment_kit.sandbox import guard
from autograder.config import Limits

WORKER_UIDS = (100_000, 60_000)  # unprivileged uids handed out to workers: base .. base + span
SCRATCH_INSIDE = "/sandbox"  # the scratch folder's path inside the private root
SYSTEM_FILES = ("/usr/lib", "/lib", "/lib64", "/usr/lib64", "/etc/ld.so.cache", "/etc/localtime")
DEVICES = ("null", "zero", "urandom", "random")
UNSHARE = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child=SIGKILL", "sh", "-c"]
_next_worker = itertools.count()


@dataclass
class WorkerResult:
    payload: dict | None
    error: str | None
    output_tail: str
    seconds: float


@dataclass(frozen=True)
class Sandbox:
    """Which protections this machine allows."""

    namespaces: bool  # private root, no network, own PID space (root and a working `unshare`)
    drop_uid: bool  # student code runs as an unprivileged uid of its own
    syscall_filter: bool = True  # seccomp: no new processes, no exec, no reaching other processes
    unreadable: tuple[str, ...] = ()  # folders on the way to the Python installation others cannot enter (no uid drop)

    def describe(self, limits: Limits) -> str:
        """One line for the instructor (the first `grade` prints): what holds, and what is missing and why."""
        filter_note = "" if self.syscall_filter else (
            "; WARNING: no syscall filter (the kernel refuses seccomp), so native code could start processes: "
            "only the audit hook and the process-tree sweep stand in the way")
        if self.namespaces:
            return (f"sandbox: full: private root file system (Python, runtime and model cache only, read-only), "
                    f"no network, own PID space, unprivileged uid, syscall filter, scratch capped at "
                    f"{limits.scratch_mb} MiB (tmpfs){filter_note}")
        line = ("sandbox: reduced (namespaces are refused here, or KIT_SANDBOX=fallback): missing: a private root "
                "file system (files outside the allowed folders, and native code, are refused by a Python audit hook "
                "instead; new processes by the syscall filter), network isolation, own PID space, a tmpfs scratch cap "
                f"(the {limits.scratch_mb} MiB cap is enforced by watching the folder)")
        if not self.drop_uid:
            who = "root" if os.geteuid() == 0 else f"uid {os.geteuid()}"
            why = (f"other users cannot reach the Python installation, the runtime or the models (blocked at "
                   f"{', '.join(self.unreadable[:3])})" if self.unreadable else "the grader does not run as root")
            fix = (f"let other users in (`chmod o+rX {' '.join(self.unreadable[:3])}`)" if self.unreadable
                   else "run the grader as root")
            line += (f"; WARNING: student code runs as {who}, the grader's own user, because {why}: a way past the "
                     f"audit hook would read and change what that user can; fix: {fix}, or grade where namespaces work")
        return line + filter_note


def interpreter_roots(python: str) -> list[str]:
    """The folders of another interpreter's environment (a venv: its folder, which holds its site-packages)."""
    if not python or os.path.abspath(python) == os.path.abspath(sys.executable):  # not resolved: a venv's python
        return []                                                                # links to its base's
    return [str(Path(python).parent.parent)]


def readable_roots(python: str = "") -> list[str]:
    """What student code may read: the Python installation with its site-packages, the runtime, the models, and
    the environment of the interpreter `python` when the workers run another one (the RLOO edition's)."""
    import alignment_kit

    candidates = [sys.base_prefix, sys.prefix, *(p for p in sys.path if p.endswith("site-packages")),
                  str(Path(alignment_kit.__file__).parent), str(runtime_paths.cache_dir()), *interpreter_roots(python)]
    roots: list[str] = []
    for path in sorted({os.path.realpath(p) for p in candidates if os.path.exists(p)}, key=len):
        if not any(path == r or path.startswith(r + "/") for r in roots):
            roots.append(path)
    return roots


def _namespaces_work() -> bool:
    if os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("unshare", "mount", "chroot")):
        return False
    try:
        probe = subprocess.run(["unshare", "--net", "--mount", "--pid", "--fork", "sh", "-c",
                                "mount -t tmpfs -o size=1m none /mnt"], capture_output=True, timeout=20)
        return probe.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _syscall_filter_works() -> bool:
    """Whether a process here can put up the workers' syscall filter (and is then refused a fork)."""
    probe = ("import os\nfrom alignment_kit.sandbox import syscalls\nassert syscalls.install() is None\n"
             "try:\n    os.fork()\nexcept PermissionError:\n    print('filtered')")
    try:
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
        return done.stdout.strip() == "filtered"
    except (OSError, subprocess.TimeoutExpired):
        return False


@functools.lru_cache(maxsize=1)
def sandbox() -> Sandbox:
    """Detect the protections once per process; KIT_SANDBOX=fallback forces the fallback (for tests)."""
    forced = os.environ.get("KIT_SANDBOX", "")
    if forced not in ("", "fallback"):
        raise ValueError(f"KIT_SANDBOX must be unset or 'fallback', got {forced!r}")
    namespaces = forced != "fallback" and _namespaces_work()
    unreadable = tuple(dict.fromkeys(guard.blocking_folder(p) for p in readable_roots()
                                     if not guard.readable_by_others(p)))
    drop = os.geteuid() == 0 and (namespaces or not unreadable)
    return Sandbox(namespaces, drop, _syscall_filter_works(), () if namespaces else unreadable)


def launch_script(root: Path, limits: Limits, command: list[str], python: str = "") -> str:
    """The shell script that builds the private root inside the new namespaces and execs `command` in it."""
    q = shlex.quote
    lines = ["set -e", "mount --make-rprivate /", f"mount -t tmpfs -o size=16m,mode=755 kitroot {q(str(root))}"]

    def bind(source: str) -> None:
        target = q(str(root) + source)
        if os.path.isdir(source):
            lines.append(f"mkdir -p {target}")
        else:
            lines.append(f"mkdir -p $(dirname {target}) && touch {target}")
        lines.append(f"mount --rbind {q(source)} {target} && mount -o remount,bind,ro {target}")

    for path in readable_roots(python) + [p for p in SYSTEM_FILES if os.path.exists(p)]:
        bind(path)
    scratch = q(str(root) + SCRATCH_INSIDE)
    lines += [f"mkdir -p {scratch}",
              f"mount -t tmpfs -o size={limits.scratch_mb}m,nr_inodes={limits.scratch_files},mode=1777 kitscratch {scratch}",
              f"mkdir -p {scratch}/tmp {scratch}/shm && chmod 1777 {scratch}/tmp {scratch}/shm",
              f"mkdir -p {q(str(root))}/dev/shm {q(str(root))}/proc"]
    for device in DEVICES:
        lines.append(f"touch {q(str(root))}/dev/{device} && mount --bind /dev/{device} {q(str(root))}/dev/{device}")
    lines += [f"mount --bind {scratch}/shm {q(str(root))}/dev/shm",
              f"mount -t proc proc {q(str(root))}/proc",
              f"mount -o remount,ro {q(str(root))}",
              f"exec {q(shutil.which('chroot'))} {q(str(root))} " + " ".join(q(part) for part in command)]
    return "\n".join(lines)


def _environment(scratch: str) -> dict:
    return {"PATH": "/usr/bin:/bin", "HOME": scratch, "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1", "HF_HOME": f"{scratch}/hf", "MPLCONFIGDIR": f"{scratch}/mpl",
            "MPLBACKEND": "Agg", "TRL_EXPERIMENTAL_SILENCE": "1", "TMPDIR": f"{scratch}/tmp",
            "XDG_CACHE_HOME": f"{scratch}/cache", "TORCHINDUCTOR_CACHE_DIR": f"{scratch}/cache/inductor",
            "TRITON_CACHE_DIR": f"{scratch}/cache/triton", "KIT_CACHE_DIR": str(runtime_paths.cache_dir()),
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"}


def _tail_reader(stream, keep: int, sink: list) -> None:
    """Read a stream to its end, keeping only the last `keep` bytes."""
    buffer = b""
    for chunk in iter(lambda: stream.read(65536), b""):
        buffer = (buffer + chunk)[-keep:]
    sink.append(buffer)


def _payload_reader(fd: int, cap: int, sink: list) -> None:
    """Read the payload pipe to its end, keeping at most cap + 1 bytes (more means: too large)."""
    chunks, size = [], 0
    with os.fdopen(fd, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            if size <= cap:
                chunks.append(chunk)
                size += len(chunk)
    sink.append(b"".join(chunks))


def _folder_size(folder: Path) -> int:
    total = 0
    for directory, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                pass
    return total


class Zygote:
    """One template process per sandbox mode and interpreter (see alignment_kit/sandbox/zygote.py); forks a
    worker per job."""

    def __init__(self, box: Sandbox, python: str = ""):
        self.box, self.python = box, python or sys.executable
        self.folder = Path(tempfile.mkdtemp(prefix="kit-zygote-"))
        self.channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._lock = threading.Lock()
        self._events: dict[str, dict] = {}
        self._changed = threading.Condition()
        self.output: list[bytes] = []
        command = [self.python, "-m", "alignment_kit.sandbox.zygote"]
        scratch = SCRATCH_INSIDE
        if box.namespaces:
            root = self.folder / "root"
            root.mkdir()
            command = UNSHARE + [launch_script(root, Limits(scratch_mb=16), command, python)]
        else:
            scratch = str(_scratch_folder(self.folder / "zygote"))
        environment = dict(_environment(scratch), KIT_ZYGOTE_FD=str(theirs.fileno()))
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        cwd="/" if box.namespaces else scratch, env=environment,
                                        pass_fds=(theirs.fileno(),), start_new_session=True)
        theirs.close()
        threading.Thread(target=_tail_reader, args=(self.process.stdout, 65536, self.output), daemon=True).start()
        threading.Thread(target=self._listen, daemon=True).start()

    def alive(self) -> bool:
        return self.process.poll() is None

    def _listen(self) -> None:
        """Record the zygote's reports: {"job", "pid"} when a worker starts, {"job", "returncode"} when it ends."""
        while True:
            try:
                data = self.channel.recv(65536)
            except OSError:
                data = b""
            with self._changed:
                if not data:
                    self._events["*"] = {"dead": True}
                    self._changed.notify_all()
                    return
                message = json.loads(data.decode())
                self._events.setdefault(message["job"], {}).update(message)
                self._changed.notify_all()

    def _wait_for(self, job: str, key: str, timeout: float) -> dict | None:
        deadline = time.time() + timeout
        with self._changed:
            while key not in self._events.get(job, {}) and "*" not in self._events:
                remaining = deadline - time.time()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)
            return self._events.get(job) if key in self._events.get(job, {}) else None

    def start(self, job_id: str, control: dict, fds: list[int]) -> int | None:
        with self._lock:
            socket.send_fds(self.channel, [json.dumps(dict(control, job=job_id)).encode()], fds)
        started = self._wait_for(job_id, "pid", 60)
        return started["pid"] if started else None

    def kill(self, pid: int) -> None:
        with self._lock:
            try:
                self.channel.send(json.dumps({"kill": pid}).encode())
            except OSError:
                pass

    def returncode(self, job_id: str, timeout: float) -> int | None:
        ended = self._wait_for(job_id, "returncode", timeout)
        return ended["returncode"] if ended else None

    def forget(self, job_id: str) -> None:
        with self._changed:
            self._events.pop(job_id, None)

    def close(self) -> None:
        try:
            self.channel.close()
        finally:
            _kill_group(self.process)
            shutil.rmtree(self.folder, ignore_errors=True)


_zygotes: dict[tuple[Sandbox, str], Zygote] = {}
_zygotes_lock = threading.Lock()
_job_ids = itertools.count()


def zygote(python: str = "") -> Zygote:
    """The running template process for this machine's sandbox mode and the interpreter `python` (default: this
    one), started or restarted on demand."""
    box = sandbox()
    with _zygotes_lock:
        current = _zygotes.get((box, python))
        if current is None or not current.alive():
            if current is not None:
                current.close()
            current = _zygotes[(box, python)] = Zygote(box, python)
        return current


@atexit.register
def _close_zygotes() -> None:
    for running in _zygotes.values():
        running.close()


def _scratch_folder(folder: Path) -> Path:
    for sub in ("", "tmp", "shm"):
        (folder / sub).mkdir(mode=0o1777, parents=True, exist_ok=True)
        os.chmod(folder / sub, 0o1777)
    return folder


def _watch_scratch(folder: Path, cap: int, done: threading.Event, on_exceeded) -> None:
    """Fallback cap: stop the worker when its scratch folder grows past `cap` bytes."""
    while not done.is_set():
        if _folder_size(folder) > cap:
            on_exceeded()
            return
        time.sleep(0.2)


def run_job(job: dict, limits: Limits, python: str = "") -> WorkerResult:
    """Run one job in a fresh worker (forked by the template process of the interpreter `python`, default this
    one) and return its payload or the reason there is none."""
    box = sandbox()
    started = time.time()
    template = zygote(python)
    base, span = WORKER_UIDS
    uid = base + (os.getpid() * 7919 + next(_next_worker)) % span  # distinct per concurrent worker
    folder = Path(tempfile.mkdtemp(prefix="kit-worker-"))
    scratch = SCRATCH_INSIDE if box.namespaces else str(_scratch_folder(folder / "scratch"))
    job_read, job_write = os.pipe()
    payload_read, payload_write = os.pipe()
    output_read, output_write = os.pipe()
    job_id = f"{os.getpid()}-{next(_job_ids)}"
    control = {"scratch": scratch, "private_scratch": box.namespaces, "scratch_mb": limits.scratch_mb,
               "scratch_files": limits.scratch_files, "environment": _environment(scratch),
               "uid": uid if box.drop_uid else None}
    output, payload, exceeded = [], [], []
    readers = [threading.Thread(target=_tail_reader, args=(os.fdopen(output_read, "rb"), limits.output_kb * 1024, output),
                                daemon=True),
               threading.Thread(target=_payload_reader, args=(payload_read, limits.payload_mb << 20, payload), daemon=True)]
    for reader in readers:
        reader.start()
    pid = template.start(job_id, control, [job_read, payload_write, output_write])
    for fd in (job_read, payload_write, output_write):
        os.close(fd)
    error, done = None, threading.Event()
    if pid is None:
        error = "could not start a worker: " + (template.output[0] if template.output else b"").decode(errors="replace")[-500:]
    else:
        if not box.namespaces:
            threading.Thread(target=_watch_scratch, args=(Path(scratch), limits.scratch_mb << 20, done,
                                                          lambda: (exceeded.append(True), template.kill(pid))),
                             daemon=True).start()
        job = dict(job, scratch=scratch, limits=asdict(limits), readable=readable_roots(python),
                   drop_to_uid=uid if box.drop_uid else None)
        threading.Thread(target=_send_job, args=(job_write, job), daemon=True).start()
        job_write = None
    returncode = template.returncode(job_id, limits.timeout_s) if pid is not None else None
    if pid is not None and returncode is None:
        error = say("worker.timeout", "timed out after {seconds:.0f}s (an infinite loop, or far too slow)",
                    seconds=limits.timeout_s)
        template.kill(pid)
        returncode = template.returncode(job_id, 10)
    done.set()
    if job_write is not None:
        os.close(job_write)
    for reader in readers:
        reader.join(timeout=10)
    template.forget(job_id)
    shutil.rmtree(folder, ignore_errors=True)
    if exceeded:
        error = say("worker.scratch_cap", "the scratch space cap ({megabytes} MiB for the working folder, TMPDIR and "
                    "/dev/shm) was exceeded", megabytes=limits.scratch_mb)
    tail = (output[0] if output else b"").decode("utf-8", errors="replace")
    data = payload[0] if payload else b""
    if error is None:
        error = _payload_error(returncode if returncode is not None else -9, data, limits)
    parsed = None
    if error is None:
        from alignment_kit.sandbox import wire  # imports torch: not needed to start the template process

        try:
            parsed = wire.load(data)
        except wire.WireError:
            pass
        if not isinstance(parsed, dict):
            parsed, error = None, say("worker.not_a_result", "the worker sent back something that is not a result")
    return WorkerResult(parsed, error, tail, time.time() - started)


def _send_job(fd: int, job: dict) -> None:
    from alignment_kit.sandbox import wire

    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(wire.dump(job, probes=True))
    except OSError:
        pass  # the worker died before reading its job: its exit code says why


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _payload_error(returncode: int, data: bytes, limits: Limits) -> str | None:
    if len(data) > limits.payload_mb << 20:
        return say("worker.too_large", "the result was larger than {megabytes} MB", megabytes=limits.payload_mb)
    if not data:
        if returncode < 0 or returncode == 137:
            return say("worker.killed", "the worker was killed (likely the memory limit or a crash)")
        return say("worker.exited", "the worker exited (code {code}) before reporting: sys.exit, os._exit or a crash in "
                   "student code", code=returncode)
    return None
