"""The VlanStatus a node agent writes per (cluster network, node), and its node labels.

Shaped as network-controller-harvester's agent does it (shared/reference/harvester-objects.md, "VlanStatus"):
- name `utils.Name("", cn, node)`: `<cn>-<node>`, cut to 54 characters, then `-` and the CRC-32 (IEEE) of the
  uncut `<cn>-<node>` as 8 hex digits, so at most 63 characters and distinct per pair;
- labels `network.harvesterhci.io/{vlanconfig,clusternetwork,node}` (plus our managed-by label);
- owner: the VlanConfig, when its uid is known (the API needs one; in manifest-directory mode there is none);
- `status{clusterNetwork, vlanConfig, linkMonitor, node, localAreas[{vlanID, cidr}], conditions[ready]}`:
  `linkMonitor` names the cluster network's LinkMonitor, which Harvester names like the cluster network (its agent's
  `updateStatus`; the CRD requires it); ready "True" with an empty message, or "False" with the error text. As in
  Harvester, a failed status keeps no localAreas.
Pure: the caller passes the update time.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from harvester_network.render import harvester as h

MAX_NAME = 63
CHECKSUM_DIGITS = 8
LABEL_TRUE = "true"


def vlanstatus_name(cluster_network: str, node: str) -> str:
    """`<cn>-<node>-<crc32 hex>`, at most 63 characters (Harvester's utils.Name("", cn, node))."""
    joined = f"{cluster_network}-{node}"
    checksum = f"{zlib.crc32(joined.encode()):0{CHECKSUM_DIGITS}x}"
    return f"{joined[: MAX_NAME - 1 - CHECKSUM_DIGITS]}-{checksum}"


def vlanstatus_object(
    *,
    cluster_network: str,
    node: str,
    vlan_config: str,
    ready: bool,
    message: str,
    updated_at: str,
    local_areas: Iterable[tuple[int, str]] = (),
    vlan_config_uid: str | None = None,
) -> dict[str, Any]:
    """The whole VlanStatus object. `local_areas` are (VID, CIDR or "") pairs; `updated_at` is RFC 3339."""
    metadata: dict[str, Any] = {
        "name": vlanstatus_name(cluster_network, node),
        "labels": {
            h.LABEL_VLANCONFIG: vlan_config,
            h.LABEL_CLUSTER_NETWORK: cluster_network,
            h.LABEL_NODE: node,
            h.LABEL_MANAGED_BY: h.MANAGED_BY,
        },
    }
    if vlan_config_uid:
        metadata["ownerReferences"] = [
            {"apiVersion": h.NETWORK_API, "kind": "VlanConfig", "name": vlan_config, "uid": vlan_config_uid}
        ]
    areas = sorted(set(local_areas)) if ready else []
    return {
        "apiVersion": h.NETWORK_API,
        "kind": "VlanStatus",
        "metadata": metadata,
        "status": {
            "clusterNetwork": cluster_network,
            "vlanConfig": vlan_config,
            "linkMonitor": cluster_network,
            "node": node,
            "localAreas": [{"vlanID": vid, "cidr": cidr} for vid, cidr in areas],
            "conditions": [
                {
                    "type": "ready",
                    "status": "True" if ready else "False",
                    "message": "" if ready else message,
                    "lastUpdateTime": updated_at,
                }
            ],
        },
    }


def node_labels(ready: Iterable[str], failed: Iterable[str], current: Mapping[str, str]) -> dict[str, str]:
    """The cluster-network labels a node agent applies to its node: `network.harvesterhci.io/<cn>: "true"` for each
    cluster network set up there. Harvester adds the label only after a successful setup and removes it on
    teardown; a failed setup leaves it as it was, so a failed one keeps the label the node has now. Applied with
    server-side apply, a label the agent no longer applies (a teardown) is removed, and labels it never applied
    (another controller's) are left alone.
    """
    labels = {h.node_cluster_network_label(cn): LABEL_TRUE for cn in ready}
    for cn in failed:
        key = h.node_cluster_network_label(cn)
        if key in current:
            labels[key] = current[key]
    return labels
