"""Every rendered VM through the real consumers: KubeVirt's OpenAPI and Harvester's memory rule on the VM, Debian
12's cloud-init 22.4 (`schema`, `devel net-convert` to networkd, netplan, eni and RHEL's sysconfig) and netplan on its
cloud-init data. Asserts what the guest gets: each NIC by MAC with its addresses, one default route, DNS."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from harvester_network.lab.guest import GuestNicConfig
from harvester_network.model import Plan, load_plan, load_plan_file
from harvester_network.model.issues import PlanIssue
from harvester_network.model.plan import ManualRoute, NicModel, VirtualMachine
from harvester_network.render import object_key, render_plan
from tests.guest.consumers import (
    cloud_init_data,
    cloud_init_schema,
    eni_from_cloud_init,
    kubevirt_schema_errors,
    networkd_from_cloud_init,
    networkd_from_netplan,
    require,
    sysconfig_from_cloud_init,
)
from tests.guest.shapes import shapes_plan
from tests.upstream import upstream_json

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*/plan.yaml"))


@dataclass(frozen=True)
class RenderedVm:
    plan: Plan
    warnings: list[PlanIssue]
    index: int
    objects: dict[str, dict[str, Any]]

    @property
    def vm(self) -> VirtualMachine:
        return self.plan.virtual_machines[self.index]

    @property
    def object(self) -> dict[str, Any]:
        return self.objects[f"VirtualMachine/{self.vm.namespace}/{self.vm.name}"]

    def warned(self, path_end: str, text: str) -> bool:
        path = f"virtualMachines[{self.index}].{path_end}"
        return any(w.path == path and text in w.message for w in self.warnings)


def _cases() -> list[tuple[str, Plan, list[PlanIssue]]]:
    loaded = [(path.parent.name, *load_plan_file(path)) for path in EXAMPLES]
    return [*loaded, ("shapes", *load_plan(shapes_plan()))]


CASES = [
    pytest.param(RenderedVm(plan, warnings, i, {object_key(o): o for o in render_plan(plan)}), id=f"{name}:{vm.name}")
    for name, plan, warnings in _cases()
    for i, vm in enumerate(plan.virtual_machines)
]


def _expected_default_route(case: RenderedVm) -> tuple[int, str | None] | None:
    """The issue's rule: the first NIC with a gateway (the pod network, a DHCP NIC, or a static NIC on a network
    with a manual route) takes the default route; (its index, its static gateway or None for DHCP)."""
    for k, nic in enumerate(case.vm.interfaces):
        if nic.ip == "dhcp":
            return k, None
        network = case.plan.network_for(case.vm, nic)
        if nic.ip != "none" and network is not None and isinstance(network.route, ManualRoute):
            return k, str(network.route.gateway)
    return None


def _check_guest_nics(
    case: RenderedVm, nics: list[GuestNicConfig], renderer: str, exact_dhcp_routes: bool = True
) -> None:
    macs = [i["macAddress"] for i in case.object["spec"]["template"]["spec"]["domain"]["devices"]["interfaces"]]
    by_mac = {nic.mac: nic for nic in nics}
    assert sorted(by_mac) == sorted(macs), f"{renderer}: the guest's NICs are not the VM's MACs"
    for k, (interface, mac) in enumerate(zip(case.vm.interfaces, macs, strict=True)):
        nic = by_mac[mac]
        assert nic.name == f"eth{k}", renderer
        assert nic.dhcp == (interface.ip == "dhcp"), f"{renderer}: {nic}"
        assert nic.addresses == (() if interface.ip in ("dhcp", "none") else (interface.ip,)), f"{renderer}: {nic}"
    expected = _expected_default_route(case)
    static_routes = [(macs.index(n.mac), n.gateway) for n in nics if n.gateway]
    dhcp_routes = [(macs.index(n.mac), None) for n in nics if n.dhcp and n.use_routes]
    assert static_routes == ([expected] if expected and expected[1] else []), f"{renderer}: {static_routes}"
    if case.vm.network_data_version == 1:  # v1 cannot turn DHCP routes off: the rules warn of each extra one
        for k, _ in dhcp_routes:
            assert k == (expected and expected[0]) or case.warned(f"interfaces[{k}].ip", "second default route")
    elif exact_dhcp_routes or (expected and expected[1]):
        assert dhcp_routes == ([expected] if expected and not expected[1] else []), f"{renderer}: {dhcp_routes}"
    else:  # a renderer that ignores use-routes (README): at least the default NIC's DHCP takes the route
        assert expected is None or expected in dhcp_routes, f"{renderer}: {dhcp_routes}"
    nameservers = {server for n in nics for server in n.dns}
    dns = {str(server) for server in case.vm.dns}
    assert dns <= nameservers or case.warned("dns", "only to static NICs"), f"{renderer}: {dns} not given"
    has_dns = bool(nameservers) or any(n.dhcp and n.use_dns for n in nics)
    assert has_dns or case.warned("dns", "no nameserver"), f"{renderer}: the guest gets no DNS, unwarned"


@pytest.mark.parametrize("case", CASES)
def test_the_vm_is_what_kubevirt_and_harvester_accept(case: RenderedVm) -> None:
    vm = case.object
    assert kubevirt_schema_errors(vm) == []
    domain = vm["spec"]["template"]["spec"]["domain"]
    # Harvester's checkEmptyMemory (pkg/webhook/resources/virtualmachine/validator.go).
    assert domain.get("memory", {}).get("guest") or domain["resources"].get("limits", {}).get("memory")
    # KubeVirt's validateInterfaceBootOrder: no two devices share a boot order.
    orders = [i["bootOrder"] for i in domain["devices"]["interfaces"] if "bootOrder" in i]
    assert len(orders) == len(set(orders))
    # Nothing inline: KubeVirt's 2,048-byte limits on userData / networkData never apply; no secret in the spec.
    (source,) = [v["cloudInitNoCloud"] for v in vm["spec"]["template"]["spec"]["volumes"] if "cloudInitNoCloud" in v]
    assert set(source) == {"secretRef", "networkDataSecretRef"}


@pytest.mark.parametrize("case", CASES)
def test_cloud_init_and_netplan_configure_the_guest(case: RenderedVm, tmp_path: Path) -> None:
    data = cloud_init_data(case.object, case.objects)
    if data.user_data.startswith("#cloud-config"):
        assert "Valid cloud-config" in cloud_init_schema(data.user_data, tmp_path)
        config = yaml.safe_load(data.user_data)
        assert any("qemu-guest-agent" in str(p) for p in config["packages"])
        assert any("enable" in str(c) and "qemu-guest-agent" in str(c) for c in config["runcmd"])
    else:
        assert data.user_data == case.vm.user_data and case.warned("userData", "qemu-guest-agent is not added")
    _check_guest_nics(case, networkd_from_cloud_init(data.network_data, tmp_path), "cloud-init networkd")
    _check_guest_nics(case, networkd_from_netplan(data.network_data, tmp_path), "cloud-init netplan + netplan")
    sysconfig = sysconfig_from_cloud_init(data.network_data, tmp_path)
    _check_guest_nics(case, sysconfig, "cloud-init sysconfig (rhel)", exact_dhcp_routes=False)
    _check_eni(case, data.network_data, tmp_path)


def _check_eni(case: RenderedVm, network_data: dict[str, Any], tmp_path: Path) -> None:
    """eni (ifupdown) has no way to refuse DHCP routes: its static part must be exact."""
    interfaces, names = eni_from_cloud_init(network_data, tmp_path)
    macs = [i["macAddress"] for i in case.object["spec"]["template"]["spec"]["domain"]["devices"]["interfaces"]]
    assert [names[mac] for mac in macs] == [f"eth{k}" for k in range(len(macs))]
    stanzas = {i.name: i for i in interfaces}
    for k, nic in enumerate(case.vm.interfaces):
        stanza = stanzas[f"eth{k}"]
        assert stanza.method == {"dhcp": "dhcp", "none": "manual"}.get(nic.ip, "static"), stanza
        assert stanza.addresses == ([] if nic.ip in ("dhcp", "none") else [nic.ip]), stanza
    expected = _expected_default_route(case)
    gateways = [
        (int(i.name.removeprefix("eth")), gw) for i in interfaces if i.name != "lo" for gw in i.default_gateways
    ]
    assert gateways == ([expected] if expected and expected[1] else [])
    nameservers = {server for i in interfaces for server in i.dns}
    assert {str(server) for server in case.vm.dns} <= nameservers


def test_the_matrix_covers_its_corners() -> None:
    plan, _ = load_plan(shapes_plan())
    vms = plan.virtual_machines
    counts = {len(vm.interfaces) for vm in vms}
    assert {1, 16} <= counts, f"the sampled shapes have {sorted(counts)} NICs, not the smallest and largest"
    first_mgmt = {vm.interfaces[0].is_management for vm in vms}
    assert first_mgmt == {True, False} and any(n.is_management for vm in vms[2:] for n in vm.interfaces[1:])
    modes = {"dhcp" if n.ip == "dhcp" else "none" if n.ip == "none" else "static" for vm in vms for n in vm.interfaces}
    assert modes == {"dhcp", "none", "static"}
    assert {vm.network_data_version for vm in vms} == {1, 2}
    assert any(plan.network_for(vm, n) and plan.network_for(vm, n).vlan == 0 for vm in vms for n in vm.interfaces)  # type: ignore[union-attr]
    assert {vm.user_data is None for vm in vms} == {True, False} and {bool(vm.dns) for vm in vms} == {True, False}


def test_every_nic_model_kubevirt_accepts_and_no_other() -> None:
    """KubeVirt's own list (validInterfaceModels; its OpenAPI says it in the model's description)."""
    description = upstream_json("kubevirt/swagger.json")["definitions"]["v1.Interface"]["properties"]["model"]
    match = re.search(r"One of: ([^.]+)\.", description["description"])
    assert match is not None
    assert set(get_args(NicModel)) == {m.strip() for m in match.group(1).split(",")}


def test_static_addresses_are_inside_their_networks() -> None:
    """The matrix's own sanity: a static NIC's address is in its routed network (else the cases prove little)."""
    plan, _ = load_plan(shapes_plan())
    for vm in plan.virtual_machines:
        for nic in vm.interfaces:
            network = plan.network_for(vm, nic)
            if nic.ip not in ("dhcp", "none") and network is not None and isinstance(network.route, ManualRoute):
                assert ipaddress.IPv4Interface(nic.ip).ip in network.route.cidr


def test_a_missing_tool_fails_under_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="make system-deps"):
        require("cloud-init")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="cloud-init is not installed"):
        require("cloud-init")
