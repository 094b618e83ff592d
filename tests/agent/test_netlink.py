"""The agent's netlink reconciler against a real kernel, each test in its own namespace `hvt-*`.

Runs where bridge VLAN filtering, bonding, 802.1Q and dummy links exist: inside the lab kernel (`make test`
boots it) or on a host kernel that has them. What the agent did is checked with iproute2 (`ip -j -d`,
`bridge -j vlan`), not with the reader under test.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harvester_network.agent.hostip import HostIpMigrator
from harvester_network.agent.hostip_journal import RecordStore
from harvester_network.agent.hoststate import BridgeState, HostState, UplinkState
from harvester_network.agent.link_events import LinkEventWatcher, LinkNews
from harvester_network.agent.loop import KernelHost
from harvester_network.agent.metrics import AgentMetrics
from harvester_network.agent.netlink import (
    NotOwnedError,
    Reconciler,
    link_inventory,
    prune_default_vlan,
)
from harvester_network.agent.netlink_apply import (
    AddVids,
    DeleteLink,
    DelVids,
    EnslaveNic,
    LinkOps,
    PruneRequests,
    PruneVid1,
    ReleaseNic,
)
from harvester_network.agent.netlink_raw import RTM_GETADDR, RTM_GETLINK
from harvester_network.agent.netlink_read import (
    OWNER_LINK_GROUP,
    RTEXT_FILTER_SKIP_STATS,
    ipv4_link_indexes,
    read_kernel_state,
)
from harvester_network.agent.pruner import PortPruner
from harvester_network.lab.uml import needs_lab_kernel
from harvester_network.model import names
from tests.agent.conftest import HvtNetns

pytestmark = [
    pytest.mark.netlink,
    pytest.mark.skipif(
        needs_lab_kernel(), reason="needs a kernel with bridge VLAN filtering: run via `make test` (lab kernel)"
    ),
]

PVID_UNTAGGED = {"PVID", "Egress Untagged"}


def network(
    cn: str,
    nics: Iterable[str],
    vids: Iterable[int] = (),
    mtu: int = 0,
    txqlen: int = -1,
    mode: str = "active-backup",
    miimon: int = 100,
) -> BridgeState:
    uplink = UplinkState(names.bond_name(cn), tuple(nics), mode, miimon, mtu, txqlen)
    return BridgeState(cn, names.bridge_name(cn), uplink, frozenset(vids))


def state(*bridges: BridgeState) -> HostState:
    return HostState(bridges=bridges)


def add_dummies(ns: HvtNetns, *nics: str, mtu: int = 1500) -> None:
    for nic in nics:
        ns.ipr.link("add", ifname=nic, kind="dummy", mtu=mtu)
        ns.ipr.link("set", index=ns.ipr.link_lookup(ifname=nic)[0], state="up")


def add_vm_port(ns: HvtNetns, port: str, bridge: str, vid: int | None) -> None:
    """A veth enslaved to `bridge` as the bridge CNI plugin leaves it: PVID `vid`, VLAN 1 still untagged."""
    ns.run("ip", "link", "add", port, "type", "veth", "peer", "name", f"{port}p")
    ns.run("ip", "link", "set", port, "master", bridge, "up")
    if vid is not None:
        ns.run("bridge", "vlan", "add", "vid", str(vid), "dev", port, "pvid", "untagged")


def tagged(*vids: int) -> dict[int, set[str]]:
    return {1: PVID_UNTAGGED} | {vid: set() for vid in vids}


def error_messages(result: object) -> dict[str, str]:
    return {error.cluster_network: error.message for error in result.errors}  # type: ignore[attr-defined]


@pytest.fixture
def rec(ns: HvtNetns) -> Reconciler:
    return Reconciler(ns.ipr)


def test_builds_bridge_bond_nics_and_vids(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1", "eth2")
    vids = {100, *range(200, 206), 3000}

    result = rec.reconcile(state(network("vlan", ["eth1", "eth2"], vids, mtu=9000, txqlen=2000)))

    assert result.errors == []
    bridge, bond = ns.link("vlan-br"), ns.link("vlan-bo")
    assert bridge["linkinfo"]["info_kind"] == "bridge"
    assert bridge["linkinfo"]["info_data"]["vlan_filtering"] == 1
    assert bond["linkinfo"]["info_kind"] == "bond"
    assert bond["linkinfo"]["info_data"]["mode"] == "active-backup"
    assert bond["linkinfo"]["info_data"]["miimon"] == 100
    assert bond["master"] == "vlan-br"
    assert bond["txqlen"] == 2000
    for link in (bridge, bond):
        assert link["ifalias"] == "hvnet:vlan"
        assert "UP" in link["flags"]
    for nic in ("eth1", "eth2"):
        assert ns.link(nic)["master"] == "vlan-bo"
        assert "UP" in ns.link(nic)["flags"]
    assert {name: ns.link(name)["mtu"] for name in ("vlan-br", "vlan-bo", "eth1", "eth2")} == dict.fromkeys(
        ("vlan-br", "vlan-bo", "eth1", "eth2"), 9000
    )
    assert ns.bridge_vlans()["vlan-bo"] == tagged(*vids)
    # all VIDs in one request, ranges folded with the kernel's range flags
    vid_changes = [change for change in result.applied if isinstance(change, AddVids)]
    assert [change.ranges for change in vid_changes] == [((100, 100), (200, 205), (3000, 3000))]


def test_second_pass_with_nothing_changed_makes_no_writes(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1", "eth2", "eth3")
    desired = state(
        network("vlan", ["eth1", "eth2"], range(100, 120), mtu=9000, txqlen=1000),
        network("storage", ["eth3"], {5, 7, 4094}, mode="balance-xor", miimon=200),
    )
    first = rec.reconcile(desired)
    assert first.errors == [] and first.writes > 0
    writes = rec.writes

    second = rec.reconcile(desired)

    assert second.applied == [] and second.errors == []
    assert second.writes == 0 and rec.writes == writes
    assert rec.plan(desired).changes == []


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (set(range(100, 200)), set(range(150, 260))),
        (set(range(2, 62, 2)), {2, *range(3, 63, 2)}),
    ],
    ids=["contiguous", "scattered"],
)
def test_vids_follow_the_desired_set(ns: HvtNetns, rec: Reconciler, before: set[int], after: set[int]) -> None:
    add_dummies(ns, "eth1")
    rec.reconcile(state(network("vlan", ["eth1"], before)))
    assert ns.bridge_vlans()["vlan-bo"] == tagged(*before)

    result = rec.reconcile(state(network("vlan", ["eth1"], after)))

    assert ns.bridge_vlans()["vlan-bo"] == tagged(*after)
    assert sorted(type(change).__name__ for change in result.applied) == ["AddVids", "DelVids"]
    assert result.writes == 2  # one request for the removals, one for the additions


def test_vids_0_and_1_are_never_trunked_and_pvid_1_stays(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1")
    rec.reconcile(state(network("vlan", ["eth1"], {0, 1, 10})))
    assert ns.bridge_vlans()["vlan-bo"] == tagged(10)

    rec.reconcile(state(network("vlan", ["eth1"], ())))

    assert ns.bridge_vlans()["vlan-bo"] == tagged()


def test_mtu_goes_to_bond_nics_and_bridge(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1", "eth2")
    links = ("vlan-br", "vlan-bo", "eth1", "eth2")
    rec.reconcile(state(network("vlan", ["eth1", "eth2"], {100}, mtu=1500)))
    assert {link: ns.link(link)["mtu"] for link in links} == dict.fromkeys(links, 1500)

    rec.reconcile(state(network("vlan", ["eth1", "eth2"], {100}, mtu=9000)))
    assert {link: ns.link(link)["mtu"] for link in links} == dict.fromkeys(links, 9000)

    rec.reconcile(state(network("vlan", ["eth1", "eth2"], {100}, mtu=1400)))
    assert {link: ns.link(link)["mtu"] for link in links} == dict.fromkeys(links, 1400)


def test_links_the_agent_does_not_own_are_left_alone(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1", "eth3")
    ns.run("ip", "link", "add", "br-ex", "type", "bridge")
    ns.run("ip", "link", "set", "eth3", "master", "br-ex")
    ns.run("ip", "link", "add", "vlan-br", "type", "dummy")  # a name the agent would use, not made by it
    desired = state(network("ext", ["eth3"], {10}), network("ok", ["eth1"], {20}), network("vlan", ["eth1"], {30}))

    result = rec.reconcile(desired)

    assert error_messages(result) == {
        "ext": "enslave eth3 to ext-bo: eth3 is already enslaved to br-ex (not owned by hvnet); "
        "release it or list another NIC",
        "vlan": "vlan-br exists and is not owned by hvnet (no 'hvnet:' ifalias); rename or delete it",
    }
    assert ns.link("eth3")["master"] == "br-ex"
    assert ns.link("vlan-br")["linkinfo"]["info_kind"] == "dummy"
    assert "ext-br" not in ns.links() and "ext-bo" not in ns.links()
    assert ns.link("eth1")["master"] == "ok-bo"

    result = rec.reconcile(state())  # nothing wanted: only the agent's own links go

    assert result.errors == []
    assert {"br-ex", "vlan-br", "eth3"} <= ns.links()
    assert not {"ok-br", "ok-bo"} & ns.links()
    assert ns.link("eth3")["master"] == "br-ex"


def test_links_left_half_made_by_a_killed_agent_are_finished_or_removed(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1")
    # what a killed agent leaves: links made (with the agent's group), ifalias not yet set
    for name, kind in (("vlan-br", "bridge"), ("vlan-bo", "bond"), ("gone-br", "bridge")):
        ns.ipr.link("add", ifname=name, kind=kind, group=OWNER_LINK_GROUP)

    result = rec.reconcile(state(network("vlan", ["eth1"], {100})))

    assert result.errors == []
    assert ns.link("vlan-br")["ifalias"] == ns.link("vlan-bo")["ifalias"] == "hvnet:vlan"
    assert ns.link("vlan-bo")["master"] == "vlan-br" and ns.link("eth1")["master"] == "vlan-bo"
    assert ns.bridge_vlans()["vlan-bo"] == tagged(100)
    assert "gone-br" not in ns.links()
    assert rec.reconcile(state(network("vlan", ["eth1"], {100}))).writes == 0


def test_missing_nic_is_an_error_and_nothing_is_made(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1")

    result = rec.reconcile(state(network("vlan", ["eth1", "eth9"], {100})))

    assert error_messages(result) == {"vlan": "NIC eth9 does not exist; list a NIC this node has"}
    assert result.writes == 0
    assert not {"vlan-br", "vlan-bo"} & ns.links()
    assert "master" not in ns.link("eth1")


def test_nic_kept_by_another_cluster_network_is_an_error(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1", "eth2")
    rec.reconcile(state(network("a", ["eth1"], {10})))

    result = rec.reconcile(state(network("a", ["eth1"], {10}), network("b", ["eth1", "eth2"], {20})))

    assert error_messages(result) == {
        "b": "enslave eth1 to b-bo: eth1 is already enslaved to a-bo (cluster network a uses it); "
        "list it in one VlanConfig only"
    }
    assert ns.link("eth1")["master"] == "a-bo"


def test_teardown_releases_nics_as_they_were(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1", mtu=1400)
    add_dummies(ns, "eth2")
    rec.reconcile(state(network("vlan", ["eth1", "eth2"], {100}, mtu=9000)))
    assert ns.link("eth1")["mtu"] == 9000

    result = rec.reconcile(state())

    assert result.errors == []
    assert sorted((type(c).__name__, c.link) for c in result.applied) == [
        ("DeleteLink", "vlan-bo"),
        ("DeleteLink", "vlan-br"),
        ("ReleaseNic", "eth1"),
        ("ReleaseNic", "eth2"),
    ]
    assert not {"vlan-br", "vlan-bo"} & ns.links()
    for nic, mtu in (("eth1", 1400), ("eth2", 1500)):
        link = ns.link(nic)
        assert "master" not in link
        assert "UP" in link["flags"]
        assert link["mtu"] == mtu


def test_nic_dropped_from_the_uplink_is_released(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1", "eth2")
    rec.reconcile(state(network("vlan", ["eth1", "eth2"], {100})))

    result = rec.reconcile(state(network("vlan", ["eth1"], {100})))

    assert [(type(c), c.link) for c in result.applied] == [(ReleaseNic, "eth2")]
    assert "master" not in ns.link("eth2") and "UP" in ns.link("eth2")["flags"]
    assert ns.link("eth1")["master"] == "vlan-bo"


def test_nic_moves_between_cluster_networks_in_one_pass(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1")
    rec.reconcile(state(network("a", ["eth1"], {10})))

    result = rec.reconcile(state(network("b", ["eth1"], {20})))

    assert result.errors == []
    assert not {"a-br", "a-bo"} & ns.links()
    assert ns.link("eth1")["master"] == "b-bo"
    assert ns.bridge_vlans()["b-bo"] == tagged(20)


def test_bond_mode_change_makes_the_bond_anew(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1", "eth2")
    rec.reconcile(state(network("vlan", ["eth1", "eth2"], {100, 101})))
    desired = state(network("vlan", ["eth1", "eth2"], {100, 101}, mode="balance-xor", miimon=50))

    result = rec.reconcile(desired)

    assert result.errors == []
    bond = ns.link("vlan-bo")
    assert bond["linkinfo"]["info_data"]["mode"] == "balance-xor"
    assert bond["linkinfo"]["info_data"]["miimon"] == 50
    assert bond["master"] == "vlan-br"
    assert [ns.link(nic)["master"] for nic in ("eth1", "eth2")] == ["vlan-bo", "vlan-bo"]
    assert ns.bridge_vlans()["vlan-bo"] == tagged(100, 101)
    assert rec.reconcile(desired).writes == 0


class DumpCountingIpr:
    """An IPRoute that counts link dumps by family (0: the whole-link dump)."""

    def __init__(self, ipr: Any) -> None:
        self.ipr, self.link_dumps = ipr, Counter[int]()

    def link(self, command: str, **kwargs: Any) -> Any:
        if command == "dump":
            self.link_dumps[kwargs.get("family", 0)] += 1
        return self.ipr.link(command, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ipr, name)


def test_a_pass_makes_one_link_dump_and_no_write_when_nothing_changed(ns: HvtNetns, tmp_path: Path) -> None:
    add_dummies(ns, "eth1")
    ipr = DumpCountingIpr(ns.ipr)
    host = KernelHost(ipr, HostIpMigrator(ipr, RecordStore(tmp_path, "node1")))
    desired = state(network("vlan", ["eth1"], {100, 200}))
    host.inventory()
    host.reconcile(desired)
    writes, ipr.link_dumps = host.writes, Counter()
    dumps = Counter(host.reconciler.route.dumps)

    host.inventory()
    host.reconcile(desired)

    # Links once (inventory and plan), bridge VLANs once, addresses once; all on the pass's own socket.
    assert host.reconciler.route.dumps - dumps == {
        (RTM_GETLINK, socket.AF_UNSPEC): 1,
        (RTM_GETLINK, socket.AF_BRIDGE): 1,
        (RTM_GETADDR, socket.AF_INET): 1,
    }
    assert ipr.link_dumps == {}  # none decoded by pyroute2
    assert host.writes == writes


def test_a_settled_pass_still_puts_back_what_changed_in_the_kernel(ns: HvtNetns, tmp_path: Path) -> None:
    add_dummies(ns, "eth1")
    host = KernelHost(ns.ipr, HostIpMigrator(ns.ipr, RecordStore(tmp_path, "node1")))
    desired = state(network("vlan", ["eth1"], {100, 200}))
    host.inventory()
    host.reconcile(desired)
    host.inventory()
    assert host.reconcile(desired).applied == []  # nothing to do: the next pass may skip planning

    ns.run("bridge", "vlan", "del", "dev", "vlan-bo", "vid", "200")  # the same desired state, another kernel
    host.inventory()
    result = host.reconcile(desired)

    assert [change.summary() for change in result.applied] == ["add tagged VIDs 200 to vlan-bo"]
    assert {100, 200} <= set(ns.bridge_vlans()["vlan-bo"])


def test_vid1_is_pruned_from_vm_ports_but_not_from_pvid1_ports(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1")
    desired = state(network("vlan", ["eth1"], {100, 200}))
    rec.reconcile(desired)
    add_vm_port(ns, "vm1", "vlan-br", vid=100)
    add_vm_port(ns, "vm2", "vlan-br", vid=None)  # an untagged VM network: its PVID is 1
    assert ns.bridge_vlans()["vm1"] == {1: {"Egress Untagged"}, 100: PVID_UNTAGGED}

    assert prune_default_vlan(ns.ipr, "vlan-br") == ["vm1"]

    vlans = ns.bridge_vlans()
    assert vlans["vm1"] == {100: PVID_UNTAGGED}
    assert vlans["vm2"] == {1: PVID_UNTAGGED}
    assert vlans["vlan-bo"] == tagged(100, 200)
    assert prune_default_vlan(ns.ipr, "vlan-br") == []

    add_vm_port(ns, "vm3", "vlan-br", vid=200)  # the reconcile pass prunes too
    result = rec.reconcile(desired)
    assert [(type(c), c.link) for c in result.applied] == [(PruneVid1, "vm3")]
    assert ns.bridge_vlans()["vm3"] == {200: PVID_UNTAGGED}


def test_vid1_is_pruned_while_the_cluster_network_has_an_error(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1")
    rec.reconcile(state(network("vlan", ["eth1"], {100})))
    add_vm_port(ns, "vm1", "vlan-br", vid=100)

    result = rec.reconcile(state(network("vlan", ["eth1", "eth9"], {100})))

    assert error_messages(result) == {"vlan": "NIC eth9 does not exist; list a NIC this node has"}
    assert [(type(c), c.link) for c in result.applied] == [(PruneVid1, "vm1")]
    assert ns.bridge_vlans()["vm1"] == {100: PVID_UNTAGGED}


def test_prune_refuses_bridges_the_agent_does_not_own(ns: HvtNetns) -> None:
    ns.run("ip", "link", "add", "br-ex", "type", "bridge", "vlan_filtering", "1")
    add_vm_port(ns, "vm1", "br-ex", vid=100)

    with pytest.raises(NotOwnedError, match="br-ex"):
        prune_default_vlan(ns.ipr, "br-ex")

    assert set(ns.bridge_vlans()["vm1"]) == {1, 100}  # VID 1 left where it was


def settle(watcher: LinkEventWatcher) -> None:
    """Let the kernel's late events about earlier changes (operstate goes through linkwatch, ~1 s) pass."""
    for _ in range(20):
        if not watcher.wait_for_link_events(1.5):
            return
    raise AssertionError("link events about the agent's links keep coming")


@contextmanager
def watching_a_built_bridge(ns: HvtNetns, rec: Reconciler) -> Iterator[LinkEventWatcher]:
    """Cluster network vlan (eth1, VID 100) built, and a watcher past the events of building it."""
    add_dummies(ns, "eth1")
    rec.reconcile(state(network("vlan", ["eth1"], {100})))
    with ns.inside():
        watcher = LinkEventWatcher(ns.ipr)
    with watcher:
        settle(watcher)
        yield watcher


def test_link_events_wake_the_agent_for_its_links_only(ns: HvtNetns, rec: Reconciler) -> None:
    with watching_a_built_bridge(ns, rec) as watcher:
        add_dummies(ns, "unrelated")
        assert watcher.wait_for_link_events(0.5) is False

        add_vm_port(ns, "vm1", "vlan-br", vid=100)  # a VM port joins an owned bridge
        assert watcher.wait_for_link_events(10) is True
        rec.reconcile(state(network("vlan", ["eth1"], {100})))
        settle(watcher)  # the pruning's own events

        ns.run("ip", "link", "set", "eth1", "down")  # the uplink goes down
        assert watcher.wait_for_link_events(10) is True

        ns.run("ip", "link", "del", "vlan-br")  # the bridge goes away
        assert watcher.wait_for_link_events(10) is True


def test_link_events_ask_for_a_pass_for_what_the_plan_reads_only(ns: HvtNetns, rec: Reconciler) -> None:
    with watching_a_built_bridge(ns, rec) as watcher:
        ns.run("ip", "link", "set", "vlan-br", "type", "bridge", "ageing_time", "20000")  # not planned
        assert watcher.wait_for_link_events(1.0) is False

        for change in (
            ["vlan-bo", "type", "bond", "miimon", "50"],
            ["vlan-br", "type", "bridge", "vlan_filtering", "0"],
            ["vlan-bo", "mtu", "1400"],
            ["vlan-br", "txqueuelen", "500"],
            ["eth1", "alias", "renamed-by-hand"],  # a NIC of the bond
        ):
            ns.run("ip", "link", "set", *change)
            assert watcher.wait_for_link_events(10) is True, change
            settle(watcher)


def news_until_quiet(watcher: LinkEventWatcher) -> LinkNews:
    """The link news of every event until none comes for a second."""
    gathered = LinkNews()
    while news := watcher.wait(1.0):
        gathered.full_pass |= news.full_pass
        gathered.prunes += news.prunes
        gathered.indexes |= news.indexes
    return gathered


def test_a_new_vm_port_is_pruned_from_its_own_link_event(ns: HvtNetns, rec: Reconciler) -> None:
    with watching_a_built_bridge(ns, rec) as watcher:
        add_vm_port(ns, "vm1", "vlan-br", vid=100)
        add_vm_port(ns, "vm2", "vlan-br", vid=None)  # untagged network: PVID 1, keeps VLAN 1

        news = news_until_quiet(watcher)

        assert not news.full_pass  # the bridge reports a change when a port joins: nothing the plan reads
        assert [(p.link, p.bridge, p.cluster_network) for p in news.prunes] == [("vm1", "vlan-br", "vlan")]
        rec.applier.apply(news.prunes, indexes=news.indexes)
        assert ns.bridge_vlans()["vm1"] == {100: PVID_UNTAGGED}
        assert ns.bridge_vlans()["vm2"] == {1: PVID_UNTAGGED}
        assert not news_until_quiet(watcher).prunes  # the prune's own event asks for nothing more


def test_a_prune_is_reported_once_until_its_own_event(ns: HvtNetns, rec: Reconciler) -> None:
    with watching_a_built_bridge(ns, rec) as watcher:
        add_vm_port(ns, "vm1", "vlan-br", vid=100)
        ns.run("bridge", "vlan", "add", "vid", "200", "dev", "vm1")  # another event still showing VID 1

        first = news_until_quiet(watcher)
        assert [p.link for p in first.prunes] == ["vm1"]
        rec.applier.apply(first.prunes, indexes=first.indexes)
        ns.run("bridge", "vlan", "add", "vid", "1", "dev", "vm1")  # VID 1 back after the prune's own event

        assert [p.link for p in news_until_quiet(watcher).prunes] == ["vm1"]


@pytest.fixture
def requests(ns: HvtNetns) -> Iterator[PruneRequests]:
    with ns.inside():
        made = PruneRequests()  # its socket in the namespace, as the pruner's
    yield made
    made.close()


def test_prune_requests_remove_vid_1_and_name_the_race_of_a_deleted_port(
    ns: HvtNetns, rec: Reconciler, requests: PruneRequests, caplog: pytest.LogCaptureFixture
) -> None:
    add_dummies(ns, "eth1")
    rec.reconcile(state(network("vlan", ["eth1"], {100})))
    add_vm_port(ns, "vm1", "vlan-br", vid=100)
    add_vm_port(ns, "vm2", "vlan-br", vid=100)
    gone = ns.link("vm2")["ifindex"]
    ns.run("ip", "link", "del", "vm2")
    caplog.set_level(logging.DEBUG, logger="harvester_network.agent.netlink")

    requests.prune(
        [
            (PruneVid1("vlan", "vm1", "r", bridge="vlan-br"), ns.link("vm1")["ifindex"]),
            (PruneVid1("vlan", "vm2", "r", bridge="vlan-br"), gone),
        ]
    )

    assert ns.bridge_vlans()["vm1"] == {100: PVID_UNTAGGED}
    assert ns.bridge_vlans()["vlan-bo"] == tagged(100)
    assert requests.writes == 2
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "remove VLAN 1 from vm1 (port of vlan-br): r"),
        ("DEBUG", "remove VLAN 1 from vm2 (port of vlan-br): not needed, the port was deleted since its event"),
    ]


def test_a_failed_prune_request_is_logged_with_the_kernels_reason(
    ns: HvtNetns, requests: PruneRequests, caplog: pytest.LogCaptureFixture
) -> None:
    add_dummies(ns, "eth1")  # a port no more: released from its bridge since its event

    requests.prune([(PruneVid1("vlan", "eth1", "r", bridge="vlan-br"), ns.link("eth1")["ifindex"])])

    [record] = caplog.records
    message = f"remove VLAN 1 from eth1 (port of vlan-br) failed: {os.strerror(errno.EOPNOTSUPP)}"
    assert (record.levelname, record.getMessage()) == ("WARNING", message)
    assert requests.writes == 1


def test_the_pruner_thread_fixes_a_new_vm_port_on_its_own(ns: HvtNetns, rec: Reconciler) -> None:
    from pyroute2 import IPRoute

    add_dummies(ns, "eth1")
    rec.reconcile(state(network("vlan", ["eth1"], {100})))
    metrics = AgentMetrics()
    with ns.inside():
        prune_ipr = IPRoute()  # the pruner's own sockets, as `hvnet agent` gives it
        pruner = PortPruner(prune_ipr, metrics.writes.inc)
    with prune_ipr, pruner:
        add_vm_port(ns, "vm1", "vlan-br", vid=100)  # nobody but the pruner's thread reads link events here
        add_vm_port(ns, "vm2", "vlan-br", vid=None)
        ns.run("ip", "link", "add", "br-ex", "type", "bridge", "vlan_filtering", "1")
        add_vm_port(ns, "vm3", "br-ex", vid=100)  # a bridge the agent does not own
        deadline = time.monotonic() + 10
        while 1 in ns.bridge_vlans()["vm1"] and time.monotonic() < deadline:
            time.sleep(0.05)

        assert ns.bridge_vlans()["vm1"] == {100: PVID_UNTAGGED}
        assert ns.bridge_vlans()["vm2"] == {1: PVID_UNTAGGED}
        assert set(ns.bridge_vlans()["vm3"]) == {1, 100}
        while pruner.wait(1.5):  # the late events of building the bridge
            pass
        # hvnet_agent_netlink_writes counts the prune (one request: VID 1 off vm1), not only the passes' writes
        [writes] = [f for f in text_string_to_metric_families(metrics.exposition()) if f.name.endswith("writes")]
        assert [s.value for s in writes.samples if s.name.endswith("_total")] == [1]
        ns.run("ip", "link", "set", "eth1", "down")  # what needs a pass reaches the loop's wait
        assert pruner.wait(10)


def test_failed_change_names_the_link_and_the_reason(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1")

    result = rec.reconcile(state(network("vlan", ["eth1"], {100}, mtu=200_000)))

    assert error_messages(result) == {"vlan": "create bridge vlan-br (VLAN filtering): Invalid argument"}
    assert result.applied == []


class RecordingHook:
    """Sees each NIC just before and just after it is enslaved (where host-IP migration will plug in)."""

    def __init__(self, ns: HvtNetns) -> None:
        self.ns = ns
        self.seen: list[tuple[str, str, str | None]] = []

    def before_enslave(self, ops: LinkOps, change: EnslaveNic) -> None:
        self.seen.append(("before", change.link, self.ns.link(change.link).get("master")))

    def after_enslave(self, ops: LinkOps, change: EnslaveNic) -> None:
        self.seen.append(("after", change.link, self.ns.link(change.link).get("master")))


def test_enslave_hooks_run_around_each_enslave(ns: HvtNetns) -> None:
    add_dummies(ns, "eth1", "eth2")
    hook = RecordingHook(ns)

    Reconciler(ns.ipr, enslave_hooks=[hook]).reconcile(state(network("vlan", ["eth1", "eth2"], {100})))

    assert hook.seen == [
        ("before", "eth1", None),
        ("after", "eth1", "vlan-bo"),
        ("before", "eth2", None),
        ("after", "eth2", "vlan-bo"),
    ]


def test_link_inventory_for_desired_state(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1", "eth2")
    ns.run("ip", "addr", "add", "192.0.2.10/24", "dev", "eth2")
    rec.reconcile(state(network("vlan", ["eth1"], {100})))

    inventory = link_inventory(rec.route)  # a socket made outside the namespace, for it

    assert (inventory["eth1"].master, inventory["eth1"].has_ipv4, inventory["eth1"].owner) == ("vlan-bo", False, None)
    assert (inventory["eth2"].master, inventory["eth2"].has_ipv4) == (None, True)
    assert (inventory["vlan-bo"].owner, inventory["vlan-br"].owner) == ("vlan", "vlan")


def test_the_pass_reads_what_pyroute2_and_iproute2_read(ns: HvtNetns, rec: Reconciler) -> None:
    add_dummies(ns, "eth1", "eth2", mtu=9000)
    ns.run("ip", "addr", "add", "192.0.2.10/24", "dev", "eth2")
    rec.reconcile(state(network("vlan", ["eth1"], {100, *range(200, 206)}, mtu=9000, txqlen=2000, mode="802.3ad")))
    add_vm_port(ns, "vm1", "vlan-br", vid=100)
    add_vm_port(ns, "vm2", "vlan-br", vid=None)

    read = read_kernel_state(rec.route)

    messages = {msg.get("IFLA_IFNAME"): msg for msg in ns.ipr.link("dump", ext_mask=RTEXT_FILTER_SKIP_STATS)}
    names = {msg["index"]: name for name, msg in messages.items()}
    assert set(read.links) == set(messages)
    for name, msg in messages.items():  # as pyroute2 decodes them
        link = read.links[name]
        assert (link.index, link.kind, link.master, link.mtu, link.txqlen, link.up, link.alias, link.group) == (
            msg["index"],
            msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") or "",
            names.get(msg.get("IFLA_MASTER")),
            msg.get("IFLA_MTU"),
            msg.get("IFLA_TXQLEN"),
            bool(msg["flags"] & 1),
            msg.get("IFLA_IFALIAS"),
            msg.get("IFLA_GROUP"),
        ), name
    bond_data = messages["vlan-bo"].get_nested("IFLA_LINKINFO", "IFLA_INFO_DATA")
    assert (read.links["vlan-bo"].bond_mode, read.links["vlan-bo"].miimon) == (
        "802.3ad",
        bond_data.get("IFLA_BOND_MIIMON"),
    )
    assert read.links["vlan-br"].vlan_filtering is True and read.links["vlan-bo"].owner == "vlan"
    iproute2_flags = {(True, True): PVID_UNTAGGED, (False, True): {"Egress Untagged"}, (True, False): {"PVID"}}
    assert {
        port: {vid: iproute2_flags.get((vlan.pvid, vlan.untagged), set()) for vid, vlan in vlans.items()}
        for port, vlans in read.port_vlans.items()
    } == {port: vlans for port, vlans in ns.bridge_vlans().items() if port != "vlan-br"}  # not the bridge's own
    with_ipv4 = {entry["ifindex"] for entry in ns.ip_json("-4", "addr", "show") if entry.get("addr_info")}
    assert ipv4_link_indexes(rec.route) == with_ipv4 and names[min(with_ipv4 - {1})] == "eth2"


def test_change_records_say_what_they_do() -> None:
    records = [
        AddVids("vlan", "vlan-bo", "r", ranges=((100, 199), (300, 300))),
        DelVids("vlan", "vlan-bo", "r", ranges=((5, 5),)),
        DeleteLink("vlan", "vlan-br", "r", kind="bridge"),
    ]
    assert [record.summary() for record in records] == [
        "add tagged VIDs 100-199,300 to vlan-bo",
        "remove VIDs 5 from vlan-bo",
        "delete bridge vlan-br",
    ]
