"""Where the agent's objects come from. This part: the Kubernetes API (`hvnet agent` without `--from-dir`).

Four live mirrors (kube/watch.py): every ClusterNetwork, VlanConfig and NAD, and this node's own Node object.
The agent reads them; it never adds finalizers to these shared objects (teardown follows from a VlanConfig
that is gone or no longer matches, and a restarted agent sees the same thing).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from harvester_network.agent.inputs import ClusterObjects, NodeIdentity
from harvester_network.agent.wakeup import Wakeup
from harvester_network.kube import KubeTarget, kind_named
from harvester_network.kube.watch import DEFAULT_WATCH_TIMEOUT_S, Backoff, ObjectCache
from harvester_network.render import harvester as h

# How long a load waits for the first lists before it reports the source unavailable.
FIRST_SYNC_WAIT_S = 30.0


class SourceUnavailable(Exception):
    """The API has not answered the first list yet, or this node has no Node object; the message says which."""


# What desired.py and reconcile.py read of an object; the mirrors keep nothing else (memory per NAD). The
# VlanStatus' owner reference needs its VlanConfig's uid.
_KEPT_METADATA = ("name", "namespace", "deletionTimestamp")
_KEPT_LABELS = frozenset({h.LABEL_CLUSTER_NETWORK})
_KEPT_ANNOTATIONS = frozenset({h.ANNOTATION_ROUTE})
_shared_labels: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}


def _kept(mapping: Any, keys: frozenset[str]) -> dict[str, Any]:
    # Interned: every NAD repeats these keys and most values (a JSON decoder makes new strings per event).
    return {sys.intern(k): sys.intern(v) if isinstance(v, str) else v for k, v in (mapping or {}).items() if k in keys}


def agent_view(obj: dict[str, Any], uid: bool = False) -> dict[str, Any]:
    """The object as the agent reads it: apiVersion, kind, spec and the metadata above (no managedFields, no
    status, no other labels or annotations). Objects are read-only: equal label maps are one shared dict."""
    metadata = obj.get("metadata") or {}
    kept = {key: metadata[key] for key in (*_KEPT_METADATA, *(("uid",) if uid else ())) if key in metadata}
    if isinstance(kept.get("namespace"), str):
        kept["namespace"] = sys.intern(kept["namespace"])
    if labels := _kept(metadata.get("labels"), _KEPT_LABELS):
        kept["labels"] = _shared_labels.setdefault(tuple(labels.items()), labels)
    if annotations := _kept(metadata.get("annotations"), _KEPT_ANNOTATIONS):
        kept["annotations"] = annotations
    view: dict[str, Any] = {
        "apiVersion": sys.intern(str(obj.get("apiVersion"))),
        "kind": sys.intern(str(obj.get("kind"))),
    }
    view["metadata"] = kept
    if "spec" in obj:
        spec = obj["spec"]
        view["spec"] = {sys.intern(k): v for k, v in spec.items()} if isinstance(spec, dict) else spec
    return view


def vlan_config_view(obj: dict[str, Any]) -> dict[str, Any]:
    return agent_view(obj, uid=True)


def node_view(obj: dict[str, Any]) -> dict[str, Any]:
    """Of its Node the agent reads the name and labels (VlanConfig selectors)."""
    metadata = obj.get("metadata") or {}
    kept = {key: metadata[key] for key in ("name", "resourceVersion", "labels") if key in metadata}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": kept}


def without_status(obj: dict[str, Any]) -> Any:
    """What the agent acts on: labels, annotations and spec/config, not status (often written by the agents
    themselves) or bookkeeping metadata."""
    metadata = obj.get("metadata") or {}
    return (
        metadata.get("labels"),
        metadata.get("annotations"),
        {key: value for key, value in obj.items() if key not in ("metadata", "status")},
    )


def labels_only(obj: dict[str, Any]) -> Any:
    """A Node changes every few seconds (heartbeats, conditions); only its labels matter to VlanConfig selectors."""
    return (obj.get("metadata") or {}).get("labels")


class KubeSource:
    """The ObjectSource of an agent on a Kubernetes node (agent/loop.py)."""

    def __init__(
        self,
        target: KubeTarget,
        node_name: str,
        *,
        watch_timeout_s: int = DEFAULT_WATCH_TIMEOUT_S,
        backoff_max_s: float = 30.0,
        first_sync_wait_s: float = FIRST_SYNC_WAIT_S,
    ) -> None:
        self.target, self.node_name = target, node_name
        self._first_sync_wait_s = first_sync_wait_s
        self.wakeup = Wakeup()  # raised by the watch threads; the agent loop's select waits on it

        def cache(
            kind: str, relevant: Any = without_status, view: Any = agent_view, field_selector: str | None = None
        ) -> ObjectCache:
            return ObjectCache(
                target,
                kind_named(kind),
                on_change=self.wakeup.set,
                relevant=relevant,
                transform=view,
                field_selector=field_selector,
                watch_timeout_s=watch_timeout_s,
                backoff=Backoff(max_s=backoff_max_s),
            )

        self.caches = {
            "ClusterNetwork": cache("ClusterNetwork"),
            "VlanConfig": cache("VlanConfig", view=vlan_config_view),
            "NetworkAttachmentDefinition": cache("NetworkAttachmentDefinition"),
            "Node": cache("Node", labels_only, node_view, f"metadata.name={node_name}"),
        }
        for each in self.caches.values():
            each.start()

    def load(self) -> tuple[ClusterObjects, NodeIdentity]:
        """The mirrored objects: the last ones the API gave, also while it is unreachable (the watch threads keep
        retrying). Raises SourceUnavailable before the first lists or when the Node is missing."""
        deadline = time.monotonic() + self._first_sync_wait_s
        for kind, cache in self.caches.items():
            if not cache.wait_synced(max(0.0, deadline - time.monotonic())):
                why = cache.last_error or "no answer yet"
                raise SourceUnavailable(f"no {kind} list from {self.target.describe()} yet: {why}")
        self.wakeup.clear()  # what changes from here on is not in this load
        nodes = self.caches["Node"].objects()
        if not nodes:
            raise SourceUnavailable(f"Node {self.node_name} does not exist in {self.target.describe()}")
        labels = (nodes[0].get("metadata") or {}).get("labels") or {}
        objects = ClusterObjects(  # the same tuples while nothing changed: desired.py then does no work
            cluster_networks=self.caches["ClusterNetwork"].snapshot(),
            vlan_configs=self.caches["VlanConfig"].snapshot(),
            nads=self.caches["NetworkAttachmentDefinition"].snapshot(),
        )
        return objects, NodeIdentity(self.node_name, dict(labels))

    def changed(self) -> bool:
        return self.wakeup.is_set()

    def close(self) -> None:
        for cache in self.caches.values():
            cache.stop()  # all at once, then wait
        for cache in self.caches.values():
            cache.close()
        self.wakeup.close()
