"""What the SDK is told about each resource besides its inputs: which resources it waits for, and where it was
declared (its source position)."""

from __future__ import annotations

import sys
from pathlib import Path

from harvester_network import provider
from harvester_network.components import HarvesterNetworking
from tests.pulumi.harness import DYNAMIC_PREFIX, run_program

NAD = f"{DYNAMIC_PREFIX}NetworkAttachmentDefinition"
PLAN = {
    "clusterNetworks": [
        {"name": "vlan", "uplink": {"nics": ["eth1"]}, "nodeOverrides": [{"node": "n2", "nics": ["eno2"]}]},
        {"name": "storage", "uplink": {"nics": ["eth2"]}},
    ],
    "nodes": ["n1", "n2"],
    "networks": [
        {"name": "vlan100", "clusterNetwork": "vlan", "vlan": 100},
        {"name": "vlan200", "clusterNetwork": "storage", "vlan": 200},
    ],
}


def test_a_network_waits_for_exactly_its_cluster_networks_resources() -> None:
    recording = run_program(lambda: HarvesterNetworking("site", plan=PLAN))
    for network, cluster_network in (("vlan100", "vlan"), ("vlan200", "storage")):
        own = {
            r.urn
            for r in recording.registrations
            if r.kind in {"ClusterNetwork", "VlanConfig"} and r.name.startswith(f"site/{cluster_network}")
        }
        assert len(own) == 3  # the ClusterNetwork and a VlanConfig per node
        nad = recording.by_name(NAD, f"site/default/{network}")
        assert sorted(nad.dependencies) == sorted(own), network


def test_a_dynamic_resource_is_placed_where_it_was_declared() -> None:
    lines: list[int] = []

    def program() -> None:
        lines.append(sys._getframe().f_lineno + 1)
        provider.NetworkAttachmentDefinition("v1", name="v1", cluster_network="vlan", vlan=1)

    recording = run_program(program)
    assert recording.by_name(NAD, "v1").source_position == f"{Path(__file__).as_uri()}:{lines[0]}"


def test_component_children_are_placed_in_the_components_not_in_the_provider_modules() -> None:
    recording = run_program(lambda: HarvesterNetworking("site", plan=PLAN))
    dynamic = [r for r in recording.registrations if r.kind is not None]
    assert dynamic
    for resource in dynamic:
        assert "/harvester_network/components/" in resource.source_position, resource.name
