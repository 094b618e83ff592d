"""Host-IP migration (agent/hostip.py): the record and recovery rules on the host; the real thing in the lab kernel.

The netlink tests build a node namespace whose eth0 carries the host IP 10.0.0.10/24 (plus a secondary
10.0.0.11/24), a default route via the router 10.0.0.1 and a static route via it, and a router namespace on
the other end of eth0. What the agent did is checked with iproute2 and with pings from the router; the crash
tests run `hvnet agent --once` as a process that SIGKILLs itself after one step (HVNET_TEST_CRASH_AFTER) and
then once more, and check that the node converged with nothing half-done.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from harvester_network.agent.hostip import HostIpMigrator
from harvester_network.agent.hostip_crash import CRASH_AFTER_ENV
from harvester_network.agent.hostip_journal import RecordStore
from harvester_network.agent.hostip_plan import (
    NUD_FAILED,
    NUD_PROBE,
    NUD_REACHABLE,
    NUD_STALE,
    HostAddress,
    HostRoute,
    MigrationRecord,
    Phase,
    Witness,
    recovery_for,
    witness_candidates,
)
from harvester_network.agent.hoststate import BridgeState, HostState, UplinkState
from harvester_network.agent.loop import KernelHost
from harvester_network.agent.netlink_apply import ChangeFailed
from harvester_network.lab.uml import needs_lab_kernel
from harvester_network.model import load_plan_file
from harvester_network.render import object_file_name, render_plan
from tests.agent.conftest import HvtNetns, hvt_netns

HOST_IP, SECOND_IP, GATEWAY = "10.0.0.10", "10.0.0.11", "10.0.0.1"
STATIC_ROUTE = "192.168.50.0/24"
NOT_MOVED = "rolled back: gateway 10.0.0.1 unreachable through vlan-br after moving eth0's addresses"

TestFunction = TypeVar("TestFunction", bound=Callable[..., None])


def in_lab_kernel(test: TestFunction) -> TestFunction:
    """Marks a real-kernel test: `netlink`, skipped where bonding and bridge VLAN filtering are missing."""
    skip = pytest.mark.skipif(needs_lab_kernel(), reason="needs bonding and VLAN filtering: runs in the lab kernel")
    marked: TestFunction = pytest.mark.netlink(skip(test))
    return marked


# --- records and decisions (pure, on the host) -----------------------------------------------------------------


def record(phase: Phase = Phase.INTENT, nic: str = "eth0") -> MigrationRecord:
    return MigrationRecord(
        node="node1",
        cluster_network="vlan",
        nic=nic,
        bond="vlan-bo",
        bridge="vlan-br",
        phase=phase,
        addresses=(HostAddress(HOST_IP, 24, "10.0.0.255", "eth0"), HostAddress(SECOND_IP, 24, label="eth0:2")),
        routes=(HostRoute("0.0.0.0", 0, GATEWAY, priority=100), HostRoute("192.168.50.0", 24, GATEWAY)),
        witness=Witness(GATEWAY, "gateway"),
    )


def test_record_round_trips_through_its_file_written_atomically(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, "node1")
    store.save(record())
    store.save(record(Phase.BRIDGE_ADDRESSED))
    assert store.load("eth0") == record(Phase.BRIDGE_ADDRESSED)
    assert sorted(p.name for p in store.directory.iterdir()) == ["eth0.json"]  # no staging file left behind
    saved = json.loads(store.path("eth0").read_text())
    assert saved["phase"] == "bridge-addressed" and saved["witness"] == {"address": GATEWAY, "kind": "gateway"}
    assert saved["addresses"][1]["label"] == "eth0:2"
    store.remove("eth0")
    assert store.load("eth0") is None and store.records() == []


def test_records_are_per_node_and_an_unreadable_one_is_logged_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    node1, node2 = RecordStore(tmp_path, "node1"), RecordStore(tmp_path, "node2")
    node1.save(record(nic="eth0"))
    node2.save(record(nic="eth1"))
    (node1.directory / "eth9.json").write_text('{"nic": "eth9", "phase": "half')
    with caplog.at_level(logging.ERROR):
        assert [r.nic for r in node1.records()] == ["eth0"]
    assert "eth9.json" in caplog.text
    assert [r.nic for r in node2.records()] == ["eth1"]


def test_record_with_an_unknown_phase_is_not_taken_for_a_valid_one(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, "node1")
    store.save(record())
    store.path("eth0").write_text(store.path("eth0").read_text().replace('"intent"', '"half-moved"'))
    assert store.records() == []


def test_a_record_that_cannot_be_written_fails_the_change_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "hostip").write_text("not a directory")
    with pytest.raises(ChangeFailed, match=r"cannot write the host-IP migration record .*/hostip/node1/eth0\.json"):
        RecordStore(tmp_path, "node1").save(record())


def test_witnesses_are_gateways_default_first_else_known_neighbours() -> None:
    routes = [
        HostRoute("192.168.50.0", 24, "10.0.0.2"),
        HostRoute("0.0.0.0", 0, "10.0.0.3", priority=200),
        HostRoute("0.0.0.0", 0, GATEWAY, priority=100),
        HostRoute("10.9.0.0", 16, GATEWAY),
    ]
    neighbours = {"10.0.0.5": NUD_REACHABLE}
    assert witness_candidates(routes, neighbours) == [
        Witness(GATEWAY, "gateway"),
        Witness("10.0.0.3", "gateway"),
        Witness("10.0.0.2", "gateway"),
    ]
    neighbours = {
        "10.0.0.20": NUD_STALE,
        "10.0.0.9": NUD_REACHABLE,
        "10.0.0.7": NUD_FAILED,  # did not answer: no witness
        "10.0.0.100": NUD_PROBE,
        "10.0.0.30": NUD_STALE,
        "10.0.0.8": 0x80,  # permanent: the kernel never asks
    }
    assert witness_candidates([HostRoute("10.9.0.0", 16)], neighbours) == [
        Witness("10.0.0.9", "neighbour"),
        Witness("10.0.0.20", "neighbour"),
        Witness("10.0.0.30", "neighbour"),
    ]
    assert witness_candidates([], {}) == []


@pytest.mark.parametrize(
    ("phase", "nic_in_bond", "still_wanted", "action"),
    [
        (Phase.MIGRATED, False, False, "keep"),  # teardown is before_pass's, not recovery's
        (Phase.INTENT, True, True, "roll back"),  # the bridge may have half of the addresses
        (Phase.BRIDGE_ADDRESSED, False, True, "roll back"),  # killed before (or failed at) the enslave
        (Phase.BRIDGE_ADDRESSED, True, True, "finish"),
        (Phase.BRIDGE_ADDRESSED, True, False, "roll back"),
        (Phase.NIC_CLEARED, True, True, "finish"),  # verified on recovery
        (Phase.NIC_CLEARED, False, True, "roll back"),  # someone released the NIC meanwhile
        (Phase.RESTORING, True, True, "roll back"),  # a rollback is always completed
    ],
)
def test_recovery_finishes_only_what_is_enslaved_and_wanted(
    phase: Phase, nic_in_bond: bool, still_wanted: bool, action: str
) -> None:
    assert recovery_for(record(phase), nic_in_bond, still_wanted) == action


@pytest.mark.parametrize(("step", "killed"), [("nic-cleared", True), ("CreateBond", True), ("migrated", False)])
def test_crash_point_sigkills_after_the_named_step_or_change(step: str, killed: bool) -> None:
    script = (
        "import logging; from harvester_network.agent.hostip_crash import install_test_crash_point\n"
        "logging.basicConfig(level=logging.INFO); install_test_crash_point()\n"
        "logging.getLogger('x').info('a step', extra={'step': 'nic-cleared'})\n"
        "logging.getLogger('x').info('a change', extra={'change': 'CreateBond'})\n"
        "print('survived')\n"
    )
    env = os.environ | {CRASH_AFTER_ENV: step}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    assert (done.returncode, "survived" in done.stdout) == ((-9, False) if killed else (0, True)), done.stderr


# --- the real kernel ----------------------------------------------------------------------------------------


@dataclass
class Site:
    """A node namespace with the host IP on eth0 and a router namespace at eth0's other end."""

    node: HvtNetns
    router: HvtNetns
    state_dir: Path

    def pings(self, target: str = HOST_IP) -> bool:
        argv = ["ip", "netns", "exec", self.router.name, "ping", "-q", "-n", "-c", "2", "-i", "0.2", "-W", "1"]
        return subprocess.run([*argv, target], capture_output=True, check=False).returncode == 0

    def link_state(self, name: str) -> dict[str, Any]:
        """What a NIC looks like from outside: IPv4 addresses (without lifetimes) and routes in every table, master,
        flags. IPv6 is left out: the kernel drops a bond member's link-local address and makes it again by itself,
        once the released NIC has carrier."""
        link = self.node.link(name)
        [entry] = self.node.ip_json("addr", "show", "dev", name)
        addresses = [
            {k: v for k, v in a.items() if not k.endswith("_life_time")}
            for a in entry.get("addr_info", [])
            if a["family"] == "inet"
        ]
        routes = sorted(json.dumps(r, sort_keys=True) for r in self.node.ip_json("-4", "route", "show", "table", "all"))
        return {
            "addresses": addresses,
            "routes": [r for r in routes if f'"dev": "{name}"' in r],
            "master": link.get("master"),
            "up": "UP" in link["flags"],
            "mtu": link["mtu"],
            "mac": link["address"],
        }

    def records(self) -> dict[str, Phase]:
        return {r.nic: r.phase for r in RecordStore(self.state_dir, "node1").records()}


def ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True)


@pytest.fixture
def site(ns: HvtNetns, tmp_path: Path) -> Iterator[Site]:
    with hvt_netns(f"rtr{os.getpid() % 1000}") as router:
        ip("link", "add", "eth0", "netns", ns.name, "type", "veth", "peer", "name", "eth0", "netns", router.name)
        # eth1: a second uplink that leads nowhere (its peer sits unused in the node itself)
        ip("-n", ns.name, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p")
        for name in ("eth0", "eth1", "eth1p"):
            ip("-n", ns.name, "link", "set", name, "up")
        ip("-n", router.name, "link", "set", "eth0", "up")
        ip("-n", router.name, "addr", "add", f"{GATEWAY}/24", "dev", "eth0")
        ip("-n", ns.name, "addr", "add", f"{HOST_IP}/24", "brd", "+", "dev", "eth0")
        ip("-n", ns.name, "addr", "add", f"{SECOND_IP}/24", "dev", "eth0", "label", "eth0:2")
        ip("-n", ns.name, "route", "add", "default", "via", GATEWAY, "metric", "100")
        ip("-n", ns.name, "route", "add", STATIC_ROUTE, "via", GATEWAY, "proto", "static")
        yield Site(ns, router, tmp_path / "state")


def network(*nics: str, mode: str = "active-backup") -> HostState:
    uplink = UplinkState("vlan-bo", nics, mode, mtu=1500)
    return HostState(bridges=(BridgeState("vlan", "vlan-br", uplink, frozenset({100}), vlan_config="vlan-node1"),))


def kernel_host(site: Site) -> KernelHost:
    return KernelHost(site.node.ipr, HostIpMigrator(site.node.ipr, RecordStore(site.state_dir, "node1")))


def messages(result: Any) -> list[str]:
    return [error.message for error in result.errors]


def assert_migrated(site: Site) -> None:
    """eth0 in the bond, its addresses and routes on the bridge only, the host IP answering the router."""
    assert site.node.link("eth0")["master"] == "vlan-bo"
    assert site.link_state("eth0")["addresses"] == []
    bridge = site.link_state("vlan-br")
    assert [(a["local"], a["prefixlen"]) for a in bridge["addresses"]] == [(HOST_IP, 24), (SECOND_IP, 24)]
    routes = site.node.ip_json("route", "show")
    assert {"dst": "default", "gateway": GATEWAY, "dev": "vlan-br"}.items() <= routes[0].items()
    assert [r["dev"] for r in routes if r["dst"] in ("default", STATIC_ROUTE)] == ["vlan-br", "vlan-br"]
    assert site.records() == {"eth0": Phase.MIGRATED}
    assert site.pings()


@in_lab_kernel
def test_migration_moves_addresses_and_routes_to_the_bridge_and_the_gateway_stays_reachable(site: Site) -> None:
    assert site.pings()
    result = kernel_host(site).reconcile(network("eth0"))

    assert messages(result) == []
    assert_migrated(site)
    record = RecordStore(site.state_dir, "node1").load("eth0")
    assert record is not None and record.witness == Witness(GATEWAY, "gateway")
    assert [str(route) for route in record.routes] == [f"default via {GATEWAY}", f"{STATIC_ROUTE} via {GATEWAY}"]


@in_lab_kernel
def test_teardown_moves_addresses_and_routes_back_to_the_nic(site: Site) -> None:
    before = site.link_state("eth0")
    host = kernel_host(site)
    assert messages(host.reconcile(network("eth0"))) == []

    result = host.reconcile(HostState())

    assert messages(result) == []
    assert site.node.links() == {"lo", "eth0", "eth1", "eth1p"}
    assert site.link_state("eth0") == before
    assert site.records() == {}
    assert site.pings()


@in_lab_kernel
def test_a_new_bond_mode_keeps_the_addresses_on_the_bridge_and_a_dropped_nic_gets_them_back(site: Site) -> None:
    before = site.link_state("eth0")
    host = kernel_host(site)
    assert messages(host.reconcile(network("eth0"))) == []

    assert messages(host.reconcile(network("eth0", mode="balance-xor"))) == []
    assert site.node.link("vlan-bo")["linkinfo"]["info_data"]["mode"] == "balance-xor"
    assert_migrated(site)

    assert messages(host.reconcile(network("eth1", mode="balance-xor"))) == []
    assert site.link_state("eth0") == before
    assert site.link_state("vlan-br")["addresses"] == []
    assert site.node.link("eth1")["master"] == "vlan-bo"
    assert site.records() == {}
    assert site.pings()


@in_lab_kernel
def test_gateway_unreachable_through_the_bridge_rolls_back_exactly_and_is_not_retried_until_the_uplink_changes(
    site: Site,
) -> None:
    before = site.link_state("eth0")
    host = kernel_host(site)
    # eth1 is enslaved first, so it is the bond's active NIC: through the bridge, the router is out of reach

    result = host.reconcile(network("eth1", "eth0"))

    assert messages(result) == [f"enslave eth0 to vlan-bo: {NOT_MOVED}"]
    assert site.link_state("eth0") == before
    assert site.link_state("vlan-br")["addresses"] == []
    assert site.node.link("eth1")["master"] == "vlan-bo"
    assert site.records() == {}
    assert site.pings()

    writes = host.writes
    again = host.reconcile(network("eth1", "eth0"))
    assert messages(again) == [
        f"enslave eth0 to vlan-bo: {NOT_MOVED} (not retried until VlanConfig vlan-node1 changes or the agent restarts)"
    ]
    assert host.writes == writes
    assert site.link_state("eth0") == before

    # the VlanConfig now lists eth0 alone: eth1 is released, eth0 carries the host IP through the bridge
    assert messages(host.reconcile(network("eth0"))) == []
    assert_migrated(site)


# --- crash tests: `hvnet agent --once` killed after each step, then run again ------------------------------------

PLAN = """
clusterNetworks:
  - name: vlan
    uplink: {nics: %s}
nodes: [node1]
networks:
  - {name: vlan100, clusterNetwork: vlan, vlan: 100}
"""


def run_agent(site: Site, tmp_path: Path, nics: list[str], crash_after: str | None = None) -> int:
    """`hvnet agent --once` in the node namespace; its exit status (-9 when it killed itself)."""
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(PLAN % json.dumps(nics))
    objects = tmp_path / "objects"
    objects.mkdir(exist_ok=True)
    for old in objects.iterdir():
        old.unlink()
    for obj in render_plan(load_plan_file(plan_file)[0]):
        (objects / object_file_name(obj)).write_text(yaml.safe_dump(obj))
    hvnet = str(Path(sys.executable).with_name("hvnet"))
    argv = [hvnet, "agent", "--once", "--from-dir", str(objects), "--node", "node1"]
    argv += ["--status-dir", str(tmp_path / "status"), "--state-dir", str(site.state_dir)]
    env = {k: v for k, v in os.environ.items() if k != CRASH_AFTER_ENV}
    if crash_after:
        env[CRASH_AFTER_ENV] = crash_after
    with (tmp_path / "agent.log").open("a") as log:
        log.write(f"--- crash after {crash_after}\n")
        log.flush()
        done = subprocess.run(
            ["ip", "netns", "exec", site.node.name, *argv], env=env, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    return done.returncode


def status_message(tmp_path: Path) -> str:
    [path] = (tmp_path / "status").glob("*.yaml")
    [ready] = yaml.safe_load(path.read_text())["status"]["conditions"]
    return str(ready.get("message", ""))


def agent_log(tmp_path: Path) -> str:
    return (tmp_path / "agent.log").read_text()[-3000:]


MIGRATION_STEPS = [
    "CreateBridge",
    "CreateBond",
    "intent",
    "bridge-addressed",
    "enslaved",
    "nic-cleared",
    "migrated",
    "EnslaveNic",
    "AddVids",
]


@in_lab_kernel
@pytest.mark.parametrize("step", MIGRATION_STEPS)
def test_agent_killed_after_a_setup_or_migration_step_converges_on_restart(
    site: Site, tmp_path: Path, step: str
) -> None:
    assert run_agent(site, tmp_path, ["eth0"], crash_after=step) == -9, agent_log(tmp_path)

    assert run_agent(site, tmp_path, ["eth0"]) == 0, agent_log(tmp_path)

    assert_migrated(site)
    assert site.node.links() == {"lo", "eth0", "eth1", "eth1p", "vlan-bo", "vlan-br"}
    assert site.node.bridge_vlans()["vlan-bo"] == {1: {"PVID", "Egress Untagged"}, 100: set()}


ROLLBACK_STEPS = ["restoring", "released", "nic-restored", "restored"]


@in_lab_kernel
@pytest.mark.parametrize("step", ROLLBACK_STEPS)
def test_agent_killed_while_rolling_back_restores_the_nic_on_restart(site: Site, tmp_path: Path, step: str) -> None:
    before = site.link_state("eth0")
    assert run_agent(site, tmp_path, ["eth1", "eth0"], crash_after=step) == -9, agent_log(tmp_path)

    assert run_agent(site, tmp_path, ["eth1", "eth0"]) == 1, agent_log(tmp_path)

    assert site.link_state("eth0") == before
    assert site.records() == {}
    assert status_message(tmp_path) == f"enslave eth0 to vlan-bo: {NOT_MOVED}"
    assert site.pings()
