"""What Harvester's informer caches would answer, read from the test server's store (callers hold its lock)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tests.k8s_api.harvester import netconf as nc

if TYPE_CHECKING:
    from tests.k8s_api.cluster import Cluster
    from tests.k8s_api.resources import ResourceType

CLUSTER_NETWORKS = (nc.GROUP, "clusternetworks")
VLANCONFIGS = (nc.GROUP, "vlanconfigs")
VLANSTATUSES = (nc.GROUP, "vlanstatuses")
LINKMONITORS = (nc.GROUP, "linkmonitors")
IPPOOLS = (nc.GROUP, "ippools")
NADS = ("k8s.cni.cncf.io", "network-attachment-definitions")
NODES = ("", "nodes")
VMS = ("kubevirt.io", "virtualmachines")
VMIS = ("kubevirt.io", "virtualmachineinstances")


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = obj.setdefault("metadata", {})
    return result


def labels_of(obj: dict[str, Any]) -> dict[str, str]:
    return dict(meta(obj).get("labels") or {})


def annotations_of(obj: dict[str, Any]) -> dict[str, str]:
    return dict(meta(obj).get("annotations") or {})


def deleting(obj: dict[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def full_name(obj: dict[str, Any]) -> str:
    return f"{meta(obj).get('namespace')}/{meta(obj)['name']}"


def matched_nodes(vlanconfig: dict[str, Any]) -> set[str]:
    """The matched-nodes annotation as a set (webhook getMatchNodes, agent MatchNode); bad JSON is an error."""
    text = annotations_of(vlanconfig).get(nc.ANNOTATION_MATCHED_NODES, "")
    try:
        return set(json.loads(text)) if text else set()
    except (ValueError, TypeError) as error:
        raise nc.HarvesterError(str(error)) from error


def condition_true(obj: dict[str, Any], kind: str) -> bool:
    """wrangler's condition.Cond.IsTrue on `status.conditions`."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


class State:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def served(self, storage_key: tuple[str, str]) -> bool:
        return bool(self.cluster.registry.versions_of(storage_key))

    def type_of(self, storage_key: tuple[str, str]) -> ResourceType:
        return self.cluster.type_of(storage_key)

    def get(self, storage_key: tuple[str, str], name: str, namespace: str = "") -> dict[str, Any] | None:
        if not self.served(storage_key):
            return None
        return self.cluster.store.get(storage_key, namespace, name)

    def objects(self, storage_key: tuple[str, str]) -> list[dict[str, Any]]:
        """Sorted by namespace and name (an informer cache's order is random; tests want one)."""
        if not self.served(storage_key):
            return []
        found = self.cluster.store.objects(storage_key)
        return sorted(found, key=lambda o: (meta(o).get("namespace") or "", meta(o)["name"]))

    def with_labels(self, storage_key: tuple[str, str], selector: dict[str, str]) -> list[dict[str, Any]]:
        return [o for o in self.objects(storage_key) if all(labels_of(o).get(k) == v for k, v in selector.items())]

    def cluster_network(self, name: str) -> dict[str, Any] | None:
        return self.get(CLUSTER_NETWORKS, name)

    def vlanconfigs_on(self, cluster_network: str) -> list[dict[str, Any]]:
        return self.with_labels(VLANCONFIGS, {nc.LABEL_CLUSTER_NETWORK: cluster_network})

    def nads_on(self, cluster_network: str) -> list[dict[str, Any]]:
        return self.with_labels(NADS, {nc.LABEL_CLUSTER_NETWORK: cluster_network})

    def vmis_using(self, nad: dict[str, Any], nodes: set[str] | None = None) -> list[dict[str, Any]]:
        """VmiGetter.WhoUseNad (pkg/utils/vmi.go) with the webhook's vmiByNetwork index: VMIs whose multus network
        is `<ns>/<name>`, or `<name>` in the NAD's namespace; only those on `nodes` when given."""
        return [
            vmi
            for vmi in self.objects(VMIS)
            if _uses(vmi, nad, (vmi.get("spec") or {}).get("networks") or [])
            and (nodes is None or (vmi.get("status") or {}).get("nodeName") in nodes)
        ]

    def vms_using(self, nad: dict[str, Any]) -> list[dict[str, Any]]:
        """VMGetter.WhoUseNad (pkg/utils/vm.go) with the webhook's vmByNetwork index."""
        return [
            vm
            for vm in self.objects(VMS)
            if _uses(vm, nad, (((vm.get("spec") or {}).get("template") or {}).get("spec") or {}).get("networks") or [])
        ]


def _uses(user: dict[str, Any], nad: dict[str, Any], networks: list[dict[str, Any]]) -> bool:
    nad_meta = meta(nad)
    for network in networks:
        multus = network.get("multus") or {}
        wanted = multus.get("networkName")
        if wanted == f"{nad_meta.get('namespace')}/{nad_meta['name']}":
            return True
        if wanted == nad_meta["name"] and meta(user).get("namespace") == nad_meta.get("namespace"):
            return True
    return False


def names_of(objects: list[dict[str, Any]]) -> str:
    """generateVmiNameList joined by ', ', duplicates removed (mapset); sorted here, where Go's order is random."""
    return ", ".join(sorted({full_name(o) for o in objects}))
