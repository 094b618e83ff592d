"""Attach a namespace to a node bridge with the real bridge CNI plugin, exactly as Multus would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harvester_network.lab import netns as ns

CNI_PATH = Path("/usr/lib/cni")
BRIDGE_PLUGIN = CNI_PATH / "bridge"


def cni_add(node_ns: str, target_ns: str, container_id: str, ifname: str, config: str) -> dict[str, Any]:
    """CNI ADD of `config` (a NAD's spec.config) run in the node's namespace, where the bridge lives.

    Returns the plugin's result JSON; its host-side veth becomes a bridge port with the NAD's VLAN as PVID.
    """
    if not BRIDGE_PLUGIN.exists():
        raise ns.LabError(f"{BRIDGE_PLUGIN} is missing; install Debian's containernetworking-plugins")
    env = {
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": container_id,
        "CNI_NETNS": str(ns.NETNS_DIR / target_ns),
        "CNI_IFNAME": ifname,
        "CNI_PATH": str(CNI_PATH),
    }
    try:
        out = ns.run([str(BRIDGE_PLUGIN)], netns=node_ns, stdin=config, env=env)
    except ns.LabError as exc:
        raise ns.LabError(f"bridge CNI plugin could not attach {target_ns}/{ifname} on {node_ns}: {exc}") from None
    result: dict[str, Any] = json.loads(out)
    return result


def host_veth(result: dict[str, Any], config: str) -> str | None:
    """The bridge-side veth of the attachment: the CNI result's interface that is neither in the sandbox
    nor the bridge itself."""
    bridge = json.loads(config)["bridge"]
    return next((i["name"] for i in result.get("interfaces", []) if "sandbox" not in i and i["name"] != bridge), None)
