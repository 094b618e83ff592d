"""load_plan with a whole section lost to a field error: the cross-object rules still judge the rest."""

from __future__ import annotations

import pytest

from harvester_network.model import PlanError, PlanIssue, load_plan


def test_a_bad_service_cidr_does_not_hide_the_other_sections_problems() -> None:
    data = {
        "serviceCIDR": "bad",
        "clusterNetworks": [{"name": "vlan", "uplink": {"nics": ["eth1"]}}],
        "networks": [{"name": "a", "clusterNetwork": "nope", "vlan": 5}],
    }
    with pytest.raises(PlanError) as caught:
        load_plan(data)
    assert caught.value.issues == [
        PlanIssue(
            "serviceCIDR",
            "Input is not a valid IPv4 network",
            "write a subnet with its prefix length, like 10.100.0.0/24",
        ),
        PlanIssue(
            "networks[0].clusterNetwork",
            "cluster network 'nope' is not in the plan (known: vlan)",
            "name one of clusterNetworks[].name",
        ),
    ]
