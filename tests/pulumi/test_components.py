"""Components used one by one, as a hand-written program uses them: inputs that are other resources' outputs,
plan errors at the line that declared the component, DHCP servers, VM outputs."""

from __future__ import annotations

import asyncio
import base64
import json
import pickle
from typing import Any

import pulumi
import pytest

from harvester_network.components import ClusterNetwork, VirtualMachine, VlanNetwork
from harvester_network.model import PlanError, load_plan
from harvester_network.render.vm import network_data, network_fragments
from tests.pulumi.harness import DYNAMIC_PREFIX, SECRET_SIG, rendered, run_program

ROUTE_100 = {"mode": "manual", "cidr": "10.100.0.0/24", "gateway": "10.100.0.1"}
DHCP = {"serverIP": "10.100.0.2", "range": {"start": "10.100.0.100", "end": "10.100.0.200"}, "dns": ["10.100.0.1"]}
NAD = f"{DYNAMIC_PREFIX}NetworkAttachmentDefinition"


def plan_with(networks: list[dict[str, Any]], vms: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "clusterNetworks": [{"name": "vlan", "uplink": {"nics": ["eth1"], "mtu": 1500}}],
        "networks": networks,
        "virtualMachines": vms or [],
    }


def test_vm_finds_its_network_from_the_network_name_output_the_component_or_a_listed_reference() -> None:
    vms: dict[str, VirtualMachine] = {}

    def program() -> None:
        vlan = ClusterNetwork("vlan", uplink={"nics": ["eth1"], "mtu": 1500})
        vlan100 = VlanNetwork("vlan100", vlan_id=100, cluster_network=vlan, route=ROUTE_100)
        vlan200 = VlanNetwork("vlan200", vlan_id=200, cluster_network=vlan)
        vms["a"] = VirtualMachine("a", interfaces=[{"name": "nic-1", "network": vlan100.network_name}])
        vms["b"] = VirtualMachine("b", interfaces=[{"name": "nic-1", "network": vlan200}])
        vms["c"] = VirtualMachine(
            "c", interfaces=[{"name": "nic-1", "network": "default/vlan100", "ip": "10.100.0.9/24"}], networks=[vlan100]
        )

    recording = run_program(program)
    nets = [
        {"name": "vlan100", "clusterNetwork": "vlan", "vlan": 100, "route": ROUTE_100},
        {"name": "vlan200", "clusterNetwork": "vlan", "vlan": 200},
    ]
    vm_items = [
        {"name": "a", "interfaces": [{"name": "nic-1", "network": "default/vlan100"}]},
        {"name": "b", "interfaces": [{"name": "nic-1", "network": "default/vlan200"}]},
        {"name": "c", "interfaces": [{"name": "nic-1", "network": "default/vlan100", "ip": "10.100.0.9/24"}]},
    ]
    plan, _ = load_plan(plan_with(nets, vm_items))
    assert recording.objects() == rendered(plan)
    nad_urns = {r.name: r.urn for r in recording.of_type(NAD)}
    for vm_name, network in (("a", "vlan100"), ("b", "vlan200"), ("c", "vlan100")):
        vm = recording.by_name("kubernetes:kubevirt.io/v1:VirtualMachine", vm_name)
        assert nad_urns[network] in vm.dependencies
    # With every input known, the outputs are plain values, the same the renderer gives.
    assert vms["c"].interfaces == network_fragments(plan, plan.virtual_machines[2])["interfaces"]
    assert vms["c"].network_data == network_data(plan, plan.virtual_machines[2])


def test_a_vm_on_a_network_it_was_not_given_fails_where_it_is_declared() -> None:
    def program() -> None:
        VirtualMachine("a", interfaces=[{"name": "nic-1", "network": "default/nowhere"}])

    with pytest.raises(PlanError) as caught:
        run_program(program)
    assert [i.path for i in caught.value.issues] == ["virtualMachines[0].interfaces[0].network"]
    assert "network 'default/nowhere' is not in the plan" in str(caught.value)


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda: ClusterNetwork("mgmt", uplink={"nics": ["eth1"]}), "clusterNetworks[0].name"),
        (lambda: ClusterNetwork("vlan", uplink={"nics": []}), "clusterNetworks[0].uplink.nics"),
        (lambda: VlanNetwork("v", vlan_id=5000, cluster_network="vlan"), "networks[0].vlan"),
        (
            lambda: VlanNetwork("v", vlan_id=7, cluster_network="vlan", dhcp_server=DHCP),
            "networks[0].route",
        ),
        (
            lambda: VirtualMachine("vm", interfaces=[{"name": "m", "network": "mgmt"}], user_data="#cloud-config\n- a"),
            "virtualMachines[0].userData",
        ),
    ],
)
def test_plan_errors_surface_at_construction_with_their_field_path(build: Any, path: str) -> None:
    with pytest.raises(PlanError) as caught:
        run_program(build)
    assert path in [i.path for i in caught.value.issues]


def test_inputs_may_be_outputs_of_other_resources() -> None:
    def program() -> None:
        vlan_id = pulumi.Output.from_input(300).apply(lambda v: v + 1)
        VlanNetwork(
            "v301", vlan_id=vlan_id, cluster_network="vlan", mtu=9000, route=pulumi.Output.from_input(ROUTE_100)
        )

    recording = run_program(program)
    nad = recording.by_name(NAD, "v301")
    assert (nad.inputs["vlan"], nad.inputs["mtu"], nad.inputs["route"]) == (301, 9000, ROUTE_100)
    assert nad.dependencies == []  # a cluster network named, not given: nothing to wait for


def test_unknown_values_during_preview_do_not_stop_the_program() -> None:
    def unknown() -> pulumi.Output[Any]:
        loop = asyncio.get_event_loop()
        value, known = loop.create_future(), loop.create_future()
        value.set_result(None)
        known.set_result(False)
        return pulumi.Output(set(), value, known)

    def program() -> None:
        VlanNetwork("v", vlan_id=unknown(), cluster_network="vlan")

    recording = run_program(program, preview=True)
    assert recording.by_name(NAD, "v").inputs["name"] == "v"


@pytest.mark.parametrize("backend", ["dnsmasq", "ippool"])
def test_dhcp_server_backends_make_what_render_makes(backend: str) -> None:
    def program() -> None:
        VlanNetwork(
            "lan",
            vlan_id=100,
            cluster_network="vlan",
            mtu=1500,
            route=ROUTE_100,
            dhcp_server=DHCP | {"backend": backend},
        )

    recording = run_program(program)
    plan, _ = load_plan(
        plan_with(
            [
                {
                    "name": "lan",
                    "clusterNetwork": "vlan",
                    "vlan": 100,
                    "route": ROUTE_100,
                    "dhcpServer": DHCP | {"backend": backend},
                }
            ]
        )
    )
    expected = {key: obj for key, obj in rendered(plan).items() if not key.startswith(("ClusterNetwork", "VlanConfig"))}
    assert recording.objects() == expected
    kinds = {key.split("/")[0] for key in expected}
    assert kinds == (
        {"NetworkAttachmentDefinition", "IPPool"}
        if backend == "ippool"
        else {"NetworkAttachmentDefinition", "ConfigMap", "Deployment"}
    )


def test_cluster_network_outputs() -> None:
    built: dict[str, ClusterNetwork] = {}

    def program() -> None:
        built["vlan"] = ClusterNetwork("lab-vlan", name="vlan", uplink={"nics": ["eth1"]}, nodes=["n1", "n2"])

    recording = run_program(program)
    vlan = built["vlan"]
    assert (vlan.name, vlan.bridge, vlan.mtu, vlan.vlan_config_names) == ("vlan", "vlan-br", 0, ["vlan-n1", "vlan-n2"])
    assert sorted(r.name for r in recording.of_type(f"{DYNAMIC_PREFIX}VlanConfig")) == ["lab-vlan-n1", "lab-vlan-n2"]


def test_many_resources_leave_pulumis_pickler_as_it_was() -> None:
    """pulumi.dynamic pickles a provider with a wrapper it adds to pickle's dict writer on every call; pickling
    once per kind keeps a large program from leaving other dynamic providers a RecursionError."""
    run_program(lambda: VlanNetwork("warm", vlan_id=1, cluster_network="vlan"))
    before = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
    run_program(lambda: [VlanNetwork(f"v{i}", vlan_id=i, cluster_network="vlan") for i in range(2, 30)])
    assert pickle._Pickler._batch_setitems is before  # type: ignore[attr-defined]


def _without_secrets(value: Any) -> Any:
    """Inputs as plain state would hold them: every Pulumi secret replaced by a marker."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return "<secret>"
        return {k: _without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def test_user_data_is_only_in_the_cloud_init_secret_whose_data_is_a_pulumi_secret() -> None:
    password = "hunter2-in-user-data"
    user_data = f"#cloud-config\npassword: {password}\nchpasswd: {{expire: false}}\n"

    def program() -> None:
        vlan = ClusterNetwork("vlan", uplink={"nics": ["eth1"]})
        vlan100 = VlanNetwork("vlan100", vlan_id=100, cluster_network=vlan, route=ROUTE_100)
        VirtualMachine("vm", interfaces=[{"name": "nic-1", "network": vlan100}], user_data=user_data)

    recording = run_program(program)
    secret = recording.by_name("kubernetes:core/v1:Secret", "vm")
    assert secret.is_secret("data")
    assert password in base64.b64decode(secret.plain("data")["userdata"]).decode()
    plain_state = json.dumps([_without_secrets(r.inputs) for r in recording.registrations])
    assert password not in plain_state and base64.b64encode(password.encode()).decode()[:16] not in plain_state
    vm = recording.by_name("kubernetes:kubevirt.io/v1:VirtualMachine", "vm")
    assert secret.urn in vm.dependencies  # the VM waits for its cloud-init data
    volumes = vm.plain("spec")["template"]["spec"]["volumes"]
    assert {"secretRef": {"name": "vm-cloudinit"}, "networkDataSecretRef": {"name": "vm-cloudinit"}} in [
        v.get("cloudInitNoCloud") for v in volumes
    ]
