"""The whole plan as Kubernetes objects, in apply order, with stable file names."""

from __future__ import annotations

from typing import Any

from harvester_network.model.plan import Plan
from harvester_network.render.clusternetwork import cluster_network_objects
from harvester_network.render.dhcp import dhcp_objects
from harvester_network.render.nad import nad_object
from harvester_network.render.vm import cloud_init_secret_object, management_service_object, virtual_machine_object

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
    "Secret": 45,  # a VM's cloud-init data
    "VirtualMachine": 50,
    "Service": 60,
}


def render_plan(plan: Plan) -> list[dict[str, Any]]:
    """Every object of a validated plan, in apply order. Pure and deterministic."""
    objects: list[dict[str, Any]] = []
    for cn in plan.cluster_networks:
        objects += cluster_network_objects(cn, plan.nodes)
    cluster_networks = {cn.name: cn for cn in plan.cluster_networks}  # validation: every network's is there
    for net in plan.networks:
        objects.append(nad_object(net, cluster_networks[net.cluster_network]))
        if net.dhcp_server is not None:
            objects += dhcp_objects(net)
    for vm in plan.virtual_machines:
        objects += [cloud_init_secret_object(plan, vm), virtual_machine_object(plan, vm)]
        service = management_service_object(vm)
        if service is not None:
            objects.append(service)
    return in_apply_order(objects)


def in_apply_order(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stable sort by KIND_ORDER: within a kind, the order given is kept."""
    return sorted(objects, key=_kind_rank)


def _kind_rank(obj: dict[str, Any]) -> int:
    """The object's KIND_ORDER rank; a kind not listed goes last."""
    return KIND_ORDER.get(obj["kind"], 99)


def object_key(obj: dict[str, Any]) -> str:
    """kind/namespace/name (namespace omitted when cluster-scoped)."""
    meta = obj["metadata"]
    ns = meta.get("namespace")
    return f"{obj['kind']}/{ns}/{meta['name']}" if ns else f"{obj['kind']}/{meta['name']}"


def object_file_name(obj: dict[str, Any]) -> str:
    """A stable file name: the kind's apply rank, kind, namespace and name."""
    meta = obj["metadata"]
    parts = [f"{_kind_rank(obj):02d}", obj["kind"].lower(), meta.get("namespace"), meta["name"]]
    return "-".join(p for p in parts if p) + ".yaml"
