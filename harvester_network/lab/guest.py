"""What the real cloud-init makes of a VM's rendered network data, applied inside the VM's namespace.

`cloud-init devel net-convert` (Debian's cloud-init, from `make system-deps`) renders the network data as it
would in a guest, for systemd-networkd; each .network file is one NIC: MAC, name, addresses, static routes,
DNS and whether DHCP may install routes. We apply those with iproute2; DHCP NICs are handed to `dhcp.py`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harvester_network.lab import netns as ns
from harvester_network.render.vm import ANY_IPV4

CLOUD_INIT = "cloud-init"
NETWORKD_DIR = "etc/systemd/network"


@dataclass(frozen=True)
class GuestNicConfig:
    name: str
    mac: str
    dhcp: bool
    use_routes: bool  # a DHCP NIC installs the server's default route
    addresses: tuple[str, ...] = ()
    gateway: str | None = None  # static default route
    dns: tuple[str, ...] = ()
    use_dns: bool = True  # a DHCP NIC takes the server's nameservers


# Answer ARP only on the NIC that owns the address, as separate VM NICs on separate segments would.
GUEST_SYSCTLS = ("net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2")


class NetworkDataError(ns.LabError, ValueError):
    """The rendered networkData is not something cloud-init would accept (or cloud-init is missing)."""


def cloud_init_network_config(data: dict[str, Any], distro: str = "debian") -> list[GuestNicConfig]:
    """Each NIC as cloud-init configures it from NoCloud network data `data`, by its networkd output."""
    if "network" in data:
        raise NetworkDataError("networkData is wrapped in a top-level `network:` key, which cloud-init NoCloud ignores")
    if data.get("version") not in (1, 2):
        raise NetworkDataError(f"networkData version {data.get('version')!r} is neither 1 nor 2")
    with tempfile.TemporaryDirectory(prefix="hvnet-guest-") as tmp:
        return read_networkd(net_convert(data, Path(tmp), "networkd", distro))


def net_convert(data: dict[str, Any], workdir: Path, output: str, distro: str = "debian") -> Path:
    """Run `cloud-init devel net-convert` on `data` into `workdir`; the directory its `output` renderer wrote."""
    if shutil.which(CLOUD_INIT) is None:
        raise NetworkDataError("cloud-init is not installed; run `make system-deps`")
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "network-data.yaml"
    source.write_text(yaml.safe_dump(data, sort_keys=False))
    target = workdir / output
    command = [CLOUD_INIT, "devel", "net-convert", "-p", str(source), "-k", "yaml", "-d", str(target)]
    result = subprocess.run([*command, "-D", distro, "-O", output], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise NetworkDataError(f"cloud-init cannot render this network data for {output}: {last}")
    return target / NETWORKD_DIR if output == "networkd" else target


def read_unit(path: Path) -> list[tuple[str, dict[str, list[str]]]]:
    """A systemd unit file as (section, key -> values) in file order; sections such as [Route] may repeat."""
    sections: list[tuple[str, dict[str, list[str]]]] = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append((line[1:-1], {}))
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            sections[-1][1].setdefault(key.strip(), []).append(value.strip())
    return sections


def read_networkd(directory: Path) -> list[GuestNicConfig]:
    """The NICs of the systemd-networkd .network files in `directory` (as cloud-init or netplan write them)."""
    return [_nic(path.name, read_unit(path)) for path in sorted(directory.glob("*.network"))]


def _values(sections: list[tuple[str, dict[str, list[str]]]], section: str, key: str) -> list[str]:
    return [value for name, entries in sections if name == section for value in entries.get(key, [])]


_DHCP_USE = ("UseRoutes", "UseDNS")


def _is_off(values: list[str]) -> bool:
    return any(value.lower() in ("false", "no", "0") for value in values)


def _nic(file_name: str, sections: list[tuple[str, dict[str, list[str]]]]) -> GuestNicConfig:
    macs = _values(sections, "Match", "MACAddress") + _values(sections, "Match", "PermanentMACAddress")
    if not macs:
        raise NetworkDataError(f"{file_name} matches no MAC address; NICs must be matched by MAC")
    # A default route: a [Route] to anywhere, or Gateway= in [Network] (netplan's rendering of gateway4).
    gateways = _values(sections, "Network", "Gateway") + [
        gateway
        for name, entries in sections
        if name == "Route" and entries.get("Destination", [ANY_IPV4])[0] == ANY_IPV4
        for gateway in entries.get("Gateway", [])
    ]
    # cloud-init writes [DHCPv4], netplan [DHCP]; cloud-init [Address] sections, netplan Address= in [Network].
    use_routes, use_dns = (_values(sections, "DHCPv4", key) + _values(sections, "DHCP", key) for key in _DHCP_USE)
    dhcp = any(value in ("ipv4", "yes", "true") for value in _values(sections, "Network", "DHCP"))
    return GuestNicConfig(
        name=(_values(sections, "Match", "Name") or [file_name])[0],
        mac=macs[0].lower(),
        dhcp=dhcp,
        use_routes=not _is_off(use_routes),
        addresses=tuple(_values(sections, "Address", "Address") + _values(sections, "Network", "Address")),
        gateway=gateways[0] if gateways else None,
        dns=tuple(server for line in _values(sections, "Network", "DNS") for server in line.split()),
        use_dns=not _is_off(use_dns),
    )


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
