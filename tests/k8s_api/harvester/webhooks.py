"""Harvester's network webhooks (harvester/network-controller-harvester at 2e5cbea, pkg/webhook), as admission
plugins of the test API server.

A refusal reads as the API server words a webhook's denial: `admission webhook "validator.harvester-system.
harvester-network-webhook" denied the request: can't create vlanConfig vc1 because ...`, HTTP 500 InternalError
(harvester/webhook turns a plain error into an InternalError result; the API server prefixes the webhook's name).
Mutators change the object in place, as the JSON patches they return would.
"""

from __future__ import annotations

from typing import Any

from tests.k8s_api.errors import ApiError
from tests.k8s_api.harvester import netconf as nc
from tests.k8s_api.harvester.netconf import HarvesterError
from tests.k8s_api.harvester.state import (
    CLUSTER_NETWORKS,
    NADS,
    NODES,
    VLANCONFIGS,
    VLANSTATUSES,
    State,
    annotations_of,
    condition_true,
    deleting,
    labels_of,
    matched_nodes,
    meta,
    names_of,
)
from tests.k8s_api.resources import ResourceType

WEBHOOK = "harvester-network-webhook"


def denied(kind: str, message: str, webhook: str = WEBHOOK) -> ApiError:
    """webhookerrors.ToStatusErr: the webhook's result (code 500 for a plain error) with its name in front."""
    name = f"{kind}.{nc.SYSTEM_NAMESPACE}.{webhook}"
    return ApiError(500, "InternalError", f'admission webhook "{name}" denied the request: {message}')


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("spec") or {})


class NetworkWebhooks:
    """ClusterNetwork validator, VlanConfig mutator and validator, NAD mutator and validator."""

    def __init__(self, state: State) -> None:
        self.state = state

    # --- the admission plugin interface ------------------------------------------------------------------------

    def mutate(
        self, operation: str, resource_type: ResourceType, new: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        key = resource_type.storage_key
        try:
            if key == VLANCONFIGS:
                self._mutate_vlanconfig(operation, new, old)
            elif key == NADS and operation == "CREATE":
                self._patch_mtu(new)
            elif key == NADS and old is not None:
                self._mutate_nad_update(new, old)
        except HarvesterError as error:
            raise denied("mutator", _action_error(resource_type, operation, new, str(error))) from error

    def validate(
        self, operation: str, resource_type: ResourceType, new: dict[str, Any] | None, old: dict[str, Any] | None
    ) -> None:
        key = resource_type.storage_key
        checks = {
            CLUSTER_NETWORKS: self._validate_cluster_network,
            VLANCONFIGS: self._validate_vlanconfig,
            NADS: self._validate_nad,
        }
        check = checks.get(key)
        if check is None:
            return
        subject = new if new is not None else old
        assert subject is not None
        try:
            check(operation, new, old)
        except HarvesterError as error:
            raise denied("validator", _action_error(resource_type, operation, subject, str(error))) from error

    # --- ClusterNetwork (pkg/webhook/clusternetwork/validator.go) ---------------------------------------------

    def _validate_cluster_network(self, operation: str, new: dict[str, Any] | None, old: dict[str, Any] | None) -> None:
        if operation == "CREATE" and new is not None:
            # CnValidator.Create: IsClusterNetworkNameValid, checkMTUOfNewClusterNetwork
            nc.check_cluster_network_name(meta(new)["name"])
            if nc.ANNOTATION_UPLINK_MTU in annotations_of(new):
                raise HarvesterError(f"annotation {nc.ANNOTATION_UPLINK_MTU} can't be added")
        elif operation == "UPDATE" and new is not None and old is not None:
            self._check_cluster_network_mtu(new, old)
        elif operation == "DELETE" and old is not None:
            self._check_cluster_network_delete(old)

    def _check_cluster_network_mtu(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """CnValidator.Update: checkMTUOfUpdatedClusterNetwork (every VlanConfig of a non-mgmt cluster network has
        its uplink-mtu) and checkMTUOfUpdatedMgmtClusterNetwork (mgmt's MTU changes only without VMs on it)."""
        name = meta(new)["name"]
        text = annotations_of(new).get(nc.ANNOTATION_UPLINK_MTU)
        mtu = nc.DEFAULT_MTU if text is None else nc.mtu_from_string(text)
        if name != nc.MGMT:
            for vlanconfig in self.state.vlanconfigs_on(name):
                if deleting(vlanconfig):
                    continue
                vc_mtu = nc.vlanconfig_mtu(vlanconfig)
                if not nc.equal_mtus(vc_mtu, mtu):
                    raise HarvesterError(
                        f"clusternetwork has MTU {mtu}, but the vlanconfigs {meta(vlanconfig)['name']} has another "
                        f"MTU {vc_mtu}"
                    )
            return
        old_text = annotations_of(old).get(nc.ANNOTATION_UPLINK_MTU)
        old_mtu = nc.DEFAULT_MTU if old_text is None else nc.mtu_from_string(old_text)
        if nc.equal_mtus(old_mtu, mtu):
            return
        nads = self.state.nads_on(name)
        vmis = [vmi for nad in nads for vmi in self.state.vmis_using(nad)]
        if vmis:
            raise HarvesterError(
                f"the MTU can't be changed from {old_mtu} to {mtu} as following VMs must be stopped at first: "
                f"{names_of(vmis)}"
            )

    def _check_cluster_network_delete(self, old: dict[str, Any]) -> None:
        """CnValidator.Delete: not mgmt, and no VlanConfig or NAD left on it."""
        name = meta(old)["name"]
        if name == nc.MGMT:
            raise HarvesterError("it is not allowed")
        vlanconfigs = [meta(vc)["name"] for vc in self.state.vlanconfigs_on(name)]
        if vlanconfigs:
            raise HarvesterError(
                f"vlanconfig(s) [{' '.join(vlanconfigs)}] under this clusternetwork are still existing"
            )
        nads = self.state.nads_on(name)
        if nads:
            raise HarvesterError(f"nads(s) {names_of(nads)} under this clusternetwork are still existing")

    # --- VlanConfig (pkg/webhook/vlanconfig) -------------------------------------------------------------------

    def _mutate_vlanconfig(self, operation: str, new: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Mutator.Create/Update: the cluster-network label (getCnLabelPatch; on update only when spec.clusterNetwork
        changed) and the matched-nodes annotation (matchNodes); nothing for mgmt or a deleting object."""
        if deleting(new):
            return
        cluster_network = _spec(new).get("clusterNetwork", "")
        if cluster_network == nc.MGMT:
            return
        if operation == "CREATE" or (old is not None and _spec(old).get("clusterNetwork") != cluster_network):
            meta(new)["labels"] = {**labels_of(new), nc.LABEL_CLUSTER_NETWORK: cluster_network}
        matched = self._match_nodes(new)
        if matched:
            meta(new)["annotations"] = {**annotations_of(new), nc.ANNOTATION_MATCHED_NODES: nc.go_json(matched)}

    def _match_nodes(self, vlanconfig: dict[str, Any]) -> list[str]:
        """matchNodes: nodes with all of spec.nodeSelector's labels and no witness-node label. None matched leaves
        the annotation as it was."""
        selector = _spec(vlanconfig).get("nodeSelector") or {}
        return [
            meta(node)["name"]
            for node in self.state.objects(NODES)
            if all(labels_of(node).get(k) == v for k, v in selector.items())
            and nc.LABEL_WITNESS_NODE not in labels_of(node)
        ]

    def _validate_vlanconfig(self, operation: str, new: dict[str, Any] | None, old: dict[str, Any] | None) -> None:
        if operation == "DELETE" and old is not None:
            # Validator.Delete: no running VM on its nodes, no system network attached
            self._refuse_mgmt(old, "delete")
            nodes = matched_nodes(old)
            self._check_vmis(old, nodes)
            self._check_system_nads(old, nodes)
            return
        assert new is not None
        if deleting(new):
            return
        self._refuse_mgmt(new, "create" if operation == "CREATE" else "update")
        cluster_network = _spec(new).get("clusterNetwork", "")
        if operation == "CREATE":
            nc.check_cluster_network_name(cluster_network)
        else:
            label = labels_of(new).get(nc.LABEL_CLUSTER_NETWORK, "")
            if label != cluster_network:  # utils.IsClusterNetworkLabelValid
                raise HarvesterError(f"cluster network label {label} is invalid and must not be updated by user")
        if self.state.cluster_network(cluster_network) is None:
            raise HarvesterError(
                f"it refers to a none-existing cluster network {cluster_network} or error "
                f'clusternetworks.network.harvesterhci.io "{cluster_network}" not found'
            )
        self._validate_mtu(new)
        new_nodes = matched_nodes(new)
        self._check_overlaps(new, new_nodes)
        if operation == "UPDATE" and old is not None:
            affected = _affected_nodes(old, new, matched_nodes(old), new_nodes)
            self._check_vmis(old, affected)
            self._check_system_nads(old, affected)

    @staticmethod
    def _refuse_mgmt(vlanconfig: dict[str, Any], verb: str) -> None:
        """utils.IsUserRequestForMgmtCluster: only Harvester's controller writes mgmt's VlanConfigs."""
        if _spec(vlanconfig).get("clusterNetwork") == nc.MGMT:
            raise HarvesterError(f"users can't {verb} vlanConfig for {nc.MGMT} cluster network")

    def _validate_mtu(self, vlanconfig: dict[str, Any]) -> None:
        """validateMTU: a valid MTU, the same (0 = 1500) as every other VlanConfig of the cluster network."""
        cluster_network = _spec(vlanconfig).get("clusterNetwork", "")
        if cluster_network == nc.MGMT:
            return
        mtu = nc.vlanconfig_mtu(vlanconfig)
        if not nc.valid_mtu(mtu):
            raise HarvesterError(f"the MTU {mtu} is out of range [0, {nc.MIN_MTU}..{nc.MAX_MTU}]")
        name = meta(vlanconfig)["name"]
        for other in self.state.vlanconfigs_on(cluster_network):
            other_name = meta(other)["name"]
            if other_name == name or deleting(other):
                continue
            other_mtu = nc.vlanconfig_mtu(other)
            if not nc.equal_mtus(mtu, other_mtu):
                raise HarvesterError(
                    f"the vlanconfig {name} MTU {mtu} is different with another vlanconfig {other_name} MTU "
                    f"{other_mtu}, all vlanconfigs on one clusternetwork need to have same MTU"
                )

    def _check_overlaps(self, vlanconfig: dict[str, Any], nodes: set[str]) -> None:
        """checkOverlaps: a node whose VlanStatus for this cluster network belongs to another VlanConfig."""
        cluster_network = _spec(vlanconfig).get("clusterNetwork", "")
        overlapping = []
        for node in sorted(nodes):
            status = self.state.get(VLANSTATUSES, nc.name("", cluster_network, node))
            if status is not None and (status.get("status") or {}).get("vlanConfig") != meta(vlanconfig)["name"]:
                overlapping.append(node)
        if overlapping:
            raise HarvesterError(f"it overlaps with other vlanconfigs matching node(s) [{' '.join(overlapping)}]")

    def _check_vmis(self, vlanconfig: dict[str, Any], nodes: set[str]) -> None:
        """checkVmi: VMs running on `nodes` with a NAD of the VlanConfig's cluster network block the change."""
        if not nodes:
            return
        nads = self.state.nads_on(_spec(vlanconfig).get("clusterNetwork", ""))
        vmis = [vmi for nad in nads for vmi in self.state.vmis_using(nad, nodes)]
        if vmis:
            raise HarvesterError(f"it is blocked by VM(s) {names_of(vmis)} which must be stopped at first")

    def _check_system_nads(self, vlanconfig: dict[str, Any], nodes: set[str]) -> None:
        """checkNetworkNadsAttached: the storage or RWX network's NAD still on the cluster network."""
        if not nodes:
            return
        for nad in self.state.nads_on(_spec(vlanconfig).get("clusterNetwork", "")):
            if not deleting(nad) and _is_system_network(nad):
                raise HarvesterError(f"the system network nad {meta(nad)['name']} is still attached")

    # --- NetworkAttachmentDefinition (pkg/webhook/nad) ---------------------------------------------------------

    def _patch_mtu(self, nad: dict[str, Any]) -> None:
        """Mutator.patchMTU (create only): spec.config's `mtu` set to the cluster network's MTU (sjson.Set), unless
        equal (0 = 1500)."""
        conf = nc.decode_netconf(nad)
        if conf.is_kube_ovn:
            return
        cluster_network = nc.cluster_network_of_bridge(conf.bridge)
        cn = self.state.cluster_network(cluster_network)
        if cn is None:
            raise HarvesterError(f'clusternetworks.network.harvesterhci.io "{cluster_network}" not found')
        target = nc.mtu_target(cn, self.state.vlanconfigs_on(cluster_network))
        if not nc.equal_mtus(target, conf.mtu):
            nad.setdefault("spec", {})["config"] = nc.set_config_mtu(nad["spec"]["config"], target)

    def _mutate_nad_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Mutator.Update: ensureLabels, then tagRouteOutdated."""
        if deleting(new):
            return
        old_conf, new_conf = nc.decode_netconf(old), nc.decode_netconf(new)
        self._ensure_nad_labels(new, new_conf)
        self._tag_route_outdated(new, old, old_conf, new_conf)

    def _ensure_nad_labels(self, nad: dict[str, Any], conf: nc.NetConf) -> None:
        """Mutator.ensureLabels: network labels from the config and `ready` from the cluster network's condition."""
        if conf.is_kube_ovn:
            return  # overlay networks: Harvester labels them from the nodes' underlay annotation; not emulated
        nad_labels = labels_of(nad)
        nc.network_labels(conf, nad_labels)
        cluster_network = nad_labels[nc.LABEL_CLUSTER_NETWORK]
        cn = self.state.cluster_network(cluster_network)
        if cn is None:
            raise HarvesterError(f'clusternetworks.network.harvesterhci.io "{cluster_network}" not found')
        nad_labels[nc.LABEL_READY] = "true" if condition_true(cn, "ready") else "false"
        meta(nad)["labels"] = nad_labels

    @staticmethod
    def _tag_route_outdated(
        new: dict[str, Any], old: dict[str, Any], old_conf: nc.NetConf, new_conf: nc.NetConf
    ) -> None:
        """tagRouteOutdated: on a VLAN change, OutdateNadLayer3NetworkConf (VLAN 0 drops the route annotation;
        otherwise auto mode is marked outdated and other modes lose the mark); with the same VLAN, a changed route
        mode is marked the same way (OutdateNadLayer3NetworkConfWhenRouteModeChanges)."""
        if new_conf.is_kube_ovn or not annotations_of(new):
            return
        new_annotations = annotations_of(new)
        route = new_annotations.get(nc.ANNOTATION_ROUTE, "")
        if not route:
            return
        if old_conf.vlan != new_conf.vlan:
            if new_conf.vlan == 0:
                del new_annotations[nc.ANNOTATION_ROUTE]
            else:
                new_annotations[nc.ANNOTATION_ROUTE] = nc.outdated_route(route)
            meta(new)["annotations"] = new_annotations
            return
        old_route = annotations_of(old).get(nc.ANNOTATION_ROUTE, "")
        if not old_route:
            return
        new_route, previous = nc.parse_route_loosely(route), nc.parse_route_loosely(old_route)
        if new_route.get("mode") == previous.get("mode"):
            return
        new_route["outdated"] = new_route.get("mode") == "auto"
        new_annotations[nc.ANNOTATION_ROUTE] = nc.route_text(new_route)
        meta(new)["annotations"] = new_annotations

    def _validate_nad(self, operation: str, new: dict[str, Any] | None, old: dict[str, Any] | None) -> None:
        if operation == "CREATE" and new is not None:
            # Validator.Create
            conf = nc.decode_netconf(new)
            self._check_storage_vlan(new, conf)
            if conf.is_kube_ovn:
                raise HarvesterError("kubeovn is not yet enabled")
            self._check_nad_config(new, conf)
            nc.parse_route(annotations_of(new).get(nc.ANNOTATION_ROUTE, ""))
        elif operation == "UPDATE" and new is not None and old is not None:
            self._validate_nad_update(new, old)
        elif operation == "DELETE" and old is not None:
            # Validator.Delete: checkVmi, then checkVM (VMs must drop the network first)
            conf = nc.decode_netconf(old)
            if conf.is_kube_ovn:
                return
            vmis = self.state.vmis_using(old)
            if vmis:
                raise HarvesterError(f"it's still used by VM(s) {names_of(vmis)} which must be stopped at first")
            vms = self.state.vms_using(old)
            if vms:
                raise HarvesterError(
                    f"it's still used by VM(s) {names_of(vms)} which must remove the related networks and interfaces"
                )

    def _validate_nad_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Validator.Update: the route always; the rest only when the config changed (reflect.DeepEqual)."""
        if deleting(new):
            return
        new_conf, old_conf = nc.decode_netconf(new), nc.decode_netconf(old)
        nc.parse_route(annotations_of(new).get(nc.ANNOTATION_ROUTE, ""))
        if new_conf.comparable == old_conf.comparable:
            return
        self._check_storage_vlan(new, new_conf)
        if old_conf.type != new_conf.type:  # checkNadTypes
            raise HarvesterError(
                f"nad cannot be updated from network type {old_conf.type} to network type {new_conf.type}"
            )
        if old_conf.bridge != new_conf.bridge:  # checkNadConfigBridgeName
            raise HarvesterError(f"nad bridge name can't be changed from {old_conf.bridge} to {new_conf.bridge}")
        self._check_nad_config(new, new_conf)
        vmis = self.state.vmis_using(new)
        if vmis:
            raise HarvesterError(f"it's still used by VM(s) {names_of(vmis)} which must be stopped at first")
        if _is_system_network(new):
            raise HarvesterError("system network nad's params can't be changed")

    def _check_nad_config(self, nad: dict[str, Any], conf: nc.NetConf) -> None:
        """checkNadConfig: VLANs valid, a valid bridge name matching the cluster-network label, the cluster network
        exists, and the config's MTU equals the cluster network's."""
        conf.check_vlans()
        cluster_network = nc.cluster_network_of_bridge(conf.bridge)
        label = labels_of(nad).get(nc.LABEL_CLUSTER_NETWORK, "")
        if label and label != cluster_network:
            raise HarvesterError(f"the nad label {label} does not match bridge name {cluster_network}")
        cn = self.state.cluster_network(cluster_network)
        if cn is None:
            raise HarvesterError(
                f"nad refers to a none-existing cluster network {cluster_network} or error "
                f'clusternetworks.network.harvesterhci.io "{cluster_network}" not found'
            )
        # Upstream lists the VlanConfigs by the NAD's label here (empty on a NAD created without it).
        target = nc.mtu_target(cn, self.state.vlanconfigs_on(label))
        if not nc.equal_mtus(target, conf.mtu):
            raise HarvesterError(f"nad MTU {conf.mtu} does not match cluster network MTU {target}")

    def _check_storage_vlan(self, nad: dict[str, Any], conf: nc.NetConf) -> None:
        """checkVlanOverlapWithSN: a VLAN the storage network reserves exclusively."""
        if _is_system_network(nad) or conf.is_kube_ovn:
            return
        storage = self.state.with_labels(NADS, {nc.LABEL_EXCLUSIVE_VLAN: "true"})
        if not storage:
            return
        storage_conf = nc.decode_netconf(storage[0])
        storage_vlan = storage_conf.vlan if not storage_conf.vlan_trunk else 0
        own_vlan = conf.vlan if not conf.vlan_trunk else 0
        if storage_vlan == own_vlan or storage_vlan in conf.vlan_ids():
            raise HarvesterError(f"vlan {storage_vlan} is exclusively reserved for storage network")


def _is_system_network(nad: dict[str, Any]) -> bool:
    """utils.IsSystemNetworkNad: in harvester-system, marked by annotation or name prefix (storage or RWX)."""
    if meta(nad).get("namespace") != nc.SYSTEM_NAMESPACE:
        return False
    marks = annotations_of(nad)
    name = meta(nad)["name"]
    return (
        marks.get(nc.STORAGE_NETWORK) == "true"
        or name.startswith("storagenetwork-")
        or marks.get(nc.RWX_NETWORK) == "true"
        or name.startswith("rwx-network-")
    )


def _affected_nodes(old: dict[str, Any], new: dict[str, Any], old_nodes: set[str], new_nodes: set[str]) -> set[str]:
    """getAffectedNodes: a changed cluster network or uplink affects every old node; otherwise the nodes dropped."""
    if _spec(old).get("clusterNetwork") != _spec(new).get("clusterNetwork") or _spec(old).get("uplink") != _spec(
        new
    ).get("uplink"):
        return old_nodes
    return old_nodes - new_nodes


# The error prefixes of each webhook (createErr, updateErr, deleteErr).
_ACTION_ERRORS = {
    CLUSTER_NETWORKS: "can't {verb} cluster network {name} because {error}",
    VLANCONFIGS: "can't {verb} vlanConfig {name} because {error}",
    NADS: "can't {verb} nad {namespace}/{name} because {error}",
}


def _action_error(resource_type: ResourceType, operation: str, obj: dict[str, Any], error: str) -> str:
    verb = {"CREATE": "create", "UPDATE": "update", "DELETE": "delete"}[operation]
    template = _ACTION_ERRORS[resource_type.storage_key]
    return template.format(verb=verb, name=meta(obj)["name"], namespace=meta(obj).get("namespace"), error=error)
