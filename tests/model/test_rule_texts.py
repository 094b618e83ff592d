"""Every rule of model/rules.py, one row each, with the plan's issues compared whole (path, message, fix,
severity): the user reads these, so a changed word, a lost fix or an extra issue fails here. The plan is
`plan_edits.valid_plan()` changed in one way; the expected texts are written out by hand."""

from __future__ import annotations

from typing import Any

import pytest

from harvester_network.model import PlanError, PlanIssue, load_plan
from tests.model.plan_edits import PlanEdit, add, drop, edits, put, valid_plan

DHCP = "networks[0].dhcpServer"  # vlan100: 10.100.0.0/24, gateway .1, server .2, range .100-.199
WEB = "virtualMachines[0]"  # default (mgmt), nic-1 on vlan100 with 10.100.0.20/24, management Service on port 22
DB = "virtualMachines[1]"  # nic-1 on default/vlan200 (no route), MAC 52:54:00:aa:bb:02
SERVICE = f"{WEB}.managementService"
WEB_IP = f"{WEB}.interfaces[1].ip"
NO_LAB = drop("lab")
STATIC_IP_FIX = "use a host address in 10.100.0.0/24 with /24"
DHCP_ADDRESS_FIX = "use a host address inside 10.100.0.0/24"
NO_NAMESERVER = (
    "the guest gets no nameserver (no NIC uses DHCP, no network's dhcpServer lists dns), so it cannot resolve names, "
    "not even to install qemu-guest-agent"
)
NAMESERVER_FIX = "list the resolvers the guest should use, like dns: [10.0.0.53]"
V1_SECOND_ROUTE = (
    "network data version 1 cannot keep this DHCP NIC from installing its server's default route: the guest may get "
    "a second default route"
)
NO_GUEST_AGENT = "qemu-guest-agent is not added, so Harvester will not show the VM's VLAN addresses"
GUEST_AGENT_FIX = "install and enable qemu-guest-agent yourself, or start the user data with #cloud-config"


def error(path: str, message: str, fix: str) -> PlanIssue:
    return PlanIssue(path, message, fix)


def warning(path: str, message: str, fix: str) -> PlanIssue:
    return PlanIssue(path, message, fix, severity="warning")


def issues_of(change: PlanEdit | dict[str, Any]) -> list[PlanIssue]:
    """Errors, then warnings, of valid_plan() after `change` (or of the plan `change` itself)."""
    if isinstance(change, dict):
        data = change
    else:
        data = valid_plan()
        change(data)
    try:
        _, warnings = load_plan(data)
    except PlanError as raised:
        return [*raised.issues, *raised.warnings]
    return warnings


CASES = [
    # Cluster networks and nodes.
    pytest.param(
        edits(NO_LAB, add("clusterNetworks", {"name": "vlan", "uplink": {"nics": ["eth3"]}})),
        [
            error(
                "clusterNetworks[2].name",
                "'vlan' is already declared at clusterNetworks[0]",
                "give each cluster network a unique name",
            )
        ],
        id="cluster-network-twice",
    ),
    pytest.param(
        edits(NO_LAB, put("nodes", [])),
        [
            error(
                "nodes",
                "is an empty list: VlanConfigs are rendered per listed node, so no node would get any uplink",
                "omit `nodes` (one VlanConfig then covers every node) or list at least one node",
            )
        ],
        id="nodes-empty",
    ),
    pytest.param(
        edits(NO_LAB, add("nodes", "node1")),
        [error("nodes[2]", "node 'node1' is listed twice (first at nodes[0])", "list each node once")],
        id="node-twice",
    ),
    pytest.param(
        edits(NO_LAB, add("clusterNetworks[0].nodeOverrides", {"node": "node2", "nics": ["eno3"]})),
        [
            error(
                "clusterNetworks[0].nodeOverrides[1].node",
                "node 'node2' already has an override at nodeOverrides[0]",
                "keep one override per node",
            )
        ],
        id="override-twice",
    ),
    pytest.param(
        edits(NO_LAB, drop("nodes")),
        [
            error(
                "clusterNetworks[0].nodeOverrides",
                "per-node overrides need the plan's `nodes` list: Harvester's nodeSelector cannot say 'every node "
                "except these', so the default uplink is rendered per listed node",
                "add `nodes: [...]` with every node of the cluster",
            )
        ],
        id="overrides-without-nodes",
    ),
    pytest.param(
        edits(NO_LAB, put("clusterNetworks[0].nodeOverrides[0].node", "node9")),
        [
            error(
                "clusterNetworks[0].nodeOverrides[0].node",
                "node 'node9' is not in `nodes` (node1, node2)",
                "fix the node name or add it to `nodes`",
            )
        ],
        id="override-unknown-node",
    ),
    pytest.param(
        edits(
            NO_LAB,
            put("clusterNetworks[1].name", "vlan-x"),
            put("networks[2].clusterNetwork", "vlan-x"),
            put("nodes", ["node2", "x-node2"]),
        ),
        [
            error(
                "clusterNetworks[1].name",
                "VlanConfig name 'vlan-x-node2' of cluster network 'vlan-x', node 'node2' collides with the one of "
                "cluster network 'vlan', node 'x-node2'",
                "rename the cluster network so that '<clusterNetwork>-<node>' names stay unique",
            )
        ],
        id="vlanconfig-name-collision",
    ),
    # Uplink NICs.
    pytest.param(
        edits(NO_LAB, put("clusterNetworks[1].uplink.nics", ["eth1"])),
        [
            error(
                "clusterNetworks[1].uplink.nics",
                "NIC 'eth1' is already the uplink of cluster network 'vlan' on node 'node1'",
                "give each cluster network its own NICs, or a node override",
            )
        ],
        id="nic-shared-on-a-node",
    ),
    pytest.param(
        edits(
            NO_LAB,
            drop("nodes"),
            drop("clusterNetworks[0].nodeOverrides"),
            put("clusterNetworks[1].uplink.nics", ["eth1"]),
        ),
        [
            error(
                "clusterNetworks[1].uplink.nics",
                "NIC 'eth1' is already the uplink of cluster network 'vlan' on every node",
                "give each cluster network its own NICs, or a node override",
            )
        ],
        id="nic-shared-on-every-node",
    ),
    pytest.param(
        edits(
            NO_LAB,
            put("clusterNetworks[1].uplink.nics", ["vlan-br"]),
            put("clusterNetworks[0].nodeOverrides[0].nics", ["storage-bo"]),
        ),
        [
            error(
                "clusterNetworks[0].nodeOverrides[0].nics[0]",
                "'storage-bo' is the name the agent gives the bridge or bond of cluster network 'storage': it cannot "
                "also be an uplink NIC",
                "name the node's physical NIC (e.g. eth1)",
            ),
            error(
                "clusterNetworks[1].uplink.nics[0]",
                "'vlan-br' is the name the agent gives the bridge or bond of cluster network 'vlan': it cannot also "
                "be an uplink NIC",
                "name the node's physical NIC (e.g. eth1)",
            ),
        ],
        id="nic-named-like-the-agents-bridge-or-bond",
    ),
    # Networks.
    pytest.param(
        edits(NO_LAB, add("networks", {"name": "vlan200", "clusterNetwork": "vlan", "vlan": 201})),
        [
            error(
                "networks[3].name",
                "network 'default/vlan200' is already declared at networks[1]",
                "give each network a unique name within its namespace",
            )
        ],
        id="network-twice",
    ),
    pytest.param(
        put("networks[1].clusterNetwork", "trunk"),
        [
            error(
                "networks[1].clusterNetwork",
                "cluster network 'trunk' is not in the plan (known: vlan, storage)",
                "name one of clusterNetworks[].name",
            )
        ],
        id="unknown-cluster-network",
    ),
    pytest.param(
        {"networks": [{"name": "a", "clusterNetwork": "vlan", "vlan": 5}]},
        [
            error(
                "networks[0].clusterNetwork",
                "cluster network 'vlan' is not in the plan (known: none declared)",
                "name one of clusterNetworks[].name",
            )
        ],
        id="no-cluster-network-declared",
    ),
    pytest.param(
        put("networks[1].vlan", 100),
        [
            warning(
                "networks[1].vlan",
                "VLAN 100 is also used by network 'default/vlan100' on cluster network 'vlan'; "
                "both join one L2 segment",
                "allowed (as in Harvester), but make sure that is intended",
            )
        ],
        id="vlan-twice-on-a-cluster-network",
    ),
    pytest.param(
        add("networks", {"name": "native", "namespace": "storage", "clusterNetwork": "storage", "vlan": 1}),
        [
            warning(
                "networks[3].vlan",
                "VLAN 1 and network 'storage/san' (VLAN 0) on cluster network 'storage' are one "
                "untagged segment: the bridge sends VLAN 1 untagged (PVID 1), so their VMs and DHCP servers meet",
                "keep one of them, or move the VLAN-1 network to another VLAN ID",
            )
        ],
        id="vlan-0-and-vlan-1",
    ),
    pytest.param(
        put("networks[1].route", {"mode": "manual", "cidr": "10.53.7.0/24", "gateway": "10.53.7.1"}),
        [
            error(
                "networks[1].route.cidr",
                "10.53.7.0/24 overlaps the cluster's service CIDR 10.53.0.0/16: workloads "
                "on this network would send traffic for those Service addresses onto the VLAN",
                "use a cidr outside the service CIDR (or set serviceCIDR to the cluster's real one)",
            )
        ],
        id="route-in-service-cidr",
    ),
    pytest.param(  # the default service CIDR stands in for the bad one, so no overlap with it is reported
        edits(
            put("serviceCIDR", "10.53.0/16"),
            put("networks[1].route", {"mode": "manual", "cidr": "10.53.7.0/24", "gateway": "10.53.7.1"}),
        ),
        [
            error(
                "serviceCIDR",
                "Input is not a valid IPv4 network",
                "write a subnet with its prefix length, like 10.100.0.0/24",
            )
        ],
        id="route-in-the-default-service-cidr-after-a-bad-one",
    ),
    # DHCP servers.
    pytest.param(
        put("networks[0].route", {"mode": "auto"}),
        [
            error(
                "networks[0].route",
                "a network with a dhcpServer needs a manual route: the server must know the "
                "subnet and gateway it hands out",
                "add route: {mode: manual, cidr: <subnet>, gateway: <router IP>}",
            )
        ],
        id="dhcp-server-without-manual-route",
    ),
    pytest.param(
        put(f"{DHCP}.serverIP", "10.101.0.2"),
        [error(f"{DHCP}.serverIP", "10.101.0.2 is outside the route cidr 10.100.0.0/24", DHCP_ADDRESS_FIX)],
        id="dhcp-server-outside-the-cidr",
    ),
    pytest.param(
        put(f"{DHCP}.range.end", "10.100.0.255"),
        [
            error(
                f"{DHCP}.range.end",
                "10.100.0.255 is the network or broadcast address of 10.100.0.0/24",
                DHCP_ADDRESS_FIX,
            )
        ],
        id="dhcp-range-ends-on-broadcast",
    ),
    pytest.param(
        put(f"{DHCP}.serverIP", "10.100.0.1"),
        [error(f"{DHCP}.serverIP", "10.100.0.1 is the route's gateway", "use another address")],
        id="dhcp-server-on-the-gateway",
    ),
    pytest.param(
        edits(put(f"{DHCP}.range.start", "10.100.0.199"), put(f"{DHCP}.range.end", "10.100.0.100")),
        [error(f"{DHCP}.range", "start 10.100.0.199 is after end 10.100.0.100", "swap start and end")],
        id="dhcp-range-inverted",
    ),
    pytest.param(
        put(f"{DHCP}.serverIP", "10.100.0.150"),
        [
            error(
                f"{DHCP}.serverIP",
                "10.100.0.150 lies inside the range it hands out (10.100.0.100-10.100.0.199)",
                "move the server IP out of the range",
            )
        ],
        id="dhcp-server-in-its-range",
    ),
    pytest.param(
        put("networks[0].route.gateway", "10.100.0.150"),
        [error(f"{DHCP}.range", "the range contains the gateway 10.100.0.150", "exclude the gateway")],
        id="dhcp-range-has-the-gateway",
    ),
    pytest.param(
        put(f"{DHCP}.leaseTime", 60),
        [
            warning(
                f"{DHCP}.leaseTime",
                "dnsmasq gives leases of at least 120 seconds, so 60 becomes 120s",
                "set leaseTime to 120 or more",
            )
        ],
        id="dnsmasq-lease-too-short",
    ),
    # VMs, their interfaces and management Service.
    pytest.param(
        edits(NO_LAB, add("virtualMachines", {"name": "db-1", "interfaces": [{"name": "nic-1", "network": "mgmt"}]})),
        [
            error(
                "virtualMachines[2].name",
                "VM 'default/db-1' is already declared at virtualMachines[1]",
                "give each VM a unique name within its namespace",
            )
        ],
        id="vm-twice",
    ),
    pytest.param(
        put(f"{WEB}.interfaces[1].name", "default"),
        [
            error(
                f"{WEB}.interfaces[1].name",
                "interface 'default' already exists at interfaces[0]",
                "give each interface a unique name",
            )
        ],
        id="interface-name-twice",
    ),
    pytest.param(
        add(f"{WEB}.interfaces", {"name": "second", "network": "mgmt"}),
        [
            error(
                f"{WEB}.interfaces[2].network",
                "a VM has at most one management (mgmt) interface; interfaces[0] is already one",
                "attach this NIC to a VLAN network",
            )
        ],
        id="two-mgmt-interfaces",
    ),
    pytest.param(
        drop(f"{WEB}.interfaces[0]"),
        [
            error(
                SERVICE,
                "a management Service needs an interface on 'mgmt'",
                "add {name: default, network: mgmt} or drop managementService",
            ),
            warning(f"{WEB}.dns", NO_NAMESERVER, NAMESERVER_FIX),
        ],
        id="management-service-without-mgmt",
    ),
    pytest.param(
        edits(NO_LAB, put(f"{WEB}.name", "1web")),
        [
            error(
                f"{WEB}.name",
                "'1web' names the VM's management Service too, and a Service name must start with a letter",
                "rename the VM so it starts with a letter, or drop managementService",
            )
        ],
        id="service-vm-name-digit-first",
    ),
    pytest.param(
        add(f"{SERVICE}.ports", {"port": 22, "name": "ssh"}),
        [error(f"{SERVICE}.ports[1]", "port 22/TCP is already listed at ports[0]", "list each port once")],
        id="service-port-twice",
    ),
    pytest.param(
        add(f"{SERVICE}.ports", {"port": 2222, "name": "tcp-22"}),
        [
            error(
                f"{SERVICE}.ports[1].name",
                "port name 'tcp-22' is already used by ports[0]",
                "give each port its own name",
            )
        ],
        id="service-port-name-twice",
    ),
    pytest.param(
        put(f"{WEB}.interfaces[0].ip", "10.0.0.5/24"),
        [
            error(
                f"{WEB}.interfaces[0].ip",
                "the management network is masqueraded: the guest gets its address by DHCP from KubeVirt",
                "use ip: dhcp",
            ),
            warning(f"{WEB}.dns", NO_NAMESERVER, NAMESERVER_FIX),
        ],
        id="static-ip-on-mgmt",
    ),
    pytest.param(
        put(f"{DB}.interfaces[0].network", "vlan300"),
        [
            error(
                f"{DB}.interfaces[0].network",
                "network 'default/vlan300' is not in the plan",
                "use 'mgmt' or '<namespace>/<name>' of a declared network",
            )
        ],
        id="interface-network-unknown",
    ),
    pytest.param(
        put(f"{DB}.interfaces[0].network", "prod/vlan200"),
        [
            error(
                f"{DB}.interfaces[0].network",
                "network 'prod/vlan200' is not in the plan",
                "use 'mgmt' or '<namespace>/<name>' of a declared network",
            )
        ],
        id="interface-network-unknown-in-a-namespace",
    ),
    pytest.param(
        put(f"{DB}.interfaces[0]", {"name": "nic-1", "network": "vlan100", "ip": "10.100.0.20/24"}),
        [
            error(
                f"{DB}.interfaces[0].ip",
                "10.100.0.20/24 is already the address of default/web-1/nic-1 on 'default/vlan100'",
                "give every NIC its own address",
            ),
            warning(f"{DB}.dns", NO_NAMESERVER, NAMESERVER_FIX),
        ],
        id="static-ip-twice",
    ),
    pytest.param(  # one address, whatever its prefix length
        put(f"{DB}.interfaces[0]", {"name": "nic-1", "network": "vlan100", "ip": "10.100.0.20/16"}),
        [
            error(
                f"{DB}.interfaces[0].ip", "10.100.0.20/16 does not match the route cidr 10.100.0.0/24", STATIC_IP_FIX
            ),
            error(
                f"{DB}.interfaces[0].ip",
                "10.100.0.20/16 is already the address of default/web-1/nic-1 on 'default/vlan100'",
                "give every NIC its own address",
            ),
            warning(f"{DB}.dns", NO_NAMESERVER, NAMESERVER_FIX),
        ],
        id="static-ip-twice-with-another-prefix",
    ),
    pytest.param(  # `ip: none` is no address: two such NICs on one network are fine
        edits(
            put(f"{DB}.interfaces[0]", {"name": "nic-1", "network": "vlan100", "ip": "none"}),
            add(f"{DB}.interfaces", {"name": "nic-2", "network": "vlan100", "ip": "none"}),
        ),
        [],
        id="two-nics-without-an-address",
    ),
    pytest.param(
        edits(
            put("networks[1].route", {"mode": "manual", "cidr": "10.100.0.0/16", "gateway": "10.100.1.1"}),
            add(f"{DB}.interfaces", {"name": "nic-2", "network": "vlan100"}),
        ),
        [
            warning(
                f"{DB}.interfaces[1].network",
                "its subnet 10.100.0.0/24 overlaps 10.100.0.0/16 of interfaces[0]: "
                "the guest gets two routes for the same addresses and uses only one NIC for them",
                "attach the VM to networks with disjoint subnets",
            )
        ],
        id="vm-on-overlapping-subnets",
    ),
    pytest.param(
        put(f"{DB}.interfaces[0].macAddress", "52:54:00:aa:bb:01"),
        [
            error(
                f"{DB}.interfaces[0].macAddress",
                "MAC 52:54:00:aa:bb:01 is already used by default/web-1/nic-1 on cluster network 'vlan'",
                "give every NIC a unique MAC",
            )
        ],
        id="mac-twice",
    ),
    pytest.param(
        edits(put(f"{WEB}.interfaces[0].bootOrder", 1), put(f"{WEB}.interfaces[1].bootOrder", 1)),
        [
            error(
                f"{WEB}.interfaces[1].bootOrder",
                "boot order 1 is already that of interfaces[0]; KubeVirt refuses the VM",
                "give each bootable NIC its own bootOrder",
            )
        ],
        id="boot-order-twice",
    ),
    # What the guest's network data and user data can say.
    pytest.param(
        edits(put(f"{DB}.networkDataVersion", 1), put(f"{DB}.dns", ["10.0.0.53"])),
        [
            warning(
                f"{DB}.dns",
                "network data version 1 hands `dns` only to static NICs where the guest's cloud-init "
                "renders netplan (Ubuntu): this VM has none, so those guests use only their DHCP servers' "
                "nameservers",
                "use networkDataVersion: 2 (the default)",
            )
        ],
        id="v1-dns-without-static-nics",
    ),
    pytest.param(
        edits(put(f"{WEB}.networkDataVersion", 1), put(WEB_IP, "dhcp")),
        [warning(WEB_IP, V1_SECOND_ROUTE, "use networkDataVersion: 2 (the default), or a static ip here")],
        id="v1-second-dhcp-nic",
    ),
    pytest.param(
        edits(
            put(f"{WEB}.networkDataVersion", 1),
            put(
                f"{WEB}.interfaces",
                [
                    {"name": "nic-1", "network": "vlan100", "ip": "10.100.0.20/24"},
                    {"name": "default", "network": "mgmt"},
                ],
            ),
        ),
        [warning(f"{WEB}.interfaces[1].ip", V1_SECOND_ROUTE, "use networkDataVersion: 2 (the default)")],
        id="v1-mgmt-dhcp-after-a-routed-nic",
    ),
    pytest.param(
        put(f"{DB}.userData", "#cloud-config\n#" + "x" * (1024 * 1024)),
        [
            error(
                f"{DB}.userData",
                "is 1048591 bytes; the VM's cloud-init Secret holds at most 1048576 (Kubernetes' limit)",
                "make it smaller, e.g. fetch large files from the guest with runcmd or write_files sources",
            )
        ],
        id="user-data-too-large",
    ),
    pytest.param(
        put(f"{DB}.userData", "#cloud-config\n- a\n"),
        [
            error(
                f"{DB}.userData",
                "the #cloud-config is a list, not a mapping of keys",
                "fix the cloud-config so cloud-init can read it",
            )
        ],
        id="user-data-cloud-config-unreadable",
    ),
    pytest.param(
        put(f"{DB}.userData", "#!/bin/sh\necho hi\n"),
        [warning(f"{DB}.userData", f"is a script (#!): {NO_GUEST_AGENT}", GUEST_AGENT_FIX)],
        id="user-data-script",
    ),
    pytest.param(
        put(f"{DB}.userData", "## template: jinja\n#cloud-config\n"),
        [warning(f"{DB}.userData", f"is a jinja template: {NO_GUEST_AGENT}", GUEST_AGENT_FIX)],
        id="user-data-jinja",
    ),
    pytest.param(
        put(f"{DB}.userData", "hello\n"),
        [warning(f"{DB}.userData", f"is not a #cloud-config: {NO_GUEST_AGENT}", GUEST_AGENT_FIX)],
        id="user-data-other",
    ),
    # Static VM addresses.
    pytest.param(
        put(WEB_IP, "10.101.0.20/24"),
        [error(WEB_IP, "10.101.0.20/24 is outside the route cidr 10.100.0.0/24", STATIC_IP_FIX)],
        id="static-ip-outside",
    ),
    pytest.param(
        put(WEB_IP, "10.100.0.20/16"),
        [error(WEB_IP, "10.100.0.20/16 does not match the route cidr 10.100.0.0/24", STATIC_IP_FIX)],
        id="static-ip-wrong-prefix",
    ),
    pytest.param(
        put(WEB_IP, "10.100.0.1/24"),
        [error(WEB_IP, "10.100.0.1/24 is the network's gateway", "use another address")],
        id="static-ip-on-the-gateway",
    ),
    pytest.param(
        put(WEB_IP, "10.100.0.2/24"),
        [error(WEB_IP, "10.100.0.2/24 is the address of the DHCP server of 'default/vlan100'", "use another address")],
        id="static-ip-on-the-dhcp-server",
    ),
    pytest.param(
        put(WEB_IP, "10.100.0.150/24"),
        [
            error(
                WEB_IP,
                "10.100.0.150/24 lies inside the DHCP range of 'default/vlan100'",
                "use an address outside the range",
            )
        ],
        id="static-ip-in-the-dhcp-range",
    ),
    # The lab section.
    pytest.param(
        put("lab.placement.cache-1", "node1"),
        [error("lab.placement.cache-1", "VM 'cache-1' is not in virtualMachines", "fix the VM name")],
        id="lab-placement-unknown-vm",
    ),
    pytest.param(
        put("lab.placement.db-1", "node3"),
        [error("lab.placement.db-1", "node 'node3' is not in lab.nodes", "place it on a lab node")],
        id="lab-placement-unknown-node",
    ),
    pytest.param(
        put("lab.nodes.node3", {"nics": ["eth1", "eth2"]}),
        [error("lab.nodes.node3", "node 'node3' is not in `nodes`", "add it to `nodes`")],
        id="lab-node-not-in-nodes",
    ),
    pytest.param(
        edits(put("lab.nodes.node2.nics", ["eth2"]), put("clusterNetworks[0].nodeOverrides[0].nics", ["eno2", "eno3"])),
        [
            error(
                "lab.nodes.node2.nics",
                "lab node 'node2' lacks eno2, eno3, the uplink of clusterNetworks[0] 'vlan' there",
                "add the NICs to the lab node",
            )
        ],
        id="lab-node-lacks-an-uplink-nic",
    ),
]


@pytest.mark.parametrize(("change", "expected"), CASES)
def test_each_rule_reports_its_whole_issue(change: PlanEdit | dict[str, Any], expected: list[PlanIssue]) -> None:
    assert issues_of(change) == expected
