"""The netlink message parsers on the host: messages built from dicts (encoded and decoded by pyroute2, as the
kernel's would be) in, `LinkState`s, VLAN flags and owners out. No kernel, no namespace."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from harvester_network.agent.inputs import LinkInfo
from harvester_network.agent.netlink_read import (
    OWNER_LINK_GROUP,
    KernelState,
    LinkState,
    PortVlan,
    link_from_message,
    link_inventory,
    owner_alias,
    owner_of,
    read_kernel_state,
    vlans_from_infos,
)

PVID, UNTAGGED, BEGIN, END = 0x2, 0x4, 0x8, 0x10


def decoded(msg_type: Any, fields: dict[str, Any], attrs: list[tuple[str, Any]]) -> Any:
    """A message as the kernel sends it: `fields` and `attrs` encoded, then decoded by pyroute2."""
    msg = msg_type()
    for key, value in fields.items():
        msg[key] = value
    msg["attrs"] = [list(attr) for attr in attrs]
    msg.encode()
    received = msg_type(msg.data)
    received.decode()
    return received


def link_message(index: int, name: str, flags: int = 0, *attrs: tuple[str, Any], family: int = 0) -> Any:
    return decoded(ifinfmsg, {"index": index, "flags": flags, "family": family}, [("IFLA_IFNAME", name), *attrs])


def linkinfo(kind: str, **data: int) -> tuple[str, Any]:
    info: list[list[Any]] = [["IFLA_INFO_KIND", kind]]
    if data:
        info.append(["IFLA_INFO_DATA", {"attrs": [[key, value] for key, value in data.items()]}])
    return ("IFLA_LINKINFO", {"attrs": info})


NAMES = {1: "lo", 2: "vlan-br", 3: "vlan-bo", 4: "eth1"}


@pytest.mark.parametrize(
    ("msg", "expected"),
    [
        pytest.param(
            link_message(4, "eth1", 0x1, ("IFLA_MTU", 9000), ("IFLA_TXQLEN", 1000), ("IFLA_MASTER", 3)),
            LinkState(4, "eth1", "", "vlan-bo", 9000, 1000, True, None),
            id="an enslaved NIC, up",
        ),
        pytest.param(
            link_message(4, "eth1", 0x1002, ("IFLA_MTU", 1500)),
            LinkState(4, "eth1", "", None, 1500, 0, False, None),
            id="a free NIC, down (only IFF_UP counts), no queue length",
        ),
        pytest.param(
            link_message(
                3,
                "vlan-bo",
                0x1,
                ("IFLA_MTU", 1500),
                ("IFLA_MASTER", 2),
                ("IFLA_IFALIAS", "hvnet:vlan"),
                ("IFLA_GROUP", OWNER_LINK_GROUP),
                linkinfo("bond", IFLA_BOND_MODE=4, IFLA_BOND_MIIMON=250),
            ),
            LinkState(
                3, "vlan-bo", "bond", "vlan-br", 1500, 0, True, "hvnet:vlan", OWNER_LINK_GROUP, "802.3ad", 250, None
            ),
            id="a bond: mode number to name, miimon",
        ),
        pytest.param(
            link_message(3, "x-bo", 0, linkinfo("bond", IFLA_BOND_MODE=0, IFLA_BOND_MIIMON=0)),
            LinkState(3, "x-bo", "bond", None, 0, 0, False, None, 0, "balance-rr", 0, None),
            id="bond mode 0 is balance-rr, miimon 0 is kept",
        ),
        pytest.param(
            link_message(3, "x-bo", 0, linkinfo("bond", IFLA_BOND_MODE=6)),
            LinkState(3, "x-bo", "bond", None, 0, 0, False, None, 0, "balance-alb", None, None),
            id="bond mode 6 is balance-alb",
        ),
        pytest.param(
            link_message(3, "x-bo", 0, linkinfo("bond", IFLA_BOND_MODE=7)),
            LinkState(3, "x-bo", "bond", None, 0, 0, False, None, 0, "7", None, None),
            id="an unknown bond mode number is kept as text",
        ),
        pytest.param(
            link_message(2, "vlan-br", 0x1, linkinfo("bridge", IFLA_BR_VLAN_FILTERING=1)),
            LinkState(2, "vlan-br", "bridge", None, 0, 0, True, None, vlan_filtering=True),
            id="a bridge with VLAN filtering",
        ),
        pytest.param(
            link_message(2, "vlan-br", 0x1, linkinfo("bridge", IFLA_BR_VLAN_FILTERING=0)),
            LinkState(2, "vlan-br", "bridge", None, 0, 0, True, None, vlan_filtering=False),
            id="a bridge without",
        ),
        pytest.param(
            link_message(5, "dummy0", 0, linkinfo("dummy"), ("IFLA_MASTER", 9)),
            LinkState(5, "dummy0", "dummy", None, 0, 0, False, None),
            id="a master of unknown index is no master",
        ),
    ],
)
def test_link_from_message(msg: Any, expected: LinkState) -> None:
    assert link_from_message(msg, NAMES) == expected


@pytest.mark.parametrize(
    ("alias", "name", "group", "owner"),
    [
        ("hvnet:vlan", "vlan-br", 0, "vlan"),
        ("hvnet:vlan", "anything", OWNER_LINK_GROUP, "vlan"),
        ("hvnet:", "x", 0, ""),
        ("HVNET:vlan", "vlan-br", 0, None),
        ("my uplink", "vlan-br", OWNER_LINK_GROUP, None),  # someone else's alias: not ours, group or not
        (None, "vlan-br", 0, None),
        (None, "vlan-br", OWNER_LINK_GROUP, "vlan"),  # made by the agent, killed before naming its owner
        (None, "vlan-bo", OWNER_LINK_GROUP, "vlan"),
        ("", "vlan-bo", OWNER_LINK_GROUP, "vlan"),
        (None, "-br", OWNER_LINK_GROUP, None),  # no cluster network before the suffix
        (None, "a-br", OWNER_LINK_GROUP, "a"),
        (None, "eth1", OWNER_LINK_GROUP, None),
        (None, "vlan-br", OWNER_LINK_GROUP + 1, None),
    ],
)
def test_owner_of(alias: str | None, name: str, group: int, owner: str | None) -> None:
    assert owner_of(alias, name, group) == owner


def test_owner_alias_is_read_back_as_its_owner() -> None:
    assert owner_alias("vlan") == "hvnet:vlan" and owner_of(owner_alias("vlan")) == "vlan"


@pytest.mark.parametrize(
    ("infos", "vlans"),
    [
        ([], {}),
        ([{"flags": PVID | UNTAGGED, "vid": 1}], {1: PortVlan(pvid=True, untagged=True)}),
        ([{"flags": 0, "vid": 100}], {100: PortVlan()}),
        ([{"flags": UNTAGGED, "vid": 1}], {1: PortVlan(untagged=True)}),
        (
            [{"flags": BEGIN, "vid": 100}, {"flags": END, "vid": 102}],
            {100: PortVlan(), 101: PortVlan(), 102: PortVlan()},
        ),
        (
            [{"flags": PVID | UNTAGGED, "vid": 1}, {"flags": BEGIN, "vid": 5}, {"flags": END, "vid": 6}],
            {1: PortVlan(True, True), 5: PortVlan(), 6: PortVlan()},
        ),
        # The range's flags are on its end entry; an END without a BEGIN is a single VID.
        (
            [{"flags": BEGIN, "vid": 7}, {"flags": END | UNTAGGED, "vid": 8}],
            {7: PortVlan(False, True), 8: PortVlan(False, True)},
        ),
        ([{"flags": END, "vid": 9}], {9: PortVlan()}),
        (
            [{"flags": BEGIN, "vid": 5}, {"flags": END, "vid": 6}, {"flags": END, "vid": 9}],
            {5: PortVlan(), 6: PortVlan(), 9: PortVlan()},
        ),
        ([{"flags": BEGIN, "vid": 3}, {"flags": 0, "vid": 4094}], {4094: PortVlan()}),
    ],
)
def test_vlans_from_infos(infos: list[dict[str, int]], vlans: dict[int, PortVlan]) -> None:
    assert vlans_from_infos(infos) == vlans


def test_port_vlan_tagged_means_neither_pvid_nor_untagged() -> None:
    assert [PortVlan().tagged, PortVlan(pvid=True).tagged, PortVlan(untagged=True).tagged] == [True, False, False]


class DumpOnlyIpr:
    """An IPRoute that answers the reader's dumps with fixed messages (and records what was asked)."""

    def __init__(self, links: list[Any], bridge_ports: list[Any], addresses: list[Any]) -> None:
        self.links, self.bridge_ports, self.addresses = links, bridge_ports, addresses
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def link(self, command: str, **kwargs: Any) -> list[Any]:
        assert command == "dump"
        self.asked.append(("link", kwargs))
        return self.bridge_ports if kwargs.get("family") == socket.AF_BRIDGE else self.links

    def addr(self, command: str, **kwargs: Any) -> list[Any]:
        assert command == "dump"
        self.asked.append(("addr", kwargs))
        return self.addresses


def bridge_port(index: int, name: str, master: int, *infos: dict[str, int]) -> Any:
    spec = ("IFLA_AF_SPEC", {"attrs": [["IFLA_BRIDGE_VLAN_INFO", info] for info in infos]})
    return link_message(index, name, 0, ("IFLA_MASTER", master), spec, family=socket.AF_BRIDGE)


def a_node() -> DumpOnlyIpr:
    links = [
        link_message(2, "vlan-br", 1, ("IFLA_IFALIAS", "hvnet:vlan"), linkinfo("bridge", IFLA_BR_VLAN_FILTERING=1)),
        link_message(3, "vlan-bo", 1, ("IFLA_MASTER", 2), ("IFLA_IFALIAS", "hvnet:vlan"), linkinfo("bond")),
        link_message(4, "eth1", 1, ("IFLA_MASTER", 3)),
        link_message(5, "eth0", 1),
    ]
    ports = [
        bridge_port(2, "vlan-br", 2, {"flags": PVID | UNTAGGED, "vid": 1}),  # the bridge's own entry
        bridge_port(
            3,
            "vlan-bo",
            2,
            {"flags": PVID | UNTAGGED, "vid": 1},
            {"flags": BEGIN, "vid": 10},
            {"flags": END, "vid": 11},
        ),
        bridge_port(6, "vm1", 2),  # a port without VLAN info (and not in the link dump)
    ]
    addresses = [
        decoded(ifaddrmsg, {"index": 5, "family": socket.AF_INET, "prefixlen": 24}, [("IFA_ADDRESS", "10.0.0.5")])
    ]
    return DumpOnlyIpr(links, ports, addresses)


def test_read_kernel_state_from_two_dumps() -> None:
    ipr = a_node()
    state = read_kernel_state(ipr)
    assert isinstance(state, KernelState)
    assert {name: (link.kind, link.master, link.owner) for name, link in state.links.items()} == {
        "vlan-br": ("bridge", None, "vlan"),
        "vlan-bo": ("bond", "vlan-br", "vlan"),
        "eth1": ("", "vlan-bo", None),
        "eth0": ("", None, None),
    }
    assert state.port_vlans == {
        "vlan-bo": {1: PortVlan(True, True), 10: PortVlan(), 11: PortVlan()},
        "vm1": {},
    }
    assert [(what, kwargs.get("family")) for what, kwargs in ipr.asked] == [("link", None), ("link", socket.AF_BRIDGE)]


def test_link_inventory_says_master_ipv4_and_owner() -> None:
    assert link_inventory(a_node()) == {
        "vlan-br": LinkInfo(None, False, "vlan"),
        "vlan-bo": LinkInfo("vlan-br", False, "vlan"),
        "eth1": LinkInfo("vlan-bo", False, None),
        "eth0": LinkInfo(None, True, None),
    }
