"""provider/base.py's user-facing texts, each compared whole: the refusal to import, invalid inputs (one line per
input, the input's name rewritten from the plan path), inputs that are not the kind's, an object written by others
and what Harvester would refuse. None of these needs a cluster."""

from __future__ import annotations

from typing import Any

import pytest

from harvester_network.kube import KubeClient
from harvester_network.model import Plan
from harvester_network.provider import (
    ClusterNetworkProvider,
    NetworkAttachmentDefinitionProvider,
    ProviderError,
    VlanConfigProvider,
)


def error_text(call: Any, *args: Any) -> str:
    with pytest.raises(ProviderError) as caught:
        call(*args)
    return str(caught.value)


def test_read_without_inputs_says_the_object_cannot_be_imported_and_how_to_take_it_over() -> None:
    assert error_text(ClusterNetworkProvider().read, "ClusterNetwork/vlan", {}) == (
        "ClusterNetwork/vlan: dynamic resources cannot be imported; declare it and set adopt=True to take it over"
    )


def test_each_invalid_input_is_one_line_under_the_kind() -> None:
    inputs = {"name": "V", "clusterNetwork": "vlan", "vlan": 5000}
    assert error_text(NetworkAttachmentDefinitionProvider().desired, inputs) == (
        "NetworkAttachmentDefinition inputs are invalid:\n"
        "  - name: String should match pattern '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' "
        "(fix: use lowercase letters, digits and '-' (a DNS label))\n"
        "  - vlan: Input should be less than or equal to 4094"
    )


def test_a_field_inside_an_input_is_named_from_the_input() -> None:
    inputs = {"clusterNetwork": "vlan", "uplink": {"nics": ["eth1", "eth1"]}}
    assert error_text(VlanConfigProvider().desired, inputs) == (
        "VlanConfig inputs are invalid:\n  - uplink.nics: lists eth1 more than once; list each NIC once"
    )


@pytest.mark.parametrize(
    ("path", "input_"),
    [
        ("clusterNetworks[0]", ""),
        ("clusterNetworks[0].uplink.nics", "uplink.nics"),
        ("clusterNetworks[0].name", "clusterNetwork"),
        ("clusterNetworks[0]name", "clusterNetworks[0]name"),
        ("nodes[1]", "node[1]"),
        ("nodes[0].name", "node.name"),
        ("nodesX", "nodesX"),
    ],
)
def test_an_issue_path_points_at_the_input_it_starts_with(path: str, input_: str) -> None:
    assert VlanConfigProvider().input_for(path) == input_


class _RendersNothing(ClusterNetworkProvider):
    """A kind whose plan is empty: the model's issue is about the whole document (path "")."""

    def plan_data(self, spec: dict[str, Any]) -> dict[str, Any]:
        return None  # type: ignore[return-value]


def test_an_issue_about_no_input_in_particular_is_named_inputs() -> None:
    assert error_text(_RendersNothing().desired, {"name": "vlan"}) == (
        "ClusterNetwork inputs are invalid:\n  - <inputs>: is empty (fix: start from examples/quickstart/plan.yaml)"
    )


def test_check_names_inputs_the_kind_lacks_and_passes_the_engines_own() -> None:
    news = {"name": "vlan", "vlans": 5, "__provider": "opaque", "__defaults": []}
    failures = ClusterNetworkProvider().check({}, news).failures
    assert [(f.property, f.reason) for f in failures] == [
        ("vlans", "is not an input of ClusterNetwork (inputs: name, description)")
    ]


def _live(*managers: str) -> dict[str, Any]:
    fields = [{"manager": m, "operation": "Apply"} for m in managers]
    return {"metadata": {"name": "vlan100", "namespace": "team", "managedFields": fields}}


@pytest.mark.parametrize(
    ("managers", "written_by"),
    [((), "unknown"), (("kubectl-create", "harvester", ""), "harvester, kubectl-create")],
)
def test_an_object_others_wrote_is_refused_naming_who_wrote_it(managers: tuple[str, ...], written_by: str) -> None:
    provider = NetworkAttachmentDefinitionProvider()
    assert error_text(provider._refuse_foreign, _live(*managers), {}) == (
        "create NetworkAttachmentDefinition team/vlan100: it already exists and hvnet did not create it "
        f"(written by: {written_by}). Set adopt=True to take it over (dynamic resources cannot be `pulumi import`ed), "
        "or delete it, or choose another name"
    )


class _RefusedTwice(ClusterNetworkProvider):
    def refusals(self, kube: KubeClient, plan: Plan, obj: dict[str, Any], live: dict[str, Any]) -> list[str]:
        return ["first reason", "second reason"]


def test_what_harvester_would_refuse_is_listed_one_reason_a_line() -> None:
    provider = _RefusedTwice()
    obj = provider.desired({"name": "vlan"})
    plan = provider._render_checked({"name": "vlan"})[0]
    kube: Any = None  # refusals above ask no cluster
    assert error_text(provider._refuse_what_harvester_refuses, kube, plan, obj, obj) == (
        "update ClusterNetwork vlan: Harvester refuses this change now:\n"
        "  - first reason\n"
        "  - second reason\n"
        "nothing was changed; run `pulumi up` again once that is done"
    )
