"""End-to-end on tests/lab/plans/mgmt-uplink.yaml: node1's only NIC, eth0, carries its host IP and is also the
VLAN uplink; node2 trunks over eth1. The agents are started by the tests, one node at a time."""

from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest

from harvester_network.agent.hostip_crash import CRASH_AFTER_ENV
from harvester_network.lab import agents
from harvester_network.lab import netns as ns
from harvester_network.lab.lab import Lab
from harvester_network.lab.report import mismatch_lines
from harvester_network.lab.topology import ROUTER_NS
from tests.lab.conftest import LabFactory
from tests.lab.labtools import l2_reaches, master_of, pings

pytestmark = pytest.mark.lab
AGENT_LINKS = {"vlan-bo", "vlan-br"}


@pytest.fixture(scope="module")
def mgmt(make_lab: LabFactory) -> Lab:
    lab = make_lab("tests/lab/plans/mgmt-uplink.yaml", up=False)
    lab.build_fabric()
    return lab


def host_ip(lab: Lab, node: str) -> str:
    address = lab.topology.node(node).host_ip
    assert address is not None
    return str(address.ip)


def answered_sequence(output: str) -> tuple[set[int], int]:
    """icmp_seq numbers that got a reply, and the highest one sent."""
    replies = {int(n) for n in re.findall(r"bytes from .* icmp_seq=(\d+)", output)}
    sent = [int(n) for n in re.findall(r"icmp_seq=(\d+)", output)]
    return replies, max(sent, default=0)


def test_host_ip_stays_reachable_while_the_agent_takes_over_the_management_nic(mgmt: Lab) -> None:
    target = host_ip(mgmt, "node1")
    assert pings(ROUTER_NS, "eth0", target)
    pinger = subprocess.Popen(
        ns.in_netns(ROUTER_NS, ["ping", "-n", "-O", "-i", "0.1", "-W", "1", target]),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        mgmt.start_agent("node1")
        time.sleep(1)  # a few more probes after convergence
    finally:
        pinger.send_signal(signal.SIGINT)
        output, _ = pinger.communicate(timeout=10)
    replies, last = answered_sequence(output)
    lost = sorted(set(range(1, last + 1)) - replies)
    assert last >= 10, output
    assert len(lost) <= 2, f"host IP {target} stopped answering for icmp_seq {lost} while the agent set up the uplink"
    assert set(range(last - 4, last + 1)) <= replies, f"no answers at the end: {output[-500:]}"
    assert master_of("hvt-node1", "eth0") == "vlan-bo"
    assert pings(ROUTER_NS, "eth0", target)


def node_setup(netns: str) -> dict[str, object]:
    """What the agent sets up on a node: links with their masters, and the bond's VLANs."""
    links = {link["ifname"]: link.get("master") for link in ns.ip_json(netns, "link", "show")}
    return {"links": links, "vlans": ns.bridge_vlans(netns).get("vlan-bo", {})}


def test_agent_killed_mid_setup_then_restarted_converges_with_nothing_half_done(
    mgmt: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = mgmt.topology.node("node2")
    # SIGKILL right after the agent's bond exists and before its NIC is in it: mid-setup by construction (a kill
    # sent from here on the first link event came too late whenever the busy lab kernel ran the agent on).
    monkeypatch.setenv(CRASH_AFTER_ENV, "CreateBond")
    agent = agents.start_agent(node, mgmt.workdir)
    try:
        agent.wait(timeout=agents.CONVERGE_TIMEOUT_S)
    finally:
        agent.kill()
    monkeypatch.delenv(CRASH_AFTER_ENV)
    assert agent.returncode == -signal.SIGKILL, f"the agent did not crash after CreateBond: {agent.returncode}"
    half_done = node_setup(node.netns)
    assert master_of(node.netns, "eth1") is None, f"the crash should leave eth1 out of the bond: {half_done}"
    mgmt.start_agent("node2")
    assert half_done != node_setup(node.netns), f"the restarted agent changed nothing: {half_done}"
    links = {link["ifname"] for link in ns.ip_json(node.netns, "link", "show")}
    assert links == {"lo", "eth0", "eth1", *AGENT_LINKS}, f"after the crash: {links}"
    assert master_of(node.netns, "eth1") == "vlan-bo"
    assert master_of(node.netns, "eth0") is None  # the host IP's NIC, not this node's uplink
    assert master_of(node.netns, "vlan-bo") == "vlan-br"
    tagged = {vid for vid, flags in ns.bridge_vlans(node.netns)["vlan-bo"].items() if "PVID" not in flags}
    assert tagged == {100}
    assert pings(ROUTER_NS, "eth0", host_ip(mgmt, "node2"))


def test_vms_reach_each_other_over_the_management_uplinks(mgmt: Lab) -> None:
    mgmt.start_dhcp_services()
    mgmt.attach_vms()
    mgmt.configure_vms()
    mgmt.wait_vm_ports_pruned()
    assert l2_reaches(mgmt, "vm-a/nic-1", "vm-b/nic-1")
    report = mgmt.check()
    assert report.ok, mismatch_lines(report)
    for node in ("node1", "node2"):
        assert pings(ROUTER_NS, "eth0", host_ip(mgmt, node))
