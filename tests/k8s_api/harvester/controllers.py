"""Harvester's network controllers (harvester/network-controller-harvester at 2e5cbea, pkg/controller), emulated
level-based: after any change to a kind they watch, one background pass (`reconcile`) brings every object to what
those controllers would write, through the API (so Harvester's webhooks see their writes too). Writes that change
something trigger another pass; `TestApiServer.cluster.controllers.settle()` waits until none is left.

The node agent's VLAN setup succeeds unless `failing_setup` names the node (with the error it fails with); the
NAD helper job's DHCP answer comes from `dhcp_answers` (VLAN ID -> (CIDR, gateway); none means "DHCP failed"); the
gateway ping gives `ping_result`. vm-dhcp-controller's IPPool controller is here too, for the NAD labels it writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from tests.k8s_api.cluster import WriteOptions
from tests.k8s_api.errors import ApiError
from tests.k8s_api.harvester import netconf as nc
from tests.k8s_api.harvester.netconf import HarvesterError
from tests.k8s_api.harvester.state import (
    CLUSTER_NETWORKS,
    IPPOOLS,
    LINKMONITORS,
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
)
from tests.k8s_api.resources import ResourceType
from tests.k8s_api.util import clone, now_rfc3339

_log = logging.getLogger(__name__)
# The user agent of Harvester's controller binary, so its writes show as this field manager.
MANAGER = "harvester-network-controller"
WATCHED = {CLUSTER_NETWORKS, VLANCONFIGS, VLANSTATUSES, NADS, NODES, LINKMONITORS, IPPOOLS}
# wrangler's OnRemove handlers put a finalizer "wrangler.cattle.io/<controller name>" on every object they watch
# (pkg/generic/remove.go) and remove it once their handler ran for the deleted object.
_NETWORK_CONTROLLERS = {
    CLUSTER_NETWORKS: ("harvester-network-manager-cn-controller",),
    VLANCONFIGS: ("harvester-network-vlanconfig-controller", "harvester-network-manager-vlanconfig-controller"),
    VLANSTATUSES: ("harvester-network-manager-vlanconfig-controller",),
    NADS: ("harvester-network-manager-nad-controller",),
    IPPOOLS: ("vm-dhcp-ippool-controller",),
}
FINALIZERS = {key: tuple(f"wrangler.cattle.io/{name}" for name in names) for key, names in _NETWORK_CONTROLLERS.items()}
LABEL_IPPOOL_NAMESPACE = f"{nc.GROUP}/ippool-namespace"
LABEL_IPPOOL_NAME = f"{nc.GROUP}/ippool-name"


def _ready_condition(obj: dict[str, Any], status: str, message: str = "") -> None:
    """wrangler's condition.Cond("ready").SetStatus + Message: lastUpdateTime moves only when the status changes;
    an empty message is omitted."""
    conditions = list((obj.setdefault("status", {}) or {}).get("conditions") or [])
    current = next((c for c in conditions if c.get("type") == "ready"), None)
    if current is None:
        current = {"type": "ready"}
        conditions.append(current)
    if current.get("status") != status:
        current["lastUpdateTime"] = now_rfc3339()
    current["status"] = status
    if message:
        current["message"] = message
    else:
        current.pop("message", None)
    obj["status"]["conditions"] = conditions


class NetworkControllers:
    def __init__(self, state: State) -> None:
        self.state = state
        self.cluster = state.cluster
        self.dhcp_answers: dict[int, tuple[str, str]] = {}
        self.ping_result = "true"
        # node -> the error its agent's VLAN setup fails with (setUplink / vlan.Setup); absent: setup succeeds.
        self.failing_setup: dict[str, str] = {}
        # (node, VlanConfig) -> the VlanConfig's resourceVersion its agent last ran setupVLAN for: the agent acts on
        # VlanConfig events, so a node label it wrote is not rewritten until the VlanConfig changes again.
        self._agent_handled: dict[tuple[str, str], str] = {}
        self._queued = False
        self._helper_jobs: set[tuple[str, str, str]] = set()

    # --- scheduling ---------------------------------------------------------------------------------------------

    def observe(self, resource_type: ResourceType, obj: dict[str, Any]) -> None:
        """Controllers.observers hook (under the cluster's lock): queue one pass, if none is queued yet."""
        if resource_type.storage_key in WATCHED and not self._queued:
            self._queued = True
            self.cluster.controllers.enqueue(self.reconcile)

    def reconcile(self) -> None:
        self._queued = False
        steps: list[Callable[[], None]] = [
            self._add_finalizers,
            self._match_new_nodes,
            self._ensure_cluster_networks,
            self._replace_mtu_source,
            self._run_agents,
            self._cluster_network_ready,
            self._link_monitors,
            self._nad_labels,
            self._nad_mtus,
            self._vlan_id_sets,
            self._route_connectivity,
            self._ippool_nad_labels,
            self._release_finalizers,
        ]
        for step in steps:
            try:
                step()
            except (ApiError, HarvesterError) as error:  # a real controller logs and retries on the next event
                _log.info("harvester %s: %s", step.__name__, error)

    def check_connectivity(self, result: str) -> None:
        """CheckConnectivityPeriodically (every 15 minutes there): each NAD with a complete route gets `result`."""
        with self.cluster.lock:
            self.ping_result = result
            for nad in self.state.objects(NADS):
                route = self._complete_route(nad)
                if route is not None and route.get("connectivity") != result:
                    self._update(NADS, nad, _set_route, {**route, "connectivity": result})

    # --- writes -------------------------------------------------------------------------------------------------

    def _update(
        self, storage_key: tuple[str, str], obj: dict[str, Any], change: Callable[..., None], *args: Any
    ) -> None:
        """An Update (PUT) by the controller of `obj` changed by `change(new, *args)`: the whole object, so it also
        goes through the webhooks."""
        resource_type = self.state.type_of(storage_key)
        self.cluster.internal_update(resource_type, obj, lambda new: change(new, *args), manager=MANAGER)

    def _create(self, storage_key: tuple[str, str], body: dict[str, Any]) -> None:
        namespace = meta(body).get("namespace")
        self.cluster.create(self.state.type_of(storage_key), namespace, body, WriteOptions(field_manager=MANAGER))

    def _delete(self, storage_key: tuple[str, str], obj: dict[str, Any]) -> None:
        self.cluster.internal_delete(self.state.type_of(storage_key), obj, "Background")

    # --- finalizers (wrangler generic.NewRemoveHandler) ------------------------------------------------------------

    def _add_finalizers(self) -> None:
        """objectLifecycleAdapter.addFinalizer: each live object of a watched kind gets its controllers' finalizers."""
        for storage_key, finalizers in FINALIZERS.items():
            for obj in self.state.objects(storage_key):
                missing = [f for f in finalizers if f not in (meta(obj).get("finalizers") or [])]
                if missing and not deleting(obj):
                    self._update(storage_key, obj, _set_finalizers, [*(meta(obj).get("finalizers") or []), *missing])

    def _release_finalizers(self) -> None:
        """objectLifecycleAdapter.removeFinalizer: a deleted object loses them once the handlers above have run for
        it in this pass (they treat a deleting object as gone)."""
        for storage_key, finalizers in FINALIZERS.items():
            for obj in self.state.objects(storage_key):
                current = list(meta(obj).get("finalizers") or [])
                if deleting(obj) and any(f in current for f in finalizers):
                    self._update(storage_key, obj, _set_finalizers, [f for f in current if f not in finalizers])

    # --- VlanConfigs and nodes ----------------------------------------------------------------------------------

    def _match_new_nodes(self) -> None:
        """manager/node OnChange -> updateMatchedNodeAnnotation (and OnRemove -> removeNodeFromVlanConfig): each
        non-witness node is added to or removed from every VlanConfig's matched-nodes by its nodeSelector."""
        nodes = {meta(n)["name"]: labels_of(n) for n in self.state.objects(NODES) if not deleting(n)}
        for vlanconfig in self.state.objects(VLANCONFIGS):
            spec = vlanconfig.get("spec") or {}
            if spec.get("clusterNetwork") == nc.MGMT or deleting(vlanconfig):
                continue
            current = matched_nodes(vlanconfig)
            selector = spec.get("nodeSelector") or {}
            wanted = {n for n in current if n in nodes}
            for node, node_labels in nodes.items():
                if nc.LABEL_WITNESS_NODE in node_labels:
                    continue
                if all(node_labels.get(k) == v for k, v in selector.items()):
                    wanted.add(node)
                else:
                    wanted.discard(node)
            if wanted != current:
                encoded = nc.go_json(sorted(wanted))
                self._update(VLANCONFIGS, vlanconfig, _annotate, nc.ANNOTATION_MATCHED_NODES, encoded)

    def _ensure_cluster_networks(self) -> None:
        """manager/vlanconfig EnsureClusterNetwork -> ensureClusterNetwork: the cluster network gets the VlanConfig's
        MTU (0 or invalid = 1500) as uplink-mtu and the VlanConfig as mtu-source-vc; created if missing."""
        for vlanconfig in self.state.objects(VLANCONFIGS):
            spec = vlanconfig.get("spec") or {}
            name = spec.get("clusterNetwork", "")
            if name == nc.MGMT or deleting(vlanconfig):
                continue
            mtu = nc.vlanconfig_mtu(vlanconfig)
            target = str(mtu if nc.valid_mtu(mtu) and mtu else nc.DEFAULT_MTU)
            source = meta(vlanconfig)["name"]
            cn = self.state.cluster_network(name)
            if cn is None:
                marks = {nc.ANNOTATION_UPLINK_MTU: target, nc.ANNOTATION_MTU_SOURCE: source}
                self._create(CLUSTER_NETWORKS, {"metadata": {"name": name, "annotations": marks}})
            elif annotations_of(cn).get(nc.ANNOTATION_UPLINK_MTU) != target:
                self._update(CLUSTER_NETWORKS, cn, _annotate_mtu, target, source)

    def _replace_mtu_source(self) -> None:
        """manager/vlanconfig OnVlanConfigRemove: when the mtu-source-vc VlanConfig is gone, another VlanConfig of
        the cluster network (non-zero MTU first) becomes the source; with none left both annotations go."""
        for cn in self.state.objects(CLUSTER_NETWORKS):
            name = meta(cn)["name"]
            source = annotations_of(cn).get(nc.ANNOTATION_MTU_SOURCE)
            source_vc = self.state.get(VLANCONFIGS, source) if source else None
            if name == nc.MGMT or not source or (source_vc is not None and not deleting(source_vc)):
                continue
            candidates = [
                vc for vc in self.state.vlanconfigs_on(name) if not deleting(vc) and nc.valid_mtu(nc.vlanconfig_mtu(vc))
            ]
            candidates.sort(key=lambda vc: nc.vlanconfig_mtu(vc) == 0)
            if candidates:
                mtu = str(nc.vlanconfig_mtu(candidates[0]) or nc.DEFAULT_MTU)
                chosen = meta(candidates[0])["name"]
                self._update(CLUSTER_NETWORKS, cn, _annotate_mtu, mtu, chosen)
            else:
                self._update(CLUSTER_NETWORKS, cn, _drop_mtu_annotations)

    def _run_agents(self) -> None:
        """agent/vlanconfig OnChange/OnRemove on every node: for each VlanConfig whose matched-nodes names the node,
        setupVLAN -> updateStatus (a VlanStatus `utils.Name("", cn, node)`, ready) and addNodeLabel; a VlanStatus
        whose VlanConfig no longer matches (or moved to another cluster network) is removed with removeNodeLabel."""
        for node in self.state.objects(NODES):
            node_name = meta(node)["name"]
            matched = [
                vc
                for vc in self.state.objects(VLANCONFIGS)
                if not deleting(vc)
                and (vc.get("spec") or {}).get("clusterNetwork") != nc.MGMT
                and node_name in matched_nodes(vc)
            ]
            wanted = {meta(vc)["name"]: vc for vc in matched}
            for status in self.state.with_labels(VLANSTATUSES, {nc.LABEL_NODE: node_name}):
                if deleting(status):
                    continue
                body = status.get("status") or {}
                owner = wanted.get(body.get("vlanConfig", ""))
                if owner is None or (owner.get("spec") or {}).get("clusterNetwork") != body.get("clusterNetwork"):
                    self._delete(VLANSTATUSES, status)
                    self._remove_node_labels(node_name, body.get("clusterNetwork", ""), body.get("vlanConfig", ""))
            for vlanconfig in matched:
                failure = self.failing_setup.get(node_name, "")
                self._update_status(vlanconfig, node_name, failure)
                event = (node_name, meta(vlanconfig)["name"])
                if not failure and self._agent_handled.get(event) != meta(vlanconfig)["resourceVersion"]:
                    # setupVLAN returns before addNodeLabel when the setup failed
                    self._add_node_labels(node_name, vlanconfig)
                    self._agent_handled[event] = meta(vlanconfig)["resourceVersion"]

    def _update_status(self, vlanconfig: dict[str, Any], node: str, failure: str) -> None:
        """agent/vlanconfig updateStatus: ready, or not ready with the setup error as message."""
        cluster_network = vlanconfig["spec"]["clusterNetwork"]
        vc_name = meta(vlanconfig)["name"]
        status_name = nc.name("", cluster_network, node)
        status_labels = {nc.LABEL_CLUSTER_NETWORK: cluster_network, nc.LABEL_VLANCONFIG: vc_name, nc.LABEL_NODE: node}

        def shape(obj: dict[str, Any]) -> None:
            meta(obj)["labels"] = dict(status_labels)
            body = obj.setdefault("status", {})
            body.update({"clusterNetwork": cluster_network, "vlanConfig": vc_name, "linkMonitor": cluster_network,
                         "node": node})  # fmt: skip
            _ready_condition(obj, "False" if failure else "True", failure)

        current = self.state.get(VLANSTATUSES, status_name)
        if current is not None and deleting(current):
            return  # the old one is still going; the next pass creates the new one
        if current is None:
            owner = {"apiVersion": nc.GROUP + "/v1beta1", "kind": "VlanConfig", "name": vc_name,
                     "uid": meta(vlanconfig)["uid"]}  # fmt: skip
            created: dict[str, Any] = {"metadata": {"name": status_name, "ownerReferences": [owner]}}
            shape(created)
            self._create(VLANSTATUSES, created)
            return
        updated = clone(current)
        shape(updated)
        if updated != current:
            self._update(VLANSTATUSES, current, shape)

    def _add_node_labels(self, node_name: str, vlanconfig: dict[str, Any]) -> None:
        """agent/vlanconfig addNodeLabel: `network.harvesterhci.io/<cn>: "true"` and the VlanConfig's name."""
        node = self.state.get(NODES, node_name)
        if node is None:
            return
        wanted = {
            nc.node_cluster_network_label(vlanconfig["spec"]["clusterNetwork"]): "true",
            nc.LABEL_VLANCONFIG: meta(vlanconfig)["name"],
        }
        if any(labels_of(node).get(k) != v for k, v in wanted.items()):
            self._update(NODES, node, _label, wanted)

    def _remove_node_labels(self, node_name: str, cluster_network: str, vlanconfig: str) -> None:
        """agent/vlanconfig removeNodeLabel."""
        node = self.state.get(NODES, node_name)
        key = nc.node_cluster_network_label(cluster_network)
        if node is None or not (
            labels_of(node).get(key) == "true" or labels_of(node).get(nc.LABEL_VLANCONFIG) == vlanconfig
        ):
            return

        def change(new: dict[str, Any]) -> None:
            remaining = {k: v for k, v in labels_of(new).items() if k not in (key, nc.LABEL_VLANCONFIG)}
            meta(new)["labels"] = remaining

        self._update(NODES, node, change)

    # --- ClusterNetworks ----------------------------------------------------------------------------------------

    def _cluster_network_ready(self) -> None:
        """manager/vlanconfig SetClusterNetworkReady (any VlanStatus of it, ready or not, marks it ready) and
        SetClusterNetworkUnready (its last VlanStatus gone: not ready)."""
        statuses = [s for s in self.state.objects(VLANSTATUSES) if not deleting(s)]
        with_status = {(s.get("status") or {}).get("clusterNetwork") for s in statuses}
        for cn in self.state.objects(CLUSTER_NETWORKS):
            name = meta(cn)["name"]
            if name == nc.MGMT:
                continue
            if name in with_status and not condition_true(cn, "ready"):
                self._update(CLUSTER_NETWORKS, cn, _ready_condition, "True")
            elif name not in with_status and condition_true(cn, "ready"):
                self._update(CLUSTER_NETWORKS, cn, _ready_condition, "False")

    def _link_monitors(self) -> None:
        """manager/clusternetwork EnsureLinkMonitor (a LinkMonitor per ready cluster network) and DeleteLinkMonitor
        (removed with its cluster network)."""
        if not self.state.served(LINKMONITORS):
            return
        for cn in self.state.objects(CLUSTER_NETWORKS):
            name = meta(cn)["name"]
            if deleting(cn) or not condition_true(cn, "ready") or self.state.get(LINKMONITORS, name) is not None:
                continue
            rule = {"nameRule": f"{name}({nc.BRIDGE_SUFFIX}|-bo)"}
            self._create(LINKMONITORS, {"metadata": {"name": name}, "spec": {"targetLinkRule": rule}})
        for monitor in self.state.objects(LINKMONITORS):
            name = meta(monitor)["name"]
            owner = self.state.cluster_network(name)
            if name != "nic" and (owner is None or deleting(owner)):
                self._delete(LINKMONITORS, monitor)

    # --- NADs ---------------------------------------------------------------------------------------------------

    def _nad_labels(self) -> None:
        """manager/nad ensureLabels (and manager/clusternetwork setNadReadyLabel): network labels from the config,
        `ready` from the cluster network's ready condition."""
        for nad in self.state.objects(NADS):
            if deleting(nad):
                continue
            conf = nc.decode_netconf(nad)
            if conf.is_kube_ovn:
                continue
            wanted = labels_of(nad)
            nc.network_labels(conf, wanted)
            cn = self.state.cluster_network(wanted[nc.LABEL_CLUSTER_NETWORK])
            if cn is None:
                continue
            wanted[nc.LABEL_READY] = "true" if condition_true(cn, "ready") and not deleting(cn) else "false"
            if wanted != labels_of(nad):
                self._update(NADS, nad, _set_labels, wanted)

    def _nad_mtus(self) -> None:
        """manager/nad OnCNChange: every NAD of a cluster network with a valid uplink-mtu gets that `mtu` (sjson)."""
        for cn in self.state.objects(CLUSTER_NETWORKS):
            text = annotations_of(cn).get(nc.ANNOTATION_UPLINK_MTU, "")
            if deleting(cn) or not text:
                continue
            try:
                mtu = nc.mtu_from_string(text)
            except HarvesterError:
                continue
            for nad in self.state.nads_on(meta(cn)["name"]):
                if nc.equal_mtus(mtu, nc.decode_netconf(nad).mtu):
                    continue
                config = nc.set_config_mtu(nad["spec"]["config"], mtu)
                self._update(NADS, nad, _set_config, config)

    def _vlan_id_sets(self) -> None:
        """manager/nad UpdateClusterNetworkVlanSet: the cluster network's vlan-id-set-str and its SHA-256, from the
        VLAN IDs of its bridge NADs (written once it has had a NAD)."""
        for cn in self.state.objects(CLUSTER_NETWORKS):
            name = meta(cn)["name"]
            nads = [n for n in self.state.nads_on(name) if not deleting(n)]
            if deleting(cn) or (not nads and nc.ANNOTATION_VID_SET not in annotations_of(cn)):
                continue
            ids: set[int] = set()
            for nad in nads:
                conf = nc.decode_netconf(nad)
                if conf.is_bridge:
                    ids |= conf.vlan_ids()
            text, digest = nc.vid_set_annotations(ids)
            marks = annotations_of(cn)
            if marks.get(nc.ANNOTATION_VID_SET) != text or marks.get(nc.ANNOTATION_VID_SET_HASH) != digest:
                self._update(
                    CLUSTER_NETWORKS,
                    cn,
                    _annotate_vid_set,
                    text,
                    digest,
                )

    def _route_connectivity(self) -> None:
        """manager/nad EnsureJob2GetLayer3NetworkInfo for tagged NADs with a route: auto mode without a current
        CIDR and gateway runs the helper job once per (VLAN, DHCP server) (pkg/helper: GetVLANLayer3Network ->
        RecordToNad); a complete, current route without connectivity gets the ping's (initializeConnectivity ->
        updateNetworkConf). Both rewrite the annotation as json.Marshal does."""
        for nad in self.state.objects(NADS):
            nad_labels = labels_of(nad)
            if deleting(nad) or not (
                nad_labels.get(nc.LABEL_VLAN_ID)
                and nad_labels.get(nc.LABEL_NETWORK_TYPE)
                and nad_labels.get(nc.LABEL_CLUSTER_NETWORK)
            ):
                continue
            text = annotations_of(nad).get(nc.ANNOTATION_ROUTE, "")
            if not text:
                continue
            try:
                route = nc.parse_route(text)
            except HarvesterError:
                continue
            if route.get("cidr") and route.get("gateway") and not route.get("outdated"):
                if not route.get("connectivity"):
                    self._update(NADS, nad, _set_route, {**route, "connectivity": self.ping_result})
                continue
            if route.get("mode") != "auto":
                continue
            vlan = int(nad_labels[nc.LABEL_VLAN_ID])
            job = (meta(nad)["uid"], str(vlan), route.get("serverIPAddr", ""))
            if job in self._helper_jobs:
                continue
            self._helper_jobs.add(job)
            answer: dict[str, Any] = {"mode": "auto", "serverIPAddr": route.get("serverIPAddr", "")}
            if vlan in self.dhcp_answers:
                answer["cidr"], answer["gateway"] = self.dhcp_answers[vlan]
            else:
                answer["connectivity"] = "DHCP failed"
            self._update(NADS, nad, _set_route, answer)

    def _ippool_nad_labels(self) -> None:
        """vm-dhcp-controller (c3042d6) pkg/controller/ippool OnChange -> ensureNADLabels: the NAD named by
        spec.networkName (`<ns>/<name>`, kv.RSplit) gets labels naming the IPPool."""
        for pool in self.state.objects(IPPOOLS):
            if deleting(pool):
                continue
            namespace, _, name = str((pool.get("spec") or {}).get("networkName", "")).rpartition("/")
            nad = self.state.get(NADS, name, namespace)
            if nad is None:
                continue
            wanted = {LABEL_IPPOOL_NAMESPACE: meta(pool)["namespace"], LABEL_IPPOOL_NAME: meta(pool)["name"]}
            if any(labels_of(nad).get(k) != v for k, v in wanted.items()):
                self._update(NADS, nad, _label, wanted)

    def _complete_route(self, nad: dict[str, Any]) -> dict[str, Any] | None:
        text = annotations_of(nad).get(nc.ANNOTATION_ROUTE, "")
        try:
            route = nc.parse_route(text) if text else {}
        except HarvesterError:
            return None
        if route.get("cidr") and route.get("gateway") and not route.get("outdated"):
            return route
        return None


def _annotate(obj: dict[str, Any], key: str, value: str) -> None:
    meta(obj)["annotations"] = {**annotations_of(obj), key: value}


def _annotate_mtu(obj: dict[str, Any], mtu: str, source: str) -> None:
    meta(obj)["annotations"] = {**annotations_of(obj), nc.ANNOTATION_UPLINK_MTU: mtu, nc.ANNOTATION_MTU_SOURCE: source}


def _drop_mtu_annotations(obj: dict[str, Any]) -> None:
    kept = {
        k: v for k, v in annotations_of(obj).items() if k not in (nc.ANNOTATION_UPLINK_MTU, nc.ANNOTATION_MTU_SOURCE)
    }
    meta(obj)["annotations"] = kept


def _label(obj: dict[str, Any], wanted: dict[str, str]) -> None:
    meta(obj)["labels"] = {**labels_of(obj), **wanted}


def _set_route(obj: dict[str, Any], route: dict[str, Any]) -> None:
    _annotate(obj, nc.ANNOTATION_ROUTE, nc.route_text(route))


def _set_labels(obj: dict[str, Any], wanted: dict[str, str]) -> None:
    meta(obj)["labels"] = wanted


def _set_config(obj: dict[str, Any], config: str) -> None:
    obj.setdefault("spec", {})["config"] = config


def _annotate_vid_set(obj: dict[str, Any], text: str, digest: str) -> None:
    meta(obj)["annotations"] = {**annotations_of(obj), nc.ANNOTATION_VID_SET: text, nc.ANNOTATION_VID_SET_HASH: digest}


def _set_finalizers(obj: dict[str, Any], finalizers: list[str]) -> None:
    if finalizers:
        meta(obj)["finalizers"] = finalizers
    else:
        meta(obj).pop("finalizers", None)
