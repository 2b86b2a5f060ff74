"""A seccomp filter a worker puts up before student code runs: limits that need no cooperation from Python.

Python's audit hook sees what Python does; native code (a function called through a library, a
process started by `_posixsubprocess`, which raises no audit event) goes past it. The kernel's filter
does not: once `install()` has run, this process and its threads can
* not start another process (clone without CLONE_THREAD, fork, vfork; clone3 answers ENOSYS, so that
  the C library falls back to clone, which is checked), and not run another program (execve);
* not reach another process (ptrace, process_vm_readv/writev, pidfd_getfd, a signal to any process but
  itself);
* not change the system or its own view of it (mount, unshare, setns, chroot, modules, reboot).
Everything else is allowed. The filter cannot be removed and is inherited by threads. It needs no
privileges (no_new_privs is set first) and works where user namespaces are refused, as in Gradescope's
containers; `install()` returns why it could not be put up, which the sandbox reports.
"""
from __future__ import annotations

import ctypes
import os
import platform
import struct

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
EPERM, ENOSYS = 1, 38
CLONE_THREAD = 0x00010000
LD, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|{JEQ,JGE,JSET}|K, BPF_RET|K

# Per architecture: the audit arch value and the syscall numbers the filter deals with.
ARCHES = {
    "x86_64": (0xC000003E, {
        "execve": 59, "execveat": 322, "fork": 57, "vfork": 58, "clone": 56, "clone3": 435, "ptrace": 101,
        "process_vm_readv": 310, "process_vm_writev": 311, "kill": 62, "tgkill": 234, "tkill": 200,
        "pidfd_send_signal": 424, "pidfd_getfd": 438, "unshare": 272, "setns": 308, "mount": 165, "umount2": 166,
        "pivot_root": 155, "chroot": 161, "kexec_load": 246, "init_module": 175, "finit_module": 313,
        "delete_module": 176, "reboot": 169, "swapon": 167, "swapoff": 168}),
    "aarch64": (0xC00000B7, {
        "execve": 221, "execveat": 281, "clone": 220, "clone3": 435, "ptrace": 117, "process_vm_readv": 270,
        "process_vm_writev": 271, "kill": 129, "tgkill": 131, "tkill": 130, "pidfd_send_signal": 424,
        "pidfd_getfd": 438, "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51,
        "kexec_load": 104, "init_module": 105, "finit_module": 273, "delete_module": 106, "reboot": 142,
        "swapon": 224, "swapoff": 225}),
}
DENIED = ("execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev", "tkill",
          "pidfd_send_signal", "pidfd_getfd", "unshare", "setns", "mount", "umount2", "pivot_root", "chroot",
          "kexec_load", "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff")


def program(arch: int, numbers: dict[str, int], pid: int) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jump if true, jump if false, value) instructions; `pid` may signal itself only."""
    code: list[tuple] = []  # entries are instructions, or ("jump", code, value, true label, false label)
    labels: dict[str, int] = {}

    def jump(kind, value, true, false):
        code.append(("jump", kind, value, true, false))

    def label(name):
        labels[name] = len(code)

    code.append((LD, 0, 0, 4))                     # the architecture
    jump(JEQ, arch, "arch ok", "deny")
    label("arch ok")
    code.append((LD, 0, 0, 0))                     # the syscall number
    if "fork" in numbers:                          # x86_64: the x32 ABI sets bit 30 of the number
        jump(JGE, 0x40000000, "deny", "next")
        label("next")
    for name in DENIED:
        if name in numbers:
            jump(JEQ, numbers[name], "deny", f"after {name}")
            label(f"after {name}")
    jump(JEQ, numbers["clone3"], "no clone3", "not clone3")
    label("not clone3")
    jump(JEQ, numbers["clone"], "clone", "not clone")
    label("not clone")
    jump(JEQ, numbers["kill"], "signal", "not kill")
    label("not kill")
    jump(JEQ, numbers["tgkill"], "signal", "allow")
    label("clone")
    code.append((LD, 0, 0, 16))                    # the first argument's low 32 bits: clone's flags
    jump(JSET, CLONE_THREAD, "allow", "deny")
    label("signal")
    code.append((LD, 0, 0, 16))                    # the first argument: the process signalled
    jump(JEQ, pid, "own pid", "deny")
    label("own pid")
    code.append((LD, 0, 0, 20))                    # its high 32 bits (a negative pid sets them)
    jump(JEQ, 0, "allow", "deny")
    label("allow")
    code.append((RET, 0, 0, RET_ALLOW))
    label("deny")
    code.append((RET, 0, 0, RET_ERRNO | EPERM))
    label("no clone3")
    code.append((RET, 0, 0, RET_ERRNO | ENOSYS))
    assembled = []
    for index, entry in enumerate(code):
        if entry[0] == "jump":
            _, kind, value, true, false = entry
            assembled.append((kind, labels[true] - index - 1, labels[false] - index - 1, value))
        else:
            assembled.append(entry)
    return assembled


def install() -> str | None:
    """Put the filter up for this process (and its future threads); None, or why it could not be."""
    machine = platform.machine()
    if machine not in ARCHES:
        return f"no syscall filter for the {machine} architecture"
    arch, numbers = ARCHES[machine]
    instructions = program(arch, numbers, os.getpid())
    if any(not 0 <= jt <= 255 or not 0 <= jf <= 255 for _, jt, jf, _ in instructions):
        return "the syscall filter does not assemble"
    filters = b"".join(struct.pack("HBBI", *instruction) for instruction in instructions)
    buffer = ctypes.create_string_buffer(filters)

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Program(len(instructions), ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return f"no_new_privs refused: {os.strerror(ctypes.get_errno())}"
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        return f"seccomp refused: {os.strerror(ctypes.get_errno())}"
    return None
