"""VlanConfig: one cluster network's uplink on the nodes its selector matches.

Ready when every matched node has a VlanStatus with ready=True. Matched nodes are Harvester's
`matched-nodes` annotation when its mutator wrote one, else the Nodes the nodeSelector selects.
Harvester refuses the deletion, and an uplink change, while VMs using the cluster network's NADs run on
those nodes.

Staged changes (`make_way`, docs/harvester.md): Harvester refuses a VlanConfig on a node whose VlanStatus
belongs to another VlanConfig of the cluster network (checkOverlaps), and VlanConfigs of one cluster network
with different MTUs (validateMTU); a NIC serves one cluster network's bond at a time. So before a VlanConfig
is applied, hvnet's VlanConfigs the plan no longer has are deleted, and their VlanStatuses awaited away
(`superseded` says which); one whose update is still to come (an MTU change) is re-created by it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pulumi

from harvester_network.kube import KubeClient, condition, poll_until
from harvester_network.model import Plan
from harvester_network.provider.base import ObjectProvider, ProviderError, managed_view
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


def uplink_mtu(vlanconfig: dict[str, Any]) -> Any:
    return (((vlanconfig.get("spec") or {}).get("uplink") or {}).get("linkAttributes") or {}).get("mtu", 0)


def per_node(vlanconfig: dict[str, Any]) -> bool:
    """Whether it is one node's (`<cn>-<node>`, selecting that hostname) rather than every node's (`<cn>`)."""
    return bool((vlanconfig.get("spec") or {}).get("nodeSelector"))


def running_vms_on_nodes(kube: KubeClient, cluster_network: str, nodes: set[str]) -> list[str]:
    """Running VMs on `nodes` attached to a NAD of `cluster_network` (pkg/webhook/vlanconfig/validator.go checkVmi)."""
    nads = kube.list_objects("NetworkAttachmentDefinition", labels={h.LABEL_CLUSTER_NETWORK: cluster_network})
    refs = {(n["metadata"]["namespace"], n["metadata"]["name"]) for n in nads}
    return kube.running_vms_using_nads(refs, nodes) if refs and nodes else []


class VlanConfigProvider(ObjectProvider):
    kind = "VlanConfig"
    spec_inputs = ("clusterNetwork", "node", "description", "uplink")
    # The name is `<clusterNetwork>-<node>` (or `<clusterNetwork>`), so both name a different object.
    replace_on = ("clusterNetwork", "node")
    cluster_outputs = ("matchedNodes", "ready")
    checked_in_preview = ("uplink",)
    staging_checked_in_preview = True
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
        running = running_vms_on_nodes(kube, cluster_network, set(matched_nodes(kube, live)))
        return [
            f"VM {vm} runs on its nodes with a network of cluster network {cluster_network}; stop it" for vm in running
        ]

    def refusals(self, kube: KubeClient, plan: Plan, obj: dict[str, Any], live: dict[str, Any]) -> list[str]:
        # pkg/webhook/vlanconfig/validator.go Update: an uplink change affects every node the VlanConfig matched.
        uplink = obj["spec"]["uplink"]
        if managed_view((live.get("spec") or {}).get("uplink"), uplink) == uplink:
            return []
        cluster_network = obj["spec"]["clusterNetwork"]
        running = running_vms_on_nodes(kube, cluster_network, set(matched_nodes(kube, live)))
        if not running:
            return []
        return [
            f"its uplink changes while VMs run on its nodes with networks of cluster network {cluster_network}: "
            f"stop VMs {', '.join(running)} first"
        ]

    def refuse_staging(self, kube: KubeClient, obj: dict[str, Any]) -> None:
        self._refuse_deleting(kube, obj, self.superseded(kube, obj))

    def _refuse_deleting(self, kube: KubeClient, obj: dict[str, Any], leftovers: list[dict[str, Any]]) -> None:
        blockers = [
            f"{line} (VlanConfig {vc['metadata']['name']})"
            for vc in leftovers
            if not vc["metadata"].get("deletionTimestamp")  # already on its way: waited for
            for line in self.delete_blockers(kube, vc["metadata"]["name"], None)
        ]
        if blockers:
            raise ProviderError(
                f"apply VlanConfig {obj['metadata']['name']}: Harvester refuses it next to VlanConfigs the plan no "
                f"longer has ({', '.join(vc['metadata']['name'] for vc in leftovers)}), and refuses to delete those "
                "now:\n"
                + "\n".join(f"  - {line}" for line in blockers)
                + "\nnothing was changed; stop those VMs, then run `pulumi up` again"
            )

    def make_way(self, kube: KubeClient, obj: dict[str, Any], timeout: float) -> None:
        leftovers = self.superseded(kube, obj)
        self._refuse_deleting(kube, obj, leftovers)
        for vc in leftovers:
            old = vc["metadata"]["name"]
            kube.delete_and_wait(self.kind, old, timeout=timeout)

            def statuses_gone(old: str = old) -> tuple[bool | None, str]:
                left = sorted(
                    s["metadata"]["name"] for s in kube.list_objects("VlanStatus", labels={h.LABEL_VLANCONFIG: old})
                )
                return (True, "") if not left else (None, f"VlanStatuses {', '.join(left)} are still there")

            poll_until(
                statuses_gone, timeout=timeout, verb="wait for", subject=f"the nodes to let go of VlanConfig {old}"
            )

    def superseded(self, kube: KubeClient, obj: dict[str, Any]) -> list[dict[str, Any]]:
        """hvnet's VlanConfigs (also those being deleted) that a valid plan cannot have next to `obj`, so the plan
        no longer has them:
        - of its cluster network in the other layout (the plan gained or lost `nodes`; Harvester: checkOverlaps),
        - of its cluster network with another MTU (Harvester: validateMTU),
        - of another cluster network with one of its NICs on one of its nodes (a NIC is enslaved to one bond: the
          new uplink would never come up next to the old one; pkg/network/iface/bond.go EnsureBond)."""
        cluster_network = obj["spec"]["clusterNetwork"]
        nics = set(obj["spec"]["uplink"]["nics"])
        nodes: set[str] | None = None  # ours, looked up only when another cluster network shares a NIC
        found = []
        for vc in kube.list_objects(self.kind, labels={h.LABEL_MANAGED_BY: h.MANAGED_BY}):
            if vc["metadata"]["name"] == obj["metadata"]["name"]:
                continue
            spec = vc.get("spec") or {}
            if spec.get("clusterNetwork") == cluster_network:
                if per_node(vc) != per_node(obj) or uplink_mtu(vc) != uplink_mtu(obj):
                    found.append(vc)
            elif nics & set((spec.get("uplink") or {}).get("nics") or []):
                nodes = set(matched_nodes(kube, obj)) if nodes is None else nodes
                if nodes & set(matched_nodes(kube, vc)):
                    found.append(vc)
        return found


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
