"""Where the agent's objects come from. This part: the Kubernetes API (`hvnet agent` without `--from-dir`).

Four live mirrors (kube/watch.py): every ClusterNetwork, VlanConfig and NAD, and this node's own Node object.
The agent reads them; it never adds finalizers to these shared objects (teardown follows from a VlanConfig
that is gone or no longer matches, and a restarted agent sees the same thing).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

from harvester_network.agent.inputs import ClusterObjects, NodeIdentity
from harvester_network.agent.wakeup import Wakeup
from harvester_network.kube import KubeTarget, kind_named
from harvester_network.kube.watch import DEFAULT_WATCH_TIMEOUT_S, Backoff, ObjectCache, whole
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


# What desired.py (_nad_network, _route_cidr) reads of a NAD's CNI config and of its route annotation; a NadView
# keeps only these keys of each (tests/agent/test_kube_source_memory.py: the same VIDs, areas and warnings).
_CONFIG_KEYS_READ = ("type", "bridge", "vlan", "vlanTrunk")
_ROUTE_KEYS_READ = ("cidr",)


def _only_keys(text: Any, keys: tuple[str, ...]) -> Any:
    """A JSON object text reduced to `keys` (a config can carry kilobytes of IPAM and plugin chains); anything
    else unchanged, so what the reader makes of it (a warning) is the same."""
    try:
        parsed = json.loads(text)
    except (TypeError, ValueError):
        return text
    if not isinstance(parsed, dict):
        return text
    # Interned: NADs of one VLAN (or one route) reduce to the same text, then kept once (the interpreter drops
    # an interned string no NAD holds any more).
    return sys.intern(json.dumps({key: parsed[key] for key in keys if key in parsed}, separators=(",", ":")))


class NadView(Mapping[str, Any]):
    """A NAD as the agent reads it (a node mirrors every NAD of the cluster): name, namespace, deletionTimestamp,
    the cluster-network label, the route annotation and spec.config, each reduced to what desired.py reads, in
    one small object instead of a tree of dicts (~0.4 KB instead of ~1.1 KB). It reads as the dict it stands for;
    `metadata` and `spec` are built when asked for."""

    __slots__ = ("config", "deletion_timestamp", "labels", "name", "namespace", "route")
    _KEYS = ("apiVersion", "kind", "metadata", "spec")

    def __init__(self, obj: Mapping[str, Any]) -> None:
        metadata = obj.get("metadata") or {}
        self.name = metadata.get("name")
        self.namespace = sys.intern(metadata["namespace"]) if isinstance(metadata.get("namespace"), str) else None
        self.deletion_timestamp = metadata.get("deletionTimestamp")
        labels = _kept(metadata.get("labels"), _KEPT_LABELS)
        self.labels = _shared_labels.setdefault(tuple(labels.items()), labels) if labels else None
        self.route = _only_keys(
            _kept(metadata.get("annotations"), _KEPT_ANNOTATIONS).get(h.ANNOTATION_ROUTE), _ROUTE_KEYS_READ
        )
        spec = obj.get("spec")
        self.config = _only_keys(spec.get("config"), _CONFIG_KEYS_READ) if isinstance(spec, Mapping) else None

    def _metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if self.deletion_timestamp is not None:
            metadata["deletionTimestamp"] = self.deletion_timestamp
        if self.labels is not None:
            metadata["labels"] = self.labels
        if self.route is not None:
            metadata["annotations"] = {h.ANNOTATION_ROUTE: self.route}
        return metadata

    def __getitem__(self, key: str) -> Any:
        if key == "apiVersion":
            return h.NAD_API
        if key == "kind":
            return "NetworkAttachmentDefinition"
        if key == "metadata":
            return self._metadata()
        if key == "spec":
            return {} if self.config is None else {"config": self.config}
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._KEYS)

    def __len__(self) -> int:
        return len(self._KEYS)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, NadView):
            return all(getattr(self, slot) == getattr(other, slot) for slot in self.__slots__)
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # equal by content, like the dict it stands for

    def __repr__(self) -> str:
        return f"NadView({dict(self)!r})"


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
            # A NadView holds only what the agent acts on: it is its own relevant view.
            "NetworkAttachmentDefinition": cache("NetworkAttachmentDefinition", relevant=whole, view=NadView),
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
