"""render/harvester.py's label and annotation keys agree with the emulated Harvester (tests/k8s_api/harvester/
netconf.py, written from network-controller-harvester's pkg/utils), so a typo on our side fails here and not on a
cluster. API versions are pinned by the whole-object tests (tests/render/test_golden.py and friends)."""

from __future__ import annotations

from harvester_network.render import harvester as h
from tests.k8s_api.harvester import netconf

KEYS = [
    "ANNOTATION_MATCHED_NODES",
    "ANNOTATION_ROUTE",
    "ANNOTATION_UPLINK_MTU",
    "LABEL_CLUSTER_NETWORK",
    "LABEL_NETWORK_TYPE",
    "LABEL_NODE",
    "LABEL_VLANCONFIG",
    "LABEL_VLAN_ID",
]


def test_keys_agree_with_harvester() -> None:
    shared = sorted(n for n in vars(h) if n.startswith(("LABEL_", "ANNOTATION_")) and hasattr(netconf, n))
    assert shared == KEYS  # a key renamed on either side is noticed, not skipped
    assert {n: getattr(h, n) for n in KEYS} == {n: getattr(netconf, n) for n in KEYS}


def test_the_node_label_of_a_cluster_network() -> None:
    assert h.node_cluster_network_label("vlan1") == f"{netconf.GROUP}/vlan1"
