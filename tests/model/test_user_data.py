"""A VM's userData, bootOrder and NIC model at `hvnet validate`: errors name the field path, never a traceback."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml

from harvester_network.model import PlanError, guest, load_plan
from harvester_network.model.userdata import user_data_kind
from tests.model.test_cli import hvnet

NET = {"name": "n1", "clusterNetwork": "cn1", "vlan": 10}
ROUTE = {"mode": "manual", "cidr": "10.0.0.0/24", "gateway": "10.0.0.1"}
DHCP_SERVER = {"serverIP": "10.0.0.2", "range": {"start": "10.0.0.100", "end": "10.0.0.200"}}


def plan_with_vm(**vm: Any) -> dict[str, Any]:
    interfaces = vm.pop("interfaces", [{"name": "a", "network": "mgmt"}, {"name": "b", "network": "n1"}])
    return {
        "clusterNetworks": [{"name": "cn1", "uplink": {"nics": ["eth1"]}}],
        "networks": [NET],
        "virtualMachines": [{"name": "vm", "interfaces": interfaces, **vm}],
    }


def issues_of(data: dict[str, Any]) -> list[str]:
    try:
        _, warnings = load_plan(data)
    except PlanError as exc:
        return [f"error {i.path}: {i.message}" for i in exc.issues]
    return [f"warning {w.path}: {w.message}" for w in warnings]


PACKAGES = "packages must be a non-empty list of package names, like [htop]"
RUNCMD = "runcmd must be a non-empty list of commands (strings or lists of strings)"


@pytest.mark.parametrize(
    ("user_data", "message"),
    [
        ("#cloud-config\npackages: [a\n",
         "is not valid YAML: while parsing a flow sequence, expected ',' or ']', but got '<stream end>' at line 3, "
         "column 1"),
        ("#cloud-config\n- a\n- b\n", "is a list, not a mapping of keys"),
        ("#cloud-config\nx: !!python/object/apply:os.system [id]\n",
         "is not valid YAML: could not determine a constructor for the tag "
         "'tag:yaml.org,2002:python/object/apply:os.system' at line 2, column 4"),
        ("#cloud-config\npackages:\n", PACKAGES),
        ("#cloud-config\npackages: []\n", PACKAGES),
        ("#cloud-config\npackages: htop\n", PACKAGES),
        ("#cloud-config\npackages: [{name: htop}]\n",
         "packages item {'name': 'htop'} is neither a package name nor a [name, version] pair"),
        ("#cloud-config\npackages: [[htop, '1', x]]\n",
         "packages item ['htop', '1', 'x'] is neither a package name nor a [name, version] pair"),
        ("#cloud-config\nruncmd: echo hi\n", RUNCMD),
        ("#cloud-config\nruncmd: [[echo, 1]]\n",
         "runcmd item ['echo', 1] is neither a shell string nor a list of strings"),
        ("#cloud-config\na: 1\n---\nb: 2\n",
         "is not valid YAML: expected a single document in the stream, but found another document at line 3, column 1"),
    ],
)  # fmt: skip
def test_a_cloud_config_cloud_init_would_reject_is_an_error_at_its_path(user_data: str, message: str) -> None:
    assert issues_of(plan_with_vm(userData=user_data)) == [
        f"error virtualMachines[0].userData: the #cloud-config {message}"
    ]


def test_a_yaml_error_in_user_data_names_the_place_not_the_text() -> None:
    (issue,) = issues_of(plan_with_vm(userData='#cloud-config\npassword: "hunter2\n'))
    assert issue == (
        "error virtualMachines[0].userData: the #cloud-config is not valid YAML: while scanning a quoted scalar, "
        "found unexpected end of stream at line 3, column 1"
    )


@pytest.mark.parametrize(
    ("user_data", "kind"),
    [("#!/bin/sh\necho hi\n", "a script (#!)"), ("## template: jinja\n#cloud-config\n", "a jinja template"),
     ("#include https://example.com/x\n", "not a #cloud-config")],
)  # fmt: skip
def test_user_data_we_cannot_add_the_guest_agent_to_is_a_warning(user_data: str, kind: str) -> None:
    assert issues_of(plan_with_vm(userData=user_data)) == [
        f"warning virtualMachines[0].userData: is {kind}: qemu-guest-agent is not added, so Harvester will not "
        "show the VM's VLAN addresses"
    ]


def test_user_data_larger_than_a_secret_holds_is_an_error() -> None:
    comment = "#" * 1023 + "\n"
    fits = "#cloud-config\n" + comment * 1000
    assert issues_of(plan_with_vm(userData=fits)) == []
    issues = issues_of(plan_with_vm(userData=fits + comment * 100))
    assert len(issues) == 1 and issues[0].startswith("error virtualMachines[0].userData: is 1126414 bytes")


@pytest.mark.parametrize("header", ["#cloud-config\n", "#!/bin/sh\n"])
def test_user_data_size_limit_at_its_edge(header: str) -> None:
    # Exactly the Secret's limit fits; one byte more is an error, and the only issue (not also a warning about
    # the kind of user data).
    limit = 1024 * 1024
    fits = header + "#" * (limit - len(header))
    warnings = [] if header.startswith("#cloud") else [
        "warning virtualMachines[0].userData: is a script (#!): qemu-guest-agent is not added, so Harvester will not "
        "show the VM's VLAN addresses"
    ]  # fmt: skip
    assert issues_of(plan_with_vm(userData=fits)) == warnings
    too_large = [
        f"error virtualMachines[0].userData: is {limit + 1} bytes; the VM's cloud-init Secret holds at most {limit} "
        "(Kubernetes' limit)"
    ]
    assert issues_of(plan_with_vm(userData=fits + "#")) == too_large
    # Too large is all that is said: the content is not judged too (here: a list, not a mapping).
    assert issues_of(plan_with_vm(userData=header + "- a\n" + "#" * (limit - len(header) - 3))) == too_large


def test_a_good_cloud_config_is_accepted() -> None:
    user_data = "#cloud-config\n# comment\npackages: [htop, [nginx, '1.2']]\nruncmd: [echo hi, [ls, -l], null]\n"
    assert issues_of(plan_with_vm(userData=user_data)) == []


def test_duplicate_boot_order_is_refused_and_igb_accepted() -> None:
    interfaces = [
        {"name": "a", "network": "mgmt", "bootOrder": 1, "model": "igb"},
        {"name": "b", "network": "n1", "bootOrder": 1},
    ]
    assert issues_of(plan_with_vm(interfaces=interfaces)) == [
        "error virtualMachines[0].interfaces[1].bootOrder: boot order 1 is already that of interfaces[0]; "
        "KubeVirt refuses the VM"
    ]


def test_a_guest_without_any_nameserver_is_warned() -> None:
    static_only = [{"name": "b", "network": "n1", "ip": "10.0.0.5/24"}]
    assert issues_of(plan_with_vm(interfaces=static_only)) == [
        "warning virtualMachines[0].dns: the guest gets no nameserver (no NIC uses DHCP, no network's dhcpServer "
        "lists dns), so it cannot resolve names, not even to install qemu-guest-agent"
    ]
    assert issues_of(plan_with_vm(interfaces=static_only, dns=["10.0.0.53"])) == []
    served = plan_with_vm(interfaces=static_only)
    served["networks"][0] = {**NET, "route": ROUTE, "dhcpServer": {**DHCP_SERVER, "dns": ["10.0.0.53"]}}
    assert issues_of(served) == []
    # A NIC without an address (ip: none) on a network whose DHCP server lists dns brings the guest nothing.
    unaddressed = plan_with_vm(interfaces=[*static_only, {"name": "c", "network": "n2", "ip": "none"}])
    unaddressed["networks"].append({**NET, "name": "n2", "vlan": 11, "route": ROUTE,
                                    "dhcpServer": {**DHCP_SERVER, "dns": ["10.0.0.53"]}})  # fmt: skip
    assert issues_of(unaddressed) == issues_of(plan_with_vm(interfaces=static_only))


@pytest.mark.parametrize(
    ("text", "kind"),
    [("#cloud-config", "cloud-config"), ("#cloud-config  \nx: 1\n", "cloud-config"), ("#!/bin/sh\n", "script"),
     ("## Template: Jinja\n#cloud-config\n", "jinja"), ("#include x\n", "other"), ("", "other"),
     ("x\n#cloud-config\n", "other")],
)  # fmt: skip
def test_user_data_kind_reads_the_first_line(text: str, kind: str) -> None:
    assert user_data_kind(text) == kind


def test_validate_reports_bad_user_data_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan_with_vm(userData="#cloud-config\npackages: htop\n")))
    result = hvnet("validate", path)
    assert result.exit_code == 1
    output = result.stdout + result.stderr
    assert "virtualMachines[0].userData" in output and "Traceback" not in output
    render = hvnet("render", path)
    assert render.exit_code == 1 and "Traceback" not in render.stdout + render.stderr


def test_only_a_static_nic_on_a_routed_network_has_a_static_gateway() -> None:
    interfaces = [
        {"name": "a", "network": "mgmt"},
        {"name": "b", "network": "n1", "ip": "dhcp"},
        {"name": "c", "network": "n1", "ip": "10.0.0.5/24"},
        {"name": "d", "network": "n1", "ip": "none"},
    ]
    data = plan_with_vm(interfaces=interfaces)
    data["networks"][0] = {**NET, "route": ROUTE, "dhcpServer": DHCP_SERVER}
    plan, _ = load_plan(data)
    vm = plan.virtual_machines[0]
    gateways = [guest.static_gateway(plan, vm, nic) for nic in vm.interfaces]
    assert gateways == [None, None, ipaddress.IPv4Address("10.0.0.1"), None]
