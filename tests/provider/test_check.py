"""check(): every problem is a CheckFailure on the input it concerns; unknown values (preview) are tolerated.
No cluster needed."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.runtime.rpc import UNKNOWN

from harvester_network.provider import (
    ClusterNetworkProvider,
    IPPoolProvider,
    NetworkAttachmentDefinitionProvider,
    ObjectProvider,
    VlanConfigProvider,
)

ROUTE = {"mode": "manual", "cidr": "10.100.0.0/24", "gateway": "10.100.0.1"}
DHCP = {"serverIP": "10.100.0.2", "range": {"start": "10.100.0.100", "end": "10.100.0.200"}, "backend": "ippool"}


def failures(provider: ObjectProvider, news: dict[str, Any]) -> dict[str, str]:
    return {f.property: f.reason for f in provider.check({}, news).failures}


@pytest.mark.parametrize(
    ("provider", "news", "expected"),
    [
        (ClusterNetworkProvider(), {"name": "mgmt"}, {"name": "built-in management network"}),
        (ClusterNetworkProvider(), {"name": "much-too-long-name"}, {"name": "at most 12 characters"}),
        (ClusterNetworkProvider(), {}, {"name": "is required"}),
        (
            VlanConfigProvider(),
            {"clusterNetwork": "vlan", "node": "Node_1", "uplink": {"nics": ["eth1"], "mtu": 100}},
            {"node": "should match pattern", "uplink.mtu": "between 576 and 9000"},
        ),
        (VlanConfigProvider(), {"clusterNetwork": "vlan", "uplink": {"nics": []}}, {"uplink.nics": "at least 1 item"}),
        (
            NetworkAttachmentDefinitionProvider(),
            {"name": "v", "clusterNetwork": "vlan", "vlan": 5000, "route": {**ROUTE, "cidr": "10.100.0.5/24"}},
            {"vlan": "less than or equal to 4094", "route.cidr": "host bits must be zero"},
        ),
        (NetworkAttachmentDefinitionProvider(), {"name": "v", "vlan": 1}, {"clusterNetwork": "is required"}),
        (
            NetworkAttachmentDefinitionProvider(),
            {"name": "v", "clusterNetwork": "c", "vlan": 1, "mtu": 100},
            {"mtu": "between 576 and 9000"},
        ),
        (
            IPPoolProvider(),
            {"name": "v", "route": ROUTE, "dhcpServer": {**DHCP, "serverIP": "10.9.9.9"}},
            {"dhcpServer.serverIP": "outside the route cidr"},
        ),
        (
            IPPoolProvider(),
            {"name": "v", "route": ROUTE, "dhcpServer": DHCP, "serviceCIDR": "10.100.0.0/16"},
            {"route.cidr": "overlaps the cluster's service CIDR"},
        ),
    ],
)
def test_each_problem_is_reported_on_its_input(
    provider: ObjectProvider, news: dict[str, Any], expected: dict[str, str]
) -> None:
    found = failures(provider, news)
    assert set(found) == set(expected)
    for prop, text in expected.items():
        assert text in found[prop], found[prop]


def test_a_field_reached_twice_is_reported_once() -> None:
    found = NetworkAttachmentDefinitionProvider().check({}, {"name": "v", "clusterNetwork": "mgmt", "vlan": 1}).failures
    assert [f.property for f in found] == ["clusterNetwork"]


def test_unknown_values_during_preview_are_not_checked() -> None:
    provider = NetworkAttachmentDefinitionProvider()
    assert provider.check({}, {"name": "v", "clusterNetwork": "vlan", "vlan": UNKNOWN}).failures == []
    assert (
        provider.check(
            {}, {"name": "v", "clusterNetwork": "vlan", "route": {"mode": "manual", "cidr": UNKNOWN}}
        ).failures
        == []
    )


def test_unknown_inputs_and_wrong_behaviour_values_are_failures() -> None:
    found = failures(
        NetworkAttachmentDefinitionProvider(),
        {"name": "v", "clusterNetwork": "vlan", "vlan": 1, "vlanId": 1, "adopt": "yes", "timeout": 0},
    )
    assert found == {
        "vlanId": "is not an input of NetworkAttachmentDefinition "
        "(inputs: name, namespace, clusterNetwork, vlan, route, mtu)",
        "adopt": "must be true or false",
        "timeout": "must be a positive number of seconds",
    }


def test_valid_inputs_pass_and_are_returned_unchanged() -> None:
    news = {"name": "v", "namespace": "team", "clusterNetwork": "vlan", "vlan": 7, "route": ROUTE, "kubeconfig": "x"}
    result = NetworkAttachmentDefinitionProvider().check({}, news)
    assert (result.inputs, result.failures) == (news, [])


def test_diff_with_an_unknown_identity_input_replaces_deleting_first() -> None:
    olds = {"name": "v", "namespace": "default", "clusterNetwork": "vlan", "vlan": 7}
    diff = NetworkAttachmentDefinitionProvider().diff("x", olds, {**olds, "clusterNetwork": UNKNOWN})
    assert (diff.changes, diff.replaces, diff.delete_before_replace) == (True, ["clusterNetwork"], True)
    vlan_unknown = NetworkAttachmentDefinitionProvider().diff("x", olds, {**olds, "vlan": UNKNOWN})
    assert (vlan_unknown.changes, vlan_unknown.replaces) == (True, [])
