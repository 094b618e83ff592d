"""ClusterNetwork and VlanConfig objects for one cluster network.

How "a default uplink plus per-node overrides" becomes VlanConfigs a real Harvester accepts:
a VlanConfig's nodeSelector is a plain label map and Harvester rejects two VlanConfigs of one
cluster network matching the same node, so a default VlanConfig cannot also cover "every node
except the overridden ones". Therefore:
- with `nodes` listed: one VlanConfig per node, `<cn>-<node>`, selecting `kubernetes.io/hostname`,
  carrying the node's override or the default. Changing the default updates every non-overridden
  node (v0.3 only copied it into new nodes), and adding an override never deletes a shared object
  (which would tear the bridge down on every node);
- without `nodes` (overrides are then rejected by validation): one VlanConfig `<cn>` with an empty
  nodeSelector, matching every node, including nodes that join later.
"""

from __future__ import annotations

from typing import Any

from harvester_network.model import names
from harvester_network.model.plan import ClusterNetwork, Uplink
from harvester_network.render import harvester as h


def cluster_network_object(cn: ClusterNetwork) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": cn.name, "labels": {h.LABEL_MANAGED_BY: h.MANAGED_BY}}
    if cn.description:
        metadata["annotations"] = {h.ANNOTATION_DESCRIPTION: cn.description}
    return {"apiVersion": h.NETWORK_API, "kind": "ClusterNetwork", "metadata": metadata}


def vlanconfig_object(cn: ClusterNetwork, node: str | None) -> dict[str, Any]:
    uplink: Uplink = cn.uplink if node is None else cn.uplink_for(node)
    return {
        "apiVersion": h.NETWORK_API,
        "kind": "VlanConfig",
        "metadata": {
            "name": names.vlanconfig_name(cn.name, node),
            "labels": {h.LABEL_CLUSTER_NETWORK: cn.name, h.LABEL_MANAGED_BY: h.MANAGED_BY},
        },
        "spec": {
            "clusterNetwork": cn.name,
            "description": cn.description,
            "nodeSelector": {} if node is None else {names.HOSTNAME_LABEL: node},
            "uplink": {
                "nics": list(uplink.nics),
                "linkAttributes": {"mtu": uplink.mtu, "txQLen": uplink.tx_q_len},
                "bondOptions": {"mode": uplink.bond_mode, "miimon": uplink.bond_miimon},
            },
        },
    }


def cluster_network_objects(cn: ClusterNetwork, nodes: list[str] | None) -> list[dict[str, Any]]:
    """The ClusterNetwork followed by its VlanConfigs (see the module docstring)."""
    vlanconfigs = (
        [vlanconfig_object(cn, node) for node in nodes] if nodes is not None else [vlanconfig_object(cn, None)]
    )
    return [cluster_network_object(cn), *vlanconfigs]
