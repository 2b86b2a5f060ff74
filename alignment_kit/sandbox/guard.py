"""Guards a grading worker puts up before student code runs; none can be taken down afterwards.

* `limit_resources`: address space, processes, file size, no core dumps.
* `drop_privileges`: when the worker still runs as root, become an unprivileged uid of its own.
* `install_audit_hook`: a Python audit hook (it cannot be removed) that
  - refuses to import the grader package and records the attempt, which costs the item its points;
  - refuses to read or list files outside the allowed folders, and to write outside the scratch folder;
  - refuses to start processes, to open network connections and to walk the garbage collector's
    object graph. (Native code called through ctypes, which torch itself loads lazily, is not refused:
    in the namespace sandbox the kernel's rules bind it too.)
  Inside the namespace sandbox the kernel already enforces the file rules (nothing else is even
  mounted); the hook makes a submission behave the same where namespaces are refused.
"""
from __future__ import annotations

import os
import sys

GRADER_PACKAGE = "autograder"
# What the hook refuses outright once student code may run.
_DENIED = frozenset({
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "pty.spawn", "socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents",
})
_READS = frozenset({"os.listdir", "os.scandir", "os.chdir", "glob.glob"})
_WRITES = frozenset({"os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.symlink", "os.link", "os.chmod",
                     "os.chown", "os.truncate", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.move"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_SYSTEM_READS = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/proc/self", "/proc/cpuinfo",
                 "/proc/meminfo", "/sys/devices/system/cpu", "/sys/fs/cgroup", "/etc/ld.so.cache",
                 "/etc/localtime", "/usr/share/zoneinfo", "/usr/lib", "/lib", "/lib64", "/usr/lib64")

# Who tried to import the grader, and while grading what: [(item, module)]. Read by the harness.
grader_imports: list[tuple[str, str]] = []
current_item = [""]


def limit_resources(memory_mb: int, processes: int, file_mb: int) -> None:
    import resource

    for limit, value in ((resource.RLIMIT_AS, memory_mb << 20), (resource.RLIMIT_FSIZE, file_mb << 20),
                         (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, processes)):
        resource.setrlimit(limit, (value, value))


def readable_by_others(path: str) -> bool:
    """Whether an unprivileged user can reach `path`: every folder on the way lets others in."""
    current = os.path.realpath(path)
    while True:
        if not os.stat(current).st_mode & 0o005:
            return False
        parent = os.path.dirname(current)
        if parent == current:
            return True
        current = parent


def drop_privileges(uid: int) -> bool:
    """Become `uid` (group too, no supplementary groups) when running as root; False if not root."""
    if os.geteuid() != 0:
        return False
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    return True


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


class _GraderBlocker:
    """First on sys.meta_path: any import of the grader fails at once with a message, and is recorded.
    (Student code could take it off the path; the audit hook, which cannot be removed, still refuses.)"""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if is_grader(name):
            grader_imports.append((current_item[0], name))
            raise ImportError(f"the grader ({name}) is not available to student code")
        return None


def is_grader(module: str) -> bool:
    return module == GRADER_PACKAGE or module.startswith(GRADER_PACKAGE + ".")


def install_audit_hook(allowed: list[str], scratch: str) -> None:
    """Put up the audit hook described above (and the import blocker). `allowed` are what student code may read."""
    sys.meta_path.insert(0, _GraderBlocker())
    reads = tuple(os.path.realpath(p) for p in (*allowed, scratch, *_SYSTEM_READS))
    writes = (os.path.realpath(scratch), "/dev/null")
    realpath, fspath = os.path.realpath, os.fspath

    def resolved(target) -> str | None:
        if target is None:
            return realpath(".")
        if isinstance(target, int):
            return None  # an open file descriptor: allowed by how it was opened
        try:
            target = fspath(target)
        except TypeError:
            return None
        if isinstance(target, bytes):
            target = target.decode(errors="replace")
        return realpath(target)

    def hook(event: str, args: tuple) -> None:
        if event == "import":
            module = args[0] or ""
            if is_grader(module):
                grader_imports.append((current_item[0], module))
                raise ImportError(f"the grader ({module}) is not available to student code")
        elif event == "open":
            path = resolved(args[0])
            if path is None:
                return
            mode, flags = args[1] or "", args[2] or 0
            writing = any(c in str(mode) for c in "wax+") or (isinstance(flags, int) and flags & _WRITE_FLAGS)
            if not _under(path, writes if writing else reads):
                raise PermissionError(f"the grading sandbox refuses to {'write' if writing else 'read'} {path}")
        elif event in _READS:
            path = resolved(args[0] if args else None)
            if path is not None and not _under(path, reads):
                raise PermissionError(f"the grading sandbox refuses to look at {path}")
        elif event in _WRITES:
            path = resolved(args[0]) if args else None
            if path is not None and not _under(path, writes):
                raise PermissionError(f"the grading sandbox refuses to change {path}")
        elif event in _DENIED or (event == "object.__setattr__" and args and args[0] is hook):
            raise PermissionError(f"the grading sandbox refuses {event}")

    sys.addaudithook(hook)
