"""Running commands in the lab's network namespaces (iproute2, the lab's one way to change the host).

Every host change is one `ip`/`bridge` command; a failure raises `LabError` naming the command and
the kernel's reason. Only namespaces named `hvt-*` are ever touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harvester_network.lab.topology import PREFIX

NETNS_DIR = Path("/run/netns")
LAB_MARK = "hvnet-lab"  # the ifalias of `lo` in every namespace a lab creates


class LabError(RuntimeError):
    """A lab step failed; the message says which command or object, and why."""


def _check_ns(netns: str) -> None:
    if not netns.startswith(PREFIX):
        raise LabError(f"refusing to touch namespace '{netns}': the lab only manages namespaces named {PREFIX}*")


def in_netns(netns: str, argv: Sequence[str]) -> list[str]:
    _check_ns(netns)
    return ["ip", "netns", "exec", netns, *argv]


def run(
    argv: Sequence[str],
    *,
    netns: str | None = None,
    check: bool = True,
    timeout: float = 60,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run argv (inside `netns` when given) and return its stdout; raise LabError when it fails and `check`."""
    full = list(argv) if netns is None else in_netns(netns, argv)
    try:
        proc = subprocess.run(
            full,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=None if env is None else os.environ | env,
        )
    except FileNotFoundError as exc:
        raise LabError(f"{full[0]} is not installed ({exc}); run `make system-deps`") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"`{' '.join(full)}` did not finish within {timeout:g} s") from None
    if check and proc.returncode != 0:
        where = f" in {netns}" if netns else ""
        reason = proc.stderr.strip() or proc.stdout.strip()
        raise LabError(f"`{' '.join(argv)}`{where} failed (exit {proc.returncode}): {reason}")
    return proc.stdout


def ip(netns: str, *args: str) -> str:
    _check_ns(netns)
    return run(["ip", "-n", netns, *args])


def bridge(netns: str, *args: str) -> str:
    _check_ns(netns)
    return run(["bridge", "-n", netns, *args])


def ip_json(netns: str, *args: str) -> Any:
    """`ip -j` output parsed ([] when the command prints nothing)."""
    out = ip(netns, "-j", *args)
    return json.loads(out) if out.strip() else []


def bridge_vlans(netns: str) -> dict[str, dict[int, set[str]]]:
    """{port: {vid: flags}} from `bridge -j vlan show`; flags are 'PVID' and 'Egress Untagged'."""
    out = bridge(netns, "-j", "vlan", "show")
    result: dict[str, dict[int, set[str]]] = {}
    for entry in json.loads(out) if out.strip() else []:
        vids = result.setdefault(entry["ifname"], {})
        for vlan in entry.get("vlans", []):
            last = vlan.get("vlanEnd", vlan["vlan"])
            for vid in range(vlan["vlan"], last + 1):
                vids[vid] = set(vlan.get("flags", []))
    return result


def link_stats(netns: str, ifname: str) -> dict[str, int]:
    """The link's rx/tx counters (packets, bytes...)."""
    links = ip_json(netns, "-s", "link", "show", "dev", ifname)
    stats = links[0]["stats64"]
    return {f"rx_{k}": v for k, v in stats["rx"].items()} | {f"tx_{k}": v for k, v in stats["tx"].items()}


def batch(tool: str, netns: str | None, commands: Sequence[Sequence[str]]) -> None:
    """Run many `ip`/`bridge` commands in one process (`-batch`): starting a process costs ~25 ms in the lab kernel.

    On failure the message names the command that failed, not just its line number.
    """
    if not commands:
        return
    argv = [tool] if netns is None else [tool, "-n", netns]
    if netns is not None:
        _check_ns(netns)
    lines = [" ".join(f'"{arg}"' if " " in arg else arg for arg in cmd) for cmd in commands]
    try:
        run([*argv, "-batch", "-"], stdin="\n".join(lines) + "\n")
    except LabError as exc:
        failed = re.search(r"Command failed -:(\d+)", str(exc))
        which = f"`{tool} {lines[int(failed.group(1)) - 1]}`" if failed else f"a {tool} batch"
        where = f" in {netns}" if netns else ""
        raise LabError(f"{which}{where} failed: {exc}") from None


def quiet_sysctls(netns: str, extra: Sequence[str] = ()) -> None:
    """IPv6 off (no router solicitations or MLD reports: a quiet link stays quiet, so isolation can be
    measured by counting frames), plus `extra` key=value settings; one shell writing /proc/sys (procps'
    sysctl may be missing)."""
    ipv6 = "/proc/sys/net/ipv6/conf"
    lines = [f"[ ! -d {ipv6} ] || echo 1 | tee {ipv6}/all/disable_ipv6 {ipv6}/default/disable_ipv6 >/dev/null"]
    for setting in extra:
        key, value = setting.split("=", 1)
        lines.append(f"echo {value} > /proc/sys/{key.replace('.', '/')}")
    run(["sh", "-ec", "; ".join(lines)], netns=netns)


def add_netns(netns: str, sysctls: Sequence[str] = ()) -> None:
    """A fresh namespace with lo up, IPv6 off and `sysctls` (see quiet_sysctls)."""
    _check_ns(netns)
    run(["ip", "netns", "add", netns])
    ip(netns, *mark_lab_namespace())
    quiet_sysctls(netns, sysctls)


def mark_lab_namespace() -> tuple[str, ...]:
    """The `ip` command that brings `lo` up and marks the namespace as the lab's (see lab_namespaces)."""
    return ("link", "set", "lo", "up", "alias", LAB_MARK)


def lab_namespaces() -> list[str]:
    """Every namespace a lab made (also after a crash): named hvt-* and marked on its `lo`.

    Other hvt-* namespaces (the netlink tests', the runner's probes) are left alone.
    """
    if not NETNS_DIR.is_dir():
        return []
    names = sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(PREFIX))
    return [name for name in names if _is_marked(name)]


def _is_marked(netns: str) -> bool:
    try:
        links = json.loads(run(["ip", "-n", netns, "-j", "link", "show", "dev", "lo"]) or "[]")
    except LabError:
        return False  # vanished meanwhile, or not a namespace
    return bool(links) and links[0].get("ifalias") == LAB_MARK


def kill_namespace_processes(netns: str) -> None:
    """SIGKILL every process in `netns` (agents, dnsmasq, udhcpc)."""
    pids = [int(p) for p in run(["ip", "netns", "pids", netns], check=False).split()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def delete_netns(netns: str) -> None:
    """Delete the namespace; its veths go with it, and so do their peers in other namespaces."""
    _check_ns(netns)
    run(["ip", "netns", "delete", netns], check=False)
