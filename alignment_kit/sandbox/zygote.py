"""A template process that forks grading workers with the heavy libraries already imported.

The grader starts one zygote (inside the sandbox, when the machine allows one). It imports torch,
transformers, TRL and datasets and loads the kit tokenizer, and then only forks: it never reads a
job. For each job the grader sends it, over a Unix socket, a small control message and three pipe
ends (job in, payload out, output out); the zygote forks a child, which
1. takes a scratch space of its own (a fresh capped tmpfs in a mount namespace of its own, or in
   the fallback a folder the grader made),
2. becomes the session leader of its own process group,
3. reads the job from its pipe and runs `harness.run_job` exactly as a standalone worker would.
The zygote reports each child's start and exit, and kills a child's process group on request.
So a worker never holds grader code, and the zygote never holds student or reference data.

No process a worker starts outlives it (the syscall filter already refuses new processes; this holds
where the filter cannot be put up too): the zygote is the subreaper of everything below it, so an
orphan is reparented to it and killed at once; when a worker ends, its process group is killed, and
every process of its uid when it had one of its own.
"""
from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import socket
import sys

CLONE_NEWNS, MS_BIND, MS_REC, MS_PRIVATE = 0x00020000, 4096, 16384, 1 << 18
PR_SET_CHILD_SUBREAPER = 36
WARM_MODULES = ("torch", "torch.nn.functional", "transformers", "datasets", "trl",
                "tqdm.auto", "matplotlib.pyplot", "huggingface_hub", "alignment_kit.sandbox.harness",
                "alignment_kit.recorders", "alignment_kit.cell_judges", "alignment_kit.selfcheck", "alignment_kit.online")
# Part 5's trainer: the installed TRL has one edition's (the PPO edition's TRL, or the RLOO edition's).
EDITION_MODULES = ("trl.experimental.ppo", "trl.trainer.rloo_trainer")


def warm_up() -> None:
    """Import what every worker needs and load the (public) kit tokenizer."""
    import importlib

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    for name in WARM_MODULES:
        importlib.import_module(name)
    for name in EDITION_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification  # noqa: F401 - lazy imports

    from alignment_kit.probes import kit_tokenizer

    _load_a_model_once(kit_tokenizer())


def _load_a_model_once(tokenizer) -> None:
    """Save and load a micro model of each kind the cells load, so what transformers builds at a process's first
    `from_pretrained` (its checkpoint conversion tables, the patterns they compile, the Llama modules) is built
    here once instead of in every worker. The random state is left as it was."""
    import tempfile

    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    from alignment_kit.tiny import make_tiny_causal_lm

    try:
        with tempfile.TemporaryDirectory() as folder, torch.random.fork_rng():
            make_tiny_causal_lm(tokenizer, vocab_size=16).save_pretrained(folder)
            AutoModelForCausalLM.from_pretrained(folder)
            AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1)
    except OSError:  # no writable temporary folder: the workers build it themselves, which costs only time
        pass


def freeze_heap() -> None:
    """Move everything imported so far out of the garbage collector's sight. A worker's collections (TRL's
    trainers call `gc.collect()` at every step) then walk only what the job made, not the millions of objects
    of torch and transformers; the pages stay shared with the zygote, since nothing writes to their headers."""
    import gc

    gc.collect()
    gc.freeze()


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
    return libc


def _check(result: int, what: str) -> None:
    if result != 0:
        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")


def private_scratch(path: str, size_mb: int, files: int) -> None:
    """In a new mount namespace: a fresh tmpfs at `path`, with its shm/ bound over /dev/shm."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS), "unshare")
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    options = f"size={size_mb}m,nr_inodes={files},mode=1777".encode()
    _check(libc.mount(b"kitscratch", path.encode(), b"tmpfs", 0, options), "mount scratch")
    for sub in ("tmp", "shm"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
        os.chmod(os.path.join(path, sub), 0o1777)
    _check(libc.mount(os.path.join(path, "shm").encode(), b"/dev/shm", None, MS_BIND, None), "bind /dev/shm")


def _child(control: dict, fds: list[int]) -> None:
    """In the forked child: own scratch and process group, then the harness on the job from the pipe."""
    job_fd, payload_fd, output_fd = fds
    code = 0
    try:
        os.setsid()
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(output_fd)
        scratch = control["scratch"]
        if control["private_scratch"]:
            private_scratch(scratch, control["scratch_mb"], control["scratch_files"])
        for name, value in control["environment"].items():
            os.environ[name] = value
        from alignment_kit.sandbox import harness, wire

        with os.fdopen(job_fd, "rb") as stream:
            job = wire.load(stream.read(), tokenizers=True)
        harness.run_job(dict(job, payload_fd=payload_fd))
    except BaseException:  # noqa: BLE001 - the child must never return into the zygote's loop
        import traceback

        traceback.print_exc()
        code = 70
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _kill(what, target: int) -> None:
    try:
        what(target, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def orphans(known) -> list[int]:
    """Processes reparented to this one (its children that it did not fork)."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in known:
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == me:
                found.append(int(entry))
    return found


def kill_uid(uid: int) -> None:
    """Kill every process of `uid` (run as root): a helper becomes that uid and signals all it may."""
    helper = os.fork()
    if helper == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)  # every process this uid may signal, the helper excepted
        finally:
            os._exit(0)
    os.waitpid(helper, 0)


def _ended(pid: int, uid: int | None) -> None:
    """After a worker: its process group, and its uid's processes if it had a uid of its own."""
    _kill(os.killpg, pid)
    if uid is not None and os.geteuid() == 0:
        kill_uid(uid)


def serve(fd: int) -> None:
    """Fork a child per request until the grader closes the socket."""
    channel = socket.socket(fileno=fd)
    children: dict[int, tuple[str, int | None]] = {}  # pid -> (job id, the worker's uid)

    def tell(message: dict) -> None:
        channel.send(json.dumps(message).encode())

    while True:
        ready, _, _ = select.select([channel], [], [], 0.05)
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:  # no child at all
                break
            if pid == 0:
                break
            if pid in children:
                job, uid = children.pop(pid)
                _ended(pid, uid)
                tell({"job": job, "returncode": os.waitstatus_to_exitcode(status)})
        for orphan in orphans(children):
            _kill(os.kill, orphan)
        if not ready:
            continue
        data, fds, _, _ = socket.recv_fds(channel, 65536, 3)
        if not data:
            for pid, (_, uid) in children.items():
                _ended(pid, uid)
            return
        request = json.loads(data.decode())
        if "kill" in request:
            try:
                os.killpg(request["kill"], signal.SIGKILL)
            except ProcessLookupError:
                pass
            continue
        pid = os.fork()
        if pid == 0:
            channel.close()
            _child(request, fds)
        for child_fd in fds:
            os.close(child_fd)
        children[pid] = (request["job"], request.get("uid"))
        tell({"job": request["job"], "pid": pid})


def main() -> None:
    _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans below come to this process, which kills them
    warm_up()
    freeze_heap()
    serve(int(os.environ["KIT_ZYGOTE_FD"]))


if __name__ == "__main__":
    main()
