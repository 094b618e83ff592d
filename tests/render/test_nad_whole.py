"""A NAD of a network without a route, compared whole: no annotations at all."""

from __future__ import annotations

from harvester_network.model import load_plan
from harvester_network.render.nad import nad_object, route_annotation


def test_a_network_without_a_route_has_no_route_annotation() -> None:
    plan, _ = load_plan(
        {
            "clusterNetworks": [{"name": "vlan", "uplink": {"nics": ["eth1"], "mtu": 9000}}],
            "networks": [{"name": "v7", "namespace": "lab", "clusterNetwork": "vlan", "vlan": 7}],
        }
    )
    net = plan.networks[0]
    assert route_annotation(net) is None
    assert nad_object(net, plan.cluster_networks[0]) == {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {
            "name": "v7",
            "namespace": "lab",
            "labels": {
                "network.harvesterhci.io/clusternetwork": "vlan",
                "network.harvesterhci.io/type": "L2VlanNetwork",
                "network.harvesterhci.io/vlan-id": "7",
                "app.kubernetes.io/managed-by": "hvnet",
            },
        },
        "spec": {
            "config": '{"cniVersion":"0.3.1","name":"v7","type":"bridge","bridge":"vlan-br","promiscMode":true,'
            '"vlan":7,"preserveDefaultVlan":false,"mtu":9000,"ipam":{}}'
        },
    }
