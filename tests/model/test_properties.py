"""Property tests: generated valid plans load, render deterministically, and render objects a cluster accepts.

The generator builds plans that are valid by construction (distinct names, disjoint uplink NICs per
cluster network, distinct explicit MACs, static IPs inside their route and outside the DHCP range), so
any rejection or any malformed object is a bug in the model or the renderer.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harvester_network.facts import BOND_MODES
from harvester_network.model import Plan, load_plan, names
from harvester_network.render import harvester as h
from harvester_network.render import object_key, render_plan

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAMESPACES = ["default", "prod"]
NIC_POOL = [f"eth{i}" for i in range(9)]  # three per cluster network, so uplinks never share a NIC
NICS_PER_CLUSTER_NETWORK = 3
DNS_LABEL = re.compile(names.DNS_LABEL_RE)
DNS_SUBDOMAIN = re.compile(names.DNS_SUBDOMAIN_RE)


def dns_labels(max_size: int) -> st.SearchStrategy[str]:
    """DNS labels from a small alphabet, so that names collide often enough to test the unique ones."""
    short = st.from_regex(rf"[a-d0-2]([-a-d0-2]{{0,{max_size - 2}}}[a-d0-2])?", fullmatch=True)
    longest = short.map(lambda label: (label + "-" + "x" * max_size)[: max_size - 1] + "x")
    return st.one_of(short, longest)


# Without '-', "<cluster network>-<node>" VlanConfig names of different pairs cannot collide.
node_names = st.from_regex(r"[a-c0-2]{1,8}(\.[a-c]{1,4})?", fullmatch=True)


@st.composite
def cluster_networks(draw: st.DrawFn, nodes: list[str] | None) -> list[dict[str, Any]]:
    cn_names = draw(st.lists(dns_labels(names.CLUSTER_NETWORK_NAME_MAX), min_size=1, max_size=3, unique=True))
    nic_pool = draw(st.permutations(NIC_POOL))
    result = []
    for i, name in enumerate(cn_names):
        own_nics = nic_pool[i * NICS_PER_CLUSTER_NETWORK : (i + 1) * NICS_PER_CLUSTER_NETWORK]
        some_nics = st.lists(st.sampled_from(own_nics), min_size=1, max_size=2, unique=True)
        cn: dict[str, Any] = {
            "name": name,
            "uplink": {
                "nics": draw(some_nics),
                "mtu": draw(st.sampled_from([0, 576, 1500, 9000])),
                "bondMode": draw(st.sampled_from(BOND_MODES)),
                "bondMiimon": draw(st.sampled_from([-1, 0, 100])),
            },
        }
        if nodes:
            overridden = draw(st.lists(st.sampled_from(nodes), unique=True, max_size=len(nodes)))
            cn["nodeOverrides"] = [{"node": node, "nics": draw(some_nics)} for node in overridden]
        result.append(cn)
    return result


@st.composite
def networks(draw: st.DrawFn, cn_names: list[str]) -> list[dict[str, Any]]:
    keys = draw(
        st.lists(st.tuples(st.sampled_from(NAMESPACES), dns_labels(63)), max_size=20, unique=True),
    )
    result = []
    for i, (namespace, name) in enumerate(keys):
        net: dict[str, Any] = {
            "name": name,
            "namespace": namespace,
            "clusterNetwork": draw(st.sampled_from(cn_names)),
            "vlan": draw(st.integers(0, 4094)),
        }
        route = draw(st.sampled_from(["none", "auto", "manual", "manual+dhcp"]))
        if route == "auto":
            net["route"] = {"mode": "auto"}
        elif route.startswith("manual"):
            net["route"] = {"mode": "manual", "cidr": f"172.16.{i}.0/24", "gateway": f"172.16.{i}.1"}
        if route == "manual+dhcp":
            net["dhcpServer"] = {
                "serverIP": f"172.16.{i}.2",
                "range": {"start": f"172.16.{i}.100", "end": f"172.16.{i}.199"},
                "leaseTime": draw(st.sampled_from(["1h", "600", "infinite"])),
                "backend": draw(st.sampled_from(["dnsmasq", "ippool"])),
            }
        result.append(net)
    return result


@st.composite
def virtual_machines(draw: st.DrawFn, nets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = draw(st.lists(st.tuples(st.sampled_from(NAMESPACES), dns_labels(20)), max_size=5, unique=True))
    result = []
    for v, (namespace, name) in enumerate(keys):
        interfaces: list[dict[str, Any]] = []
        for k in range(draw(st.integers(0, 3)) if nets else 0):
            index = draw(st.integers(0, len(nets) - 1))
            net = nets[index]
            bare = net["namespace"] == namespace and draw(st.booleans())
            nic: dict[str, Any] = {
                "name": f"nic-{k}",
                "network": net["name"] if bare else f"{net['namespace']}/{net['name']}",
            }
            if draw(st.booleans()):
                nic["macAddress"] = f"02:00:00:00:{v:02x}:{k:02x}"  # never one of the pinned 52:54:00 MACs
            modes = ["dhcp", "none"]
            if net.get("route", {}).get("mode") == "manual":
                modes.append(f"172.16.{index}.{10 + v * 5 + k}/24")  # below the DHCP range .100-.199
            nic["ip"] = draw(st.sampled_from(modes))
            interfaces.append(nic)
        has_mgmt = not interfaces or draw(st.booleans())
        if has_mgmt:
            interfaces.insert(draw(st.integers(0, len(interfaces))), {"name": "default", "network": "mgmt"})
        vm: dict[str, Any] = {
            "name": name,
            "namespace": namespace,
            "interfaces": interfaces,
            "networkDataVersion": draw(st.sampled_from([1, 2])),
        }
        if has_mgmt and name[0].isalpha() and draw(st.booleans()):
            vm["managementService"] = {"ports": [{"port": 22}, {"port": 53, "protocol": "UDP"}]}
        result.append(vm)
    return result


@st.composite
def valid_plans(draw: st.DrawFn) -> dict[str, Any]:
    nodes = draw(st.none() | st.lists(node_names, min_size=1, max_size=4, unique=True))
    cns = draw(cluster_networks(nodes))
    nets = draw(networks([cn["name"] for cn in cns]))
    plan: dict[str, Any] = {"clusterNetworks": cns, "networks": nets, "virtualMachines": draw(virtual_machines(nets))}
    if nodes is not None:
        plan["nodes"] = nodes
    return plan


def load(data: dict[str, Any]) -> Plan:
    plan, warnings = load_plan(data)
    # The only warnings a valid plan can carry: two networks sharing a VLAN (or VLANs 0 and 1, one untagged
    # segment) on one cluster network.
    assert all("is also used by network" in w.message or "one untagged segment" in w.message for w in warnings), (
        warnings
    )
    return plan


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


@PROPERTY_SETTINGS
@given(valid_plans())
def test_generated_plans_are_accepted(data: dict[str, Any]) -> None:
    plan = load(data)
    assert len(plan.networks) == len(data["networks"])
    assert len(plan.virtual_machines) == len(data["virtualMachines"])


@PROPERTY_SETTINGS
@given(valid_plans())
def test_render_is_deterministic_and_survives_a_dump_and_reload(data: dict[str, Any]) -> None:
    plan = load(data)
    objects = render_plan(plan)
    assert render_plan(load(data)) == objects
    dumped = yaml.safe_dump(plan.model_dump(by_alias=True, mode="json"))
    reloaded = load(yaml.safe_load(dumped))
    assert reloaded == plan
    assert render_plan(reloaded) == objects


@PROPERTY_SETTINGS
@given(valid_plans())
def test_rendered_names_are_legal_kubernetes_names(data: dict[str, Any]) -> None:
    objects = render_plan(load(data))
    assert len({object_key(o) for o in objects}) == len(objects), "two objects share kind/namespace/name"
    for obj in objects:
        name = obj["metadata"]["name"]
        assert len(name) <= 253 and DNS_SUBDOMAIN.match(name), name
        namespace = obj["metadata"].get("namespace")
        assert namespace is None or DNS_LABEL.match(namespace)
        if obj["kind"] in ("NetworkAttachmentDefinition", "VirtualMachine", "Service", "ConfigMap", "Deployment"):
            assert len(name) <= 63 and DNS_LABEL.match(name), f"{obj['kind']} {name}"
        if obj["kind"] == "Service":
            assert name[0].isalpha(), f"Service {name} is not a DNS-1035 label"


@PROPERTY_SETTINGS
@given(valid_plans())
def test_nad_config_matches_labels_and_cluster_network(data: dict[str, Any]) -> None:
    plan = load(data)
    objects = render_plan(plan)
    uplink_mtu = {cn.name: cn.uplink.mtu for cn in plan.cluster_networks}
    nads = of_kind(objects, "NetworkAttachmentDefinition")
    assert len(nads) == len(plan.networks)
    for nad in nads:
        config = json.loads(nad["spec"]["config"])
        labels = nad["metadata"]["labels"]
        cn = labels[h.LABEL_CLUSTER_NETWORK]
        assert config["bridge"] == names.bridge_name(cn)
        assert config["bridge"].endswith("-br") and len(config["bridge"]) <= names.IFNAME_MAX
        assert config["name"] == nad["metadata"]["name"]
        assert 0 <= config["vlan"] <= 4094
        if config["vlan"]:
            assert labels[h.LABEL_VLAN_ID] == str(config["vlan"])
            assert labels[h.LABEL_NETWORK_TYPE] == h.TYPE_VLAN
        else:
            assert h.LABEL_VLAN_ID not in labels
            assert labels[h.LABEL_NETWORK_TYPE] == h.TYPE_UNTAGGED
        if uplink_mtu[cn]:
            assert config["mtu"] == uplink_mtu[cn]
        else:
            assert "mtu" not in config


@PROPERTY_SETTINGS
@given(valid_plans())
def test_vlanconfigs_never_overlap_and_keep_one_mtu(data: dict[str, Any]) -> None:
    plan = load(data)
    objects = render_plan(plan)
    by_cluster_network: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for vc in of_kind(objects, "VlanConfig"):
        by_cluster_network[vc["spec"]["clusterNetwork"]].append(vc)
    assert set(by_cluster_network) == {cn.name for cn in plan.cluster_networks}
    for cn, vlanconfigs in by_cluster_network.items():
        selectors = [vc["spec"]["nodeSelector"] for vc in vlanconfigs]
        if {} in selectors:
            assert selectors == [{}], f"{cn}: an all-nodes VlanConfig next to others"
        else:
            hosts = [s[names.HOSTNAME_LABEL] for s in selectors]
            assert sorted(hosts) == sorted(plan.nodes or []), f"{cn}: {hosts}"
        assert len({vc["spec"]["uplink"]["linkAttributes"]["mtu"] for vc in vlanconfigs}) == 1


def _matches(vlanconfig: dict[str, Any], node: str) -> bool:
    selector = vlanconfig["spec"]["nodeSelector"]
    return not selector or selector.get(names.HOSTNAME_LABEL) == node


@PROPERTY_SETTINGS
@given(valid_plans())
def test_rendered_objects_satisfy_the_plan_rules_again(data: dict[str, Any]) -> None:
    """Re-derive the cross-object rules from the rendered objects alone."""
    plan = load(data)
    objects = render_plan(plan)
    cluster_network_names = {o["metadata"]["name"] for o in of_kind(objects, "ClusterNetwork")}
    vlanconfigs = of_kind(objects, "VlanConfig")
    nads = {
        f"{o['metadata']['namespace']}/{o['metadata']['name']}": o
        for o in of_kind(objects, "NetworkAttachmentDefinition")
    }

    # A NIC is enslaved to one bond per node.
    for node in plan.nodes or ["any node"]:
        owner: dict[str, str] = {}
        for vc in [vc for vc in vlanconfigs if _matches(vc, node)]:
            for nic in vc["spec"]["uplink"]["nics"]:
                assert owner.setdefault(nic, vc["spec"]["clusterNetwork"]) == vc["spec"]["clusterNetwork"], nic
    # Every reference resolves.
    for vc in vlanconfigs:
        assert vc["spec"]["clusterNetwork"] in cluster_network_names
    for nad in nads.values():
        assert nad["metadata"]["labels"][h.LABEL_CLUSTER_NETWORK] in cluster_network_names
    macs_on_bridge: set[tuple[str, str]] = set()
    for vm in of_kind(objects, "VirtualMachine"):
        spec = vm["spec"]["template"]["spec"]
        interfaces = spec["domain"]["devices"]["interfaces"]
        assert [i["name"] for i in interfaces] == [n["name"] for n in spec["networks"]]
        assert sum("pod" in n for n in spec["networks"]) <= 1
        for interface, network in zip(interfaces, spec["networks"], strict=True):
            if "pod" in network:
                assert "masquerade" in interface
                continue
            assert "bridge" in interface
            nad = nads[network["multus"]["networkName"]]
            segment = (nad["metadata"]["labels"][h.LABEL_CLUSTER_NETWORK], interface["macAddress"])
            assert segment not in macs_on_bridge, f"MAC {segment[1]} twice on {segment[0]}"
            macs_on_bridge.add(segment)
    vm_keys = {object_key(vm).removeprefix("VirtualMachine/") for vm in of_kind(objects, "VirtualMachine")}
    for service in of_kind(objects, "Service"):
        assert f"{service['metadata']['namespace']}/{service['spec']['selector'][h.LABEL_VM_NAME]}" in vm_keys
        port_names = [p["name"] for p in service["spec"]["ports"]]
        assert len(set(port_names)) == len(port_names)
