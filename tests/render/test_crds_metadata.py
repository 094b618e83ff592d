"""What tests/render/test_crds_upstream.py leaves out (it compares `spec` only): each CRD's own kind and metadata."""

from __future__ import annotations

from harvester_network.render.crds import custom_resource_definitions


def test_crd_heads_whole() -> None:
    heads = [{key: value for key, value in crd.items() if key != "spec"} for crd in custom_resource_definitions()]
    names = [
        "clusternetworks.network.harvesterhci.io",
        "vlanconfigs.network.harvesterhci.io",
        "vlanstatuses.network.harvesterhci.io",
        "ippools.network.harvesterhci.io",
        "network-attachment-definitions.k8s.cni.cncf.io",
    ]
    assert heads == [
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "hvnet"}},
        }
        for name in names
    ]
