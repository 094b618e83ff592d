"""What the control plane does in the background, asynchronously as on a real cluster.

- Garbage collection: dependents of a deleted owner are deleted (background policy) or lose the reference when
  another owner is alive; foreground deletion waits for dependents; orphan deletion strips the references;
  an object created with only missing owners is collected.
- Namespace deletion: everything in a terminating namespace is deleted, then the namespace.
- CRDs: a created or changed CRD gets NamesAccepted and Established and its kinds are served; a deleted CRD
  deletes its custom resources first.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.k8s_api.errors import ApiError
from tests.k8s_api.resources import CRD_CLEANUP, CRDS, FOREGROUND, NAMESPACES, ORPHAN
from tests.k8s_api.util import now_rfc3339

if TYPE_CHECKING:
    from tests.k8s_api.cluster import Cluster
    from tests.k8s_api.resources import ResourceType

_log = logging.getLogger(__name__)
Task = Callable[[], None]


def _refs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list(obj["metadata"].get("ownerReferences") or [])


def _deleting(obj: dict[str, Any]) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


class Controllers:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._tasks: queue.Queue[Task | None] = queue.Queue()
        # Called under the cluster's lock after every stored change (write or removal): emulated controllers of
        # other projects (tests/k8s_api/harvester) watch this way and enqueue their work.
        self.observers: list[Callable[[ResourceType, dict[str, Any]], None]] = []
        self._thread = threading.Thread(target=self._run, name="k8s-api-controllers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._tasks.put(None)
        self._thread.join(timeout=5)

    def settle(self, timeout: float = 5.0) -> bool:
        """Wait until no background work is queued (server-internal tests only; clients poll instead); False when
        work was still queued at the timeout."""
        deadline = time.monotonic() + timeout
        while self._tasks.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.001)
        return not self._tasks.unfinished_tasks

    def enqueue(self, task: Task) -> None:
        """Run `task` in the background, under the cluster's lock."""
        self._tasks.put(task)

    def _run(self) -> None:
        while (task := self._tasks.get()) is not None:
            try:
                with self.cluster.lock:
                    task()
            except ApiError as error:  # the object changed meanwhile; the event that changed it requeues work
                _log.debug("background task gave up: %s", error.message)
            except Exception:
                _log.exception("background task failed")
            finally:
                self._tasks.task_done()
        self._tasks.task_done()

    # --- hooks the cluster calls under its lock ---------------------------------------------------------------

    def after_write(self, resource_type: ResourceType, obj: dict[str, Any]) -> None:
        for observer in self.observers:
            observer(resource_type, obj)

        meta = obj["metadata"]
        name, uid = meta["name"], meta["uid"]
        if _deleting(obj):
            if resource_type.storage_key == NAMESPACES:
                self.enqueue(lambda: self._finish_namespace(name))
            if resource_type.storage_key == CRDS:
                self.enqueue(lambda: self._finish_crd(name))
            if FOREGROUND in (meta.get("finalizers") or []):
                self.enqueue(lambda: self._delete_foreground(uid))
            if ORPHAN in (meta.get("finalizers") or []):
                self.enqueue(lambda: self._orphan(uid))
        elif resource_type.storage_key == CRDS:
            self.enqueue(lambda: self._establish_crd(name))
        if _refs(obj):
            self.enqueue(lambda: self._verify_owners(resource_type, meta.get("namespace"), name, uid))

    def after_remove(self, resource_type: ResourceType, obj: dict[str, Any]) -> None:
        for observer in self.observers:
            observer(resource_type, obj)

        meta = obj["metadata"]
        uid = meta["uid"]
        self.enqueue(lambda: self._collect_dependents(uid))
        for ref in _refs(obj):
            owner_uid = ref.get("uid", "")
            self.enqueue(functools.partial(self._delete_foreground, owner_uid))
        if meta.get("namespace"):
            namespace = meta["namespace"]
            self.enqueue(lambda: self._finish_namespace(namespace))
        if resource_type.custom:
            crd_name = f"{resource_type.plural}.{resource_type.group}"
            self.enqueue(lambda: self._finish_crd(crd_name))
        if resource_type.storage_key == CRDS:
            self.cluster.registry.forget_crd(meta["name"])

    # --- garbage collection ----------------------------------------------------------------------------------

    def _type_of(self, storage_key: tuple[str, str]) -> ResourceType:
        return self.cluster.type_of(storage_key)

    def _dependents(self, owner_uid: str) -> list[tuple[ResourceType, dict[str, Any]]]:
        return [
            (self._type_of(key), obj)
            for key, obj in self.cluster.store.all_objects()
            if any(ref.get("uid") == owner_uid for ref in _refs(obj))
        ]

    def _owner_alive(self, ref: dict[str, Any], dependent: dict[str, Any]) -> bool:
        owner = self.cluster.store.by_uid(ref.get("uid", ""))
        if owner is None:
            return False
        owner_namespace = owner["metadata"].get("namespace")
        return not owner_namespace or owner_namespace == dependent["metadata"].get("namespace")

    def _delete(self, resource_type: ResourceType, obj: dict[str, Any], policy: str = "Background") -> None:
        try:
            self.cluster.internal_delete(resource_type, obj, policy)
        except ApiError as error:
            if error.code != 404:
                raise

    def _drop_refs(self, resource_type: ResourceType, obj: dict[str, Any], owner_uids: set[str]) -> None:
        def change(new: dict[str, Any]) -> None:
            kept = [r for r in _refs(new) if r.get("uid") not in owner_uids]
            if kept:
                new["metadata"]["ownerReferences"] = kept
            else:
                new["metadata"].pop("ownerReferences", None)

        self.cluster.internal_update(resource_type, obj, change)

    def _collect_dependents(self, owner_uid: str) -> None:
        for resource_type, dependent in self._dependents(owner_uid):
            others = [r for r in _refs(dependent) if r.get("uid") != owner_uid]
            if any(self._owner_alive(r, dependent) for r in others):
                self._drop_refs(resource_type, dependent, {owner_uid})
            elif not _deleting(dependent):
                self._delete(resource_type, dependent)

    def _verify_owners(self, resource_type: ResourceType, namespace: str | None, name: str, uid: str) -> None:
        obj = self.cluster.store.get(resource_type.storage_key, namespace or "", name)
        if obj is None or obj["metadata"]["uid"] != uid or _deleting(obj):
            return
        dangling = {r.get("uid", "") for r in _refs(obj) if not self._owner_alive(r, obj)}
        if not dangling:
            return
        if len(dangling) == len(_refs(obj)):
            self._delete(resource_type, obj)
        else:
            self._drop_refs(resource_type, obj, dangling)

    def _remove_finalizer(self, owner: dict[str, Any], finalizer: str) -> None:
        storage_key = next(k for k, o in self.cluster.store.all_objects() if o is owner)

        def change(new: dict[str, Any]) -> None:
            new["metadata"]["finalizers"] = [f for f in new["metadata"].get("finalizers") or [] if f != finalizer]

        self.cluster.internal_update(self._type_of(storage_key), owner, change)

    def _delete_foreground(self, owner_uid: str) -> None:

        owner = self.cluster.store.by_uid(owner_uid)
        if owner is None or FOREGROUND not in (owner["metadata"].get("finalizers") or []):
            return
        dependents = self._dependents(owner_uid)
        for resource_type, dependent in dependents:
            if not _deleting(dependent):
                self._delete(resource_type, dependent, "Foreground")
        if not self._dependents(owner_uid):
            self._remove_finalizer(owner, FOREGROUND)

    def _orphan(self, owner_uid: str) -> None:

        owner = self.cluster.store.by_uid(owner_uid)
        if owner is None:
            return
        for resource_type, dependent in self._dependents(owner_uid):
            self._drop_refs(resource_type, dependent, {owner_uid})
        self._remove_finalizer(owner, ORPHAN)

    # --- namespaces and CRDs ---------------------------------------------------------------------------------

    def _finish_namespace(self, name: str) -> None:

        namespace = self.cluster.store.get(NAMESPACES, "", name)
        if namespace is None or not _deleting(namespace):
            return
        contents = [(k, o) for k, o in self.cluster.store.all_objects() if o["metadata"].get("namespace") == name]
        for storage_key, obj in contents:
            if not _deleting(obj):
                self._delete(self._type_of(storage_key), obj)
        if not any(o["metadata"].get("namespace") == name for _, o in self.cluster.store.all_objects()):
            self.cluster.remove(self._type_of(NAMESPACES), namespace)

    def _establish_crd(self, name: str) -> None:

        crd = self.cluster.store.get(CRDS, "", name)
        if crd is None or _deleting(crd):
            return
        self.cluster.registry.serve_crd(crd)
        spec = crd["spec"]
        old = {c["type"]: c for c in (crd.get("status") or {}).get("conditions") or []}

        def condition(kind: str, reason: str, message: str) -> dict[str, Any]:
            if old.get(kind, {}).get("status") == "True":
                return dict(old[kind])
            return {"type": kind, "status": "True", "lastTransitionTime": now_rfc3339(), "reason": reason,
                    "message": message}  # fmt: skip

        def change(new: dict[str, Any]) -> None:
            new["status"] = {
                "acceptedNames": spec["names"],
                "conditions": [
                    condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                    condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
                ],
                "storedVersions": [v["name"] for v in spec.get("versions") or [] if v.get("storage")],
            }

        self.cluster.internal_update(self._type_of(CRDS), crd, change, subresource="status", manager="kube-apiserver")

    def _finish_crd(self, name: str) -> None:

        crd = self.cluster.store.get(CRDS, "", name)
        if crd is None or not _deleting(crd):
            return
        storage_key = (crd["spec"]["group"], crd["spec"]["names"]["plural"])
        for obj in self.cluster.store.objects(storage_key):
            if not _deleting(obj):
                self._delete(self._type_of(storage_key), obj)
        if not self.cluster.store.objects(storage_key):
            self._remove_finalizer(crd, CRD_CLEANUP)
