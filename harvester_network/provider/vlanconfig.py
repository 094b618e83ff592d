"""VlanConfig: one cluster network's uplink on the nodes its selector matches.

Ready when every matched node has a VlanStatus with ready=True. Matched nodes are Harvester's
`matched-nodes` annotation when its mutator wrote one, else the Nodes the nodeSelector selects.
Harvester refuses the deletion while VMs using the cluster network's NADs run on those nodes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pulumi

from harvester_network.kube import KubeClient, condition, poll_until
from harvester_network.model import Plan
from harvester_network.provider.base import ObjectProvider
from harvester_network.provider.resource import HarvesterObject, ObjectSettings
from harvester_network.render import harvester as h
from harvester_network.render.clusternetwork import vlanconfig_object


def matched_nodes(kube: KubeClient, vlanconfig: dict[str, Any]) -> list[str]:
    annotation = (vlanconfig["metadata"].get("annotations") or {}).get(h.ANNOTATION_MATCHED_NODES)
    if annotation:
        return sorted(json.loads(annotation))
    selector = (vlanconfig.get("spec") or {}).get("nodeSelector") or {}
    return sorted(node["metadata"]["name"] for node in kube.list_objects("Node", labels=selector))


def vlanstatus_by_node(kube: KubeClient, labels: dict[str, str]) -> dict[str, dict[str, Any]]:
    statuses = kube.list_objects("VlanStatus", labels=labels)
    return {(s.get("status") or {}).get("node", ""): s for s in statuses}


def node_state(node: str, vlanstatus: dict[str, Any] | None) -> str | None:
    """None when the node's VlanStatus says ready, else what is wrong there."""
    if vlanstatus is None:
        return f"{node}: no VlanStatus yet (is the network agent running on it?)"
    ready = condition(vlanstatus, "ready")
    if ready is not None and ready.get("status") == "True":
        return None
    state = "no ready condition" if ready is None else f"ready={ready.get('status')}"
    message = f": {ready['message']}" if ready and ready.get("message") else ""
    return f"{node}: VlanStatus {vlanstatus['metadata']['name']} {state}{message}"


class VlanConfigProvider(ObjectProvider):
    kind = "VlanConfig"
    spec_inputs = ("clusterNetwork", "node", "description", "uplink")
    # The name is `<clusterNetwork>-<node>` (or `<clusterNetwork>`), so both name a different object.
    replace_on = ("clusterNetwork", "node")
    cluster_outputs = ("matchedNodes", "ready")
    input_paths = {
        "clusterNetworks[0]": "",
        "clusterNetworks[0].name": "clusterNetwork",
        "nodes": "node",
        "nodes[0]": "node",
    }

    def plan_data(self, spec: dict[str, Any]) -> dict[str, Any]:
        cluster_network = {
            key: spec[field]
            for key, field in (("name", "clusterNetwork"), ("description", "description"), ("uplink", "uplink"))
            if field in spec
        }
        data: dict[str, Any] = {"clusterNetworks": [cluster_network]}
        if "node" in spec:
            data["nodes"] = [spec["node"]]
        return data

    def render(self, plan: Plan) -> dict[str, Any]:
        return vlanconfig_object(plan.cluster_networks[0], plan.nodes[0] if plan.nodes else None)

    def outputs(self, kube: KubeClient, plan: Plan, live: dict[str, Any]) -> dict[str, Any]:
        nodes = matched_nodes(kube, live)
        statuses = vlanstatus_by_node(kube, {h.LABEL_VLANCONFIG: live["metadata"]["name"]})
        ready = all(node_state(node, statuses.get(node)) is None for node in nodes)
        return {"name": live["metadata"]["name"], "matchedNodes": nodes, "ready": ready}

    def wait_ready(self, kube: KubeClient, obj: dict[str, Any], timeout: float) -> None:
        name = obj["metadata"]["name"]

        def all_nodes_ready() -> tuple[bool | None, str]:
            live = kube.get(self.kind, name)
            if live is None:
                return None, "the VlanConfig is gone"
            statuses = vlanstatus_by_node(kube, {h.LABEL_VLANCONFIG: name})
            pending = [s for node in matched_nodes(kube, live) if (s := node_state(node, statuses.get(node)))]
            return (True, "") if not pending else (None, "; ".join(pending))

        poll_until(all_nodes_ready, timeout=timeout, verb="wait for", subject=f"VlanConfig {name} to be ready")

    def delete_blockers(self, kube: KubeClient, name: str, namespace: str | None) -> list[str]:
        live = kube.get(self.kind, name)
        if live is None:
            return []
        cluster_network = live["spec"]["clusterNetwork"]
        nads = kube.list_objects("NetworkAttachmentDefinition", labels={h.LABEL_CLUSTER_NETWORK: cluster_network})
        refs = {(n["metadata"]["namespace"], n["metadata"]["name"]) for n in nads}
        running = kube.running_vms_using_nads(refs, set(matched_nodes(kube, live))) if refs else []
        return [
            f"VM {vm} runs on its nodes with a network of cluster network {cluster_network}; stop it" for vm in running
        ]


class VlanConfig(HarvesterObject, module="harvester-network", name="VlanConfig"):
    """A VlanConfig: `uplink` on `node` (or, with node None, on every node) for `cluster_network`."""

    # For the type checker only, as NetworkAttachmentDefinition's (bool and list[str] need no conversion either).
    if TYPE_CHECKING:
        matchedNodes: pulumi.Output[list[str]]  # the engine's camelCase output name
        ready: pulumi.Output[bool]

    def __init__(
        self,
        resource_name: str,
        *,
        cluster_network: pulumi.Input[str],
        uplink: pulumi.Input[dict[str, Any]],
        node: pulumi.Input[str] | None = None,
        description: pulumi.Input[str] = "",
        settings: ObjectSettings | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        spec = {"clusterNetwork": cluster_network, "node": node, "description": description, "uplink": uplink}
        pulumi.CustomResource.__init__(
            self, *self.registration(VlanConfigProvider(), resource_name, spec, settings, opts)
        )
