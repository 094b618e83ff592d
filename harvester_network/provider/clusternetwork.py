"""ClusterNetwork: the named network whose bridge `<name>-br` VlanConfigs bring up on nodes.

Ready when its `ready` condition is True. Harvester sets that at the first VlanStatus of the cluster network,
and a VlanConfig can only be created once its ClusterNetwork exists, so the wait applies only when VlanConfigs
already refer to it (with none, nothing could make it ready). Harvester refuses the deletion while
VlanConfigs or NADs of the cluster network are left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi

from harvester_network.kube import KubeClient, condition, poll_until
from harvester_network.model import Plan, names
from harvester_network.provider.base import STAND_IN_UPLINK, ObjectProvider
from harvester_network.provider.resource import HarvesterObject, ObjectSettings
from harvester_network.provider.vlanconfig import node_state, vlanstatus_by_node
from harvester_network.render import harvester as h
from harvester_network.render.clusternetwork import cluster_network_object


class ClusterNetworkProvider(ObjectProvider):
    kind = "ClusterNetwork"
    spec_inputs = ("name", "description")
    replace_on = ("name",)
    cluster_outputs = ("ready",)
    input_paths = {"clusterNetworks[0]": ""}

    def plan_data(self, spec: dict[str, Any]) -> dict[str, Any]:
        # The object carries no uplink (its VlanConfigs do): the stand-in only satisfies the model.
        return {"clusterNetworks": [{**spec, "uplink": STAND_IN_UPLINK}]}

    def render(self, plan: Plan) -> dict[str, Any]:
        return cluster_network_object(plan.cluster_networks[0])

    def outputs(self, kube: KubeClient, plan: Plan, live: dict[str, Any]) -> dict[str, Any]:
        ready = condition(live, "ready")
        return {
            "bridge": names.bridge_name(live["metadata"]["name"]),
            "ready": ready is not None and ready.get("status") == "True",
        }

    def wait_ready(self, kube: KubeClient, obj: dict[str, Any], timeout: float) -> None:
        name = obj["metadata"]["name"]
        if not kube.list_objects("VlanConfig", labels={h.LABEL_CLUSTER_NETWORK: name}):
            return

        def ready() -> tuple[bool | None, str]:
            live = kube.get(self.kind, name)
            state = condition(live, "ready") if live else None
            if state is not None and state.get("status") == "True":
                return True, ""
            statuses = vlanstatus_by_node(kube, {h.LABEL_CLUSTER_NETWORK: name})
            nodes = [s for node, status in sorted(statuses.items()) if (s := node_state(node, status))]
            why = "no ready condition yet" if state is None else f"ready={state.get('status')}"
            return None, "; ".join([why, *nodes]) if nodes else f"{why}; no node has reported a VlanStatus yet"

        poll_until(ready, timeout=timeout, verb="wait for", subject=f"ClusterNetwork {name} to be ready")

    def delete_blockers(self, kube: KubeClient, name: str, namespace: str | None) -> list[str]:
        selector = {h.LABEL_CLUSTER_NETWORK: name}
        vlanconfigs = sorted(vc["metadata"]["name"] for vc in kube.list_objects("VlanConfig", labels=selector))
        nads = sorted(
            f"{n['metadata']['namespace']}/{n['metadata']['name']}"
            for n in kube.list_objects("NetworkAttachmentDefinition", labels=selector)
        )
        return [f"VlanConfig {vc}" for vc in vlanconfigs] + [f"NetworkAttachmentDefinition {nad}" for nad in nads]


class ClusterNetwork(HarvesterObject, module="harvester-network", name="ClusterNetwork"):
    """A ClusterNetwork named `name` (at most 12 characters: its bridge is `<name>-br`)."""

    # For the type checker only, as NetworkAttachmentDefinition's (a bool needs no conversion either).
    if TYPE_CHECKING:
        ready: pulumi.Output[bool]

    def __init__(
        self,
        resource_name: str,
        *,
        name: pulumi.Input[str],
        description: pulumi.Input[str] = "",
        settings: ObjectSettings | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        spec = {"name": name, "description": description}
        pulumi.CustomResource.__init__(
            self, *self.registration(ClusterNetworkProvider(), resource_name, spec, settings, opts)
        )
