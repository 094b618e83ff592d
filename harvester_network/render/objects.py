"""The whole plan as Kubernetes objects, in apply order, with stable file names."""

from __future__ import annotations

from typing import Any

from harvester_network.model.plan import Plan
from harvester_network.render.clusternetwork import cluster_network_objects
from harvester_network.render.dhcp import dhcp_objects
from harvester_network.render.nad import nad_object
from harvester_network.render.vm import management_service_object, virtual_machine_object

# Apply order: what an object refers to comes before it. Also the file-name prefix of `hvnet render -o`.
KIND_ORDER = {
    "CustomResourceDefinition": 0,
    "Namespace": 1,
    "ServiceAccount": 2,
    "ClusterRole": 3,
    "ClusterRoleBinding": 4,
    "ValidatingAdmissionPolicy": 5,
    "ValidatingAdmissionPolicyBinding": 6,
    "DaemonSet": 7,
    "ClusterNetwork": 10,
    "VlanConfig": 20,
    "NetworkAttachmentDefinition": 30,
    "IPPool": 40,
    "ConfigMap": 41,
    "Deployment": 42,
    "VirtualMachine": 50,
    "Service": 60,
}


def render_plan(plan: Plan) -> list[dict[str, Any]]:
    """Every object of a validated plan, in apply order. Pure and deterministic."""
    objects: list[dict[str, Any]] = []
    for cn in plan.cluster_networks:
        objects += cluster_network_objects(cn, plan.nodes)
    for net in plan.networks:
        net_cn = plan.cluster_network(net.cluster_network)
        assert net_cn is not None  # validated
        objects.append(nad_object(net, net_cn))
        if net.dhcp_server is not None:
            objects += dhcp_objects(net)
    for vm in plan.virtual_machines:
        objects.append(virtual_machine_object(plan, vm))
        service = management_service_object(vm)
        if service is not None:
            objects.append(service)
    return in_apply_order(objects)


def in_apply_order(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stable sort by KIND_ORDER: within a kind, the order given is kept."""
    return sorted(objects, key=lambda o: KIND_ORDER.get(o["kind"], 99))


def object_key(obj: dict[str, Any]) -> str:
    """kind/namespace/name (namespace omitted when cluster-scoped)."""
    meta = obj["metadata"]
    ns = meta.get("namespace")
    return f"{obj['kind']}/{ns}/{meta['name']}" if ns else f"{obj['kind']}/{meta['name']}"


def object_file_name(obj: dict[str, Any]) -> str:
    """A stable file name: the kind's apply rank, kind, namespace and name."""
    meta = obj["metadata"]
    parts = [f"{KIND_ORDER.get(obj['kind'], 99):02d}", obj["kind"].lower(), meta.get("namespace"), meta["name"]]
    return "-".join(p for p in parts if p) + ".yaml"
