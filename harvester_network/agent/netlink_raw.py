"""Route netlink on a plain socket for the pruner's thread (agent/pruner.py): send and receive calls that keep the
GIL, and the few message layouts that thread reads and writes (linux/netlink.h, rtnetlink.h, if_link.h,
if_bridge.h).

    sock = NetlinkSocket(groups=RTMGRP_LINK)   # or 0: requests only
    data = sock.receive_now()                   # None when nothing is queued
    for link in links(data, (RTM_NEWLINK,)): ...  # LinkMessage: kind, family, ifindex, attributes (undecoded)
    error = sock.request(RTM_DELLINK, bridge_vlan_request(AF_BRIDGE, index, vid))   # 0 or an errno

Why keep the GIL: a syscall made through Python's socket module releases it, and while the agent's main thread
computes (a pass, a status publish) the pruner's thread then waits up to Python's switch interval (5 ms) to get
it back, once per syscall. These calls never wait (MSG_DONTWAIT; the kernel answers a route request within the
send), so the other threads lose microseconds.

The pass's dumps (agent/netlink_read.py) come last: RouteSocket, a socket of the pass's own, whose messages decode
only the attributes read.
"""

from __future__ import annotations

import collections
import ctypes
import errno
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any, NamedTuple

# Message types and flags: pyroute2's (the agent imports it anyway); the attribute types below it keeps only in
# its message classes.
from pyroute2.netlink import NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR
from pyroute2.netlink.rtnl import RTM_GETADDR, RTM_GETLINK, RTM_NEWLINK

NLA_TYPE_MASK = 0x3FFF  # an attribute's type without NLA_F_NESTED and NLA_F_NET_BYTEORDER
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_MASTER = 10
IFLA_TXQLEN = 13
IFLA_LINKINFO = 18
IFLA_IFALIAS = 20
IFLA_AF_SPEC = 26
IFLA_GROUP = 27
IFLA_INFO_KIND = 1  # in IFLA_LINKINFO
IFLA_INFO_DATA = 2  # in IFLA_LINKINFO; its attributes depend on the kind:
IFLA_BOND_MODE = 1
IFLA_BOND_MIIMON = 3
IFLA_BR_VLAN_FILTERING = 7
IFLA_BRIDGE_VLAN_INFO = 2  # in IFLA_AF_SPEC of an AF_BRIDGE message

HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, device type, index, flags, change mask
ATTRIBUTE = struct.Struct("=HH")  # nlattr: length, type
VLAN_INFO = struct.Struct("=HH")  # bridge_vlan_info: flags, vid
U32 = struct.Struct("=I")
ERROR = struct.Struct("=i")  # nlmsgerr starts with the (negative) errno, 0 for an ack

# PyDLL, not CDLL: ctypes keeps the GIL during the call.
_LIBC = ctypes.PyDLL(None, use_errno=True)
_recv = _LIBC.recv
_recv.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_recv.restype = ctypes.c_ssize_t
_send = _LIBC.send
_send.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int)
_send.restype = ctypes.c_ssize_t


def align(length: int) -> int:
    return (length + 3) & ~3


def attribute(kind: int, payload: bytes) -> bytes:
    return ATTRIBUTE.pack(ATTRIBUTE.size + len(payload), kind) + payload.ljust(align(len(payload)), b"\0")


def attributes(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(type, payload start, payload end) of each attribute in data[start:end]."""
    while start + ATTRIBUTE.size <= end:
        length, kind = ATTRIBUTE.unpack_from(data, start)
        if length < ATTRIBUTE.size:
            return
        yield kind & NLA_TYPE_MASK, start + ATTRIBUTE.size, start + length
        start += align(length)


def bridge_vlan_request(family: int, index: int, vid: int, flags: int = 0) -> bytes:
    """The body of an RTM_SETLINK/RTM_DELLINK request for one VID on bridge port `index` (`bridge vlan add/del`;
    `flags`: BRIDGE_VLAN_INFO_*, e.g. PVID)."""
    vlan_info = attribute(IFLA_BRIDGE_VLAN_INFO, VLAN_INFO.pack(flags, vid))
    return IFINFO.pack(family, 0, index, 0, 0) + attribute(IFLA_AF_SPEC, vlan_info)


class LinkMessage(NamedTuple):
    """One RTM_NEWLINK/RTM_DELLINK message, its attributes as {type: (payload start, end)} in `data`."""

    kind: int
    family: int
    ifindex: int
    flags: int  # IFF_*
    data: bytes
    found: dict[int, tuple[int, int]]

    def payload(self, kind: int, nested_in: tuple[int, ...] = ()) -> bytes | None:
        """An attribute's payload, undecoded (None if absent); `nested_in`: the types of the attributes around it."""
        found = self.found
        for outer in nested_in:
            where = found.get(outer)
            if where is None:
                return None
            found = {a: (s, e) for a, s, e in attributes(self.data, *where)}
        where = found.get(kind)
        return None if where is None else self.data[where[0] : where[1]]

    def text(self, kind: int, nested_in: tuple[int, ...] = ()) -> str | None:
        payload = self.payload(kind, nested_in)
        return None if payload is None else payload.split(b"\0", 1)[0].decode()

    def u32(self, kind: int) -> int | None:
        where = self.found.get(kind)
        return None if where is None else int(U32.unpack_from(self.data, where[0])[0])

    def vlan_infos(self) -> list[dict[str, int]] | None:
        """The IFLA_BRIDGE_VLAN_INFO entries of IFLA_AF_SPEC (None without IFLA_AF_SPEC)."""
        where = self.found.get(IFLA_AF_SPEC)
        if where is None:
            return None
        return [
            dict(zip(("flags", "vid"), VLAN_INFO.unpack_from(self.data, start), strict=True))
            for kind, start, _ in attributes(self.data, *where)
            if kind == IFLA_BRIDGE_VLAN_INFO
        ]


def links(data: bytes, kinds: tuple[int, ...]) -> Iterator[LinkMessage]:
    """The link messages of types `kinds` in one received buffer (others are skipped)."""
    start = 0
    while start + HEADER.size <= len(data):
        length, kind = HEADER.unpack_from(data, start)[:2]
        if length < HEADER.size:
            return
        if kind in kinds:
            yield link_message(data, start, kind)
        start += align(length)


def link_message(data: bytes, start: int, kind: int) -> LinkMessage:
    """The link message whose netlink header starts at data[start]."""
    end = start + HEADER.unpack_from(data, start)[0]
    family, _, ifindex, flags, _ = IFINFO.unpack_from(data, start + HEADER.size)
    found = {a: (s, e) for a, s, e in attributes(data, start + HEADER.size + IFINFO.size, end)}
    return LinkMessage(kind, family, ifindex, flags, data, found)


class NetlinkSocket:
    """A NETLINK_ROUTE socket, bound to multicast `groups`, queueing up to `queue_size` bytes; its calls keep the
    GIL (module docstring)."""

    # One datagram at most (the kernel sends one message per notification; an AF_BRIDGE one lists VLANs as ranges).
    DATAGRAM_SIZE = 1 << 16

    def __init__(self, groups: int = 0, queue_size: int = 1 << 16) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, queue_size)
        self.sock.bind((0, groups))
        self._buffer = ctypes.create_string_buffer(self.DATAGRAM_SIZE)
        self._sequence = 0

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def receive_now(self) -> bytes | None:
        """The next queued datagram, None if none is; raises OSError (ENOBUFS: the kernel dropped some; EMSGSIZE:
        one did not fit the buffer and was cut)."""
        flags = socket.MSG_DONTWAIT | socket.MSG_TRUNC  # MSG_TRUNC: the datagram's whole length is returned
        received = _recv(self.sock.fileno(), self._buffer, len(self._buffer), flags)
        if received < 0:
            code = ctypes.get_errno()
            if code in (errno.EAGAIN, errno.EWOULDBLOCK):
                return None
            raise OSError(code, os.strerror(code))
        if received > len(self._buffer):
            raise OSError(errno.EMSGSIZE, f"a {received}-byte netlink message was cut to {len(self._buffer)}")
        return ctypes.string_at(self._buffer, received)

    def request(self, kind: int, body: bytes) -> int:
        """Send one request asking for an ack; the kernel's answer: 0, or the errno it failed with."""
        self._sequence += 1
        message = HEADER.pack(HEADER.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK, self._sequence, 0) + body
        if _send(self.sock.fileno(), message, len(message), 0) < 0:
            return ctypes.get_errno()
        while True:
            data = self.receive_now()
            if data is None:  # not answered within the send: wait for it (releasing the GIL)
                data = self.sock.recv(len(self._buffer))
            start = 0
            while start + HEADER.size <= len(data):
                length, answer, _, sequence, _ = HEADER.unpack_from(data, start)
                if answer == NLMSG_ERROR and sequence == self._sequence:
                    return -int(ERROR.unpack_from(data, start + HEADER.size)[0])
                start += align(max(length, HEADER.size))


# --- the pass's dumps (agent/netlink_read.py): RouteSocket ------------------------------------------------------
# Dumps of links, bridge ports and addresses on a socket of the pass's own, read as LinkMessages (attributes found,
# not decoded: pyroute2 decodes them all, netlink_read.py says what that costs).

IFLA_EXT_MASK = 29
IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefix length, flags, scope, index
SIOCGSKNS = 0x894C  # a socket's network namespace, as a file descriptor
CLONE_NEWNET = 0x40000000
RECV_BYTES = 1 << 16  # a dump comes in parts of at most 32 KiB (netlink_dump)
DUMP_TRIES = 3  # a dump the kernel marks inconsistent (links changed during it) is made again


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

    def links(self, family: int, ext_mask: int) -> list[LinkMessage]:
        """Every link (AF_UNSPEC) or bridge port (AF_BRIDGE) in one RTM_GETLINK dump."""
        return [link_message(data, start, RTM_NEWLINK) for data, start in self.dump(RTM_GETLINK, family, ext_mask)]

    def address_indexes(self, family: int) -> set[int]:
        """The indexes of the links that have addresses of `family` (one RTM_GETADDR dump)."""
        return {IFADDR.unpack_from(data, start + HEADER.size)[4] for data, start in self.dump(RTM_GETADDR, family)}

    def dump(self, request: int, family: int, ext_mask: int = 0) -> list[tuple[bytes, int]]:
        """(buffer, start) of every message of one dump (made again while the kernel marks it inconsistent, up to
        DUMP_TRIES)."""
        self.dumps[(request, family)] += 1
        for _ in range(DUMP_TRIES):
            messages, consistent = self._dump_once(request, family, ext_mask)
            if consistent:
                break
        return messages

    def _dump_once(self, request: int, family: int, ext_mask: int) -> tuple[list[tuple[bytes, int]], bool]:
        self.sequence = self.sequence % 0xFFFFFFFF + 1
        body = (IFINFO if request == RTM_GETLINK else IFADDR).pack(family, 0, 0, 0, 0)
        if ext_mask:
            body += attribute(IFLA_EXT_MASK, U32.pack(ext_mask))
        header = HEADER.pack(HEADER.size + len(body), request, NLM_F_REQUEST | NLM_F_DUMP, self.sequence, 0)
        self.sock.send(header + body)
        messages: list[tuple[bytes, int]] = []
        consistent = True
        while True:
            received = self.sock.recv_into(self._buffer)
            data = bytes(memoryview(self._buffer)[:received])
            offset = 0
            while offset + HEADER.size <= received:
                length, kind, flags, sequence, _ = HEADER.unpack_from(data, offset)
                start, offset = offset, offset + align(max(length, HEADER.size))
                if sequence != self.sequence:
                    continue  # the rest of a dump an exception cut short
                consistent &= not flags & NLM_F_DUMP_INTR
                if kind == NLMSG_DONE:
                    return messages, consistent
                if kind == NLMSG_ERROR:
                    error = -int(ERROR.unpack_from(data, start + HEADER.size)[0])
                    raise OSError(error, f"netlink dump {request}: {os.strerror(error)}")
                messages.append((data, start))


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
