"""Contract tests of the emulated vm-dhcp-controller IPPool webhooks (tests/k8s_api/harvester/ippools.py), each
naming the function of harvester/vm-dhcp-controller's pkg/webhook/ippool it follows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.k8s_api.fixtures import HarvesterApi
from tests.k8s_api.test_harvester_controllers import GROUP, Harvester, with_vlan100

VALIDATOR = 'admission webhook "validator.harvester-system.harvester-vm-dhcp-controller-webhook" denied the request: '


@pytest.fixture
def harvester(harvester_api: HarvesterApi) -> Harvester:
    return with_vlan100(harvester_api)


def create_pool(harvester: Harvester, **ipv4: Any) -> dict[str, Any]:
    body = {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "IPPool",
        "metadata": {"name": "pool", "namespace": "default"},
        "spec": {"networkName": ipv4.pop("network", "default/vlan100"), "ipv4Config": ipv4},
    }
    created: dict[str, Any] = harvester.custom.create_namespaced_custom_object(
        GROUP, "v1alpha1", "default", "ippools", body
    )
    return created


def refusal(error: pytest.ExceptionInfo[ApiException]) -> str:
    message: str = json.loads(error.value.body or "{}")["message"]
    return message


def test_mutator_fills_server_ip_and_pool_range(harvester: Harvester) -> None:
    """Mutator.Create: ensureServerIP (first free address, skipping router and excludes), ensurePoolRange."""
    pool = create_pool(
        harvester, cidr="10.0.0.0/24", router="10.0.0.1", pool={"start": "", "end": "", "exclude": ["10.0.0.2"]}
    )
    config = pool["spec"]["ipv4Config"]
    assert config["serverIP"] == "10.0.0.3"
    assert (config["pool"]["start"], config["pool"]["end"]) == ("10.0.0.1", "10.0.0.254")


@pytest.mark.parametrize(
    ("ipv4", "reason"),
    [
        ({"cidr": "10.53.0.0/24"}, "cidr 10.53.0.0/24 overlaps cluster service cidr 10.53.0.0/16"),
        ({"cidr": "10.0.0.0/24", "serverIP": "10.0.1.2"}, "server ip 10.0.1.2 is not within subnet"),
        ({"cidr": "10.0.0.0/24", "serverIP": "10.0.0.1", "router": "10.0.0.1"}, "server ip 10.0.0.1 is the same as "
         "router ip"),
        ({"cidr": "10.0.0.0/24", "router": "10.0.0.255"}, "router ip 10.0.0.255 is the same as broadcast ip"),
        ({"cidr": "10.0.0.0/24", "serverIP": "10.0.0.2", "network": "default/nope"},
         'network-attachment-definitions.k8s.cni.cncf.io "nope" not found'),
    ],
    ids=["service-cidr", "server-outside", "server-is-router", "router-broadcast", "missing-nad"],
)  # fmt: skip
def test_validator_refuses(harvester: Harvester, ipv4: dict[str, Any], reason: str) -> None:
    """Validator.Create: checkNAD, checkCIDR, checkPoolRange, checkServerIP, checkRouter."""
    with pytest.raises(ApiException) as error:
        create_pool(harvester, **ipv4)
    assert refusal(error) == VALIDATOR + f"cannot create IPPool default/pool because {reason}"


def test_validator_refuses_deleting_a_pool_vms_hold_addresses_from(harvester: Harvester) -> None:
    """Validator.Delete -> checkVmNetCfgs (VmnetcfgGetter.WhoUseIPPool)."""
    create_pool(harvester, cidr="10.0.0.0/24", network="default/vlan100")
    config = {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "VirtualMachineNetworkConfig",
        "metadata": {"name": "web-1", "namespace": "default"},
        "spec": {
            "vmName": "web-1",
            "networkConfigs": [{"networkName": "default/pool", "macAddress": "52:54:00:00:00:01"}],
        },
    }
    harvester.custom.create_namespaced_custom_object(
        GROUP, "v1alpha1", "default", "virtualmachinenetworkconfigs", config
    )
    with pytest.raises(ApiException) as error:
        harvester.custom.delete_namespaced_custom_object(GROUP, "v1alpha1", "default", "ippools", "pool")
    assert refusal(error) == VALIDATOR + (
        "cannot delete IPPool default/pool because it's still used by VirtualMachineNetworkConfig(s) default/web-1, "
        "which must be removed at first"
    )
