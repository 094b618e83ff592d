"""NetworkAttachmentDefinition: a VLAN network VMs attach to, on the bridge of its cluster network.

Harvester does not let the bridge (so the cluster network) or the CNI type change; names and namespace
name another object. The CNI type is always `bridge` (render/nad.py), so a cluster network change is what
replaces a NAD in place of its name, and the old one is deleted first. Nothing reports a NAD's status, so
there is nothing to wait for. Harvester refuses the deletion while VMs reference it or run with it, and a
change of its config (VLAN, MTU) while VMs run with it.

Two of our fields are JSON strings Harvester writes keys into (docs/harvester.md): the route annotation
(`connectivity`, `outdated`; in auto mode also the `cidr` and `gateway` it found) and `spec.config` (`mtu`,
when we set none). Drift detection compares only our keys, and an update keeps Harvester's.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pulumi

from harvester_network.kube import KubeClient, poll_until
from harvester_network.model import Plan, names
from harvester_network.provider.base import STAND_IN_NIC, ObjectProvider
from harvester_network.provider.resource import HarvesterObject, ObjectSettings
from harvester_network.render import harvester as h
from harvester_network.render.nad import compact_json, nad_object

NETWORK_FIELDS = ("name", "namespace", "clusterNetwork", "vlan", "route")
# The route annotation's keys we write, by mode (network-controller-harvester pkg/utils/nad.go Layer3NetworkConf).
# Harvester adds `connectivity` (pkg/controller/manager/nad updateNetworkConf), `outdated` (pkg/webhook/nad
# mutator.go tagRouteOutdated) and, in auto mode, the `cidr` and `gateway` its helper job found.
OWN_ROUTE_KEYS = {"manual": ("mode", "cidr", "gateway"), "auto": ("mode", "serverIPAddr")}
# The CNI config key Harvester sets when we set none: its mutator's patchMTU on create, OnCNChange afterwards.
CONFIG_MTU = "mtu"


def json_object(text: Any) -> dict[str, Any] | None:
    """A JSON object held in a string field, or None when the field is missing or holds anything else."""
    try:
        parsed = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def own_route(text: Any) -> Any:
    """The keys of a route annotation we write (anything that is no route object stays as it is: drift)."""
    route = json_object(text)
    if route is None or route.get("mode") not in OWN_ROUTE_KEYS:
        return text
    return compact_json({key: route[key] for key in OWN_ROUTE_KEYS[route["mode"]] if key in route})


def own_config(text: Any, mtu_is_ours: bool) -> Any:
    """A CNI config without the MTU Harvester set, when we set none."""
    config = json_object(text)
    if config is None or mtu_is_ours:
        return text
    return compact_json({key: value for key, value in config.items() if key != CONFIG_MTU})


class NetworkAttachmentDefinitionProvider(ObjectProvider):
    kind = "NetworkAttachmentDefinition"
    spec_inputs = (*NETWORK_FIELDS, "mtu")
    replace_on = ("name", "namespace", "clusterNetwork")
    cluster_outputs = ()
    checked_in_preview = ("vlan", "mtu")
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
        metadata = view["metadata"]
        if isinstance(metadata.get("annotations"), dict) and h.ANNOTATION_ROUTE in metadata["annotations"]:
            annotations = {
                **metadata["annotations"],
                h.ANNOTATION_ROUTE: own_route(metadata["annotations"][h.ANNOTATION_ROUTE]),
            }
            metadata = {**metadata, "annotations": annotations}
        spec = view.get("spec")
        if isinstance(spec, dict) and "config" in spec:
            spec = {**spec, "config": own_config(spec["config"], mtu_is_ours=bool(plan.cluster_networks[0].uplink.mtu))}
        return {**view, "metadata": metadata, "spec": spec}

    def to_apply(self, plan: Plan, obj: dict[str, Any], live: dict[str, Any] | None) -> dict[str, Any]:
        """Harvester's keys stay: the MTU it set when we set none (its validator refuses a config whose MTU differs
        from the cluster network's), and the route annotation as it is while our keys and the VLAN are unchanged
        (a new route or VLAN gets our route alone, which Harvester then checks anew, as after its own UI's edits)."""
        if live is None:
            return obj
        ours, theirs = json_object(obj["spec"]["config"]), json_object((live.get("spec") or {}).get("config"))
        assert ours is not None  # rendered by us
        spec = obj["spec"]
        if CONFIG_MTU not in ours and theirs is not None and CONFIG_MTU in theirs:
            spec = {**spec, "config": compact_json({**ours, CONFIG_MTU: theirs[CONFIG_MTU]})}
        metadata = obj["metadata"]
        route = (metadata.get("annotations") or {}).get(h.ANNOTATION_ROUTE)
        live_route = (live["metadata"].get("annotations") or {}).get(h.ANNOTATION_ROUTE)
        same_vlan = theirs is not None and theirs.get("vlan") == ours["vlan"]
        if route is not None and live_route is not None and same_vlan and own_route(live_route) == own_route(route):
            metadata = {**metadata, "annotations": {**metadata["annotations"], h.ANNOTATION_ROUTE: live_route}}
        return {**obj, "metadata": metadata, "spec": spec}

    def refusals(self, kube: KubeClient, plan: Plan, obj: dict[str, Any], live: dict[str, Any]) -> list[str]:
        # pkg/webhook/nad/validator.go Update -> checkVmi: a changed config while VMIs use the NAD.
        if json_object(obj["spec"]["config"]) == json_object((live.get("spec") or {}).get("config")):
            return []
        meta = obj["metadata"]
        running = kube.running_vms_using_nads({(meta["namespace"], meta["name"])})
        if not running:
            return []
        return [
            f"its config changes ({describe_config_change(live, obj)}) while VMs run with it: "
            f"stop VMs {', '.join(running)} first"
        ]

    def make_way(self, kube: KubeClient, obj: dict[str, Any], timeout: float) -> None:
        """A route the plan no longer has is removed: Harvester's controller rewrote the annotation (connectivity), so
        it owns it and server-side apply would leave it. And Harvester refuses a NAD whose MTU is not its cluster
        network's (pkg/webhook/nad/validator.go checkNadConfig), which its controller takes from the VlanConfigs a
        moment after they change: wait for it."""
        meta = obj["metadata"]
        if h.ANNOTATION_ROUTE not in (meta.get("annotations") or {}):
            live = kube.get(self.kind, meta["name"], meta["namespace"])
            if live is not None and h.ANNOTATION_ROUTE in (live["metadata"].get("annotations") or {}):
                kube.merge_patch(self.kind, meta["name"], {"metadata": {"annotations": {h.ANNOTATION_ROUTE: None}}},
                                 meta["namespace"])  # fmt: skip
        mtu = (json_object(obj["spec"]["config"]) or {}).get(CONFIG_MTU)
        cluster_network = obj["metadata"]["labels"][h.LABEL_CLUSTER_NETWORK]
        if not mtu:
            return

        def cluster_network_agrees() -> tuple[bool | None, str]:
            live = kube.get("ClusterNetwork", cluster_network)
            current = ((live or {}).get("metadata", {}).get("annotations") or {}).get(h.ANNOTATION_UPLINK_MTU)
            if current is None or current == str(mtu):  # no Harvester, or its VlanConfigs' MTU is ours
                return True, ""
            return None, (
                f"its {h.ANNOTATION_UPLINK_MTU} is still {current}, its VlanConfigs' MTU; Harvester refuses a NAD with "
                "another MTU: give the network its cluster network's MTU, or 0 to take it"
            )

        poll_until(
            cluster_network_agrees,
            timeout=timeout,
            verb="wait for",
            subject=f"ClusterNetwork {cluster_network} to take MTU {mtu} from its VlanConfigs",
        )

    def delete_blockers(self, kube: KubeClient, name: str, namespace: str | None) -> list[str]:
        assert namespace is not None
        referencing = kube.vms_referencing_nad(namespace, name)
        running = kube.running_vms_using_nads({(namespace, name)})
        return [f"VM {vm} lists it in its networks" for vm in referencing] + [
            f"VM {vm} is running with it" for vm in running if vm not in referencing
        ]


def describe_config_change(live: dict[str, Any], obj: dict[str, Any]) -> str:
    """`vlan 100 -> 200, mtu 1500 -> 9000`: the CNI config keys an update changes."""
    old = json_object((live.get("spec") or {}).get("config")) or {}
    new = json_object(obj["spec"]["config"]) or {}

    def shown(config: dict[str, Any], key: str) -> str:
        return json.dumps(config[key]) if key in config else "unset"

    changed = [key for key in {**old, **new} if old.get(key) != new.get(key)]
    return ", ".join(f"{key} {shown(old, key)} -> {shown(new, key)}" for key in changed)


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
