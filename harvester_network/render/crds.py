"""CustomResourceDefinitions of the kinds hvnet writes, for clusters that do not run Harvester.

The schemas follow Harvester's own CRDs (network-controller-harvester manifests/crds, vm-dhcp-controller
chart/crds) and Multus' NetworkAttachmentDefinition CRD, field for field. Where we differ, and why:
- VlanConfig `linkAttributes.mtu` also has `maximum: 9000`: Harvester's webhook rejects larger MTUs, and a
  cluster without Harvester has no webhook, so the schema is the only guard left.
- VlanStatus has a status subresource (Harvester's has none) and so no top-level `required: [status]`:
  a create through a status subresource drops `status`, and the requirement could never be met.
- ClusterNetwork has a status subresource too, so the node agent's role can write its `ready` condition
  (`clusternetworks/status`) without being allowed to change the object itself.
Pure: plain dicts, no I/O.
"""

from __future__ import annotations

from typing import Any

from harvester_network.facts import BOND_MODES, DEFAULT_BOND_MODE, MAX_MTU
from harvester_network.render import harvester as h

# Harvester accepts 0 (its default MTU) or 576..9000; a schema without CEL can only bound the range.


def _string() -> dict[str, Any]:
    return {"type": "string"}


def _integer() -> dict[str, Any]:
    return {"type": "integer"}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _conditions() -> dict[str, Any]:
    """wrangler's genericcondition.GenericCondition, as Harvester's CRDs list it."""
    names = ("lastTransitionTime", "lastUpdateTime", "message", "reason", "status", "type")
    return {"type": "array", "items": _object({name: _string() for name in names}, ["status", "type"])}


def _root(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return _object({"apiVersion": _string(), "kind": _string(), "metadata": {"type": "object"}, **properties}, required)


def _crd(
    *,
    group: str,
    version: str,
    kind: str,
    plural: str,
    singular: str,
    scope: str,
    schema: dict[str, Any],
    short_names: list[str],
    status_subresource: bool,
    columns: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    served: dict[str, Any] = {
        "name": version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
        "subresources": {"status": {}} if status_subresource else {},
    }
    if columns:
        served["additionalPrinterColumns"] = [
            *columns,
            {"jsonPath": ".metadata.creationTimestamp", "name": "AGE", "type": "date"},
        ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}", "labels": {h.LABEL_MANAGED_BY: h.MANAGED_BY}},
        "spec": {
            "group": group,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": singular,
                "shortNames": short_names,
            },
            "scope": scope,
            "versions": [served],
        },
    }


def cluster_network_crd() -> dict[str, Any]:
    group, version = h.NETWORK_API.split("/")
    schema = _root({"status": _object({"conditions": _conditions()})})
    return _crd(
        group=group,
        version=version,
        kind="ClusterNetwork",
        plural="clusternetworks",
        singular="clusternetwork",
        scope="Cluster",
        schema=schema,
        short_names=["cn", "cns"],
        status_subresource=True,
    )


def vlan_config_crd() -> dict[str, Any]:
    group, version = h.NETWORK_API.split("/")
    uplink = _object(
        {
            "bondOptions": _object(
                {
                    "miimon": {"type": "integer", "default": -1, "minimum": -1},
                    "mode": {"type": "string", "default": DEFAULT_BOND_MODE, "enum": list(BOND_MODES)},
                }
            ),
            "linkAttributes": _object(
                {
                    "hardwareAddr": {"type": "string", "format": "byte"},
                    "mtu": {"type": "integer", "minimum": 0, "maximum": MAX_MTU},
                    "txQLen": {"type": "integer", "default": -1, "minimum": -1},
                }
            ),
            "nics": {"type": "array", "items": _string()},
        }
    )
    spec = _object(
        {
            "clusterNetwork": _string(),
            "description": _string(),
            "nodeSelector": {"type": "object", "additionalProperties": _string()},
            "uplink": uplink,
        },
        ["clusterNetwork", "uplink"],
    )
    return _crd(
        group=group,
        version=version,
        kind="VlanConfig",
        plural="vlanconfigs",
        singular="vlanconfig",
        scope="Cluster",
        schema=_root({"spec": spec}, ["spec"]),
        short_names=["vc", "vcs"],
        status_subresource=False,
        columns=[
            {"jsonPath": ".spec.clusterNetwork", "name": "CLUSTERNETWORK", "type": "string"},
            {"jsonPath": ".spec.description", "name": "DESCRIPTION", "type": "string"},
        ],
    )


def vlan_status_crd() -> dict[str, Any]:
    group, version = h.NETWORK_API.split("/")
    link_status = _object(
        {
            "index": _integer(),
            "mac": _string(),
            "masterIndex": _integer(),
            "name": _string(),
            "promiscuous": {"type": "boolean"},
            "state": _string(),
            "type": _string(),
        },
        ["name"],
    )
    status = _object(
        {
            "clusterNetwork": _string(),
            "conditions": _conditions(),
            "linkStatus": {"type": "array", "items": link_status},
            "localAreas": {
                "type": "array",
                "items": _object({"cidr": _string(), "vlanID": _integer()}, ["vlanID"]),
            },
            "node": _string(),
            "vlanConfig": _string(),
        },
        ["clusterNetwork", "node", "vlanConfig"],
    )
    return _crd(
        group=group,
        version=version,
        kind="VlanStatus",
        plural="vlanstatuses",
        singular="vlanstatus",
        scope="Cluster",
        schema=_root({"status": status}),
        short_names=["vs", "vss"],
        status_subresource=True,
        columns=[
            {"jsonPath": ".status.clusterNetwork", "name": "CLUSTERNETWORK", "type": "string"},
            {"jsonPath": ".status.vlanConfig", "name": "VLANCONFIG", "type": "string"},
            {"jsonPath": ".status.node", "name": "NODE", "type": "string"},
        ],
    )


def _immutable(schema: dict[str, Any], what: str) -> dict[str, Any]:
    """vm-dhcp-controller's CEL transition rule: the field keeps the value it was created with."""
    return {**schema, "x-kubernetes-validations": [{"message": f"{what} is immutable", "rule": "self == oldSelf"}]}


def _kept_once_set(schema: dict[str, Any], field: str, what: str) -> dict[str, Any]:
    rule = {"message": f"{what} is required once set", "rule": f"!has(oldSelf.{field}) || has(self.{field})"}
    return {**schema, "x-kubernetes-validations": [rule]}


def ip_pool_crd() -> dict[str, Any]:
    group, version = h.DHCP_API.split("/")
    ipv4 = {"type": "string", "format": "ipv4"}
    pool = _object(
        {
            "end": _immutable(ipv4, "End"),
            "exclude": _immutable({"type": "array", "format": "ipv4", "items": _string()}, "Exclude"),
            "start": _immutable(ipv4, "Start"),
        },
        ["end", "start"],
    )
    ipv4_config = _object(
        {
            "cidr": _immutable(_string(), "CIDR"),
            "dns": {"type": "array", "format": "ipv4", "maxItems": 3, "items": _string()},
            "domainName": _string(),
            "domainSearch": {"type": "array", "items": _string()},
            "leaseTime": _integer(),
            "ntp": {"type": "array", "maxItems": 4, "items": _string()},
            # Upstream words this rule "End is required once set" although it guards `exclude`.
            "pool": _kept_once_set(pool, "exclude", "End"),
            "router": _immutable(ipv4, "Router"),
            "serverIP": _immutable(ipv4, "ServerIP"),
        },
        ["cidr", "pool", "serverIP"],
    )
    spec = _object(
        {
            "ipv4Config": _kept_once_set(ipv4_config, "router", "Router"),
            "networkName": _immutable({"type": "string", "maxLength": 64}, "NetworkName"),
            "paused": {"type": "boolean"},
        },
        ["networkName"],
    )
    status = _object(
        {
            "agentPodRef": _object({"image": _string(), "name": _string(), "namespace": _string(), "uid": _string()}),
            "conditions": _conditions(),
            "ipv4": _object(
                {
                    "allocated": {"type": "object", "additionalProperties": _string()},
                    "available": _integer(),
                    "used": _integer(),
                },
                ["available", "used"],
            ),
            "lastUpdate": {"type": "string", "format": "date-time"},
        }
    )
    return _crd(
        group=group,
        version=version,
        kind="IPPool",
        plural="ippools",
        singular="ippool",
        scope="Namespaced",
        schema=_root({"spec": spec, "status": status}),
        short_names=["ippl", "ippls"],
        status_subresource=True,
        columns=[
            {"jsonPath": ".spec.networkName", "name": "NETWORK", "type": "string"},
            {"jsonPath": ".status.ipv4.available", "name": "AVAILABLE", "type": "integer"},
            {"jsonPath": ".status.ipv4.used", "name": "USED", "type": "integer"},
        ],
    )


def network_attachment_definition_crd() -> dict[str, Any]:
    """Multus' CRD: `spec.config` is the CNI configuration as a JSON string, which the API server never parses."""
    group, version = h.NAD_API.split("/")
    spec = _object({"config": _string()})
    return _crd(
        group=group,
        version=version,
        kind="NetworkAttachmentDefinition",
        plural="network-attachment-definitions",
        singular="network-attachment-definition",
        scope="Namespaced",
        schema=_root({"spec": spec}),
        short_names=["net-attach-def"],
        status_subresource=False,
    )


def custom_resource_definitions() -> list[dict[str, Any]]:
    """Every CRD hvnet's objects need on a cluster without Harvester, in a stable order."""
    return [
        cluster_network_crd(),
        vlan_config_crd(),
        vlan_status_crd(),
        ip_pool_crd(),
        network_attachment_definition_crd(),
    ]
