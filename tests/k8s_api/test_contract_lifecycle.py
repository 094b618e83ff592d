"""Contract: deletion — finalizers, owner references and garbage collection, namespace termination
(Kubernetes docs: "Finalizers", "Owners and Dependents", "Garbage Collection", "Namespaces")."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.k8s_api.contract import MERGE, Widgets, status_of, unique
from tests.k8s_api.fixtures import eventually


def _gone(read: Any, *args: Any) -> bool:
    try:
        read(*args)
    except ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


def _owner_ref(owner: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], **extra}  # fmt: skip


def test_delete_with_finalizer_only_marks_for_deletion(widgets: Widgets) -> None:
    """Finalizers: deleting an object with finalizers sets deletionTimestamp and keeps the object readable."""
    widgets.create("fin", finalizers=["example.com/hold"])
    deleted = widgets.delete("fin")
    assert deleted["metadata"]["deletionTimestamp"]
    assert widgets.get("fin")["metadata"]["finalizers"] == ["example.com/hold"]


def test_removing_the_last_finalizer_deletes(widgets: Widgets) -> None:
    """Finalizers: once the last finalizer is removed from an object marked for deletion, it is deleted."""
    widgets.create("fin2", finalizers=["example.com/hold"])
    widgets.delete("fin2")
    widgets.patch("fin2", {"metadata": {"finalizers": None}}, MERGE)
    assert eventually(lambda: _gone(widgets.get, "fin2"), what="widget fin2 to be deleted")


def test_no_new_finalizers_while_deleting(widgets: Widgets) -> None:
    """Finalizers: an object being deleted cannot gain new finalizers (422)."""
    widgets.create("fin3", finalizers=["example.com/hold"])
    widgets.delete("fin3")
    with pytest.raises(ApiException) as caught:
        widgets.patch("fin3", {"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}}, MERGE)
    assert caught.value.status == 422
    widgets.patch("fin3", {"metadata": {"finalizers": None}}, MERGE)


def test_background_deletion_collects_dependents(widgets: Widgets, core: Any) -> None:
    """Garbage Collection, background cascading deletion: dependents of a deleted owner are deleted."""
    owner = widgets.create("owner")
    core.create_namespaced_config_map(widgets.namespace, {"metadata": {"name": "dep", "ownerReferences": [
        _owner_ref(owner)]}})  # fmt: skip
    widgets.delete("owner")
    assert eventually(lambda: _gone(core.read_namespaced_config_map, "dep", widgets.namespace), what="dependent GC")


def test_dependent_with_a_live_owner_survives(widgets: Widgets, core: Any) -> None:
    """Owners and Dependents: a dependent is collected only when all its owners are gone; otherwise it just
    loses the reference to the deleted owner."""
    first, second = widgets.create("o1"), widgets.create("o2")
    core.create_namespaced_config_map(widgets.namespace, {"metadata": {"name": "shared", "ownerReferences": [
        _owner_ref(first), _owner_ref(second)]}})  # fmt: skip
    widgets.delete("o1")

    def only_second_owner() -> bool:
        refs = core.read_namespaced_config_map("shared", widgets.namespace).metadata.owner_references or []
        return [r.name for r in refs] == ["o2"]

    assert eventually(only_second_owner, what="the reference to o1 to be dropped")


def test_orphan_deletion_keeps_dependents(widgets: Widgets, core: Any) -> None:
    """Garbage Collection, orphan propagation: dependents stay and lose their owner reference."""
    owner = widgets.create("orph")
    core.create_namespaced_config_map(widgets.namespace, {"metadata": {"name": "kept", "ownerReferences": [
        _owner_ref(owner)]}})  # fmt: skip
    widgets.delete("orph", propagation_policy="Orphan")
    assert eventually(lambda: _gone(widgets.get, "orph"), what="the owner to be deleted")
    assert not core.read_namespaced_config_map("kept", widgets.namespace).metadata.owner_references


def test_foreground_deletion_waits_for_dependents(widgets: Widgets, core: Any) -> None:
    """Garbage Collection, foreground cascading deletion: the owner shows the foregroundDeletion finalizer
    until its blocking dependents are gone."""
    owner = widgets.create("fg")
    core.create_namespaced_config_map(widgets.namespace, {"metadata": {
        "name": "blocker", "finalizers": ["example.com/hold"],
        "ownerReferences": [_owner_ref(owner, blockOwnerDeletion=True)]}})  # fmt: skip
    marked = widgets.delete("fg", propagation_policy="Foreground")
    assert "foregroundDeletion" in marked["metadata"]["finalizers"]
    eventually(lambda: core.read_namespaced_config_map("blocker", widgets.namespace).metadata.deletion_timestamp,
               what="the dependent to be marked for deletion")  # fmt: skip
    assert widgets.get("fg")["metadata"]["deletionTimestamp"]
    core.patch_namespaced_config_map("blocker", widgets.namespace, {"metadata": {"finalizers": None}})
    assert eventually(lambda: _gone(widgets.get, "fg"), what="the owner to follow its dependent")


def test_deleting_a_namespace_deletes_its_contents(core: Any) -> None:
    """Namespaces: deleting a namespace marks it Terminating and deletes everything in it, then itself."""
    name = unique("hvnet-test-ns")
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_config_map(name, {"metadata": {"name": "inside"}})
    terminating = core.delete_namespace(name)
    assert terminating["status"]["phase"] == "Terminating"
    assert eventually(lambda: _gone(core.read_namespace, name), timeout=120, what=f"namespace {name} to go")


def test_creating_in_a_terminating_namespace_is_forbidden(core: Any) -> None:
    """Namespaces: no new objects in a namespace that is being terminated (403 Forbidden)."""
    name = unique("hvnet-test-ns")
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_config_map(name, {"metadata": {"name": "hold", "finalizers": ["example.com/hold"]}})
    core.delete_namespace(name)
    try:
        with pytest.raises(ApiException) as caught:
            core.create_namespaced_config_map(name, {"metadata": {"name": "late"}})
        assert caught.value.status == 403 and status_of(caught.value)["reason"] == "Forbidden"
    finally:
        core.patch_namespaced_config_map("hold", name, {"metadata": {"finalizers": None}})


def test_default_namespace_cannot_be_deleted(core: Any, k8s_api: Any) -> None:
    """Namespaces: the default namespace is protected (403 Forbidden)."""
    if k8s_api.is_real_cluster:
        pytest.skip("never try to delete a real cluster's default namespace")
    with pytest.raises(ApiException) as caught:
        core.delete_namespace("default")
    assert caught.value.status == 403
