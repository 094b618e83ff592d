"""The guest side's real consumers, run on rendered objects: Debian's cloud-init and netplan, KubeVirt's OpenAPI.

Each tool must be installed (`make system-deps`): a missing one fails under CI and skips (saying why) elsewhere.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from harvester_network.lab.guest import GuestNicConfig, net_convert, read_networkd
from tests.upstream import upstream_json


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (make system-deps installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@dataclass(frozen=True)
class CloudInitData:
    user_data: str
    network_data: dict[str, Any]


def cloud_init_data(vm: dict[str, Any], objects: dict[str, dict[str, Any]]) -> CloudInitData:
    """The VM's cloud-init data, read the way KubeVirt does: from the Secrets its cloudInitNoCloud volume names."""
    (source,) = [v["cloudInitNoCloud"] for v in vm["spec"]["template"]["spec"]["volumes"] if "cloudInitNoCloud" in v]
    namespace = vm["metadata"]["namespace"]

    def key_of(ref: str, key: str) -> str:
        secret = objects[f"Secret/{namespace}/{source[ref]['name']}"]
        return base64.b64decode(secret["data"][key]).decode()

    return CloudInitData(key_of("secretRef", "userdata"), yaml.safe_load(key_of("networkDataSecretRef", "networkdata")))


def cloud_init_schema(user_data: str, workdir: Path) -> str:
    """`cloud-init schema --config-file`: fails the test on an invalid cloud-config; its output otherwise."""
    path = workdir / "user-data"
    path.write_text(user_data)
    return run([require("cloud-init"), "schema", "--config-file", str(path)]).stdout


def networkd_from_cloud_init(network_data: dict[str, Any], workdir: Path) -> list[GuestNicConfig]:
    require("cloud-init")
    return read_networkd(net_convert(network_data, workdir / "networkd-out", "networkd"))


def networkd_from_netplan(network_data: dict[str, Any], workdir: Path) -> list[GuestNicConfig]:
    """cloud-init renders netplan YAML; `netplan generate --root-dir` turns it into what networkd reads."""
    require("cloud-init")
    rendered = net_convert(network_data, workdir / "netplan-out", "netplan")
    root = workdir / "netplan-root"
    (root / "etc").mkdir(parents=True)
    shutil.copytree(rendered / "etc" / "netplan", root / "etc" / "netplan")
    for path in (root / "etc" / "netplan").iterdir():
        path.chmod(0o600)
    run([require("netplan"), "generate", "--root-dir", str(root)])
    return read_networkd(root / "run" / "systemd" / "network")


@dataclass
class EniInterface:
    name: str
    method: str  # static, dhcp, manual
    addresses: list[str] = field(default_factory=list)
    default_gateways: list[str] = field(default_factory=list)  # `gateway` and `post-up route add default gw`
    dns: list[str] = field(default_factory=list)


def eni_from_cloud_init(network_data: dict[str, Any], workdir: Path) -> tuple[list[EniInterface], dict[str, str]]:
    """cloud-init's eni output: the stanzas of /etc/network/interfaces.d/50-cloud-init, and MAC -> name of its
    udev rules (eni itself names NICs, it does not match them)."""
    require("cloud-init")
    out = net_convert(network_data, workdir / "eni-out", "eni")
    interfaces: list[EniInterface] = []
    for line in (out / "etc/network/interfaces.d/50-cloud-init").read_text().splitlines():
        words = line.split()
        if words[:1] == ["iface"]:
            interfaces.append(EniInterface(words[1], words[3]))
        elif interfaces and words:
            current = interfaces[-1]
            if words[0] == "address":
                current.addresses.append(words[1])
            elif words[0] == "gateway":
                current.default_gateways.append(words[1])
            elif words[:4] == ["post-up", "route", "add", "default"]:
                current.default_gateways.append(words[5])
            elif words[0] == "dns-nameservers":
                current.dns += words[1:]
    rules = (out / "etc/udev/rules.d/70-persistent-net.rules").read_text()
    names = dict(re.findall(r'ATTR\{address\}=="([0-9a-f:]+)", NAME="([^"]+)"', rules))
    return interfaces, names


def sysconfig_from_cloud_init(network_data: dict[str, Any], workdir: Path) -> list[GuestNicConfig]:
    """cloud-init's RHEL-family output (-D rhel, sysconfig): each ifcfg file as a NIC, with resolv.conf's
    nameservers. 22.4 ignores `use-routes: false`: it stops DHCP default routes only where a static default
    route exists (DHCLIENT_SET_DEFAULT_ROUTE=no)."""
    require("cloud-init")
    out = net_convert(network_data, workdir / "sysconfig-out", "sysconfig", distro="rhel")
    resolv = out / "etc/resolv.conf"
    nameservers = tuple(re.findall(r"^nameserver (\S+)", resolv.read_text(), re.M)) if resolv.exists() else ()
    nics = []
    for path in sorted((out / "etc/sysconfig/network-scripts").glob("ifcfg-*")):
        cfg = dict(re.findall(r'^(\w+)="?([^"\n]*)"?$', path.read_text(), re.M))
        prefix = ipaddress.IPv4Network(f"0.0.0.0/{cfg.get('NETMASK', '0.0.0.0')}").prefixlen
        nics.append(
            GuestNicConfig(
                name=cfg["DEVICE"],
                mac=cfg["HWADDR"].lower(),
                dhcp=cfg["BOOTPROTO"] == "dhcp",
                use_routes=cfg.get("DHCLIENT_SET_DEFAULT_ROUTE") != "no",
                addresses=(f"{cfg['IPADDR']}/{prefix}",) if "IPADDR" in cfg else (),
                gateway=cfg.get("GATEWAY") if cfg.get("DEFROUTE") != "no" else None,
                dns=nameservers,
            )
        )
    return nics


# --- KubeVirt's OpenAPI (swagger 2.0 definitions), as the API server checks a VirtualMachine it is sent -------


def kubevirt_schema_errors(obj: dict[str, Any]) -> list[str]:
    """Unknown fields, wrong types, missing required fields and bad enum values of `obj`, a kubevirt.io/v1
    object, against KubeVirt's swagger.json."""
    definitions = upstream_json("kubevirt/swagger.json")["definitions"]
    return _errors(obj, {"$ref": f"#/definitions/v1.{obj['kind']}"}, definitions, obj["kind"])


_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


def _errors(value: Any, schema: dict[str, Any], definitions: dict[str, Any], path: str) -> list[str]:
    while "$ref" in schema:
        schema = definitions[schema["$ref"].removeprefix("#/definitions/")]
    types = schema.get("type")
    allowed = [types] if isinstance(types, str) else types or []
    if allowed and not any(
        isinstance(value, _TYPES[t]) and not (isinstance(value, bool) and t != "boolean") for t in allowed
    ):
        return [f"{path}: {value!r} is not of type {types}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} is not one of {schema['enum']}"]
    errors: list[str] = []
    if isinstance(value, dict) and (schema.get("properties") or "additionalProperties" in schema):
        properties = schema.get("properties", {})
        errors += [f"{path}.{key}: required" for key in schema.get("required", []) if key not in value]
        for key, item in value.items():
            sub = properties.get(key, schema.get("additionalProperties"))
            if not isinstance(sub, dict):
                errors.append(f"{path}.{key}: unknown field")
            else:
                errors += _errors(item, sub, definitions, f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            errors += _errors(item, schema["items"], definitions, f"{path}[{index}]")
    return errors
