"""Where VlanStatus objects go: a directory (manifest-directory mode) or the Kubernetes API.

In the API, per pass (KubeStatusSink):
- each VlanStatus of this node by server-side apply, as this node's own field manager `hvnet-agent@<node>`:
  labels and owner to the object, the rest to its status subresource; only those that changed (from what the
  last publish left; the API's are listed when the same statuses come again, a resync, or after a failure);
- this node's VlanStatuses of cluster networks no longer set up here are deleted;
- the node label `network.harvesterhci.io/<cn>: "true"` is added once `<cn>` is ready here and removed when it
  is torn down (a failed setup leaves it as it was, as Harvester does), by server-side apply of those labels
  only: a label the agent stops applying goes (and if another manager also set it, a merge patch removes
  it), and no other label is touched;
- a ClusterNetwork gets its `ready` condition once one node has it ready (Harvester's controller does this
  where Harvester runs); the agent never sets it back to False, since other nodes may still carry it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import yaml

from harvester_network.agent.reconcile import now_rfc3339
from harvester_network.kube import KubeClient, KubeError, KubeTarget, condition
from harvester_network.render import harvester as h
from harvester_network.render.vlanstatus import node_labels


class StatusSink(Protocol):
    def publish(self, node: str, statuses: list[dict[str, Any]]) -> None:
        """Make this node's VlanStatuses exactly `statuses`: write changed ones, remove the rest."""


def _without_timestamps(status: dict[str, Any]) -> Any:
    """What a VlanStatus says, minus lastUpdateTime and the API's bookkeeping, to write only what really changed."""
    body = dict(status.get("status") or {})
    body["conditions"] = [{k: v for k, v in c.items() if k != "lastUpdateTime"} for c in body.get("conditions", [])]
    metadata = status.get("metadata") or {}
    return (metadata.get("name"), metadata.get("labels"), metadata.get("ownerReferences"), body)


class DirStatusSink:
    """One `<VlanStatus name>.yaml` per status, written atomically (temp file + rename)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _ours(self, node: str) -> dict[str, Path]:
        found = {}
        for path in self.directory.glob("*.yaml"):
            try:
                loaded = yaml.safe_load(path.read_text())
            except (OSError, yaml.YAMLError):
                continue
            if isinstance(loaded, dict) and loaded.get("metadata", {}).get("labels", {}).get(h.LABEL_NODE) == node:
                found[path.stem] = path
        return found

    def publish(self, node: str, statuses: list[dict[str, Any]]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stale = self._ours(node)
        for status in statuses:
            name = status["metadata"]["name"]
            path = self.directory / f"{name}.yaml"
            stale.pop(name, None)
            if path.exists() and _without_timestamps(yaml.safe_load(path.read_text()) or {}) == _without_timestamps(
                status
            ):
                continue
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(yaml.safe_dump(status, sort_keys=False))
            os.replace(tmp, path)
        for path in stale.values():
            path.unlink(missing_ok=True)


def agent_field_manager(node: str) -> str:
    """Each node's agent writes as its own field manager, so the API shows which node wrote what."""
    return f"hvnet-agent@{node}"


class KubeStatusSink:
    """VlanStatuses, node labels and ClusterNetwork readiness in the API (see the module docstring)."""

    def __init__(self, target: KubeTarget) -> None:
        self.target = target
        # Per node: the statuses of its last publish that succeeded, and what the API then held ({VlanStatus name:
        # what it says}). A publish of other statuses (a change) writes what differs from that, without listing
        # the API's VlanStatuses (at 4,000 local areas each list decodes to a megabyte of dicts); the same
        # statuses again (a resync) or a publish after a failed one list them, and put back what others changed.
        self._published: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {}

    def publish(self, node: str, statuses: list[dict[str, Any]]) -> None:
        """Raises KubeError when the API refuses or is unreachable; the caller publishes again soon."""
        manager = agent_field_manager(node)
        last = self._published.pop(node, None)  # known again once this publish succeeded
        with KubeClient(self.target) as kube:
            if last is None or last[0] is statuses:
                listed = kube.list_objects("VlanStatus", labels={h.LABEL_NODE: node})
                live = {obj["metadata"]["name"]: _without_timestamps(obj) for obj in listed}
            else:
                live = dict(last[1])
            held = {}
            for status in statuses:
                name, says = status["metadata"]["name"], _without_timestamps(status)
                if live.pop(name, None) != says:
                    self._apply_status(kube, status, manager)
                held[name] = says
            for name in live:
                kube.delete("VlanStatus", name)
            ready = {s["status"]["clusterNetwork"] for s in statuses if _is_ready(s)}
            failed = {s["status"]["clusterNetwork"] for s in statuses} - ready
            self._label_node(kube, node, ready, failed, manager)
            for cluster_network in sorted(ready):
                self._mark_ready(kube, cluster_network, manager)
        self._published[node] = (statuses, held)

    @staticmethod
    def _apply_status(kube: KubeClient, status: dict[str, Any], manager: str) -> None:
        # with Harvester's CRD (no status subresource) this writes it all
        kube.apply(status, field_manager=manager, read_back=False)
        _apply_to_status_subresource(kube, {**status, "metadata": {"name": status["metadata"]["name"]}}, manager)

    @staticmethod
    def _label_node(kube: KubeClient, node: str, ready: set[str], failed: set[str], manager: str) -> None:
        live = kube.get("Node", node)
        if live is None:
            return
        current = live["metadata"].get("labels") or {}
        labels = node_labels(ready, failed, current)
        owned = _applied_label_keys(live, manager)
        if owned != set(labels) or any(current.get(key) != value for key, value in labels.items()):
            live = kube.apply(
                {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node, "labels": labels}},
                field_manager=manager,
            )
        # Server-side apply keeps a label another manager also set (kubectl label, an earlier agent): remove it.
        left = (owned - set(labels)) & set(live["metadata"].get("labels") or {})
        if left:
            kube.merge_patch("Node", node, {"metadata": {"labels": dict.fromkeys(sorted(left))}})

    @staticmethod
    def _mark_ready(kube: KubeClient, cluster_network: str, manager: str) -> None:
        live = kube.get("ClusterNetwork", cluster_network)
        if live is None or (condition(live, "ready") or {}).get("status") == "True":
            return
        ready = {"type": "ready", "status": "True", "lastUpdateTime": now_rfc3339()}
        body = {"apiVersion": h.NETWORK_API, "kind": "ClusterNetwork", "metadata": {"name": cluster_network}}
        # Harvester's own CRD has no status subresource: there its controller marks the ClusterNetwork ready.
        _apply_to_status_subresource(kube, {**body, "status": {"conditions": [ready]}}, manager)


def _apply_to_status_subresource(kube: KubeClient, obj: dict[str, Any], manager: str) -> None:
    """Server-side apply to the object's status subresource; nothing when its CRD has none (the API says 404)."""
    try:
        kube.apply(obj, field_manager=manager, subresource="status", read_back=False)
    except KubeError as error:
        if not error.not_found:
            raise


def _is_ready(status: dict[str, Any]) -> bool:
    return any(c.get("type") == "ready" and c.get("status") == "True" for c in status["status"]["conditions"])


def _applied_label_keys(obj: dict[str, Any], manager: str) -> set[str]:
    """The labels `manager` owns by server-side apply (its managedFields entry, `f:metadata.f:labels`)."""
    keys: set[str] = set()
    for entry in obj["metadata"].get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply" and not entry.get("subresource"):
            labels = ((entry.get("fieldsV1") or {}).get("f:metadata") or {}).get("f:labels") or {}
            keys |= {key.removeprefix("f:") for key in labels}
    return keys
