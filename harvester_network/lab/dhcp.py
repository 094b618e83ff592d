"""Real DHCP in the lab: dnsmasq on the router and for the plan's DHCP workloads, busybox udhcpc in VMs."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harvester_network.lab import netns as ns
from harvester_network.lab.guest import GuestNicConfig
from harvester_network.lab.topology import ROUTER_NS, DhcpWorkload, RouterLeg
from harvester_network.lab.workdir import Workdir
from harvester_network.render.dhcp import dnsmasq_conf

UDHCPC_SCRIPT = Path(__file__).with_name("udhcpc-script.sh")
# A NIC whose server is missing gives up after TRIES x 2 s. dnsmasq pings an address for 3 s before
# offering it (the rendered workload config keeps that default), one client after the other.
UDHCPC_TRIES = 6


def router_dnsmasq_conf(legs: Sequence[RouterLeg], lease_file: Path) -> str:
    """The router's DHCP service: one range per routed network it serves (the seed's default case)."""
    # no-ping: the ranges avoid the plan's static addresses, and pinging costs 3 s per offer.
    lines = ["# hvnet lab: the router's DHCP service", "port=0", "bind-interfaces", "dhcp-authoritative", "no-ping"]
    for leg in legs:
        if leg.dhcp_range is None:
            continue
        tag = f"vlan{leg.vlan}"
        start, end = leg.dhcp_range
        lines += [
            f"interface={leg.ifname}",
            f"dhcp-range=set:{tag},{start},{end},{leg.address.netmask},1h",
            f"dhcp-option=tag:{tag},option:router,{leg.address.ip}",
        ]
    lines += [f"dhcp-leasefile={lease_file}", "log-dhcp"]
    return "\n".join(lines) + "\n"


def start_dnsmasq(netns: str, name: str, conf: str, workdir: Workdir) -> None:
    """Run dnsmasq with `conf` in `netns` (it daemonizes; `down` kills it with its namespace)."""
    conf_file = workdir.dnsmasq(name, "conf")
    conf_file.write_text(conf)
    ns.run(
        [
            "dnsmasq",
            f"--conf-file={conf_file}",
            f"--pid-file={workdir.dnsmasq(name, 'pid')}",
            f"--log-facility={workdir.log(name)}",
            "--user=root",
        ],
        netns=netns,
    )


def start_router_dhcp(legs: Sequence[RouterLeg], workdir: Workdir) -> bool:
    if not any(leg.dhcp_range for leg in legs):
        return False
    lease_file = workdir.dnsmasq("router", "leases")
    lease_file.touch()
    start_dnsmasq(ROUTER_NS, "router", router_dnsmasq_conf(legs, lease_file), workdir)
    return True


def start_workload_dhcp(workload: DhcpWorkload, workdir: Workdir) -> None:
    """The plan's DHCP workload: the rendered dnsmasq.conf, after `ip addr add serverIP` as its pod does."""
    name = workload.netns.removeprefix(ns.PREFIX)
    lease_file = workdir.dnsmasq(name, "leases")
    lease_file.touch()
    ns.ip(workload.netns, "addr", "add", workload.address, "dev", workload.ifname)
    start_dnsmasq(workload.netns, name, dnsmasq_conf(workload.net, lease_file=str(lease_file)), workdir)


@dataclass(frozen=True)
class Lease:
    netns: str
    ifname: str
    ok: bool
    detail: str


def start_dhcp_client(netns: str, nic: GuestNicConfig) -> subprocess.Popen[str]:
    """busybox udhcpc: get one lease and exit (-q), or give up (-n)."""
    argv = ns.in_netns(
        netns,
        ["env", f"HVNET_USE_ROUTES={int(nic.use_routes)}", "busybox", "udhcpc", "-i", nic.name, "-q", "-n",
         "-t", str(UDHCPC_TRIES), "-T", "2", "-A", "1", "-s", str(UDHCPC_SCRIPT)],
    )  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_dhcp_client(netns: str, ifname: str, proc: subprocess.Popen[str]) -> Lease:
    out, _ = proc.communicate(timeout=60)
    lines = [line for line in out.splitlines() if "lease" in line.lower()]
    return Lease(netns, ifname, proc.returncode == 0, lines[-1] if lines else out.strip()[-200:])
