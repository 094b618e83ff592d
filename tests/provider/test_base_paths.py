"""provider/base.py's less travelled paths: a create over an object still being deleted, the `context` and
`waitForReady` inputs, and its pure helpers (wire values, unknowns, managed views, ids, behaviour inputs)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.runtime.rpc import UNKNOWN

from harvester_network.kube import DEFAULT_TIMEOUT, KubeClient
from harvester_network.model import PlanIssue
from harvester_network.provider import (
    ClusterNetworkProvider,
    NetworkAttachmentDefinitionProvider,
    ProviderError,
    VlanConfigProvider,
)
from harvester_network.provider.base import (
    OBJECT_OUTPUT,
    _behaviour_failures,
    _name_from_id,
    _timeout,
    _unique,
    from_wire,
    has_unknown,
    issue_text,
    managed_view,
    stand_in_uplink,
)
from tests.k8s_api.fixtures import real_cluster_kubeconfig

HOLD = "test.hvnet.io/hold"


@pytest.fixture
def cn_name(connection: dict[str, Any]) -> str:
    name = f"t{uuid.uuid4().hex[:8]}"
    ClusterNetworkProvider().create({"name": name, **connection})
    return name


def nad_inputs(connection: dict[str, Any], namespace: str, cn: str) -> dict[str, Any]:
    return {"name": "vlan100", "namespace": namespace, "clusterNetwork": cn, "vlan": 100, **connection}


def test_from_wire_turns_whole_floats_into_ints_at_every_depth() -> None:
    converted = from_wire({"a": [1.0, {"b": 2.0}, [3.0]], "c": 1.5, "d": "4", "e": True})
    assert converted == {"a": [1, {"b": 2}, [3]], "c": 1.5, "d": "4", "e": True}
    assert [type(converted["a"][0]), type(converted["a"][1]["b"]), type(converted["a"][2][0])] == [int, int, int]
    assert type(converted["c"]) is float and converted["e"] is True


@pytest.mark.parametrize(
    ("value", "unknown"),
    [
        (UNKNOWN, True),
        ({"a": {"b": UNKNOWN}}, True),
        ([1, [UNKNOWN]], True),
        ({"a": [1, {"b": 2}]}, False),
        ([], False),
        ("x", False),
    ],
)
def test_has_unknown(value: Any, unknown: bool) -> None:
    assert has_unknown(value) is unknown


def test_managed_view_keeps_only_the_paths_we_set() -> None:
    live = {"metadata": {"name": "n", "uid": "u", "labels": {"a": "1", "b": "2"}}, "spec": {"x": [1, 2]}, "status": {}}
    desired = {"metadata": {"name": "n", "labels": {"a": "0"}}, "spec": {"x": [1], "y": 5}}
    assert managed_view(live, desired) == {
        "metadata": {"name": "n", "labels": {"a": "1"}},
        "spec": {"x": [1, 2], "y": None},
    }
    assert managed_view("not a map", {"a": 1}) == {"a": None}


def test_ids_timeouts_and_issue_text() -> None:
    assert _name_from_id("NetworkAttachmentDefinition/ns/vlan100") == ("vlan100", "ns")
    assert _name_from_id("ClusterNetwork/vlan") == ("vlan", None)
    assert [_timeout({}), _timeout({"timeout": 0}), _timeout({"timeout": 2})] == [DEFAULT_TIMEOUT, DEFAULT_TIMEOUT, 2.0]
    assert issue_text(PlanIssue("a", "is bad", "fix it")) == "is bad (fix: fix it)"
    assert issue_text(PlanIssue("a", "is bad", "")) == "is bad"


@pytest.mark.parametrize(
    ("news", "failures"),
    [
        ({"adopt": True, "waitForReady": False, "timeout": 0.1}, []),
        (
            {"adopt": "yes", "waitForReady": 1},
            [("adopt", "must be true or false"), ("waitForReady", "must be true or false")],
        ),
        ({"adopt": UNKNOWN, "waitForReady": UNKNOWN, "timeout": UNKNOWN}, []),
        ({"timeout": 0}, [("timeout", "must be a positive number of seconds")]),
        ({"timeout": -1}, [("timeout", "must be a positive number of seconds")]),
        ({"timeout": True}, [("timeout", "must be a positive number of seconds")]),
        ({"timeout": "5"}, [("timeout", "must be a positive number of seconds")]),
        ({"timeout": 1}, []),
        (
            {"kubeconfig": {"token": "t"}},
            [("kubeconfig", "must be a string: a kubeconfig file's contents or its path")],
        ),
        ({"kubeconfig": 5}, [("kubeconfig", "must be a string: a kubeconfig file's contents or its path")]),
        ({"kubeconfig": "apiVersion: v1"}, []),
        ({"kubeconfig": UNKNOWN}, []),
    ],
)
def test_behaviour_inputs(news: dict[str, Any], failures: list[tuple[str, str]]) -> None:
    assert [(f.property, f.reason) for f in _behaviour_failures(news)] == failures


def test_a_failure_reached_twice_is_kept_once_in_order() -> None:
    from pulumi.dynamic import CheckFailure

    found = _unique([CheckFailure("a", "x"), CheckFailure("b", "x"), CheckFailure("a", "x"), CheckFailure("a", "y")])
    assert [(f.property, f.reason) for f in found] == [("a", "x"), ("b", "x"), ("a", "y")]


def test_drift_is_the_live_view_differing_from_what_the_inputs_render() -> None:
    provider = ClusterNetworkProvider()
    inputs = {"name": "vlan", "description": "VM traffic"}
    obj = provider.desired(inputs)
    olds = {**inputs, OBJECT_OUTPUT: managed_view(obj, obj)}
    same = provider.diff("ClusterNetwork/vlan", olds, inputs)
    assert (same.changes, same.replaces, same.delete_before_replace) == (False, [], False)
    drifted_view = managed_view({**obj, "metadata": {**obj["metadata"], "labels": {}}}, obj)
    drifted = provider.diff("ClusterNetwork/vlan", {**olds, OBJECT_OUTPUT: drifted_view}, inputs)
    assert (drifted.changes, drifted.replaces, drifted.delete_before_replace) == (True, [], False)
    # No view yet (never read), or one the old inputs cannot render: no drift, and drift.
    assert provider.diff("ClusterNetwork/vlan", dict(inputs), inputs).changes is False
    broken = {**olds, "name": "mgmt"}
    assert provider.diff("ClusterNetwork/vlan", broken, {**inputs, "name": "mgmt"}).changes is True


def test_identity_is_unknown_while_inputs_are_unknown_or_invalid() -> None:
    provider = NetworkAttachmentDefinitionProvider()
    inputs = {"name": "v", "namespace": "team", "clusterNetwork": "vlan", "vlan": 7}
    assert provider._identity(inputs) == ("v", "team")
    assert provider._identity({**inputs, "name": UNKNOWN}) is None
    assert provider._identity({**inputs, "vlan": 5000}) is None
    assert ClusterNetworkProvider()._identity({"name": "vlan"}) == ("vlan", None)


def test_invalid_inputs_name_each_input_and_the_fix() -> None:
    provider = NetworkAttachmentDefinitionProvider()
    with pytest.raises(ProviderError) as caught:
        provider.desired({"name": "v", "clusterNetwork": "vlan", "vlan": 5000})
    assert str(caught.value) == (
        "NetworkAttachmentDefinition inputs are invalid:\n  - vlan: Input should be less than or equal to 4094"
    )
    assert provider.input_for("networks[0].vlan") == "vlan"
    assert provider.input_for("somewhere.else") == "somewhere.else"


def test_stand_in_uplinks_are_their_own() -> None:
    assert [stand_in_uplink(0), stand_in_uplink(3)] == [{"nics": ["stand-in0"]}, {"nics": ["stand-in3"]}]


def test_create_over_an_object_being_deleted_waits_until_it_is_gone_and_makes_it_anew(
    connection: dict[str, Any], kube: KubeClient, k8s_namespace: str, cn_name: str
) -> None:
    provider = NetworkAttachmentDefinitionProvider()
    inputs = nad_inputs(connection, k8s_namespace, cn_name)
    held = provider.desired(inputs)
    held["metadata"]["finalizers"] = [HOLD]
    # An MTU Harvester set on the old object: the new one is made from the inputs alone, not kept from the old.
    held["spec"]["config"] = json.dumps({**json.loads(held["spec"]["config"]), "mtu": 1400})
    old_uid = kube.apply(held)["metadata"]["uid"]
    kube.delete("NetworkAttachmentDefinition", "vlan100", k8s_namespace)

    def release() -> None:
        time.sleep(1.0)
        kube.merge_patch("NetworkAttachmentDefinition", "vlan100", {"metadata": {"finalizers": None}}, k8s_namespace)

    releaser = threading.Thread(target=release)
    releaser.start()
    try:
        provider.create(inputs)
    finally:
        releaser.join()
    live = kube.get("NetworkAttachmentDefinition", "vlan100", k8s_namespace)
    assert live is not None and live["metadata"]["uid"] != old_uid
    assert "deletionTimestamp" not in live["metadata"] and not live["metadata"].get("finalizers")
    assert json.loads(live["spec"]["config"]) == json.loads(provider.desired(inputs)["spec"]["config"])


def test_the_context_input_picks_the_kubeconfig_context(
    connection: dict[str, Any], kube: KubeClient, k8s_namespace: str, cn_name: str, tmp_path: Path
) -> None:
    config = yaml.safe_load(Path(connection["kubeconfig"]).read_text())
    real = config["contexts"][0]
    config["clusters"].append({"name": "nowhere", "cluster": {"server": "http://127.0.0.1:9"}})
    config["contexts"] = [
        {"name": "nowhere", "context": {**real["context"], "cluster": "nowhere"}},
        {"name": "test", "context": real["context"]},
    ]
    config["current-context"] = "nowhere"
    two_contexts = tmp_path / "two-contexts"
    two_contexts.write_text(yaml.safe_dump(config))
    inputs = {**nad_inputs(connection, k8s_namespace, cn_name), "kubeconfig": str(two_contexts), "timeout": 1}
    provider = NetworkAttachmentDefinitionProvider()
    with pytest.raises(Exception, match="cannot reach the API server"):
        provider.create(inputs)
    provider.create({**inputs, "context": "test"})
    assert kube.get("NetworkAttachmentDefinition", "vlan100", k8s_namespace) is not None


@pytest.mark.skipif(bool(real_cluster_kubeconfig()), reason="writes a Node, which only nodes write on a real cluster")
def test_wait_for_ready_false_returns_without_waiting(
    connection: dict[str, Any], kube: KubeClient, cn_name: str
) -> None:
    # A node that reports no VlanStatus: waiting could only time out.
    kube.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"}})
    provider = VlanConfigProvider()
    inputs = {"clusterNetwork": cn_name, "uplink": {"nics": ["eth1"]}, **connection, "timeout": 0.5}
    with pytest.raises(ProviderError, match=r"to be ready: not done after 0\.5s"):
        provider.create(inputs)
    created = provider.create({**inputs, "waitForReady": False})
    assert created.id == f"VlanConfig/{cn_name}"
