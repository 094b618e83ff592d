"""A network's DHCP server as rendered: lease times given as YAML integers, and the names of its objects."""

from __future__ import annotations

import re
from typing import Any

import pytest

from harvester_network.model import load_plan, names
from harvester_network.render import object_key, render_plan


def dhcp_plan(*networks: tuple[str, Any]) -> dict[str, Any]:
    """One cluster network and a DHCP-served VLAN per (name, leaseTime); leaseTime None leaves the default."""
    items = []
    for i, (name, lease_time) in enumerate(networks):
        dhcp: dict[str, Any] = {"serverIP": f"10.{i}.0.2", "range": {"start": f"10.{i}.0.100", "end": f"10.{i}.0.199"}}
        if lease_time is not None:
            dhcp["leaseTime"] = lease_time
        items.append(
            {
                "name": name,
                "clusterNetwork": "vlan",
                "vlan": 100 + i,
                "route": {"mode": "manual", "cidr": f"10.{i}.0.0/24", "gateway": f"10.{i}.0.1"},
                "dhcpServer": dhcp,
            }
        )
    return {"clusterNetworks": [{"name": "vlan", "uplink": {"nics": ["eth1"]}}], "networks": items}


def rendered(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    plan, _ = load_plan(data)
    return {object_key(o): o for o in render_plan(plan)}


def dhcp_range_line(objects: dict[str, dict[str, Any]], network: str) -> str:
    conf = objects[f"ConfigMap/default/{network}-dhcp"]["data"]["dnsmasq.conf"]
    [line] = [line for line in conf.splitlines() if line.startswith("dhcp-range=")]
    return str(line)


@pytest.mark.parametrize("lease_time", [3600, "3600", "1h", "60m"])
def test_an_integer_lease_time_is_seconds_and_renders_as_the_string_forms_do(lease_time: Any) -> None:
    objects = rendered(dhcp_plan(("vlan100", lease_time)))
    assert dhcp_range_line(objects, "vlan100") == "dhcp-range=10.0.0.100,10.0.0.199,255.255.255.0,3600s"


def test_an_integer_lease_time_becomes_the_ippool_lease_in_seconds() -> None:
    data = dhcp_plan(("vlan100", 86400))
    data["networks"][0]["dhcpServer"]["backend"] = "ippool"
    pool = rendered(data)["IPPool/default/vlan100"]
    assert pool["spec"]["ipv4Config"]["leaseTime"] == 86400


def test_string_lease_times_are_kept_as_written_and_integers_as_their_digits() -> None:
    """The model keeps "1h" and "infinite" as given (rendering of the string forms is unchanged), and a dumped
    plan with an integer lease time loads again (the Pulumi providers round-trip dumped DhcpServers)."""
    data = dhcp_plan(("a", "1h"), ("b", "infinite"), ("c", 90), ("d", None))
    plan, _ = load_plan(data)
    assert [n.dhcp_server.lease_time for n in plan.networks if n.dhcp_server] == ["1h", "infinite", "90", "1h"]
    assert [n.dhcp_server.lease_seconds for n in plan.networks if n.dhcp_server] == [3600, None, 90, 3600]
    again, _ = load_plan(plan.model_dump(mode="json", by_alias=True, exclude_none=True))
    assert again == plan
    objects = rendered(data)
    assert dhcp_range_line(objects, "b").endswith(",infinite")
    assert dhcp_range_line(objects, "c").endswith(",90s")


def test_dhcp_object_names_of_short_networks_are_unchanged() -> None:
    assert names.dhcp_workload_name("vlan300") == "vlan300-dhcp"
    longest_plain = "n" * 58
    assert names.dhcp_workload_name(longest_plain) == f"{longest_plain}-dhcp"


@pytest.mark.parametrize(
    "first, second",
    [
        ("a" * 58, "a" * 58 + "-dhcp"),  # "<58>-dhcp" is 63 characters: cut off, both were "<58>-dhcp"
        ("b" * 60, "b" * 60 + "-dh"),  # "<60>-dh|cp" and "<60>-dh" cut to "<60>-dh"
        ("c" * 59 + "1", "c" * 59 + "2"),  # shortened to one head: only the hash tells them apart
    ],
    ids=["suffix-spelled-out", "suffix-cut-off", "common-head"],
)
def test_two_networks_never_share_a_dhcp_configmap_or_deployment(first: str, second: str) -> None:
    objects = rendered(dhcp_plan((first, None), (second, None)))
    for kind in ("ConfigMap", "Deployment"):
        workloads = [o for o in objects.values() if o["kind"] == kind]
        assert len(workloads) == 2, f"two networks rendered {len(workloads)} {kind}(s): {sorted(objects)}"
    deployments = [o for o in objects.values() if o["kind"] == "Deployment"]
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        assert len(name) <= 63 and re.fullmatch(names.DNS_LABEL_RE, name), name
        template = deployment["spec"]["template"]
        # Each server reads its own dnsmasq.conf and selects its own pods.
        assert template["spec"]["volumes"][0]["configMap"]["name"] == name
        assert deployment["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/instance": name}
        assert f"ConfigMap/default/{name}" in objects
