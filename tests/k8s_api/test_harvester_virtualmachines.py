"""Contract tests of the emulated Harvester VirtualMachine webhooks (tests/k8s_api/harvester/virtualmachines.py),
each naming the function of harvester/harvester's pkg/webhook/resources/virtualmachine it follows."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.k8s_api.fixtures import HarvesterApi
from tests.k8s_api.harvester.virtualmachines import format_quantity, parse_quantity
from tests.k8s_api.test_harvester_controllers import Harvester, with_vlan100


@pytest.fixture
def harvester(harvester_api: HarvesterApi) -> Harvester:
    return with_vlan100(harvester_api)


def vm_body(name: str = "db-1", **domain: Any) -> dict[str, Any]:
    domain.setdefault("cpu", {"cores": 2})
    domain.setdefault("resources", {"limits": {"memory": "2Gi", "cpu": "2"}})
    domain.setdefault("devices", {"interfaces": [{"name": "nic-1", "bridge": {}}]})
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "runStrategy": "Halted",
            "template": {
                "spec": {"domain": domain, "networks": [{"name": "nic-1", "multus": {"networkName": "vlan100"}}]}
            },
        },
    }


def create_vm(harvester: Harvester, body: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = harvester.custom.create_namespaced_custom_object(
        "kubevirt.io", "v1", "default", "virtualmachines", body
    )
    return created


def test_mutator_sets_requests_guest_memory_cpu_affinity_grace_period_and_mac(harvester: Harvester) -> None:
    """Mutator.Create: patchResourceOvercommit (cpu 2 / 10 -> 200m; 2Gi * 100 / 150 cut to MiB -> 1365Mi; guest =
    limit; maxSockets), patchDefaultCPU, patchAffinity, patchTerminationGracePeriodSeconds, patchInterfaceMacAddress."""
    spec = create_vm(harvester, vm_body())["spec"]["template"]["spec"]
    domain = spec["domain"]
    assert domain["resources"]["requests"] == {"cpu": "200m", "memory": "1365Mi"}
    assert domain["memory"] == {"guest": "2Gi"}
    assert domain["cpu"] == {"cores": 2, "sockets": 1, "threads": 1, "maxSockets": 1}
    assert spec["affinity"] == {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "network.harvesterhci.io/cn1", "operator": "In", "values": ["true"]}]}
                ]
            }
        }
    }
    assert spec["terminationGracePeriodSeconds"] == 120
    mac = domain["devices"]["interfaces"][0]["macAddress"]
    assert re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", mac) and int(mac[:2], 16) & 0x03 == 0x02


def test_mutator_keeps_user_affinity_terms_and_values(harvester: Harvester) -> None:
    """makeAffinityFromVMTemplate keeps non-network terms; addNodeSelectorTerms adds the network to each."""
    body = vm_body()
    expressions = [
        {"key": "rack", "operator": "In", "values": ["a"]},
        {"key": "network.harvesterhci.io/old", "operator": "In", "values": ["true"]},
    ]
    required = {"nodeSelectorTerms": [{"matchExpressions": expressions}]}
    body["spec"]["template"]["spec"]["affinity"] = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}
    }
    body["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30
    spec = create_vm(harvester, body)["spec"]["template"]["spec"]
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert [e["key"] for e in terms[0]["matchExpressions"]] == ["rack", "network.harvesterhci.io/cn1"]
    assert spec["terminationGracePeriodSeconds"] == 30


def test_validator_needs_guest_memory_or_a_memory_limit(harvester: Harvester) -> None:
    """Validator.checkVMSpec -> checkEmptyMemory (requests alone are not enough)."""
    body = vm_body(resources={"requests": {"memory": "1Gi"}})
    with pytest.raises(ApiException) as error:
        create_vm(harvester, body)
    status = json.loads(error.value.body or "{}")
    assert (error.value.status, status["reason"]) == (422, "Invalid")
    assert status["message"] == (
        'admission webhook "validator.harvesterhci.io" denied the request: '
        "either memory.guest or resources.limits.memory must be set"
    )
    assert status["details"]["causes"][0]["field"] == "spec.template.spec.domain"


def test_mutator_needs_the_cpu_object_when_it_patches_max_sockets(harvester: Harvester) -> None:
    """generateMemoryPatch replaces /spec/template/spec/domain/cpu/maxSockets, which the API server cannot apply
    without a `cpu` object (evanphx/json-patch: the parent path must exist)."""
    body = vm_body()
    del body["spec"]["template"]["spec"]["domain"]["cpu"]
    with pytest.raises(ApiException) as error:
        create_vm(harvester, body)
    assert error.value.status == 500
    assert (
        "doc is missing path: /spec/template/spec/domain/cpu/maxSockets"
        in json.loads(error.value.body or "{}")["message"]
    )


def test_network_must_exist(harvester: Harvester) -> None:
    """Mutator.patchAffinity -> getNodeSelectorRequirementFromNetwork: the NAD is looked up (missing: refused)."""
    body = vm_body()
    body["spec"]["template"]["spec"]["networks"][0]["multus"]["networkName"] = "default/nope"
    with pytest.raises(ApiException) as error:
        create_vm(harvester, body)
    assert json.loads(error.value.body or "{}")["message"] == (
        'admission webhook "mutator.harvesterhci.io" denied the request: '
        'network-attachment-definitions.k8s.cni.cncf.io "nope" not found'
    )


def test_duplicate_mac_on_one_cluster_network_is_refused(harvester: Harvester) -> None:
    """Validator.checkForDuplicateMacAddrs."""
    interfaces = [{"name": "nic-1", "bridge": {}, "macAddress": "52:54:00:00:00:01"}]
    create_vm(harvester, vm_body("db-1", devices={"interfaces": interfaces}))
    with pytest.raises(ApiException) as error:
        create_vm(harvester, vm_body("db-2", devices={"interfaces": interfaces}))
    assert json.loads(error.value.body or "{}")["message"].endswith(
        "duplicate mac address present for vm db-2 for cluster network cn1"
    )


@pytest.mark.parametrize(
    ("text", "milli", "fmt", "shown"),
    [("2Gi", 2 * 1024**3 * 1000, "BinarySI", "2Gi"), ("500m", 500, "DecimalSI", "500m"), ("2", 2000, "DecimalSI", "2"),
     ("1536Mi", 1536 * 1024**2 * 1000, "BinarySI", "1536Mi"), ("1G", 10**12, "DecimalSI", "1G")],
)  # fmt: skip
def test_quantities_parse_and_print_as_kubernetes_does(text: str, milli: int, fmt: str, shown: str) -> None:
    assert parse_quantity(text) == (milli, fmt)
    assert format_quantity(milli, fmt) == shown


def test_vm_fields_kubevirt_does_not_know_are_pruned_and_types_checked(harvester: Harvester) -> None:
    """KubeVirt's VirtualMachine CRD is structural (served here from swagger.json v1.VirtualMachine)."""
    body = vm_body()
    body["spec"]["template"]["spec"]["bogus"] = True
    created = create_vm(harvester, body)
    assert "bogus" not in created["spec"]["template"]["spec"]
    with pytest.raises(ApiException) as error:
        create_vm(harvester, vm_body("db-2", cpu={"cores": "two"}))
    assert error.value.status == 422
    assert "spec.template.spec.domain.cpu.cores" in json.loads(error.value.body or "{}")["message"]


def test_starting_a_halted_vm_gets_rerun_on_failure_or_the_annotations_strategy(harvester: Harvester) -> None:
    """Mutator.Update: needUpdateRunStrategy -> patchRunStrategy (kubevirt#7295 workaround)."""
    create_vm(harvester, vm_body())
    patch = {"spec": {"runStrategy": "Always"}}
    started = harvester.custom.patch_namespaced_custom_object(
        "kubevirt.io", "v1", "default", "virtualmachines", "db-1", patch
    )
    assert started["spec"]["runStrategy"] == "RerunOnFailure"
    body = vm_body("db-2")
    body["metadata"]["annotations"] = {"harvesterhci.io/vmRunStrategy": "Always"}
    create_vm(harvester, body)
    started = harvester.custom.patch_namespaced_custom_object(
        "kubevirt.io", "v1", "default", "virtualmachines", "db-2", patch
    )
    assert started["spec"]["runStrategy"] == "Always"
