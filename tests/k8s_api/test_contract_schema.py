"""Contract: CustomResourceDefinitions — serving, structural-schema validation, pruning, defaulting,
field validation, and the status subresource (Kubernetes docs: "Extend the Kubernetes API with
CustomResourceDefinitions", "API Concepts > Field validation")."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.k8s_api.contract import MERGE, WIDGET_GROUP, Widgets, status_of, unique

NETWORK = ("network.harvesterhci.io", "v1beta1")


def _causes(error: ApiException) -> dict[str, str]:
    return {c["field"]: c["reason"] for c in status_of(error)["details"]["causes"]}


def test_established_crd_is_discoverable(k8s_api: Any, widgets: Widgets) -> None:
    """CRDs: once Established, the new kind appears in discovery (what DynamicClient and kubectl use)."""
    resource = k8s_api.dynamic_client().resources.get(api_version=f"{WIDGET_GROUP}/v1", kind="Widget")
    assert resource.name == "widgets" and resource.namespaced
    assert "wdg" in resource.short_names
    assert resource.subresources["status"].name == "widgets/status"


def test_product_crds_serve_cluster_and_namespace_scoped_kinds(k8s_api: Any, product_crds: None) -> None:
    """CRDs, scope: Cluster kinds have no namespace in their path, Namespaced kinds do."""
    resources = k8s_api.dynamic_client().resources
    assert not resources.get(api_version="network.harvesterhci.io/v1beta1", kind="VlanConfig").namespaced
    assert resources.get(api_version="network.harvesterhci.io/v1alpha1", kind="IPPool").namespaced
    assert resources.get(api_version="k8s.cni.cncf.io/v1", kind="NetworkAttachmentDefinition").namespaced


def test_out_of_range_integer_is_invalid_with_field_cause(
    custom: Any, product_crds: None, cluster_scoped: list[Any]
) -> None:
    """CRDs, validation: `minimum` violations answer 422 Invalid with the field path in details.causes."""
    name = unique("vc")
    body = {
        "apiVersion": "network.harvesterhci.io/v1beta1",
        "kind": "VlanConfig",
        "metadata": {"name": name},
        "spec": {"clusterNetwork": "cn1", "uplink": {"nics": ["eth1"], "linkAttributes": {"mtu": -5}}},
    }
    cluster_scoped.append((*NETWORK, "vlanconfigs", name))
    with pytest.raises(ApiException) as caught:
        custom.create_cluster_custom_object(*NETWORK, "vlanconfigs", body)
    status = status_of(caught.value)
    assert caught.value.status == 422 and status["reason"] == "Invalid"
    assert status["details"]["kind"] == "VlanConfig" and status["details"]["group"] == "network.harvesterhci.io"
    assert _causes(caught.value) == {"spec.uplink.linkAttributes.mtu": "FieldValueInvalid"}
    assert "should be greater than or equal to 0" in status["message"]


def test_maximum_is_enforced(widgets: Widgets) -> None:
    """CRDs, validation: `maximum` bounds integers."""
    with pytest.raises(ApiException) as caught:
        widgets.create("big", {"size": 11})
    assert _causes(caught.value) == {"spec.size": "FieldValueInvalid"}


def test_enum_violation_is_not_supported(widgets: Widgets) -> None:
    """CRDs, validation: an `enum` mismatch is FieldValueNotSupported listing the supported values."""
    with pytest.raises(ApiException) as caught:
        widgets.create("enum", {"size": 1, "color": "pink"})
    assert _causes(caught.value) == {"spec.color": "FieldValueNotSupported"}
    assert 'supported values: "red", "green", "blue"' in status_of(caught.value)["message"]


def test_missing_required_field_is_required(widgets: Widgets) -> None:
    """CRDs, validation: `required` properties missing answer FieldValueRequired."""
    with pytest.raises(ApiException) as caught:
        widgets.create("req", {"color": "red"})
    assert _causes(caught.value) == {"spec.size": "FieldValueRequired"}


def test_wrong_type_is_type_invalid(widgets: Widgets) -> None:
    """CRDs, validation: a value of the wrong JSON type answers FieldValueTypeInvalid."""
    with pytest.raises(ApiException) as caught:
        widgets.create("type", {"size": "three"})
    assert _causes(caught.value) == {"spec.size": "FieldValueTypeInvalid"}


def test_unknown_fields_are_pruned(widgets: Widgets) -> None:
    """CRDs, field pruning: fields the structural schema does not specify are dropped on write."""
    created = widgets.create("prune", {"size": 1, "bogus": True})
    assert "bogus" not in created["spec"]
    assert "bogus" not in widgets.get("prune")["spec"]


def test_preserve_unknown_fields_keeps_them(widgets: Widgets) -> None:
    """CRDs, x-kubernetes-preserve-unknown-fields: such subtrees are kept as sent."""
    created = widgets.create("keep", {"size": 1, "extra": {"anything": {"goes": [1, 2]}}})
    assert created["spec"]["extra"] == {"anything": {"goes": [1, 2]}}


def test_defaults_are_applied(widgets: Widgets) -> None:
    """CRDs, defaulting: absent fields with a `default` get it on write."""
    assert widgets.create("dflt", {"size": 1})["spec"]["color"] == "red"


def test_product_crd_defaults_bond_options(custom: Any, product_crds: None, cluster_scoped: list[Any]) -> None:
    """CRDs, defaulting: VlanConfig bondOptions default to mode active-backup and miimon -1, as in Harvester."""
    name = unique("vc")
    body = {
        "apiVersion": "network.harvesterhci.io/v1beta1",
        "kind": "VlanConfig",
        "metadata": {"name": name},
        "spec": {"clusterNetwork": "cn1", "uplink": {"nics": ["eth1"], "bondOptions": {}}},
    }
    cluster_scoped.append((*NETWORK, "vlanconfigs", name))
    created = custom.create_cluster_custom_object(*NETWORK, "vlanconfigs", body)
    assert created["spec"]["uplink"]["bondOptions"] == {"mode": "active-backup", "miimon": -1}


def test_strict_field_validation_rejects_unknown_fields(custom: Any, widgets: Widgets) -> None:
    """API Concepts, field validation: fieldValidation=Strict fails the request with 400 on unknown fields."""
    body = widgets.body("strict", {"size": 1, "bogus": True})
    with pytest.raises(ApiException) as caught:
        custom.create_namespaced_custom_object(
            WIDGET_GROUP, "v1", widgets.namespace, "widgets", body, field_validation="Strict"
        )
    assert caught.value.status == 400
    assert 'unknown field "spec.bogus"' in status_of(caught.value)["message"]


def test_transition_rule_keeps_field_immutable(custom: Any, product_crds: None, k8s_namespace: str) -> None:
    """CRDs, validation rules (CEL) with oldSelf: IPPool's networkName cannot change once set."""
    group, version = "network.harvesterhci.io", "v1alpha1"
    body = {
        "apiVersion": f"{group}/{version}",
        "kind": "IPPool",
        "metadata": {"name": "pool"},
        "spec": {"networkName": f"{k8s_namespace}/net1"},
    }
    custom.create_namespaced_custom_object(group, version, k8s_namespace, "ippools", body)
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            group, version, k8s_namespace, "ippools", "pool", {"spec": {"networkName": "other"}}, _content_type=MERGE
        )
    assert caught.value.status == 422
    assert _causes(caught.value) == {"spec.networkName": "FieldValueInvalid"}
    assert "NetworkName is immutable" in status_of(caught.value)["message"]


def test_create_ignores_status_when_subresource_enabled(widgets: Widgets, custom: Any) -> None:
    """CRDs, status subresource: status in a create request is ignored."""
    body = {**widgets.body("st"), "status": {"phase": "Ready"}}
    created = custom.create_namespaced_custom_object(WIDGET_GROUP, "v1", widgets.namespace, "widgets", body)
    assert "status" not in created


def test_main_resource_write_ignores_status(widgets: Widgets) -> None:
    """CRDs, status subresource: PUT/PATCH of the main resource ignore changes to the status stanza."""
    widgets.create("st2")
    patched = widgets.patch("st2", {"spec": {"size": 2}, "status": {"phase": "Ready"}}, MERGE)
    assert patched["spec"]["size"] == 2 and "status" not in patched


def test_status_write_ignores_everything_but_status(custom: Any, widgets: Widgets) -> None:
    """CRDs, status subresource: writes to /status ignore all but the status stanza, and do not bump
    metadata.generation."""
    widgets.create("st3")
    patched = custom.patch_namespaced_custom_object_status(
        WIDGET_GROUP, "v1", widgets.namespace, "widgets", "st3",
        {"spec": {"size": 9}, "metadata": {"labels": {"x": "y"}}, "status": {"phase": "Ready"}},
        _content_type=MERGE,
    )  # fmt: skip
    assert patched["status"] == {"phase": "Ready"}
    assert patched["spec"]["size"] == 1 and "labels" not in patched["metadata"]
    assert patched["metadata"]["generation"] == 1


def test_status_is_validated_too(custom: Any, widgets: Widgets) -> None:
    """CRDs, status subresource: the status stanza is validated against the schema as well."""
    widgets.create("st4")
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object_status(
            WIDGET_GROUP, "v1", widgets.namespace, "widgets", "st4",
            {"status": {"observedGeneration": "one"}}, _content_type=MERGE,
        )  # fmt: skip
    assert _causes(caught.value) == {"status.observedGeneration": "FieldValueTypeInvalid"}
