"""The netlink message parsers on the host: messages built from dicts (encoded by pyroute2 as the kernel's would be,
then decoded by pyroute2, as link events are, or read by RawMessage, as the pass's dumps are) in, `LinkState`s,
VLAN flags and owners out; RouteSocket's dump framing against a scripted socket. No kernel, no namespace."""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Callable
from typing import Any

import pytest
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from harvester_network.agent import netlink_raw
from harvester_network.agent.inputs import LinkInfo
from harvester_network.agent.netlink_raw import LinkMessage, RouteSocket
from harvester_network.agent.netlink_read import (
    OWNER_LINK_GROUP,
    RTEXT_FILTER_BRVLAN_COMPRESSED,
    RTEXT_FILTER_SKIP_STATS,
    KernelState,
    LinkState,
    PortVlan,
    ipv4_link_indexes,
    link_from_message,
    link_inventory,
    owner_alias,
    owner_of,
    read_kernel_state,
    read_links,
    vlans_from_infos,
)

PVID, UNTAGGED, BEGIN, END = 0x2, 0x4, 0x8, 0x10
RTM_NEWLINK, RTM_GETLINK, RTM_GETADDR, NLMSG_ERROR, NLMSG_DONE = 16, 18, 22, 2, 3
NLM_F_MULTI, NLM_F_DUMP_INTR = 0x2, 0x10


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


def raw(msg: Any) -> LinkMessage:
    """The same message's bytes read as the pass reads them (LinkMessage)."""
    return netlink_raw.link_message(wire(msg, 1), 0, RTM_NEWLINK)


def wire(msg: Any, sequence: int, flags: int = NLM_F_MULTI) -> bytes:
    """`msg`'s bytes with the netlink header of a dump's part."""
    data = bytearray(msg.data[: struct.unpack_from("=I", msg.data)[0]])
    struct.pack_into("=HHI", data, 4, RTM_NEWLINK, flags, sequence)
    return bytes(data)


def control(kind: int, sequence: int, code: int = 0) -> bytes:
    return struct.pack("=IHHIIi", 20, kind, NLM_F_MULTI, sequence, 0, code)


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
                linkinfo("bond", IFLA_BOND_MODE=4, IFLA_BOND_MIIMON=1000),
            ),
            LinkState(
                3, "vlan-bo", "bond", "vlan-br", 1500, 0, True, "hvnet:vlan", OWNER_LINK_GROUP, "802.3ad", 1000, None
            ),
            id="a bond: mode number to name, miimon (a u32)",
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
    assert link_from_message(raw(msg), NAMES) == expected


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


class DumpOnlyRoute:
    """A RouteSocket that answers the reader's dumps with fixed messages (and records what was asked)."""

    def __init__(self, links: list[Any], bridge_ports: list[Any], with_ipv4: set[int]) -> None:
        self.answers = {socket.AF_UNSPEC: links, socket.AF_BRIDGE: bridge_ports}
        self.with_ipv4 = with_ipv4
        self.asked: list[tuple[int, int, int]] = []

    def links(self, family: int, ext_mask: int) -> list[LinkMessage]:
        self.asked.append((RTM_GETLINK, family, ext_mask))
        return [raw(msg) for msg in self.answers[family]]

    def address_indexes(self, family: int) -> set[int]:
        self.asked.append((RTM_GETADDR, family, 0))
        return self.with_ipv4


def bridge_port(index: int, name: str, master: int, *infos: dict[str, int]) -> Any:
    spec = ("IFLA_AF_SPEC", {"attrs": [["IFLA_BRIDGE_VLAN_INFO", info] for info in infos]})
    return link_message(index, name, 0, ("IFLA_MASTER", master), spec, family=socket.AF_BRIDGE)


def a_node() -> Any:
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
    return DumpOnlyRoute(links, ports, with_ipv4={5})


def test_read_kernel_state_from_two_dumps() -> None:
    route = a_node()
    state = read_kernel_state(route)
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
    assert route.asked == [
        (RTM_GETLINK, socket.AF_UNSPEC, RTEXT_FILTER_SKIP_STATS),
        (RTM_GETLINK, socket.AF_BRIDGE, RTEXT_FILTER_BRVLAN_COMPRESSED),
    ]


def test_link_inventory_says_master_ipv4_and_owner() -> None:
    assert link_inventory(a_node()) == {
        "vlan-br": LinkInfo(None, False, "vlan"),
        "vlan-bo": LinkInfo("vlan-br", False, "vlan"),
        "eth1": LinkInfo("vlan-bo", False, None),
        "eth0": LinkInfo(None, True, None),
    }


class ScriptedSocket:
    """A netlink socket whose answers to each request are scripted: `parts(sequence)` -> the datagrams to receive."""

    def __init__(self, *answers: Callable[[int], list[bytes]]) -> None:
        self.answers, self.sent, self.waiting = list(answers), list[bytes](), list[bytes]()

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        self.waiting += self.answers.pop(0)(struct.unpack_from("=I", data, 8)[0])
        return len(data)

    def recv_into(self, buffer: bytearray) -> int:
        data = self.waiting.pop(0)
        buffer[: len(data)] = data
        return len(data)


def links_in_two_parts(sequence: int) -> list[bytes]:
    first = link_message(2, "vlan-br", 1, linkinfo("bridge", IFLA_BR_VLAN_FILTERING=1))
    second = link_message(4, "eth1", 1, ("IFLA_MASTER", 3), ("IFLA_MTU", 9000))
    stale = link_message(9, "gone", 0)  # the rest of an earlier dump, cut short
    return [wire(stale, sequence - 1) + wire(first, sequence), wire(second, sequence) + control(NLMSG_DONE, sequence)]


def test_a_dump_reads_every_part_up_to_done_and_skips_other_sequences() -> None:
    route = RouteSocket(ScriptedSocket(links_in_two_parts))  # type: ignore[arg-type]
    links = read_links(route)
    assert links == {
        "vlan-br": LinkState(2, "vlan-br", "bridge", None, 0, 0, True, None, vlan_filtering=True),
        "eth1": LinkState(4, "eth1", "", None, 9000, 0, True, None),
    }
    assert route.dumps == {(RTM_GETLINK, socket.AF_UNSPEC): 1}


def test_the_request_is_a_dump_of_the_family_with_the_ext_mask() -> None:
    sock = ScriptedSocket(lambda sequence: [control(NLMSG_DONE, sequence)])
    RouteSocket(sock).dump(RTM_GETLINK, socket.AF_BRIDGE, RTEXT_FILTER_BRVLAN_COMPRESSED)  # type: ignore[arg-type]
    request = ifinfmsg(sock.sent[0])
    request.decode()
    assert request["header"]["type"] == RTM_GETLINK
    assert request["header"]["flags"] == 0x301  # NLM_F_REQUEST | NLM_F_DUMP
    assert request["family"] == socket.AF_BRIDGE
    assert request.get("IFLA_EXT_MASK") == RTEXT_FILTER_BRVLAN_COMPRESSED


def test_an_address_dump_reads_ifaddrmsg() -> None:
    address = decoded(ifaddrmsg, {"index": 7, "family": socket.AF_INET, "prefixlen": 24}, [("IFA_ADDRESS", "10.0.0.7")])
    sock = ScriptedSocket(lambda sequence: [wire(address, sequence) + control(NLMSG_DONE, sequence)])
    assert ipv4_link_indexes(RouteSocket(sock)) == {7}  # type: ignore[arg-type]
    request = ifaddrmsg(sock.sent[0])
    request.decode()
    assert (request["header"]["type"], request["family"]) == (RTM_GETADDR, socket.AF_INET)


def test_a_dump_the_kernel_marks_inconsistent_is_made_again() -> None:
    def interrupted(sequence: int) -> list[bytes]:
        old = wire(link_message(5, "old", 0), sequence, NLM_F_MULTI | NLM_F_DUMP_INTR)
        return [old + control(NLMSG_DONE, sequence)]

    sock = ScriptedSocket(interrupted, links_in_two_parts)
    assert set(read_links(RouteSocket(sock))) == {"vlan-br", "eth1"}  # type: ignore[arg-type]
    assert len(sock.sent) == 2


def test_an_error_answer_raises_with_its_errno() -> None:
    sock = ScriptedSocket(lambda sequence: [control(NLMSG_ERROR, sequence, -errno.EOPNOTSUPP)])
    with pytest.raises(OSError) as raised:
        RouteSocket(sock).dump(RTM_GETLINK, socket.AF_UNSPEC)  # type: ignore[arg-type]
    assert raised.value.errno == errno.EOPNOTSUPP


def attribute(number: int, payload: bytes) -> bytes:
    return struct.pack("=HH", 4 + len(payload), number) + payload + b"\0" * (-len(payload) % 4)


def test_attribute_flags_are_not_part_of_the_type() -> None:
    nested = 0x8000  # NLA_F_NESTED, which newer kernels set on nests
    info = attribute(nested | 18, attribute(1, b"bond\0") + attribute(nested | 2, attribute(3, struct.pack("=I", 77))))
    body = struct.pack("=BxHiII", 0, 0, 3, 1, 0) + attribute(3, b"b0\0") + info
    msg = netlink_raw.link_message(struct.pack("=IHHII", 16 + len(body), RTM_NEWLINK, 0, 1, 0) + body, 0, RTM_NEWLINK)
    assert link_from_message(msg, {}) == LinkState(3, "b0", "bond", None, 0, 0, True, None, miimon=77)
