"""Probing a running lab from tests: VM NICs by plan name, reachability, counters."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys

from harvester_network.lab import netns as ns
from harvester_network.lab.lab import Lab
from harvester_network.lab.matrix import Endpoint, Observed, observe_endpoint, plan_endpoints


def endpoint(lab: Lab, name: str) -> Endpoint:
    return next(e for e in plan_endpoints(lab.plan) if e.name == name)


def vm_nic(lab: Lab, name: str) -> tuple[Endpoint, Observed]:
    """A VM NIC ('web-1/nic-1') and what its namespace has: interface name and address."""
    end = endpoint(lab, name)
    found = observe_endpoint(end)
    assert found is not None, f"{name} ({end.mac}) has no link in {end.netns}"
    return end, found


def address(lab: Lab, name: str) -> str:
    _, found = vm_nic(lab, name)
    assert found.address is not None, f"{name} has no address"
    return str(found.address.ip)


def l2_reaches(lab: Lab, src: str, dst: str) -> bool:
    """An ARP request from src's NIC for dst's address gets an answer (layer 2, whatever the subnets)."""
    end, found = vm_nic(lab, src)
    argv = ["busybox", "arping", "-q", "-f", "-c", "2", "-w", "1", "-I", found.ifname, address(lab, dst)]
    return _ok(end.netns, argv)


def _ok(netns: str, argv: list[str]) -> bool:
    return subprocess.run(ns.in_netns(netns, argv), capture_output=True, check=False).returncode == 0


def pings(netns: str, ifname: str, target: str, *extra: str) -> bool:
    """One ICMP echo answered within 1 s (a second try for the first ARP)."""
    return _ok(netns, ["ping", "-q", "-n", "-c", "2", "-i", "0.2", "-W", "1", "-I", ifname, *extra, target])


def vm_pings(lab: Lab, src: str, target: str, *extra: str) -> bool:
    end, found = vm_nic(lab, src)
    return pings(end.netns, found.ifname, target, *extra)


def rx_packets(netns: str, ifname: str) -> int:
    return ns.link_stats(netns, ifname)["rx_packets"]


def master_of(netns: str, ifname: str) -> str | None:
    [link] = ns.ip_json(netns, "link", "show", "dev", ifname)
    master: str | None = link.get("master")
    return master


# Runs in a namespace: every frame the interface receives (not those it sends) until stdin closes, as hex.
_CAPTURE_SCRIPT = r"""
import json, select, socket, sys
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
sock.bind((sys.argv[1], 0))
print("ready", flush=True)
frames = []
while True:
    readable, _, _ = select.select([sock, sys.stdin], [], [])
    if sock in readable:
        frame, address = sock.recvfrom(65535)
        if address[2] != socket.PACKET_OUTGOING:
            frames.append(frame.hex())
    elif sys.stdin in readable and not sys.stdin.read(1):
        break
print(json.dumps(frames))
"""


class Capture:
    """The frames `ifname` in `netns` receives between start and `frames()` (an AF_PACKET socket there)."""

    def __init__(self, netns: str, ifname: str) -> None:
        argv = [sys.executable, "-c", _CAPTURE_SCRIPT, ifname]
        self.proc = subprocess.Popen(ns.in_netns(netns, argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def frames(self) -> list[bytes]:
        out, _ = self.proc.communicate(timeout=30)
        return [bytes.fromhex(frame) for frame in json.loads(out.splitlines()[-1])]


def frames_about(frames: list[bytes], addresses: set[str]) -> list[bytes]:
    """The untagged IPv4 frames sent to one of `addresses`, and the ARP requests asking for one."""
    wanted = {ipaddress.IPv4Address(a).packed for a in addresses}
    found = []
    for frame in frames:
        ethertype = frame[12:14]
        if (ethertype == b"\x08\x06" and frame[38:42] in wanted) or (
            ethertype == b"\x08\x00" and frame[30:34] in wanted
        ):
            found.append(frame)
    return found
