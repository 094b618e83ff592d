"""What cloud-init would do with our rendered networkData, inside a VM's namespace.

Parses NoCloud network data v1 or v2 as rendered (never re-derived from the plan), finds each NIC by
MAC, gives it its name, and sets static addresses and routes; DHCP NICs are handed to `dhcp.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harvester_network.lab import netns as ns


@dataclass(frozen=True)
class GuestNicConfig:
    name: str
    mac: str
    dhcp: bool
    use_routes: bool  # a DHCP NIC installs the server's default route
    addresses: tuple[str, ...] = ()
    gateway: str | None = None  # static default route


# Answer ARP only on the NIC that owns the address, as separate VM NICs on separate segments would.
GUEST_SYSCTLS = ("net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2")


class NetworkDataError(ValueError):
    """The rendered networkData is not something cloud-init would accept."""


def _v2_config(name: str, eth: dict[str, Any]) -> GuestNicConfig:
    mac = eth.get("match", {}).get("macaddress")
    if not mac:
        raise NetworkDataError(f"ethernets.{name} has no match.macaddress; NICs must be matched by MAC")
    gateway = next((r["via"] for r in eth.get("routes", []) if r.get("to") in ("default", "0.0.0.0/0")), None)
    return GuestNicConfig(
        name=eth.get("set-name", name),
        mac=mac.lower(),
        dhcp=bool(eth.get("dhcp4")),
        use_routes=bool(eth.get("dhcp4-overrides", {}).get("use-routes", True)),
        addresses=tuple(eth.get("addresses", [])),
        gateway=gateway,
    )


def _v1_config(entry: dict[str, Any]) -> GuestNicConfig:
    if entry.get("type") != "physical" or not entry.get("mac_address"):
        raise NetworkDataError(f"config entry {entry.get('name')!r} is not a physical NIC with mac_address")
    subnets = entry.get("subnets", [])
    static = [s for s in subnets if s.get("type") == "static"]
    return GuestNicConfig(
        name=entry["name"],
        mac=entry["mac_address"].lower(),
        dhcp=any(s.get("type") == "dhcp" for s in subnets),
        use_routes=True,  # v1 cannot turn DHCP routes off
        addresses=tuple(s["address"] for s in static),
        gateway=next((s["gateway"] for s in static if s.get("gateway")), None),
    )


def parse_network_data(data: dict[str, Any]) -> list[GuestNicConfig]:
    if "network" in data:
        raise NetworkDataError("networkData is wrapped in a top-level `network:` key, which cloud-init NoCloud ignores")
    if data.get("version") == 2:
        return [_v2_config(name, eth) for name, eth in data.get("ethernets", {}).items()]
    if data.get("version") == 1:
        return [_v1_config(entry) for entry in data.get("config", [])]
    raise NetworkDataError(f"networkData version {data.get('version')!r} is neither 1 nor 2")


def links_by_mac(netns: str) -> dict[str, str]:
    return {link["address"].lower(): link["ifname"] for link in ns.ip_json(netns, "link", "show") if "address" in link}


def configure_nic(current: str, nic: GuestNicConfig) -> list[tuple[str, ...]]:
    """`ip` commands: rename the NIC found by MAC, bring it up, set its static addresses and default route."""
    commands: list[tuple[str, ...]] = []
    if current != nic.name:
        commands += [("link", "set", current, "down"), ("link", "set", current, "name", nic.name)]
    commands.append(("link", "set", nic.name, "up"))
    commands += [("addr", "add", address, "dev", nic.name) for address in nic.addresses]
    if nic.gateway is not None:
        commands.append(("route", "replace", "default", "via", nic.gateway, "dev", nic.name))
    return commands
