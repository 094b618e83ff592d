"""NetworkAttachmentDefinition: a VLAN network VMs attach to, on the bridge of its cluster network.

Harvester does not let the bridge (so the cluster network) or the CNI type change; names and namespace
name another object. The CNI type is always `bridge` (render/nad.py), so a cluster network change is what
replaces a NAD in place of its name, and the old one is deleted first. Nothing reports a NAD's status, so
there is nothing to wait for. Harvester refuses the deletion while VMs reference it or run with it.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import pulumi

from harvester_network.kube import KubeClient
from harvester_network.model import Plan, names
from harvester_network.model.plan import AutoRoute
from harvester_network.provider.base import STAND_IN_NIC, ObjectProvider
from harvester_network.provider.resource import HarvesterObject, ObjectSettings
from harvester_network.render import harvester as h
from harvester_network.render.nad import nad_object

NETWORK_FIELDS = ("name", "namespace", "clusterNetwork", "vlan", "route")


class NetworkAttachmentDefinitionProvider(ObjectProvider):
    kind = "NetworkAttachmentDefinition"
    spec_inputs = (*NETWORK_FIELDS, "mtu")
    replace_on = ("name", "namespace", "clusterNetwork")
    cluster_outputs = ()
    input_paths = {
        "networks[0]": "",
        "clusterNetworks[0].name": "clusterNetwork",
        "clusterNetworks[0].uplink.mtu": "mtu",
    }

    def plan_data(self, spec: dict[str, Any]) -> dict[str, Any]:
        # The NAD needs only its cluster network's name (the bridge) and MTU; the stand-in NIC satisfies the model.
        uplink: dict[str, Any] = {"nics": [STAND_IN_NIC]}
        if "mtu" in spec:
            uplink["mtu"] = spec["mtu"]
        cluster_network: dict[str, Any] = {"uplink": uplink}
        if "clusterNetwork" in spec:
            cluster_network["name"] = spec["clusterNetwork"]
        network = {key: spec[key] for key in NETWORK_FIELDS if key in spec}
        return {"clusterNetworks": [cluster_network], "networks": [network]}

    def render(self, plan: Plan) -> dict[str, Any]:
        return nad_object(plan.networks[0], plan.cluster_networks[0])

    def outputs(self, kube: KubeClient, plan: Plan, live: dict[str, Any]) -> dict[str, Any]:
        net = plan.networks[0]
        return {"networkName": net.ref, "bridge": names.bridge_name(net.cluster_network)}

    def comparable(self, view: dict[str, Any], plan: Plan) -> dict[str, Any]:
        # In auto mode Harvester writes the cidr and gateway it found into the route annotation: not drift.
        if not isinstance(plan.networks[0].route, AutoRoute):
            return view
        annotations = {k: v for k, v in (view["metadata"].get("annotations") or {}).items() if k != h.ANNOTATION_ROUTE}
        return {**view, "metadata": {**view["metadata"], "annotations": annotations}}

    def delete_blockers(self, kube: KubeClient, name: str, namespace: str | None) -> list[str]:
        assert namespace is not None
        referencing = kube.vms_referencing_nad(namespace, name)
        running = kube.running_vms_using_nads({(namespace, name)})
        return [f"VM {vm} lists it in its networks" for vm in referencing] + [
            f"VM {vm} is running with it" for vm in running if vm not in referencing
        ]


class NetworkAttachmentDefinition(HarvesterObject, module="harvester-network", name="NetworkAttachmentDefinition"):
    """The NAD of a VLAN network (vlan 0 = untagged) on `cluster_network`; `mtu` is the cluster network's."""

    # For the type checker only: at run time the SDK would resolve these hints anew for every resource it registers
    # (typing.get_type_hints: a twentieth of a large program's time), and str outputs need no conversion.
    if TYPE_CHECKING:
        name: pulumi.Output[str]
        namespace: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        name: pulumi.Input[str],
        cluster_network: pulumi.Input[str],
        vlan: pulumi.Input[int],
        namespace: pulumi.Input[str] = "default",
        route: pulumi.Input[dict[str, Any]] | None = None,
        mtu: pulumi.Input[int] = 0,
        settings: ObjectSettings | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        spec = {
            "name": name,
            "namespace": namespace,
            "clusterNetwork": cluster_network,
            "vlan": vlan,
            "route": route,
            "mtu": mtu,
        }
        pulumi.CustomResource.__init__(
            self, *self.registration(NetworkAttachmentDefinitionProvider(), resource_name, spec, settings, opts)
        )

    @cached_property
    def network_name(self) -> pulumi.Output[str]:
        """`<namespace>/<name>`, as a VM's interfaces name it; from the inputs, so it is known in preview.
        Made when first asked for: every Output costs a large program time."""
        return pulumi.Output.all(self.namespace, self.name).apply(lambda parts: names.network_ref(*parts))
