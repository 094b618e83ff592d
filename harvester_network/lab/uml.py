"""The lab kernel: run a command inside User-Mode Linux, for kernels without bridge VLAN filtering.

    python -m harvester_network.lab.uml [--mem 1G] [--timeout S] [--rw-dir DIR] [--kernel-log FILE] -- CMD ARGS...

The guest's root is the host's `/`, read-only through hostfs, under a throw-away tmpfs overlay (the guest
may write anywhere; the host stays untouched). DIR (default: the current directory) is shared read-write.
CMD runs in the current directory with the caller's PATH, VIRTUAL_ENV, HOME, LANG, CI, PYTHONPATH, HVNET_*
and PYTEST_* variables plus HVNET_IN_LAB_KERNEL=1; its stdin is /dev/null, its stdout/stderr stream to ours and
its exit status is ours (125: the guest gave no status, 124: timeout). Debian's `user-mode-linux` package
provides the kernel (shared/reference/lab-kernel.md: about 2 s to boot, syscalls 15-20x slower).

Why not a VM: /dev/kvm on these machines cannot run a stock kernel, and qemu under TCG is 5-10x slower.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import os
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

IN_LAB_KERNEL_ENV = "HVNET_IN_LAB_KERNEL"
EXIT_TIMEOUT = 124
EXIT_NO_STATUS = 125
INSTALL_HINT = "apt-get install user-mode-linux busybox-static kmod"
UML_BINARY = Path(os.environ.get("HVNET_UML", "/usr/bin/linux.uml"))
UML_MODULES_ROOT = Path("/usr/lib/uml/modules")
DEFAULT_MEM = "1G"
DEFAULT_TIMEOUT_S = 3600.0

FORWARDED_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LC_ALL",
    "TERM",
    "NO_COLOR",
    "FORCE_COLOR",
    "COLUMNS",
    "CI",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "PYENV_ROOT",
    "PYENV_VERSION",
)
FORWARDED_ENV_PREFIXES = ("HVNET_", "PYTEST_")

# Link kinds the agent and its tests need from a kernel, each probed with one `ip` batch line, in this order
# (the 802.1Q probe stacks on the dummy link).
REQUIRED_LINK_KINDS = {
    "bonding": "link add hvt-probe-bo type bond",
    "dummy links": "link add hvt-probe-d0 type dummy",
    "802.1Q": "link add link hvt-probe-d0 name hvt-probe-v type vlan id 100",
}


# Debian's UML 6.1 saves guest FPU state with ptrace(PTRACE_SETREGSET, NT_X86_XSTATE) in a buffer sized for
# AVX; hosts whose XSAVE area is larger (AVX-512, AMX, PKRU) refuse it with EFAULT and the guest's init dies
# ("ptrace set fp regs failed, errno = 14"; fixed upstream in 6.9). A seccomp filter on the kernel process makes
# that regset unavailable (EIO), so UML falls back to PTRACE_GETFPREGS/SETFPREGS (x87/SSE state), which every
# host accepts. AVX register state then does not survive a guest page fault, so guest programs are told not to use
# AVX: glibc through GLIBC_TUNABLES, OpenSSL through OPENSSL_ia32cap (AVX bit off, CPUID.7 features off), Go
# programs through GODEBUG.
_BPF_LD_W_ABS, _BPF_JEQ_K, _BPF_RET_K = 0x20, 0x15, 0x06
_AUDIT_ARCH_X86_64, _NR_PTRACE = 0xC000003E, 101
_PTRACE_GETREGSET, _PTRACE_SETREGSET, _NT_X86_XSTATE = 0x4204, 0x4205, 0x202
_SECCOMP_RET_ALLOW, _SECCOMP_RET_ERRNO_EIO = 0x7FFF0000, 0x00050000 | 5
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2
# seccomp_data: nr at 0, arch at 4, args[i] at 16 + 8 i (low 32 bits first on x86-64)
_NO_XSTATE_FILTER = b"".join(
    struct.pack("HBBI", *insn)
    for insn in (
        (_BPF_LD_W_ABS, 0, 0, 4),
        (_BPF_JEQ_K, 0, 7, _AUDIT_ARCH_X86_64),  # other arch: allow
        (_BPF_LD_W_ABS, 0, 0, 0),
        (_BPF_JEQ_K, 0, 5, _NR_PTRACE),  # not ptrace: allow
        (_BPF_LD_W_ABS, 0, 0, 16),
        (_BPF_JEQ_K, 1, 0, _PTRACE_GETREGSET),
        (_BPF_JEQ_K, 0, 2, _PTRACE_SETREGSET),  # other requests: allow
        (_BPF_LD_W_ABS, 0, 0, 32),
        (_BPF_JEQ_K, 1, 0, _NT_X86_XSTATE),
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_ERRNO_EIO),
    )
)
GUEST_NO_AVX_ENV = {
    "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD,"
    "-AVX_Fast_Unaligned_Load,-RTM",
    "OPENSSL_ia32cap": "~0x1000000000000000:0",
    "GODEBUG": "cpu.avx=off,cpu.avx2=off",  # Go's runtime (e.g. the bridge CNI plugin) picks its memmove by CPUID
}


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _hide_xstate_regset() -> None:
    """Runs in the kernel's process between fork and exec: install the filter described above."""
    if os.uname().machine != "x86_64":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    program = ctypes.create_string_buffer(_NO_XSTATE_FILTER, len(_NO_XSTATE_FILTER))
    fprog = _SockFprog(len(_NO_XSTATE_FILTER) // 8, ctypes.addressof(program))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or (
        libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0
    ):
        raise OSError(ctypes.get_errno(), "cannot install the seccomp filter for the lab kernel")


class LabKernelError(RuntimeError):
    """The lab kernel cannot be started; the message says what is missing and how to get it."""


@dataclass(frozen=True)
class LabKernel:
    binary: Path
    modules: Path  # /usr/lib/uml/modules/<release>
    busybox: Path


def in_lab_kernel() -> bool:
    """True inside a guest started by this runner."""
    return os.environ.get(IN_LAB_KERNEL_ENV) == "1"


def find_lab_kernel() -> LabKernel:
    if not (UML_BINARY.is_file() and os.access(UML_BINARY, os.X_OK)):
        raise LabKernelError(f"the lab kernel {UML_BINARY} is missing (User-Mode Linux): {INSTALL_HINT}")
    busybox = shutil.which("busybox")
    if busybox is None:
        raise LabKernelError(f"busybox is missing (the lab kernel's init runs on it): {INSTALL_HINT}")
    if shutil.which("modprobe", path="/usr/sbin:/sbin:/usr/bin:/bin") is None:
        raise LabKernelError(f"modprobe is missing (the lab kernel loads bridge/bond/802.1Q modules): {INSTALL_HINT}")
    version = subprocess.run([UML_BINARY, "--version"], capture_output=True, text=True, check=False)
    release = version.stdout.strip().splitlines()[-1] if version.stdout.strip() else ""
    modules = UML_MODULES_ROOT / release
    if not release or not modules.is_dir():
        raise LabKernelError(
            f"no modules for the lab kernel {UML_BINARY} (release {release!r}) under {UML_MODULES_ROOT}: "
            f"reinstall it ({INSTALL_HINT})"
        )
    return LabKernel(binary=UML_BINARY, modules=modules, busybox=Path(busybox))


def _probe(argv: Sequence[str], stdin: str | None = None) -> bool:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@functools.cache
def host_kernel_features() -> dict[str, bool]:
    """{feature: works} for this kernel, probed in a throw-away namespace `hvt-probe-<pid>` (needs root)."""
    netns = f"hvt-probe-{os.getpid()}"
    features = {"bridge VLAN filtering": False, **dict.fromkeys(REQUIRED_LINK_KINDS, False)}
    if not _probe(["ip", "netns", "add", netns]):
        return features
    try:
        features["bridge VLAN filtering"] = _probe(
            ["ip", "-n", netns, "link", "add", "hvt-probe-br", "type", "bridge", "vlan_filtering", "1"]
        ) and _probe(["bridge", "-n", netns, "vlan", "add", "vid", "100", "dev", "hvt-probe-br", "self"])
        for feature, batch_line in REQUIRED_LINK_KINDS.items():
            features[feature] = _probe(["ip", "-n", netns, "-batch", "-"], stdin=batch_line + "\n")
    finally:
        _probe(["ip", "netns", "delete", netns])
    return features


def host_kernel_has_vlan_filtering() -> bool:
    return host_kernel_features()["bridge VLAN filtering"]


def needs_lab_kernel() -> bool:
    """True when the agent's netlink work cannot run on this kernel directly (VLAN filtering, bonding, 802.1Q
    or dummy links missing, or no root to find out) and we are not inside the lab kernel already."""
    return not in_lab_kernel() and not all(host_kernel_features().values())


def forwarded_env(env: Mapping[str, str]) -> dict[str, str]:
    forwarded = {k: v for k, v in env.items() if k in FORWARDED_ENV or k.startswith(FORWARDED_ENV_PREFIXES)}
    return forwarded | {IN_LAB_KERNEL_ENV: "1"}


def command_script(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> str:
    """The guest shell script that runs argv in cwd with env (exit 253: cwd is not there in the guest)."""
    lines = [f"cd {shlex.quote(str(cwd))} || exit 253"]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in sorted(env.items())]
    lines.append("exec " + shlex.join(argv))
    return "\n".join(lines) + "\n"


def _no_spaces(what: str, path: Path) -> str:
    # Paths travel on the kernel command line, which splits at spaces.
    text = str(path)
    if any(ch.isspace() for ch in text):
        raise LabKernelError(f"{what} {text!r} contains whitespace; the lab kernel cannot share it")
    return text


def _memory_dir() -> str:
    """Where UML keeps the guest's RAM (a file): tmpfs is fastest."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else tempfile.gettempdir()


def _stop(process: subprocess.Popen[bytes]) -> None:
    # UML runs as several host processes; they share the session the runner started.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def run_in_lab_kernel(
    argv: Sequence[str],
    *,
    mem: str = DEFAULT_MEM,
    timeout: float = DEFAULT_TIMEOUT_S,
    rw_dir: Path | None = None,
    kernel_log: Path | None = None,
    cwd: Path | None = None,
) -> int:
    """Run argv inside the lab kernel and return its exit status (124: timeout, 125: no status).

    Inside the lab kernel already, argv simply runs here (User-Mode Linux does not nest)."""
    if not argv:
        raise LabKernelError("no command given to run inside the lab kernel")
    cwd = (cwd or Path.cwd()).resolve()
    if in_lab_kernel():
        return subprocess.run(list(argv), cwd=cwd, check=False).returncode
    kernel = find_lab_kernel()
    rw = _no_spaces("the shared directory", (rw_dir or cwd).resolve())
    run_dir = Path(tempfile.mkdtemp(prefix="hvnet-uml."))
    try:
        init = resources.files("harvester_network.lab").joinpath("uml-init.sh").read_text()
        (run_dir / "init").write_text(init.replace("@BUSYBOX@", str(kernel.busybox)))
        (run_dir / "init").chmod(0o755)
        (run_dir / "cmd").write_text(command_script(argv, cwd, forwarded_env(os.environ)))
        with open(kernel_log or os.devnull, "ab") as log:
            command = [
                str(kernel.binary),
                f"mem={mem}",
                f"uml_dir={_no_spaces('the run directory', run_dir)}",
                "umid=hvnet-lab",
                "root=/dev/root",
                "rootfstype=hostfs",
                "rootflags=/",
                "ro",
                f"init={run_dir / 'init'}",
                "quiet",
                "con=null",
                f"con0=null,fd:{log.fileno()}",
                "con1=null,fd:1",
                "con2=null,fd:2",
                "ssl=null",
                f"lab.rw={rw}",
                f"lab.run={run_dir}",
                f"lab.mods={_no_spaces('the kernel module directory', kernel.modules)}",
                # the kernel hands NAME=value parameters to init as environment: every guest program gets them
                *(f"{name}={value}" for name, value in GUEST_NO_AVX_ENV.items()),
            ]
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                pass_fds=(log.fileno(),),
                start_new_session=True,
                preexec_fn=_hide_xstate_regset,
                env=os.environ | {"TMPDIR": _memory_dir()},
            )
            try:
                kernel_status = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _stop(process)
                print(f"lab kernel: `{shlex.join(argv)}` timed out after {timeout:g} s", file=sys.stderr)
                return EXIT_TIMEOUT
            except BaseException:
                _stop(process)
                raise
        status_file = run_dir / "rc"
        status = status_file.read_text().strip() if status_file.exists() else ""
        if not status.isdigit():
            hint = f"see {kernel_log}" if kernel_log else "pass --kernel-log FILE to see the kernel log"
            print(
                f"lab kernel: the guest reported no exit status for `{shlex.join(argv)}` "
                f"(kernel exit {kernel_status}); {hint}",
                file=sys.stderr,
            )
            return EXIT_NO_STATUS
        return int(status)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def main(args: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harvester_network.lab.uml",
        description="Run CMD inside the lab kernel (User-Mode Linux) and exit with its status "
        f"({EXIT_TIMEOUT}: timeout, {EXIT_NO_STATUS}: the guest gave no status).",
    )
    parser.add_argument("--mem", default=DEFAULT_MEM, help="guest RAM (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds (default %(default)g)")
    parser.add_argument("--rw-dir", type=Path, help="directory shared read-write (default: the current directory)")
    parser.add_argument("--kernel-log", type=Path, help="append the guest kernel's console log to this file")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    options = parser.parse_args(args)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not command:
        parser.error("no command: python -m harvester_network.lab.uml -- CMD ARGS...")
    try:
        return run_in_lab_kernel(
            command, mem=options.mem, timeout=options.timeout, rw_dir=options.rw_dir, kernel_log=options.kernel_log
        )
    except LabKernelError as error:
        print(f"lab kernel: {error}", file=sys.stderr)
        return EXIT_NO_STATUS


if __name__ == "__main__":
    sys.exit(main())
