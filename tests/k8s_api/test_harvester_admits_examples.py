"""Harvester's webhooks admit the network objects every example renders (ClusterNetworks, VlanConfigs, NADs,
IPPools), created in apply order on a Harvester-mode server, and its controllers then settle.

VirtualMachines are not here: Harvester refuses the ones render/vm.py writes today (checkEmptyMemory: they set
only `resources.requests.memory`), which test_harvester_virtualmachines.py shows with Harvester's message.
"""

from __future__ import annotations

from typing import Any

import pytest

from harvester_network.model import load_plan
from harvester_network.render import object_key, render_plan
from tests.k8s_api.fixtures import HarvesterApi
from tests.render.test_upstream_schemas import _plans

NETWORK_KINDS = {"ClusterNetwork", "VlanConfig", "NetworkAttachmentDefinition", "IPPool"}
PLANS = _plans()


@pytest.mark.parametrize(("name", "data"), PLANS, ids=[name for name, _ in PLANS])
def test_harvester_admits_the_examples_network_objects(harvester_api: HarvesterApi, name: str, data: Any) -> None:
    plan, _ = load_plan(data, name)
    dynamic = harvester_api.dynamic_client()
    created = []
    for obj in render_plan(plan):
        if obj["kind"] not in NETWORK_KINDS:
            continue
        resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        resource.create(body=obj, namespace=obj["metadata"].get("namespace"))
        harvester_api.settle()
        created.append(object_key(obj))
    assert {key.split("/")[0] for key in created} >= {"ClusterNetwork", "VlanConfig", "NetworkAttachmentDefinition"}
    statuses = dynamic.resources.get(api_version="network.harvesterhci.io/v1beta1", kind="VlanStatus").get()
    assert statuses.items, "Harvester's agent set up no node"
