"""The connectivity matrix: what the plan says must reach what, against what the lab's datapath does.

The expectation is derived from the plan alone, independently of the renderer and the agent: two VM
NICs reach each other exactly when they are on the same cluster network and the same VLAN (VLAN 0 and
1 both ride untagged on PVID 1, so they count as one); a NIC reaches its network's gateway when the
lab has a router; only untagged NICs reach the untagged host.

Observation: layer-2 probes (ARP, busybox arping) between VM NICs and to the untagged host, so a
different subnet cannot hide a leak; ICMP ping to the gateway. All probes run in parallel.
"""

from __future__ import annotations

import ipaddress
import shlex
import subprocess
from dataclasses import asdict, dataclass
from typing import Literal

from harvester_network.lab import netns as ns
from harvester_network.lab.topology import Topology, untagged, vm_netns
from harvester_network.model.plan import ManualRoute, Plan

ProbeKind = Literal["arp", "ping"]
UNTAGGED_HOST = "untagged-host"
PROBE_TIMEOUT_S = 1
PROBE_ATTEMPTS = 2  # a probe that should reach and did not is tried once more


@dataclass(frozen=True)
class Endpoint:
    """One VM NIC as the plan declares it."""

    name: str  # <vm>/<interface>
    netns: str
    mac: str
    network: str
    cluster_network: str
    vlan: int
    gets_address: bool  # static, or DHCP with a server on its network
    gateway: str | None  # the network's gateway when the lab routes it
    cidr: ipaddress.IPv4Network | None  # the network's subnet, when its route is manual

    @property
    def segment(self) -> tuple[str, int]:
        return self.cluster_network, 1 if untagged(self.vlan) else self.vlan


@dataclass
class Probe:
    src: str
    dst: str
    kind: ProbeKind
    expected: bool
    observed: bool | None = None  # None: not probed (an end has no address)
    detail: str = ""

    @property
    def ok(self) -> bool:
        # An end without an address cannot leak: that is reported once, by `missing_addresses`.
        return self.observed == self.expected or (self.observed is None and not self.expected)


def _dhcp_served(plan: Plan, network_has_server: bool, routed: bool) -> bool:
    lab = plan.lab
    return network_has_server or (lab is not None and lab.router and routed)


def plan_endpoints(plan: Plan) -> list[Endpoint]:
    """Every placed VM's VLAN NICs, from the plan model (the management NIC is out of the lab's scope)."""
    placement = plan.lab.placement if plan.lab else {}
    out = []
    for vm in plan.virtual_machines:
        if vm.name not in placement:
            continue
        for nic in vm.interfaces:
            net = plan.network_for(vm, nic)
            if net is None:
                continue
            routed = isinstance(net.route, ManualRoute)
            has_server = net.dhcp_server is not None and net.dhcp_server.backend == "dnsmasq"
            gets_address = nic.ip != "none" and (nic.ip != "dhcp" or _dhcp_served(plan, has_server, routed))
            gateway = None
            if plan.lab is not None and plan.lab.router and isinstance(net.route, ManualRoute):
                gateway = str(net.route.gateway)
            out.append(
                Endpoint(
                    f"{vm.name}/{nic.name}",
                    vm_netns(vm.namespace, vm.name),
                    vm.mac_of(nic),
                    net.ref,
                    net.cluster_network,
                    net.vlan,
                    gets_address,
                    gateway,
                    net.route.cidr if isinstance(net.route, ManualRoute) else None,
                )
            )
    return out


def expected_probes(plan: Plan) -> list[Probe]:
    endpoints = plan_endpoints(plan)
    probes = []
    for src in endpoints:
        if not src.gets_address:
            continue  # nothing to probe from; its missing address is the plan's intent
        for dst in endpoints:
            if src.netns != dst.netns and dst.gets_address:
                probes.append(Probe(src.name, dst.name, "arp", src.segment == dst.segment))
        if src.gateway is not None:
            probes.append(Probe(src.name, f"gateway {src.gateway}", "ping", True))
        if plan.lab is not None and plan.lab.untagged_host:
            probes.append(Probe(src.name, UNTAGGED_HOST, "arp", untagged(src.vlan)))
    return probes


@dataclass(frozen=True)
class Observed:
    """A VM NIC as found in its namespace, by MAC."""

    ifname: str
    address: ipaddress.IPv4Interface | None


def observe_endpoint(endpoint: Endpoint) -> Observed | None:
    for link in ns.ip_json(endpoint.netns, "addr", "show"):
        if link.get("address", "").lower() != endpoint.mac:
            continue
        inet = [a for a in link.get("addr_info", []) if a.get("family") == "inet"]
        address = ipaddress.IPv4Interface(f"{inet[0]['local']}/{inet[0]['prefixlen']}") if inet else None
        return Observed(link["ifname"], address)
    return None


def _untagged_host_target(addresses: tuple[ipaddress.IPv4Interface, ...], src: Observed) -> str:
    """The untagged host's address in the source's subnet, else its management address."""
    assert src.address is not None
    same = [a for a in addresses if a.network == src.address.network]
    return str((same or list(addresses))[0].ip)


def _probe_argv(kind: ProbeKind, ifname: str, target: str) -> list[str]:
    if kind == "arp":
        return ["busybox", "arping", "-q", "-f", "-c", "1", "-w", str(PROBE_TIMEOUT_S), "-I", ifname, target]
    return ["ping", "-q", "-n", "-c", "1", "-W", str(PROBE_TIMEOUT_S), "-I", ifname, target]


def observe(plan: Plan, topology: Topology, probes: list[Probe]) -> list[Probe]:
    """Run every probe in the lab (in parallel) and fill in `observed` and `detail`."""
    endpoints = {e.name: e for e in plan_endpoints(plan)}
    found = {name: observe_endpoint(e) for name, e in endpoints.items()}
    pending: list[tuple[Probe, str, list[str]]] = []
    for probe in probes:
        src = found.get(probe.src)
        if src is None or src.address is None:
            probe.detail = f"{probe.src} has no address" if src else f"{probe.src} is not attached"
            continue
        if probe.dst == UNTAGGED_HOST:
            target = _untagged_host_target(topology.untagged_host, src)
        elif probe.dst.startswith("gateway "):
            target = probe.dst.removeprefix("gateway ")
        else:
            dst = found.get(probe.dst)
            if dst is None or dst.address is None:
                probe.detail = f"{probe.dst} has no address"
                continue
            target = str(dst.address.ip)
        probe.detail = target
        pending.append((probe, endpoints[probe.src].netns, _probe_argv(probe.kind, src.ifname, target)))
    for attempt in range(PROBE_ATTEMPTS):
        # A reply is never spurious, so only a probe that should have had one is tried again.
        todo = [p for p in pending if attempt == 0 or (p[0].expected and not p[0].observed)]
        _run_in_parallel(todo)
    return probes


def _run_in_parallel(todo: list[tuple[Probe, str, list[str]]]) -> None:
    """All probes at once, one shell per source namespace (entering a namespace is the costly part)."""
    by_netns: dict[str, list[tuple[Probe, list[str]]]] = {}
    for probe, netns, argv in todo:
        by_netns.setdefault(netns, []).append((probe, argv))
    shells = []
    for netns, items in by_netns.items():
        jobs = [f"({shlex.join(argv)} >/dev/null 2>&1; echo {i} $?) &" for i, (_, argv) in enumerate(items)]
        script = "\n".join([*jobs, "wait"])
        shells.append(
            (items, subprocess.Popen(ns.in_netns(netns, ["sh", "-c", script]), stdout=subprocess.PIPE, text=True))
        )
    for items, shell in shells:
        out, _ = shell.communicate(timeout=60)
        status = dict(line.split() for line in out.splitlines() if line.strip())
        for i, (probe, _) in enumerate(items):
            probe.observed = status.get(str(i)) == "0"


def missing_addresses(plan: Plan) -> list[str]:
    """VM NICs that should have an address (static, or DHCP with a server) and have none."""
    out = []
    for endpoint in plan_endpoints(plan):
        found = observe_endpoint(endpoint) if endpoint.gets_address else None
        if endpoint.gets_address and (found is None or found.address is None):
            out.append(endpoint.name)
    return out


def stray_addresses(plan: Plan) -> list[str]:
    """VM NICs whose address (a DHCP lease, or a static one) lies outside their network's subnet: a lease from
    another segment's DHCP server (VLAN 0 and VLAN 1 are one segment), or a server handing out the wrong range."""
    out = []
    for endpoint in plan_endpoints(plan):
        if endpoint.cidr is None:
            continue
        found = observe_endpoint(endpoint)
        if found is not None and found.address is not None and found.address.ip not in endpoint.cidr:
            out.append(f"{endpoint.name} has {found.address}, outside {endpoint.cidr} of {endpoint.network}")
    return out


def mismatches(probes: list[Probe]) -> list[Probe]:
    return [p for p in probes if not p.ok]


def as_json(probes: list[Probe]) -> list[dict[str, object]]:
    return [asdict(p) | {"ok": p.ok} for p in probes]
