"""What the kernel has now: the links the agent cares about and the VLANs on bridge ports, read with two dumps.

`read_kernel_state(route)` makes one RTM_GETLINK dump (every link: kind, master, MTU, queue length, admin state,
ifalias, bond mode/miimon, bridge VLAN filtering) and one AF_BRIDGE dump with compressed VLAN info (every
bridge port's VIDs as ranges). Nothing is written. `inventory_of(state.links, ipv4_link_indexes(route))` is the NIC
inventory `desired.py` checks NICs against (masters, IPv4 addresses, agent ownership), from the same link dump.

`route` is a RouteSocket: the pass's own NETLINK_ROUTE socket, beside the IPRoute in the same network namespace. Its
messages (RawMessage) decode an attribute when it is read, with the names and shapes of pyroute2's, so
`link_from_message` reads them and the link events' pyroute2 messages alike. pyroute2 decodes every attribute of
every message, about 0.25 ms a link in the lab kernel: 30 ms a pass on a node with 60 VM ports, where the pass reads
a dozen attributes of each (benchmarks/RESULTS.md, "Agent in Kubernetes mode").
"""

from __future__ import annotations

import collections
import ctypes
import fcntl
import functools
import os
import socket
import struct
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from harvester_network.agent.hoststate import OWNER_ALIAS_PREFIX
from harvester_network.agent.inputs import LinkInfo
from harvester_network.facts import BOND_MODES
from harvester_network.model import names

IFF_UP = 0x1
# include/uapi/linux/if_bridge.h
BRIDGE_VLAN_INFO_PVID = 0x2
BRIDGE_VLAN_INFO_UNTAGGED = 0x4
BRIDGE_VLAN_INFO_RANGE_BEGIN = 0x8
BRIDGE_VLAN_INFO_RANGE_END = 0x10
RTEXT_FILTER_BRVLAN_COMPRESSED = 0x4
RTEXT_FILTER_SKIP_STATS = 0x8  # the agent never reads counters, and decoding them is not free
# The link group ("hvnt") the agent gives a link in the request that creates it. The kernel takes no ifalias in
# that request, so a link the agent made but was killed before naming its owner still shows it was the agent's.
OWNER_LINK_GROUP = 0x68766E74
AGENT_LINK_SUFFIXES = (names.bridge_name(""), names.bond_name(""))


def owner_of(alias: str | None, name: str = "", group: int = 0) -> str | None:
    """The cluster network an agent-made link belongs to, None for links it did not make: from the ifalias,
    else (a link whose creation was cut short) from the name `<cn>-br`/`<cn>-bo` when it has the agent's group."""
    if alias and alias.startswith(OWNER_ALIAS_PREFIX):
        return alias[len(OWNER_ALIAS_PREFIX) :]
    unnamed_but_ours = not alias and group == OWNER_LINK_GROUP
    owners = (name.removesuffix(suffix) for suffix in AGENT_LINK_SUFFIXES if name.endswith(suffix))
    return next((owner for owner in owners if owner and unnamed_but_ours), None)


def owner_alias(cluster_network: str) -> str:
    return f"{OWNER_ALIAS_PREFIX}{cluster_network}"


@dataclass(frozen=True)
class PortVlan:
    """A VID's flags on one bridge port."""

    pvid: bool = False
    untagged: bool = False

    @property
    def tagged(self) -> bool:
        return not (self.pvid or self.untagged)


@dataclass(frozen=True)
class LinkState:
    index: int
    name: str
    kind: str  # "" for physical NICs
    master: str | None  # name of the master link, None when free
    mtu: int
    txqlen: int
    up: bool  # administratively up (IFF_UP)
    alias: str | None
    group: int = 0
    bond_mode: str | None = None  # bonds only
    miimon: int | None = None  # bonds only
    vlan_filtering: bool | None = None  # bridges only

    @property
    def owner(self) -> str | None:
        return owner_of(self.alias, self.name, self.group)


@dataclass(frozen=True)
class KernelState:
    links: Mapping[str, LinkState] = field(default_factory=dict)
    # {bridge port: {vid: flags}} for every port of every bridge (not the bridges themselves)
    port_vlans: Mapping[str, Mapping[int, PortVlan]] = field(default_factory=dict)

    def owned_by(self, cluster_network: str) -> list[LinkState]:
        return [link for link in self.links.values() if link.owner == cluster_network]

    def owners(self) -> set[str]:
        """The cluster networks that have links the agent made."""
        return {owner for owner in (link.owner for link in self.links.values()) if owner is not None}

    def ports_of(self, master: str) -> list[LinkState]:
        return [link for link in self.links.values() if link.master == master]

    def vlans(self, port: str) -> Mapping[int, PortVlan]:
        return self.port_vlans.get(port, {})


def _linkinfo(msg: Any, key: str) -> Any:
    return msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_DATA", key)


def _bond_mode_name(mode: Any) -> str | None:
    if isinstance(mode, int) and mode in range(len(BOND_MODES)):
        return BOND_MODES[mode]
    return None if mode is None else str(mode)


def link_from_message(msg: Any, names: Mapping[int, str]) -> LinkState:
    kind = msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") or ""
    master = msg.get("IFLA_MASTER")
    vlan_filtering = _linkinfo(msg, "IFLA_BR_VLAN_FILTERING") if kind == "bridge" else None
    return LinkState(
        index=msg["index"],
        name=msg.get("IFLA_IFNAME"),
        kind=kind,
        master=names.get(master) if master else None,
        mtu=msg.get("IFLA_MTU") or 0,
        txqlen=msg.get("IFLA_TXQLEN") or 0,
        up=bool(msg["flags"] & IFF_UP),
        alias=msg.get("IFLA_IFALIAS"),
        group=msg.get("IFLA_GROUP") or 0,
        bond_mode=_bond_mode_name(_linkinfo(msg, "IFLA_BOND_MODE")) if kind == "bond" else None,
        miimon=_linkinfo(msg, "IFLA_BOND_MIIMON") if kind == "bond" else None,
        vlan_filtering=None if vlan_filtering is None else bool(vlan_filtering),
    )


@functools.cache
def _port_vlan(pvid: bool, untagged: bool) -> PortVlan:
    # One object per flag pair: comparing two reads' {vid: flags} of thousands of VIDs is then identity checks.
    return PortVlan(pvid=pvid, untagged=untagged)


def vlans_from_infos(infos: Iterable[Mapping[str, int]]) -> dict[int, PortVlan]:
    """IFLA_BRIDGE_VLAN_INFO entries (single VIDs and RANGE_BEGIN/RANGE_END pairs) as {vid: flags}."""
    vids: dict[int, PortVlan] = {}
    begin: int | None = None
    for info in infos:
        flags, vid = info["flags"], info["vid"]
        if flags & BRIDGE_VLAN_INFO_RANGE_BEGIN:
            begin = vid
            continue
        first = begin if flags & BRIDGE_VLAN_INFO_RANGE_END and begin is not None else vid
        begin = None
        entry = _port_vlan(bool(flags & BRIDGE_VLAN_INFO_PVID), bool(flags & BRIDGE_VLAN_INFO_UNTAGGED))
        for each in range(first, vid + 1):
            vids[each] = entry
    return vids


def read_port_vlans(route: RouteSocket, names: Mapping[int, str]) -> dict[str, dict[int, PortVlan]]:
    """{port: {vid: flags}} for every bridge port (one AF_BRIDGE dump; bridges' own entries are left out)."""
    ports: dict[str, dict[int, PortVlan]] = {}
    for msg in route.dump(RTM_GETLINK, socket.AF_BRIDGE, RTEXT_FILTER_BRVLAN_COMPRESSED):
        if not msg.get("IFLA_MASTER") or msg.get("IFLA_MASTER") == msg["index"]:
            continue
        spec = msg.get("IFLA_AF_SPEC")
        infos = spec.get_attrs("IFLA_BRIDGE_VLAN_INFO") if spec else []
        ports[names.get(msg["index"], msg.get("IFLA_IFNAME"))] = vlans_from_infos(infos)
    return ports


def read_links(route: RouteSocket) -> dict[str, LinkState]:
    messages = route.dump(RTM_GETLINK, socket.AF_UNSPEC, RTEXT_FILTER_SKIP_STATS)
    names = {msg["index"]: msg.get("IFLA_IFNAME") for msg in messages}
    return {link.name: link for link in (link_from_message(msg, names) for msg in messages)}


def read_kernel_state(route: RouteSocket) -> KernelState:
    links = read_links(route)
    names = {link.index: name for name, link in links.items()}
    return KernelState(links=links, port_vlans=read_port_vlans(route, names))


def ipv4_link_indexes(route: RouteSocket) -> set[int]:
    """The indexes of the links that carry IPv4 addresses (one address dump)."""
    return {msg["index"] for msg in route.dump(RTM_GETADDR, socket.AF_INET)}


def inventory_of(links: Mapping[str, LinkState], with_ipv4: set[int]) -> dict[str, LinkInfo]:
    """Every link by name with its master, whether it has IPv4 addresses and its agent owner (for desired.py)."""
    return {
        name: LinkInfo(master=link.master, has_ipv4=link.index in with_ipv4, owner=link.owner)
        for name, link in links.items()
    }


def link_inventory(route: RouteSocket) -> dict[str, LinkInfo]:
    return inventory_of(read_links(route), ipv4_link_indexes(route))


# --- the pass's own netlink socket ------------------------------------------------------------------------------

# include/uapi/linux/netlink.h, rtnetlink.h, if_link.h, if_bridge.h, sockios.h, sched.h
NLMSG_HEADER = struct.Struct("=IHHII")  # length, type, flags, sequence number, port id
NLATTR = struct.Struct("=HH")  # length, type
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP, NLM_F_DUMP_INTR = 0x1, 0x300, 0x10
RTM_GETLINK, RTM_GETADDR = 18, 22
IFLA_EXT_MASK = 29
NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED and NLA_F_NET_BYTEORDER
SIOCGSKNS = 0x894C  # a socket's network namespace, as a file descriptor
CLONE_NEWNET = 0x40000000
RECV_BYTES = 1 << 16  # a dump comes in parts of at most 32 KiB (netlink_dump)
DUMP_TRIES = 3  # a dump the kernel marks inconsistent (links changed during it) is made again


def _text(data: memoryview) -> str:
    return bytes(data).split(b"\0", 1)[0].decode()


def _u32(data: memoryview) -> int:
    return int.from_bytes(data[:4], sys.byteorder)


def _u8(data: memoryview) -> int:
    return data[0]


def _vlan_info(data: memoryview) -> dict[str, int]:
    flags, vid = struct.unpack_from("=HH", data)  # struct bridge_vlan_info
    return {"flags": flags, "vid": vid}


# {name: (type, decode)} of the attributes the pass reads, per nest; IFLA_INFO_DATA's depend on the link kind.
Schema = Mapping[str, tuple[int, Callable[[memoryview], Any]]]
INFO_DATA: Mapping[str, Schema] = {
    "bond": {"IFLA_BOND_MODE": (1, _u8), "IFLA_BOND_MIIMON": (3, _u32)},
    "bridge": {"IFLA_BR_VLAN_FILTERING": (7, _u8)},
}


def _as_is(data: memoryview) -> memoryview:
    return data


def _nested(schema: Schema) -> Callable[[memoryview], RawAttrs]:
    return lambda data: RawAttrs(data, schema)


AF_SPEC: Schema = {"IFLA_BRIDGE_VLAN_INFO": (2, _vlan_info)}
LINKINFO: Schema = {"IFLA_INFO_KIND": (1, _text), "IFLA_INFO_DATA": (2, _as_is)}  # the data: _LinkInfo, by kind


class RawAttrs:
    """Netlink attributes answering `get`, `get_nested` and `get_attrs` as pyroute2's messages do, for the names
    in `schema` (others: None); each decoded when read."""

    __slots__ = ("_found", "_schema")

    def __init__(self, data: memoryview, schema: Schema) -> None:
        self._schema = schema
        wanted = {number for number, _ in schema.values()}
        found: dict[int, list[memoryview]] = {}
        offset, end = 0, len(data)
        while offset + NLATTR.size <= end:
            length, number = NLATTR.unpack_from(data, offset)
            if length < NLATTR.size:
                break
            number &= NLA_TYPE_MASK
            if number in wanted:
                found.setdefault(number, []).append(data[offset + NLATTR.size : offset + length])
            offset += (length + 3) & ~3
        self._found = found

    def get_attrs(self, name: str) -> list[Any]:
        if name not in self._schema:
            return []
        number, decode = self._schema[name]
        return [decode(data) for data in self._found.get(number, [])]

    def get(self, name: str, default: Any = None) -> Any:
        values = self.get_attrs(name)
        return values[0] if values else default

    def get_nested(self, *names: str) -> Any:
        value: Any = self
        for name in names:
            value = value.get(name) if value is not None else None
        return value


class _LinkInfo(RawAttrs):
    """IFLA_LINKINFO: the attributes in its IFLA_INFO_DATA are the link kind's."""

    __slots__ = ()

    def get_attrs(self, name: str) -> list[Any]:
        values = super().get_attrs(name)
        if name == "IFLA_INFO_DATA":
            schema = INFO_DATA.get(self.get("IFLA_INFO_KIND") or "", {})
            return [RawAttrs(data, schema) for data in values]
        return values


LINK: Schema = {
    "IFLA_IFNAME": (3, _text),
    "IFLA_MTU": (4, _u32),
    "IFLA_MASTER": (10, _u32),
    "IFLA_TXQLEN": (13, _u32),
    "IFLA_LINKINFO": (18, lambda data: _LinkInfo(data, LINKINFO)),
    "IFLA_IFALIAS": (20, _text),
    "IFLA_AF_SPEC": (26, _nested(AF_SPEC)),
    "IFLA_GROUP": (27, _u32),
}


class Layout(NamedTuple):
    """A message's fixed part (its fields, by name) and the attributes read after it."""

    fixed: struct.Struct
    fields: tuple[str, ...]
    schema: Schema


IFINFOMSG = Layout(struct.Struct("=BxHiII"), ("family", "type", "index", "flags", "change"), LINK)
IFADDRMSG = Layout(struct.Struct("=BBBBI"), ("family", "prefixlen", "flags", "scope", "index"), {})
LAYOUTS = {RTM_GETLINK: IFINFOMSG, RTM_GETADDR: IFADDRMSG}


class RawMessage(RawAttrs):
    """An ifinfomsg (or ifaddrmsg) with its attributes: `msg["index"]`, `msg["flags"]`, `msg["family"]`."""

    __slots__ = ("_header",)

    def __init__(self, data: memoryview, layout: Layout = IFINFOMSG) -> None:
        self._header = dict(zip(layout.fields, layout.fixed.unpack_from(data), strict=True))
        super().__init__(data[layout.fixed.size :], layout.schema)

    def __getitem__(self, field: str) -> int:
        return self._header[field]


class RouteSocket:
    """Dumps on a NETLINK_ROUTE socket (`beside(ipr)`: one of the pass's own, in the network namespace of the
    IPRoute the agent writes with). `dumps` counts them by (request, family)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sequence = 0
        self.dumps: collections.Counter[tuple[int, int]] = collections.Counter()
        self._buffer = bytearray(RECV_BYTES)

    @classmethod
    def beside(cls, ipr: Any) -> RouteSocket:
        return cls(_socket_beside(ipr.fileno()))

    def close(self) -> None:
        self.sock.close()

    def dump(self, request: int, family: int, ext_mask: int = 0) -> list[RawMessage]:
        """Every message of one dump (made again while the kernel marks it inconsistent, up to DUMP_TRIES)."""
        self.dumps[(request, family)] += 1
        for _ in range(DUMP_TRIES):
            messages, consistent = self._dump_once(request, family, ext_mask)
            if consistent:
                break
        return messages

    def _dump_once(self, request: int, family: int, ext_mask: int) -> tuple[list[RawMessage], bool]:
        self.sequence = self.sequence % 0xFFFFFFFF + 1
        layout = LAYOUTS[request]
        body = layout.fixed.pack(family, 0, 0, 0, 0)
        if ext_mask:
            body += NLATTR.pack(8, IFLA_EXT_MASK) + struct.pack("=I", ext_mask)
        header = NLMSG_HEADER.pack(NLMSG_HEADER.size + len(body), request, NLM_F_REQUEST | NLM_F_DUMP, self.sequence, 0)
        self.sock.send(header + body)
        messages: list[RawMessage] = []
        consistent = True
        while True:
            received = self.sock.recv_into(self._buffer)
            data = memoryview(bytes(self._buffer[:received]))
            offset = 0
            while offset + NLMSG_HEADER.size <= received:
                length, kind, flags, sequence, _ = NLMSG_HEADER.unpack_from(data, offset)
                payload = data[offset + NLMSG_HEADER.size : offset + length]
                offset += (max(length, NLMSG_HEADER.size) + 3) & ~3
                if sequence != self.sequence:
                    continue  # the rest of a dump an exception cut short
                consistent &= not flags & NLM_F_DUMP_INTR
                if kind == NLMSG_DONE:
                    return messages, consistent
                if kind == NLMSG_ERROR:
                    error = -struct.unpack_from("=i", payload)[0]
                    raise OSError(error, f"netlink dump {request}: {os.strerror(error)}")
                messages.append(RawMessage(payload, layout))


def _socket_beside(fileno: int) -> socket.socket:
    """A NETLINK_ROUTE socket in the network namespace of the socket `fileno` (made on a short thread that enters
    that namespace, when it is not this thread's)."""
    namespace = fcntl.ioctl(fileno, SIOCGSKNS)
    try:
        if os.fstat(namespace).st_ino == os.stat("/proc/thread-self/ns/net").st_ino:
            return _route_socket()
        made: list[socket.socket | BaseException] = []

        def make() -> None:
            try:
                if ctypes.CDLL(None, use_errno=True).setns(namespace, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
                made.append(_route_socket())
            except BaseException as error:  # handed to the caller
                made.append(error)

        maker = threading.Thread(target=make, name="netns-socket")
        maker.start()
        maker.join()
        if isinstance(made[0], BaseException):
            raise made[0]
        return made[0]
    finally:
        os.close(namespace)


def _route_socket() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.bind((0, 0))
    return sock
