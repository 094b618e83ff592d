"""The catalogue of invalid plans: each is the valid plan of `plan_edits` changed in one way.

Every case names the exact field path of the error and a fragment of its message (and, where the
fix text matters, of the fix), and `hvnet render -o DIR` must exit 1 without writing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from harvester_network.cli import app
from harvester_network.model import PlanError, load_plan, load_plan_file
from tests.model.plan_edits import PlanEdit, add, drop, edits, put, rename, valid_plan

NET0 = "networks[0]"  # vlan100: manual route 10.100.0.0/24, gateway .1, DHCP server .2, range .100-.199
DHCP = f"{NET0}.dhcpServer"
WEB = "virtualMachines[0]"  # mgmt NIC + nic-1 on vlan100 with 10.100.0.20/24, management Service
DB = "virtualMachines[1]"  # nic-1 on default/vlan200
VLAN_UPLINK = "clusterNetworks[0].uplink"
STORAGE_UPLINK = "clusterNetworks[1].uplink"
OVERRIDE = "clusterNetworks[0].nodeOverrides[0]"  # node2 uses eno2
DB_NIC = f"{DB}.interfaces[0]"
DB_MAC = f"{DB_NIC}.macAddress"
WEB_IP = f"{WEB}.interfaces[1].ip"
SERVICE = f"{WEB}.managementService"


@dataclass(frozen=True)
class Case:
    id: str
    change: PlanEdit | str  # an edit of valid_plan(), or the whole file's text
    path: str
    message: str
    fix: str = ""


DNS_FIX = "DNS label"
NOT_KNOWN = "is not a known key"

CASES = [
    # Names: lengths, DNS labels, the reserved management network.
    Case("cn-name-13-chars", put("clusterNetworks[1].name", "storage-extra"), "clusterNetworks[1].name", "at most 12"),
    Case("cn-name-uppercase", put("clusterNetworks[1].name", "Storage"), "clusterNetworks[1].name", "pattern", DNS_FIX),
    Case("cn-name-trailing-dash", put("clusterNetworks[1].name", "storage-"), "clusterNetworks[1].name", "pattern"),
    Case("cn-name-empty", put("clusterNetworks[1].name", ""), "clusterNetworks[1].name", "at least 1 character"),
    Case("cn-named-mgmt", put("clusterNetworks[1].name", "mgmt"), "clusterNetworks[1].name", "built-in management"),
    Case("network-on-mgmt", put("networks[1].clusterNetwork", "mgmt"), "networks[1].clusterNetwork", "built-in"),
    Case("network-name-64-chars", put("networks[1].name", "n" * 64), "networks[1].name", "at most 63 characters"),
    Case("network-name-underscore", put("networks[1].name", "vlan_200"), "networks[1].name", "pattern", DNS_FIX),
    Case("network-name-leading-dash", put("networks[1].name", "-vlan200"), "networks[1].name", "pattern"),
    Case("namespace-uppercase", put("networks[2].namespace", "Storage"), "networks[2].namespace", "pattern"),
    Case("vm-name-with-dot", put(f"{DB}.name", "db.1"), f"{DB}.name", "pattern"),
    Case("interface-name-uppercase", put(f"{DB_NIC}.name", "NIC1"), f"{DB_NIC}.name", "pattern"),
    Case("node-name-underscore", put("nodes[1]", "node_2"), "nodes[1]", "pattern"),
    Case("service-vm-name-digit-first", put(f"{WEB}.name", "1web"), f"{WEB}.name", "must start with a letter"),
    # VLAN IDs and YAML types.
    Case("vlan-minus-1", put("networks[1].vlan", -1), "networks[1].vlan", "greater than or equal to 0"),
    Case("vlan-4095", put("networks[1].vlan", 4095), "networks[1].vlan", "less than or equal to 4094"),
    Case("vlan-quoted", put("networks[1].vlan", "100"), "networks[1].vlan", "valid integer", "without quotes"),
    Case("vlan-bool", put("networks[1].vlan", True), "networks[1].vlan", "valid integer"),
    Case("vlan-float", put("networks[1].vlan", 1.5), "networks[1].vlan", "valid integer"),
    Case("vlan-missing", drop("networks[1].vlan"), "networks[1].vlan", "is required", "add it"),
    # MTU: 0 or 576..9000.
    Case("mtu-1", put(f"{VLAN_UPLINK}.mtu", 1), f"{VLAN_UPLINK}.mtu", "between 576 and 9000"),
    Case("mtu-575", put(f"{VLAN_UPLINK}.mtu", 575), f"{VLAN_UPLINK}.mtu", "between 576 and 9000"),
    Case("mtu-9001", put(f"{VLAN_UPLINK}.mtu", 9001), f"{VLAN_UPLINK}.mtu", "between 576 and 9000"),
    Case("mtu-quoted", put(f"{VLAN_UPLINK}.mtu", "1500"), f"{VLAN_UPLINK}.mtu", "valid integer"),
    Case("mtu-in-override", put(f"{OVERRIDE}.mtu", 9000), f"{OVERRIDE}.mtu", NOT_KNOWN, "allowed keys: bondMiimon"),
    # Bonds.
    Case("bond-mode-lacp", put(f"{VLAN_UPLINK}.bondMode", "lacp"), f"{VLAN_UPLINK}.bondMode", "'802.3ad'"),
    Case(
        "bond-miimon-minus-2",
        put(f"{VLAN_UPLINK}.bondMiimon", -2),
        f"{VLAN_UPLINK}.bondMiimon",
        "greater than or equal to -1",
    ),
    Case("override-bond-mode", put(f"{OVERRIDE}.bondMode", "lacp"), f"{OVERRIDE}.bondMode", "'active-backup'"),
    Case("override-miimon", put(f"{OVERRIDE}.bondMiimon", -2), f"{OVERRIDE}.bondMiimon", "greater than or equal"),
    Case("txqlen-minus-2", put(f"{VLAN_UPLINK}.txQLen", -2), f"{VLAN_UPLINK}.txQLen", "greater than or equal to -1"),
    # Routes.
    Case("route-without-cidr", drop(f"{NET0}.route.cidr"), f"{NET0}.route.cidr", "is required"),
    Case("route-without-gateway", drop(f"{NET0}.route.gateway"), f"{NET0}.route.gateway", "is required"),
    Case("route-zero-mask", put(f"{NET0}.route.cidr", "0.0.0.0/0"), f"{NET0}.route", "zero mask"),
    Case("gateway-outside-cidr", put(f"{NET0}.route.gateway", "10.101.0.1"), f"{NET0}.route", "outside cidr"),
    Case("gateway-is-network", put(f"{NET0}.route.gateway", "10.100.0.0"), f"{NET0}.route", "network or broadcast"),
    Case("gateway-is-broadcast", put(f"{NET0}.route.gateway", "10.100.0.255"), f"{NET0}.route", "broadcast"),
    Case(
        "cidr-host-bits-set",
        put(f"{NET0}.route.cidr", "10.100.0.5/24"),
        f"{NET0}.route.cidr",
        "not a valid IPv4 network",
        "use the network address 10.100.0.0/24",
    ),
    Case("cidr-three-octets", put(f"{NET0}.route.cidr", "10.100.0/24"), f"{NET0}.route.cidr", "IPv4 network"),
    Case("route-mode-static", put(f"{NET0}.route.mode", "static"), f"{NET0}.route", "'static'", "mode: manual"),
    Case("route-mode-missing", drop(f"{NET0}.route.mode"), f"{NET0}.route", "discriminator 'mode'", "mode: auto"),
    Case(
        "auto-route-bad-server",
        put("networks[1].route", {"mode": "auto", "serverIP": "10.200.0"}),
        "networks[1].route.serverIP",
        "not a valid IPv4 address",
    ),
    # Uplink NICs.
    Case(
        "nic-16-chars",
        put(f"{STORAGE_UPLINK}.nics[0]", "enp0s31f6-uplink"),
        f"{STORAGE_UPLINK}.nics[0]",
        "is 16 bytes in UTF-8",
    ),
    Case(
        "nic-with-slash",
        put(f"{STORAGE_UPLINK}.nics[0]", "eth/2"),
        f"{STORAGE_UPLINK}.nics[0]",
        "is not a Linux interface name",
    ),
    Case(
        "nic-with-colon",
        put(f"{STORAGE_UPLINK}.nics[0]", "eth2:0"),
        f"{STORAGE_UPLINK}.nics[0]",
        "is not a Linux interface name",
    ),
    Case(
        "nic-with-space",
        put(f"{STORAGE_UPLINK}.nics[0]", "eth 2"),
        f"{STORAGE_UPLINK}.nics[0]",
        "is not a Linux interface name",
    ),
    Case("nic-dot", put(f"{STORAGE_UPLINK}.nics[0]", "."), f"{STORAGE_UPLINK}.nics[0]", "'.' and '..'"),
    Case("nic-dot-dot", put(f"{STORAGE_UPLINK}.nics[0]", ".."), f"{STORAGE_UPLINK}.nics[0]", "not valid interface"),
    Case("nic-list-empty", put(f"{STORAGE_UPLINK}.nics", []), f"{STORAGE_UPLINK}.nics", "at least 1 item"),
    Case("nic-twice", put(f"{STORAGE_UPLINK}.nics", ["eth2", "eth2"]), f"{STORAGE_UPLINK}.nics", "eth2 more than once"),
    Case("override-nic-twice", put(f"{OVERRIDE}.nics", ["eno2", "eno2"]), f"{OVERRIDE}.nics", "more than once"),
    Case("override-nics-empty", put(f"{OVERRIDE}.nics", []), f"{OVERRIDE}.nics", "at least 1 item"),
    Case(
        "nic-shared-default-vs-default",
        put(f"{STORAGE_UPLINK}.nics", ["eth1"]),
        f"{STORAGE_UPLINK}.nics",
        "NIC 'eth1' is already the uplink of cluster network 'vlan' on node 'node1'",
    ),
    Case(
        "nic-shared-override-vs-default",
        put(f"{STORAGE_UPLINK}.nics", ["eno2"]),
        f"{STORAGE_UPLINK}.nics",
        "NIC 'eno2' is already the uplink of cluster network 'vlan' on node 'node2'",
    ),
    Case(
        "nic-shared-without-nodes",
        edits(
            drop("nodes"),
            drop("lab"),
            drop("clusterNetworks[0].nodeOverrides"),
            put(f"{STORAGE_UPLINK}.nics[0]", "eth1"),
        ),
        f"{STORAGE_UPLINK}.nics",
        "already the uplink of cluster network 'vlan' on every node",
    ),
    # Nodes and per-node overrides.
    Case(
        "override-unknown-node", put(f"{OVERRIDE}.node", "node9"), f"{OVERRIDE}.node", "not in `nodes` (node1, node2)"
    ),
    Case("overrides-without-nodes", drop("nodes"), "clusterNetworks[0].nodeOverrides", "need the plan's `nodes`"),
    Case(
        "override-twice",
        add("clusterNetworks[0].nodeOverrides", {"node": "node2", "nics": ["eno3"]}),
        "clusterNetworks[0].nodeOverrides[1].node",
        "node 'node2' already has an override at nodeOverrides[0]",
    ),
    Case("node-twice", add("nodes", "node1"), "nodes[2]", "node 'node1' is listed twice (first at nodes[0])"),
    Case("nodes-empty", put("nodes", []), "nodes", "is an empty list", "omit `nodes` (one VlanConfig then covers"),
    Case(
        "vlanconfig-name-collision",
        edits(put("clusterNetworks[1].name", "vlan-x"), put("nodes", ["node2", "x-node2"])),
        "clusterNetworks[1].name",
        "VlanConfig name 'vlan-x-node2'",
    ),
    # Duplicates.
    Case(
        "network-twice",
        add("networks", {"name": "vlan200", "clusterNetwork": "vlan", "vlan": 201}),
        "networks[3].name",
        "network 'default/vlan200' is already declared at networks[1]",
    ),
    Case(
        "vm-twice",
        add("virtualMachines", {"name": "db-1", "interfaces": [{"name": "nic-1", "network": "mgmt"}]}),
        "virtualMachines[2].name",
        "VM 'default/db-1' is already declared at virtualMachines[1]",
    ),
    Case(
        "cluster-network-twice",
        add("clusterNetworks", {"name": "vlan", "uplink": {"nics": ["eth3"]}}),
        "clusterNetworks[2].name",
        "'vlan' is already declared at clusterNetworks[0]",
    ),
    Case(
        "interface-name-twice",
        put(f"{WEB}.interfaces[1].name", "default"),
        f"{WEB}.interfaces[1].name",
        "interface 'default' already exists at interfaces[0]",
    ),
    # References.
    Case(
        "unknown-cluster-network",
        put("networks[1].clusterNetwork", "trunk"),
        "networks[1].clusterNetwork",
        "cluster network 'trunk' is not in the plan (known: vlan, storage)",
    ),
    Case(
        "interface-ref-namespaced-unknown",
        put(f"{DB_NIC}.network", "prod/vlan200"),
        f"{DB_NIC}.network",
        "network 'prod/vlan200' is not in the plan",
    ),
    Case(
        "interface-ref-bare-unknown",
        put(f"{DB_NIC}.network", "vlan300"),
        f"{DB_NIC}.network",
        "network 'default/vlan300' is not in the plan",
    ),
    Case(
        "interface-ref-bare-other-namespace",
        put(f"{DB_NIC}.network", "san"),
        f"{DB_NIC}.network",
        "network 'default/san' is not in the plan",
    ),
    Case("interface-ref-empty", put(f"{DB_NIC}.network", ""), f"{DB_NIC}.network", "at least 1"),
    Case(
        "two-mgmt-interfaces",
        add(f"{WEB}.interfaces", {"name": "second", "network": "mgmt"}),
        f"{WEB}.interfaces[2].network",
        "at most one management (mgmt) interface; interfaces[0] is already one",
    ),
    Case(
        "management-service-without-mgmt",
        drop(f"{WEB}.interfaces[0]"),
        SERVICE,
        "needs an interface on 'mgmt'",
    ),
    Case("static-ip-on-mgmt", put(f"{WEB}.interfaces[0].ip", "10.0.0.5/24"), f"{WEB}.interfaces[0].ip", "masquerade"),
    # MAC addresses.
    Case(
        "mac-twice-on-one-cluster-network",
        put(DB_MAC, "52:54:00:aa:bb:01"),
        DB_MAC,
        "MAC 52:54:00:aa:bb:01 is already used by default/web-1/nic-1 on cluster network 'vlan'",
    ),
    Case("mac-five-octets", put(DB_MAC, "52:54:00:aa:bb"), DB_MAC, "pattern"),
    Case("mac-dashes", put(DB_MAC, "52-54-00-aa-bb-02"), DB_MAC, "pattern"),
    Case(
        "mac-multicast",
        put(DB_MAC, "01:00:5e:00:00:01"),
        DB_MAC,
        "is a multicast MAC",
    ),
    Case("mac-broadcast", put(DB_MAC, "ff:ff:ff:ff:ff:ff"), DB_MAC, "multicast"),
    # DHCP servers.
    Case("dhcp-server-outside", put(f"{DHCP}.serverIP", "10.101.0.2"), f"{DHCP}.serverIP", "outside the route cidr"),
    Case("dhcp-start-outside", put(f"{DHCP}.range.start", "10.99.0.100"), f"{DHCP}.range.start", "outside the route"),
    Case("dhcp-end-broadcast", put(f"{DHCP}.range.end", "10.100.0.255"), f"{DHCP}.range.end", "network or broadcast"),
    Case("dhcp-server-network", put(f"{DHCP}.serverIP", "10.100.0.0"), f"{DHCP}.serverIP", "network or broadcast"),
    Case("dhcp-server-gateway", put(f"{DHCP}.serverIP", "10.100.0.1"), f"{DHCP}.serverIP", "is the route's gateway"),
    Case("dhcp-start-gateway", put(f"{DHCP}.range.start", "10.100.0.1"), f"{DHCP}.range.start", "route's gateway"),
    Case(
        "dhcp-range-inverted",
        edits(put(f"{DHCP}.range.start", "10.100.0.199"), put(f"{DHCP}.range.end", "10.100.0.100")),
        f"{DHCP}.range",
        "start 10.100.0.199 is after end 10.100.0.100",
        "swap start and end",
    ),
    Case("dhcp-range-has-server", put(f"{DHCP}.serverIP", "10.100.0.150"), f"{DHCP}.serverIP", "inside the range"),
    Case(
        "dhcp-range-has-gateway",
        put(f"{NET0}.route.gateway", "10.100.0.150"),
        f"{DHCP}.range",
        "the range contains the gateway 10.100.0.150",
    ),
    Case("dhcp-without-route", drop(f"{NET0}.route"), f"{NET0}.route", "needs a manual route"),
    Case("dhcp-with-auto-route", put(f"{NET0}.route", {"mode": "auto"}), f"{NET0}.route", "needs a manual route"),
    Case(
        "dhcp-cidr-in-service-cidr",
        put("serviceCIDR", "10.100.0.0/16"),
        f"{NET0}.route.cidr",
        "overlaps the cluster's service CIDR 10.100.0.0/16",
    ),
    Case("lease-time-weeks", put(f"{DHCP}.leaseTime", "1w"), f"{DHCP}.leaseTime", "must be a duration"),
    Case("lease-time-zero", put(f"{DHCP}.leaseTime", "0"), f"{DHCP}.leaseTime", "must be a duration"),
    Case("lease-time-int-zero", put(f"{DHCP}.leaseTime", 0), f"{DHCP}.leaseTime", "0 seconds is not a lease time"),
    Case("lease-time-int-negative", put(f"{DHCP}.leaseTime", -60), f"{DHCP}.leaseTime", "positive number of seconds"),
    Case("lease-time-float", put(f"{DHCP}.leaseTime", 1.5), f"{DHCP}.leaseTime", "write whole seconds such as 3600"),
    Case("lease-time-bool", put(f"{DHCP}.leaseTime", True), f"{DHCP}.leaseTime", "valid string", "quote it"),
    Case(
        "route-cidr-in-service-cidr",
        put("networks[1].route", {"mode": "manual", "cidr": "10.53.7.0/24", "gateway": "10.53.7.1"}),
        "networks[1].route.cidr",
        "10.53.7.0/24 overlaps the cluster's service CIDR 10.53.0.0/16",
        "use a cidr outside the service CIDR (or set serviceCIDR",
    ),
    Case(
        "service-cidr-covers-a-route",
        edits(
            put("networks[1].route", {"mode": "manual", "cidr": "10.200.0.0/24", "gateway": "10.200.0.1"}),
            put("serviceCIDR", "10.200.0.0/20"),
        ),
        "networks[1].route.cidr",
        "overlaps the cluster's service CIDR 10.200.0.0/20",
    ),
    Case("dhcp-dns-not-ip", put(f"{DHCP}.dns", ["dns.example"]), f"{DHCP}.dns[0]", "not a valid IPv4 address"),
    Case("dhcp-backend-kea", put(f"{DHCP}.backend", "kea"), f"{DHCP}.backend", "'dnsmasq' or 'ippool'"),
    # Static VM addresses.
    Case("static-ip-outside", put(WEB_IP, "10.101.0.20/24"), WEB_IP, "outside"),
    Case(
        "static-ip-wrong-prefix",
        put(WEB_IP, "10.100.0.20/16"),
        WEB_IP,
        "does not match the route cidr 10.100.0.0/24",
    ),
    Case("static-ip-gateway", put(WEB_IP, "10.100.0.1/24"), WEB_IP, "gateway"),
    Case(
        "static-ip-is-dhcp-server",
        put(WEB_IP, "10.100.0.2/24"),
        WEB_IP,
        "is the address of the DHCP server of 'default/vlan100'",
    ),
    Case(
        "static-ip-twice-on-one-network",
        put(DB_NIC, {"name": "nic-1", "network": "vlan100", "ip": "10.100.0.20/24"}),
        f"{DB_NIC}.ip",
        "10.100.0.20/24 is already the address of default/web-1/nic-1 on 'default/vlan100'",
    ),
    Case(
        "static-ip-in-dhcp-range",
        put(WEB_IP, "10.100.0.150/24"),
        WEB_IP,
        "lies inside the DHCP range of 'default/vlan100'",
    ),
    Case("static-ip-broadcast", put(WEB_IP, "10.100.0.255/24"), WEB_IP, "broadcast"),
    Case("static-ip-no-prefix", put(WEB_IP, "10.100.0.20"), WEB_IP, "prefix length"),
    Case("ip-mode-static", put(WEB_IP, "static"), WEB_IP, "must be 'dhcp', 'none'"),
    # Whole-file and YAML problems.
    Case("empty-file", "", "", "is empty"),
    Case("only-a-comment", "# nothing yet\n", "", "is empty"),
    Case("file-is-a-list", "- clusterNetworks: []\n", "", "must be a mapping of sections, not a list"),
    Case("file-is-a-scalar", "clusterNetworks\n", "", "not a str"),
    Case(
        "duplicate-key",
        "networks:\n  - name: a\n    clusterNetwork: vlan\n    vlan: 1\n    vlan: 2\n",
        "",
        "duplicate key 'vlan' (first on line 4)",
    ),
    Case("yaml-unclosed-list", "networks: [\n", "", "is not valid YAML", "fix the YAML syntax"),
    Case("yaml-tab-indent", "networks:\n\t- name: a\n", "", "is not valid YAML"),
    Case("section-not-a-list", put("networks", {"name": "x"}), "networks", "valid list", "write a YAML list"),
    Case(
        "item-not-a-mapping", put("clusterNetworks[1]", "storage"), "clusterNetworks[1]", "valid dictionary", "mapping"
    ),
    Case(
        "description-number", put("clusterNetworks[0].description", 5), "clusterNetworks[0].description", "valid string"
    ),
    # Unknown keys, with a hint when one is close.
    Case(
        "typo-clustreNetwork",
        rename("networks[1].clusterNetwork", "clustreNetwork"),
        "networks[1].clustreNetwork",
        NOT_KNOWN,
        "did you mean 'clusterNetwork'?",
    ),
    Case("typo-vlanId", rename("networks[1].vlan", "vlanId"), "networks[1].vlanId", NOT_KNOWN, "did you mean 'vlan'?"),
    Case(
        "typo-serverIp",
        rename(f"{DHCP}.serverIP", "serverIp"),
        f"{DHCP}.serverIp",
        NOT_KNOWN,
        "did you mean 'serverIP'?",
    ),
    Case("typo-mut", rename(f"{VLAN_UPLINK}.mtu", "mut"), f"{VLAN_UPLINK}.mut", NOT_KNOWN, "did you mean 'mtu'?"),
    Case(
        "top-level-singular",
        rename("virtualMachines", "virtualMachine"),
        "virtualMachine",
        NOT_KNOWN,
        "did you mean 'virtualMachines'?",
    ),
    Case("lab-typo", rename("lab.placement", "placment"), "lab.placment", NOT_KNOWN, "did you mean 'placement'?"),
    Case("unknown-key-no-hint", put("networks[1].color", "blue"), "networks[1].color", NOT_KNOWN, "allowed keys: "),
    Case(
        "route-unknown-key",
        put(f"{NET0}.route.gw", "10.100.0.1"),
        f"{NET0}.route.gw",
        NOT_KNOWN,
        "allowed keys: cidr, gateway, mode",
    ),
    # The lab section.
    Case(
        "lab-placement-unknown-vm",
        put("lab.placement.cache-1", "node1"),
        "lab.placement.cache-1",
        "VM 'cache-1' is not in virtualMachines",
    ),
    Case(
        "lab-placement-unknown-node", put("lab.placement.db-1", "node3"), "lab.placement.db-1", "'node3' is not in lab"
    ),
    Case(
        "lab-node-lacks-uplink",
        put("lab.nodes.node2.nics", ["eth2"]),
        "lab.nodes.node2.nics",
        "lab node 'node2' lacks eno2, the uplink of clusterNetworks[0] 'vlan' there",
    ),
    Case(
        "lab-node-not-in-nodes", put("lab.nodes.node3", {"nics": ["eth1", "eth2"]}), "lab.nodes.node3", "not in `nodes`"
    ),
    Case(
        "lab-management-nic",
        put("lab.nodes.node1.managementNic", "a/b"),
        "lab.nodes.node1.managementNic",
        "is not a Linux interface name",
    ),
    # VMs and their management Service.
    Case("vm-without-interfaces", put(f"{DB}.interfaces", []), f"{DB}.interfaces", "at least 1 item"),
    Case("vm-cpu-0", put(f"{DB}.cpu", 0), f"{DB}.cpu", "greater than or equal to 1"),
    Case("vm-memory-gb", put(f"{DB}.memory", "1GB"), f"{DB}.memory", "pattern"),
    Case("boot-order-0", put(f"{DB_NIC}.bootOrder", 0), f"{DB_NIC}.bootOrder", "greater than"),
    Case("nic-model-rtl", put(f"{DB_NIC}.model", "rtl"), f"{DB_NIC}.model", "'virtio'"),
    Case("network-data-v3", put(f"{DB}.networkDataVersion", 3), f"{DB}.networkDataVersion", "1 or 2"),
    Case(
        "service-port-0", put(f"{SERVICE}.ports[0].port", 0), f"{SERVICE}.ports[0].port", "greater than or equal to 1"
    ),
    Case(
        "service-port-65536",
        put(f"{SERVICE}.ports[0].port", 65536),
        f"{SERVICE}.ports[0].port",
        "less than or equal to 65535",
    ),
    Case(
        "service-port-twice",
        add(f"{SERVICE}.ports", {"port": 22, "name": "ssh"}),
        f"{SERVICE}.ports[1]",
        "port 22/TCP is already listed at ports[0]",
    ),
    Case(
        "service-port-name-twice",
        add(f"{SERVICE}.ports", {"port": 2222, "name": "tcp-22"}),
        f"{SERVICE}.ports[1].name",
        "port name 'tcp-22' is already used by ports[0]",
    ),
    Case("service-no-ports", put(f"{SERVICE}.ports", []), f"{SERVICE}.ports", "at least 1"),
    Case("service-type", put(f"{SERVICE}.type", "External"), f"{SERVICE}.type", "'NodePort'"),
]


def plan_text(change: PlanEdit | str) -> str:
    if isinstance(change, str):
        return change
    data = valid_plan()
    change(data)
    return yaml.safe_dump(data, sort_keys=False)


def write_plan(tmp_path: Path, change: PlanEdit | str) -> Path:
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(plan_text(change))
    return plan_file


def test_the_catalogue_is_large_and_every_case_is_named_once() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) >= 80
    assert len(set(ids)) == len(ids)


def test_the_base_plan_is_valid_without_warnings() -> None:
    plan, warnings = load_plan(valid_plan())
    assert warnings == []
    assert [n.name for n in plan.networks] == ["vlan100", "vlan200", "san"]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_invalid_plan_is_reported_and_renders_nothing(case: Case, tmp_path: Path) -> None:
    plan_file = write_plan(tmp_path, case.change)
    with pytest.raises(PlanError) as raised:
        load_plan_file(plan_file)
    issues = raised.value.issues
    matching = [i for i in issues if i.path == case.path and case.message in i.message and case.fix in i.fix]
    assert matching, f"no error at {case.path!r} with {case.message!r} / fix {case.fix!r}; got:\n" + "\n".join(
        map(str, issues)
    )

    out_dir = tmp_path / "out"
    result = CliRunner().invoke(app, ["render", str(plan_file), "-o", str(out_dir)])
    assert result.exit_code == 1, result.output
    assert not out_dir.exists() or not any(out_dir.iterdir())
    assert f"{case.path or '<plan>'}: " in result.stderr


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    text = "clusterNetworks: []\nnodes: [a]\nclusterNetworks: []\n"
    with pytest.raises(PlanError) as raised:
        load_plan_file(write_plan(tmp_path, text))
    [issue] = raised.value.issues
    assert "duplicate key 'clusterNetworks' (first on line 1)" in issue.message
    assert "line 3" in issue.message


def test_every_independent_error_is_reported_at_once(tmp_path: Path) -> None:
    """Field errors in two items and cross-object errors elsewhere, all in one pass."""
    change = edits(
        put("networks[1].vlan", 5000),
        put(DB_MAC, "zz:54:00:aa:bb:02"),
        put(f"{STORAGE_UPLINK}.nics", ["eth1"]),
        put(f"{DHCP}.serverIP", "10.100.0.1"),
        put(WEB_IP, "10.100.0.150/24"),
    )
    plan_file = write_plan(tmp_path, change)
    with pytest.raises(PlanError) as raised:
        load_plan_file(plan_file)
    paths = {issue.path for issue in raised.value.issues}
    expected = {
        "networks[1].vlan",
        DB_MAC,
        f"{STORAGE_UPLINK}.nics",
        f"{DHCP}.serverIP",
        WEB_IP,
        "lab.nodes.node2.nics",  # eth1, now storage's uplink on node2 too
    }
    assert paths == expected
    # Items dropped for field errors are not reported again as dangling references.
    assert not any("lab.placement" in p for p in paths)

    result = CliRunner().invoke(app, ["validate", str(plan_file)])
    assert result.exit_code == 1
    for path in expected:
        assert f"{path}: " in result.stderr
    assert "6 error(s)" in result.stderr


def test_an_empty_nodes_list_is_the_only_error_even_with_overrides() -> None:
    """`nodes: []` would render no VlanConfig at all; the override naming node2 is not reported a second time."""
    data = valid_plan()
    edits(put("nodes", []), drop("lab"))(data)
    with pytest.raises(PlanError) as raised:
        load_plan(data)
    assert [(i.path, i.message, i.fix) for i in raised.value.issues] == [
        (
            "nodes",
            "is an empty list: VlanConfigs are rendered per listed node, so no node would get any uplink",
            "omit `nodes` (one VlanConfig then covers every node) or list at least one node",
        )
    ]


def test_an_empty_nodes_list_is_rejected_without_overrides() -> None:
    data = valid_plan()
    edits(put("nodes", []), drop("lab"), drop("clusterNetworks[0].nodeOverrides"))(data)
    with pytest.raises(PlanError) as raised:
        load_plan(data)
    assert [i.path for i in raised.value.issues] == ["nodes"]


def test_nodes_left_empty_by_a_bad_node_name_report_only_the_name() -> None:
    """Rules run on the valid part of a plan; `nodes: [Node_1]` is empty there, but the user wrote a node."""
    data = valid_plan()
    edits(put("nodes", ["Node_1"]), drop("lab"))(data)
    with pytest.raises(PlanError) as raised:
        load_plan(data)
    assert [i.path for i in raised.value.issues] == ["nodes[0]"]
    assert "pattern" in raised.value.issues[0].message


def test_a_route_in_the_service_cidr_is_reported_once_with_a_dhcp_server() -> None:
    data = valid_plan()
    put("serviceCIDR", "10.100.0.0/16")(data)
    with pytest.raises(PlanError) as raised:
        load_plan(data)
    assert [i.path for i in raised.value.issues] == [f"{NET0}.route.cidr"]


def test_a_duplicate_vlan_on_one_cluster_network_is_only_a_warning(tmp_path: Path) -> None:
    plan_file = write_plan(tmp_path, put("networks[1].vlan", 100))
    _, warnings = load_plan_file(plan_file)
    assert [(w.path, w.severity) for w in warnings] == [("networks[1].vlan", "warning")]
    assert "VLAN 100 is also used by network 'default/vlan100'" in warnings[0].message

    result = CliRunner().invoke(app, ["validate", str(plan_file)])
    assert result.exit_code == 0, result.stderr
    assert "warning: networks[1].vlan: VLAN 100 is also used" in result.stderr
    assert "valid" in result.stderr


@pytest.mark.parametrize(
    "change",
    [
        put(f"{VLAN_UPLINK}.mtu", 0),
        put(f"{VLAN_UPLINK}.mtu", 576),
        put(f"{VLAN_UPLINK}.mtu", 9000),
        put("networks[1].vlan", 4094),
        put("networks[1].vlan", 1),
        put(f"{VLAN_UPLINK}.bondMiimon", -1),
        edits(put(f"{STORAGE_UPLINK}.nics", ["enp0s31f6-upl15"]), drop("lab")),
        edits(put(f"{STORAGE_UPLINK}.nics", ["eth2.100"]), drop("lab")),
        edits(put("clusterNetworks[1].name", "storage-1234"), put("networks[2].clusterNetwork", "storage-1234")),
        put("networks[2].name", "n" * 63),
        put("networks[1].route", {"mode": "manual", "cidr": "10.200.0.0/31", "gateway": "10.200.0.0"}),
        put("networks[1].route", {"mode": "auto"}),
        put(f"{DHCP}.leaseTime", "infinite"),
        put(f"{DHCP}.leaseTime", 120),
        put("networks[1].route", {"mode": "manual", "cidr": "10.52.255.0/24", "gateway": "10.52.255.1"}),
        put("networks[1].route", {"mode": "manual", "cidr": "10.54.0.0/24", "gateway": "10.54.0.1"}),
        edits(put("nodes", ["node2"]), drop("lab")),
        put(f"{DHCP}.range.end", "10.100.0.254"),
        add("networks", {"name": "vlan200", "namespace": "prod", "clusterNetwork": "storage", "vlan": 200}),
        add("virtualMachines", {"name": "db-1", "namespace": "prod", "interfaces": [{"name": "n", "network": "mgmt"}]}),
        # The same MAC on two different cluster networks never meets on one L2 segment.
        put(DB_NIC, {"name": "nic-1", "network": "storage/san", "macAddress": "52:54:00:aa:bb:01"}),
        add(f"{SERVICE}.ports", {"port": 22, "protocol": "UDP"}),
        edits(
            put("networks[1].route", {"mode": "manual", "cidr": "10.100.0.0/24", "gateway": "10.100.0.1"}),
            put(DB_NIC, {"name": "nic-1", "network": "vlan200", "ip": "10.100.0.20/24"}),
        ),
    ],
    ids=[
        "mtu-0",
        "mtu-576",
        "mtu-9000",
        "vlan-4094",
        "vlan-1",
        "miimon-minus-1",
        "nic-15-chars",
        "nic-with-dot",
        "cn-name-12-chars",
        "network-name-63",
        "route-slash-31",
        "route-auto",
        "lease-infinite",
        "lease-int-120-seconds",
        "route-just-below-service-cidr",
        "route-just-above-service-cidr",
        "nodes-one",
        "dhcp-end-next-to-broadcast",
        "same-network-name-other-namespace",
        "same-vm-name-other-namespace",
        "same-mac-other-cluster-network",
        "same-port-other-protocol",
        "same-static-ip-on-another-network",
    ],
)
def test_boundary_values_are_valid(change: PlanEdit) -> None:
    data = valid_plan()
    change(data)
    plan, warnings = load_plan(data)
    assert warnings == []
    assert plan.cluster_networks


@pytest.mark.parametrize(("lease", "backend", "warned"), [(119, "dnsmasq", True), ("1m", "dnsmasq", True),
                                                         (119, "ippool", False), ("2m", "dnsmasq", False)])  # fmt: skip
def test_a_lease_dnsmasq_would_lengthen_is_a_warning(lease: int | str, backend: str, warned: bool) -> None:
    data = valid_plan()
    edits(put(f"{DHCP}.leaseTime", lease), put(f"{DHCP}.backend", backend))(data)
    _, warnings = load_plan(data)
    expected = [(f"{DHCP}.leaseTime", f"dnsmasq gives leases of at least 120 seconds, so {lease} becomes 120s")]
    assert [(w.path, w.message) for w in warnings] == (expected if warned else [])
