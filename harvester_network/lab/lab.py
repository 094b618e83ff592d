"""Bring a plan's lab up, check it, tear it down. Each step reports progress as it goes.

`up` = fabric (switch, nodes, router, untagged host) -> agents converge -> DHCP services -> VMs attached
with the bridge CNI plugin -> networkData applied (static, then DHCP leases). The steps are public so
tests can act between them (e.g. watch the host IP while the agent takes over the management NIC).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from harvester_network.lab import agents, cni, dhcp, fabric, guest, matrix
from harvester_network.lab import netns as ns
from harvester_network.lab.topology import SWITCH_NS, Topology, VmSpec, build_topology, nad_vlan
from harvester_network.lab.workdir import Workdir
from harvester_network.model.plan import Plan
from harvester_network.render import object_file_name

Say = Callable[[str, str], None]
PRUNE_TIMEOUT_S = 20.0
RECONCILE_TIMEOUT_S = 60.0


def quiet(step: str, message: str) -> None:
    """A `Say` that reports nothing (tests)."""


@dataclass(frozen=True)
class SwitchGap:
    """A switch port that lacks VLANs the switch-port checklist asks for."""

    port: str
    label: str
    missing: tuple[int, ...]

    def __str__(self) -> str:
        vids = ", ".join(str(v) for v in self.missing)
        return f"switch port {self.port} ({self.label}) lacks VLAN {vids}"


@dataclass
class CheckReport:
    probes: list[matrix.Probe]
    switch_gaps: list[SwitchGap]
    missing_addresses: list[str]
    vlan1_leaks: list[str] = field(default_factory=list)
    stray_addresses: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            matrix.mismatches(self.probes)
            or self.switch_gaps
            or self.missing_addresses
            or self.vlan1_leaks
            or self.stray_addresses
        )


@dataclass
class VmPort:
    """A VM NIC's bridge port on its node, as the CNI plugin reported it."""

    vm: str
    interface: str
    node_ns: str
    host_veth: str
    vlan: int


@dataclass
class Lab:
    plan: Plan
    workdir: Workdir
    say: Say = quiet
    topology: Topology = field(init=False)
    agents: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    vm_ports: list[VmPort] = field(default_factory=list)
    leases: list[dhcp.Lease] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.topology = build_topology(self.plan)
        # Absolute: dnsmasq and the agents do not run in our current directory.
        self.workdir = Workdir(self.workdir.root.resolve())

    # -- up -------------------------------------------------------------------------------------
    def up(self) -> None:
        self.build_fabric()
        self.start_agents()
        self.start_dhcp_services()
        self.attach_vms()
        self.configure_vms()
        self.wait_vm_ports_pruned()

    def build_fabric(self) -> None:
        self.workdir.create()
        self.write_objects()
        fabric.build_fabric(self.topology)
        ports = len(self.topology.switch_ports)
        self.say("switch", f"{SWITCH_NS}: VLAN-filtering bridge, {ports} ports trunked from the switch-port checklist")
        for node in self.topology.nodes:
            host = f", host IP {node.host_ip} on {node.management_nic}" if node.host_ip else ""
            self.say("node", f"{node.netns}: NICs {', '.join(node.nics)}{host}")
        if self.topology.has_router:
            legs = ", ".join(f"{leg.ifname} {leg.address}" for leg in self.topology.router_legs)
            self.say("router", f"hvt-rtr: {legs or 'no routed networks'}")
        if self.topology.untagged_host:
            self.say("untagged", f"hvt-untagged on PVID 1: {', '.join(map(str, self.topology.untagged_host))}")

    def write_objects(self) -> None:
        """The rendered objects, one file each, as `hvnet render -o` writes them. Each is staged under a
        hidden name and renamed into place, so a running agent never reads half a file."""
        for old in self.workdir.objects.glob("*.yaml"):
            old.unlink()
        for obj in self.topology.objects:
            staged = self.workdir.objects / f".{object_file_name(obj)}"
            staged.write_text(yaml.safe_dump_all([obj], sort_keys=False, default_flow_style=False))
            staged.rename(self.workdir.objects / object_file_name(obj))

    def cluster_networks(self) -> list[str]:
        return [cn.name for cn in self.plan.cluster_networks]

    def start_agents(self) -> None:
        """One agent per node, started together (each takes seconds to start), then waited for."""
        for node in self.topology.nodes:
            self.agents[node.name] = agents.start_agent(node, self.workdir)
        for node in self.topology.nodes:
            self.wait_agent(node.name)

    def start_agent(self, node: str) -> None:
        self.agents[node] = agents.start_agent(self.topology.node(node), self.workdir)
        self.wait_agent(node)

    def wait_agent(self, node: str) -> None:
        agents.wait_converged(self.topology.node(node), self.workdir, self.cluster_networks(), self.agents[node])
        self.say("agent", f"{node}: converged ({', '.join(self.cluster_networks())} ready)")

    def stop_agent(self, node: str) -> None:
        agent = self.agents.pop(node, None)
        if agent is not None and agent.poll() is None:
            agent.kill()
            agent.wait(timeout=10)

    def start_dhcp_services(self) -> None:
        if self.topology.has_router and dhcp.start_router_dhcp(self.topology.router_legs, self.workdir):
            served = [leg.network for leg in self.topology.router_legs if leg.dhcp_range]
            self.say("dhcp", f"router dnsmasq serves {', '.join(served)}")
        for workload in self.topology.dhcp_workloads:
            ns.add_netns(workload.netns)
            node = self.topology.node(workload.node)
            result = cni.cni_add(node.netns, workload.netns, workload.netns, workload.ifname, workload.nad_config)
            self.track_port(workload.netns, workload.ifname, node.netns, result, workload.nad_config)
            dhcp.start_workload_dhcp(workload, self.workdir)
            self.say("dhcp", f"{workload.netns}: rendered dnsmasq.conf for {workload.net.ref} on {workload.node}")

    def attach_vms(self) -> None:
        for vm in self.topology.vms:
            self.attach_vm(vm)
        if self.topology.unplaced_vms:
            self.say("vm", f"not in lab.placement, left out: {', '.join(self.topology.unplaced_vms)}")

    def attach_vm(self, vm: VmSpec) -> None:
        ns.add_netns(vm.netns, guest.GUEST_SYSCTLS)
        node = self.topology.node(vm.node)
        macs: list[tuple[str, ...]] = []
        for att in vm.attachments:
            result = cni.cni_add(node.netns, vm.netns, vm.netns, att.pod_ifname, att.nad_config)
            # The guest NIC's MAC, as KubeVirt gives it from the VirtualMachine's macAddress.
            macs += [("link", "set", att.pod_ifname, "down"), ("link", "set", att.pod_ifname, "address", att.mac)]
            self.track_port(vm.ref, att.interface, node.netns, result, att.nad_config)
        ns.batch("ip", vm.netns, macs)
        nics = ", ".join(f"{a.interface}->{a.network}" for a in vm.attachments)
        skipped = f" (management NIC {', '.join(vm.management_nics)}: pod network, out of the lab's scope)"
        self.say("vm", f"{vm.ref} on {vm.node}: {nics}" + (skipped if vm.management_nics else ""))

    def track_port(self, owner: str, interface: str, node_ns: str, result: dict[str, Any], config: str) -> None:
        """Remember the bridge port the CNI plugin made, to watch the agent prune VLAN 1 from it."""
        veth = cni.host_veth(result, config)
        if veth is None:
            raise ns.LabError(f"the bridge CNI plugin reported no host veth for {owner}/{interface}: {result}")
        self.vm_ports.append(VmPort(owner, interface, node_ns, veth, nad_vlan(config)))

    def configure_vms(self) -> None:
        """Apply each VM's rendered networkData; DHCP clients of all VMs run in parallel."""
        clients = []
        for vm in self.topology.vms:
            by_mac = guest.links_by_mac(vm.netns)
            # The management NIC's MAC has no link in the lab.
            nics = [(by_mac[n.mac], n) for n in guest.parse_network_data(vm.network_data) if n.mac in by_mac]
            ns.batch("ip", vm.netns, [c for current, nic in nics for c in guest.configure_nic(current, nic)])
            clients += [(vm.netns, n.name, dhcp.start_dhcp_client(vm.netns, n)) for _, n in nics if n.dhcp]
        self.leases = [dhcp.wait_dhcp_client(netns, ifname, proc) for netns, ifname, proc in clients]
        for lease in self.leases:
            state = "lease" if lease.ok else "NO LEASE"
            self.say("dhcp", f"{lease.netns}/{lease.ifname}: {state} {lease.detail}")

    def vlan1_leaks(self) -> list[str]:
        """Node bridge ports that have a PVID other than 1 yet still carry VLAN 1: a tagged VM's (or DHCP
        workload's) port that untagged traffic reaches (harvester/harvester#8816). Read from the kernel."""
        names = {(p.node_ns, p.host_veth): f"{p.vm}/{p.interface}" for p in self.vm_ports}
        leaks = []
        for node in self.topology.nodes:
            for port, vids in ns.bridge_vlans(node.netns).items():
                pvid = next((vid for vid, flags in vids.items() if "PVID" in flags), None)
                if pvid not in (None, 1) and 1 in vids:
                    leaks.append(
                        f"{node.name} {port}" + (f" ({names[node.netns, port]})" if (node.netns, port) in names else "")
                    )
        return leaks

    def wait_vm_ports_pruned(self) -> None:
        """The agents take VLAN 1 off the ports of tagged networks; report when they have (or have not)."""
        tagged = [p for p in self.vm_ports if p.vlan > 1]
        if agents.wait_until(lambda: not self.vlan1_leaks(), PRUNE_TIMEOUT_S, interval=0.5):
            self.say("agent", f"VLAN 1 pruned from {len(tagged)} tagged VM/DHCP port(s)")
            return
        self.say("warning", f"VLAN 1 still on after {PRUNE_TIMEOUT_S:g} s: {', '.join(self.vlan1_leaks())}")

    def wait_reconciled(self, condition: Callable[[], bool], timeout: float = RECONCILE_TIMEOUT_S) -> bool:
        """After the objects in the workdir changed: until the running agents made `condition` true."""
        return agents.wait_until(condition, timeout, interval=0.5)

    # -- check ----------------------------------------------------------------------------------
    def switch_gaps(self) -> list[SwitchGap]:
        gaps = []
        for port in self.topology.switch_ports:
            missing = set(port.tagged_vids) - fabric.switch_port_vids(port.name)
            if missing:
                gaps.append(SwitchGap(port.name, port.label, tuple(sorted(missing))))
        return gaps

    def check(self) -> CheckReport:
        probes = matrix.observe(self.plan, self.topology, matrix.expected_probes(self.plan))
        return CheckReport(
            probes,
            self.switch_gaps(),
            matrix.missing_addresses(self.plan),
            self.vlan1_leaks(),
            matrix.stray_addresses(self.plan),
        )

    # -- down -----------------------------------------------------------------------------------
    def down(self) -> list[str]:
        for node in list(self.agents):
            self.stop_agent(node)
        return teardown()


def teardown(also: Sequence[str] = ()) -> list[str]:
    """Remove every lab namespace, the processes in it, and so every link the lab made.

    Finds them by their mark (see netns.lab_namespaces), so it also cleans up after a crash; `also`:
    namespace names a lab is about to use, removed even when unmarked (a crash right after creating one).
    """
    existing = set(ns.lab_namespaces()) | {name for name in also if (ns.NETNS_DIR / name).exists()}
    removed = sorted(existing)
    for netns in removed:
        ns.kill_namespace_processes(netns)
    for netns in removed:
        ns.delete_netns(netns)
    return removed


def timed(say: Say) -> Say:
    """A `Say` that prefixes the seconds since it was made."""
    start = time.monotonic()

    def _say(step: str, message: str) -> None:
        say(f"{time.monotonic() - start:5.1f}s {step:<8}", message)

    return _say
