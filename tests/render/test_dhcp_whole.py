"""render/dhcp.py compared whole: the dnsmasq ConfigMap and Deployment, dnsmasq.conf without DNS or with an
infinite lease, and an IPPool without the optional fields."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from harvester_network.model import load_plan
from harvester_network.model.plan import AutoRoute, Network
from harvester_network.render.dhcp import DHCP_CAPABILITIES, dhcp_objects, dnsmasq_conf, ippool_object, server_address

ROUTE = {"mode": "manual", "cidr": "10.30.0.0/23", "gateway": "10.30.0.1"}
DHCP = {"serverIP": "10.30.0.2", "range": {"start": "10.30.0.100", "end": "10.30.1.200"}}


def network(**dhcp: Any) -> Network:
    data = {
        "clusterNetworks": [{"name": "cn1", "uplink": {"nics": ["eth1"]}}],
        "networks": [
            {
                "name": "vlan300",
                "namespace": "lab",
                "clusterNetwork": "cn1",
                "vlan": 300,
                "route": ROUTE,
                "dhcpServer": {**DHCP, **dhcp},
            }
        ],
    }
    plan, _ = load_plan(data)
    return plan.networks[0]


def test_the_dnsmasq_workload_whole() -> None:
    net = network(dns=["10.30.0.1"])
    config_map, deployment = copy.deepcopy(dhcp_objects(net))
    labels = {
        "app.kubernetes.io/name": "hvnet-dhcp",
        "app.kubernetes.io/instance": "vlan300-dhcp",
        "app.kubernetes.io/managed-by": "hvnet",
    }
    meta = {"name": "vlan300-dhcp", "namespace": "lab", "labels": labels}
    assert config_map == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": {"dnsmasq.conf": dnsmasq_conf(net)},
    }
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    # The image belongs to the security rules (tests/security/test_dhcp_workload.py).
    container.pop("image")
    # Root only until dnsmasq drops to nobody: `ip addr add` needs NET_ADMIN effective.
    assert container.pop("securityContext") == {
        "capabilities": {"drop": ["ALL"], "add": DHCP_CAPABILITIES},
        "runAsUser": 0,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
    }
    annotations = deployment["spec"]["template"]["metadata"].pop("annotations")
    assert json.loads(annotations["k8s.v1.cni.cncf.io/networks"]) == [
        {"name": "vlan300", "namespace": "lab", "interface": "net1"}
    ]
    assert deployment == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app.kubernetes.io/instance": "vlan300-dhcp"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": "dnsmasq",
                            "command": [
                                "/bin/sh",
                                "-c",
                                "ip addr add 10.30.0.2/23 dev net1 && exec dnsmasq --keep-in-foreground "
                                "--log-facility=- --user=nobody --group=nogroup "
                                "--pid-file=/var/lib/dnsmasq/dnsmasq.pid --conf-file=/etc/dnsmasq/dnsmasq.conf",
                            ],
                            "resources": {
                                "requests": {"cpu": "10m", "memory": "16Mi"},
                                "limits": {"cpu": "200m", "memory": "64Mi"},
                            },
                            "volumeMounts": [
                                {"name": "config", "mountPath": "/etc/dnsmasq", "readOnly": True},
                                {"name": "leases", "mountPath": "/var/lib/dnsmasq"},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "config", "configMap": {"name": "vlan300-dhcp"}},
                        {"name": "leases", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def test_dnsmasq_conf_without_dns_and_with_an_infinite_lease() -> None:
    net = network(leaseTime="infinite")
    assert dnsmasq_conf(net, lease_file="/tmp/leases") == (
        "# hvnet: DHCP for network lab/vlan300 (VLAN 300); rendered, do not edit\n"
        "port=0\n"
        "interface=net1\n"
        "bind-interfaces\n"
        "dhcp-authoritative\n"
        "dhcp-range=10.30.0.100,10.30.1.200,255.255.254.0,infinite\n"
        "dhcp-option=option:router,10.30.0.1\n"
        "dhcp-leasefile=/tmp/leases\n"
        "log-dhcp\n"
    )
    assert server_address(net) == "10.30.0.2/23"


def test_an_ippool_without_lease_time_or_dns() -> None:
    net = network(backend="ippool", leaseTime="infinite")
    assert dhcp_objects(net) == [ippool_object(net)]
    assert ippool_object(net) == {
        "apiVersion": "network.harvesterhci.io/v1alpha1",
        "kind": "IPPool",
        "metadata": {"name": "vlan300", "namespace": "lab", "labels": {"app.kubernetes.io/managed-by": "hvnet"}},
        "spec": {
            "networkName": "lab/vlan300",
            "ipv4Config": {
                "cidr": "10.30.0.0/23",
                "serverIP": "10.30.0.2",
                "router": "10.30.0.1",
                "dns": [],
                "pool": {"start": "10.30.0.100", "end": "10.30.1.200", "exclude": []},
            },
        },
    }


def test_a_network_that_skipped_validation_is_refused_by_name() -> None:
    """A dhcpServer needs a manual route; a network copied past validation without either is refused clearly."""
    net = network()
    without_server = net.model_copy(update={"dhcp_server": None})
    with_auto_route = net.model_copy(update={"route": AutoRoute(mode="auto")})
    for broken in (without_server, with_auto_route):
        with pytest.raises(ValueError, match="network lab/vlan300: no dhcpServer with a manual route"):
            server_address(broken)
