"""Guards a grading worker puts up before student code runs; none can be taken down afterwards.

* `limit_resources`: address space, processes, file size, no core dumps.
* `drop_privileges`: when the worker still runs as root, become an unprivileged uid of its own.
* `install_audit_hook`: a Python audit hook (it cannot be removed) that
  - refuses to import the grader package and records the attempt, which costs the item its points;
  - refuses to read or list files outside the allowed folders, and to write outside the scratch folder;
  - refuses to start processes, to signal other processes, to open network connections and to walk the
    garbage collector's object graph;
  - refuses the ways out to native code: every use of ctypes (loading a library, looking up or calling a
    function, reading memory by address), importing cffi, and loading a compiled module from anywhere
    but the Python installation (student code can write files in its scratch folder, not run them).
  Inside the namespace sandbox the kernel already enforces the file rules (nothing else is even
  mounted); the hook makes a submission behave the same where namespaces are refused. What the hook
  cannot see (a process started by `_posixsubprocess`, which raises no audit event) the syscall filter
  of `syscalls.py` refuses.
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
# The ways from Python to native code: refused once student code may run (torch has loaded its libraries).
_NATIVE = frozenset({"ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.call_function", "ctypes.cdata",
                     "ctypes.cdata/buffer", "ctypes.addressof", "ctypes.string_at", "ctypes.wstring_at"})
_NATIVE_MODULES = ("cffi", "_cffi_backend")
_READS = frozenset({"os.listdir", "os.scandir", "os.chdir", "glob.glob"})
_WRITES = frozenset({"os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.symlink", "os.link", "os.chmod",
                     "os.chown", "os.truncate", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.move"})
_COPIES = frozenset({"shutil.copyfile", "os.link", "os.symlink"})  # (source read, destination written)
_MOVES = frozenset({"os.rename", "shutil.move"})  # (source, destination): both change
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


def blocking_folder(path: str) -> str | None:
    """The first folder on the way to `path` (or `path` itself) that other users cannot enter or read; None if none."""
    current = os.path.realpath(path)
    chain = [current]
    while os.path.dirname(current) != current:
        current = os.path.dirname(current)
        chain.append(current)
    for folder in reversed(chain):
        if not os.stat(folder).st_mode & 0o005:
            return folder
    return None


def readable_by_others(path: str) -> bool:
    """Whether an unprivileged user can reach `path`: every folder on the way lets others in."""
    return blocking_folder(path) is None


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
    code = tuple(os.path.realpath(p) for p in (*allowed, *_SYSTEM_READS))  # where compiled modules may come from
    writes = (os.path.realpath(scratch), "/dev/null")
    realpath, fspath, own_pid = os.path.realpath, os.fspath, os.getpid()

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
            if isinstance(module, str) and module.split(".")[0] in _NATIVE_MODULES:
                raise ImportError(f"the grading sandbox refuses {module}: no native code from student code")
            filename = resolved(args[1]) if len(args) > 1 and args[1] is not None else None
            if filename is not None and not _under(filename, code):
                raise ImportError(f"the grading sandbox refuses to load compiled code from {filename}")
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
            changed = args[1:2] if event in _COPIES else args[:2] if event in _MOVES else args[:1]
            read = args[:1] if event in _COPIES else ()
            for path in (resolved(target) for target in changed):
                if path is not None and not _under(path, writes):
                    raise PermissionError(f"the grading sandbox refuses to change {path}")
            for path in (resolved(target) for target in read):
                if path is not None and not _under(path, reads):
                    raise PermissionError(f"the grading sandbox refuses to read {path}")
        elif event in _NATIVE:
            raise PermissionError(f"the grading sandbox refuses {event}: no native code from student code")
        elif event == "os.kill" and args and args[0] != own_pid or event == "os.killpg":
            raise PermissionError(f"the grading sandbox refuses {event}: a worker may signal only itself")
        elif event in _DENIED or (event == "object.__setattr__" and args and args[0] is hook):
            raise PermissionError(f"the grading sandbox refuses {event}")

    sys.addaudithook(hook)
