"""Derived names at their limits: link names, DHCP workload names, pinned MACs, DNS labels."""

from __future__ import annotations

import pytest

from harvester_network.model import names


def test_link_and_object_names_of_a_cluster_network() -> None:
    assert [names.bridge_name("vlan"), names.bond_name("vlan")] == ["vlan-br", "vlan-bo"]
    assert [names.vlanconfig_name("vlan", None), names.vlanconfig_name("vlan", "node1")] == ["vlan", "vlan-node1"]
    # The longest cluster network name still makes a legal interface name (15 characters).
    longest = "c" * names.CLUSTER_NETWORK_NAME_MAX
    assert len(names.bridge_name(longest)) == len(names.bond_name(longest)) == names.IFNAME_MAX


def test_a_long_network_keeps_its_head_and_a_hash_up_to_exactly_63_characters() -> None:
    assert names.dhcp_workload_name("a" * 58) == "a" * 58 + "-dhcp"  # 63: unshortened
    long = names.dhcp_workload_name("a" * 59)
    assert len(long) == names.DNS_LABEL_MAX and long.startswith("a" * 52 + "-") and not long.endswith("-dhcp")
    # A head that ends in '-' where it is cut loses the '-' (no '--').
    cut_at_dash = names.dhcp_workload_name("b" * 51 + "-" + "c" * 20)
    assert cut_at_dash.startswith("b" * 51 + "-") and cut_at_dash[52] != "-" and len(cut_at_dash) == 62


def test_a_pinned_mac_never_changes_for_the_same_nic() -> None:
    # Existing VMs keep their DHCP leases only while this derivation stays exactly as it is.
    assert names.pinned_mac("default", "web-1", "nic-1") == "52:54:00:92:da:6b"
    assert names.pinned_mac("default", "web-1", "nic-2") != names.pinned_mac("default", "web-1", "nic-1")


@pytest.mark.parametrize(
    ("value", "is_label"),
    [
        ("a", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("a-b", True),
        ("-ab", False),
        ("ab-", False),
        ("Ab", False),
        ("a_b", False),
        ("", False),
        ("a" * 64 + "\n", False),
    ],
)
def test_is_dns_label(value: str, is_label: bool) -> None:
    assert names.is_dns_label(value) is is_label


@pytest.mark.parametrize(
    ("mac", "multicast"), [("52:54:00:00:00:01", False), ("01:00:5e:00:00:01", True), ("03:00:00:00:00:00", True)]
)
def test_is_multicast_mac(mac: str, multicast: bool) -> None:
    assert names.is_multicast_mac(mac) is multicast


def test_service_port_name() -> None:
    assert [names.service_port_name("TCP", 22, None), names.service_port_name("UDP", 53, "dns")] == ["tcp-22", "dns"]
