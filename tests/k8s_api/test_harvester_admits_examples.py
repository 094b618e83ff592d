"""Harvester's webhooks admit the objects every example renders (ClusterNetworks, VlanConfigs, NADs, IPPools, the
VMs' cloud-init Secrets and the VirtualMachines: its VM validator's memory and network rules), created in apply
order on a Harvester-mode server, and its controllers then settle."""

from __future__ import annotations

from typing import Any

import pytest

from harvester_network.model import load_plan
from harvester_network.render import object_key, render_plan
from tests.k8s_api.fixtures import HarvesterApi
from tests.render.test_upstream_schemas import _plans

ADMITTED_KINDS = {"ClusterNetwork", "VlanConfig", "NetworkAttachmentDefinition", "IPPool", "Secret", "VirtualMachine"}
PLANS = _plans()


@pytest.mark.parametrize(("name", "data"), PLANS, ids=[name for name, _ in PLANS])
def test_harvester_admits_the_examples_objects(harvester_api: HarvesterApi, name: str, data: Any) -> None:
    plan, _ = load_plan(data, name)
    dynamic = harvester_api.dynamic_client()
    created = []
    for obj in render_plan(plan):
        if obj["kind"] not in ADMITTED_KINDS:
            continue
        resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        resource.create(body=obj, namespace=obj["metadata"].get("namespace"))
        harvester_api.settle()
        created.append(object_key(obj))
    kinds = {key.split("/")[0] for key in created}
    assert kinds >= {"ClusterNetwork", "VlanConfig", "NetworkAttachmentDefinition", "VirtualMachine"}
    statuses = dynamic.resources.get(api_version="network.harvesterhci.io/v1beta1", kind="VlanStatus").get()
    assert statuses.items, "Harvester's agent set up no node"
