"""VirtualMachine: step 4 of the seed's flow, a KubeVirt VM attached to VLAN networks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Unpack

import pulumi

from harvester_network.components.base import ClusterSettings, HarvesterComponent, dumped, validated
from harvester_network.components.inputs import Lifted, pick, resolved
from harvester_network.components.vlannetwork import NetworkResources, VlanNetwork, network_of
from harvester_network.model.plan import Interface, ManagementService, Plan
from harvester_network.provider.base import stand_in_uplink
from harvester_network.render.vm import (
    cloud_init_secret_object,
    management_service_object,
    network_data,
    network_fragments,
    virtual_machine_object,
)


class VirtualMachine(HarvesterComponent):
    """A KubeVirt VirtualMachine with the interfaces/networks, pinned MACs and its cloud-init Secret (network data,
    user data with qemu-guest-agent) that `hvnet render` gives one `virtualMachines` item; plus its management
    Service when `management_service` is given. The VM waits for the Secret; the Secret's data is a Pulumi secret.

    interfaces: `[{name, network, model?, macAddress?, ip?, bootOrder?}]`; `network` is 'mgmt', a VlanNetwork, its
    `network_name` output, or `<ns>/<name>` / `<name>` of a network listed in `networks`.
    networks: the VlanNetworks (or plan `networks` items, for networks made elsewhere) the interfaces name by
    string. cpu, memory, image, user_data, network_data_version, dns: as in the plan. user_data may be an Input.
    """

    def __init__(
        self,
        resource_name: str,
        *,
        interfaces: Sequence[Mapping[str, Any] | Interface],
        name: str | None = None,
        namespace: str = "default",
        cpu: int = 1,
        memory: str = "1Gi",
        image: str | None = None,
        user_data: pulumi.Input[str] | None = None,
        network_data_version: int = 2,
        dns: Sequence[str] = (),
        management_service: dict[str, Any] | ManagementService | None = None,
        networks: Sequence[VlanNetwork | NetworkResources | Mapping[str, Any]] = (),
        opts: pulumi.ResourceOptions | None = None,
        **settings: Unpack[ClusterSettings],
    ) -> None:
        super().__init__("VirtualMachine", resource_name, settings, opts)
        declared: dict[str, Any] = {}  # network reference -> plan networks item (or its Output)
        cluster_networks: set[str] = set()
        waits_for: list[pulumi.Resource] = []

        def declare(network: VlanNetwork | NetworkResources | Mapping[str, Any]) -> str:
            resources = network_of(network)
            if resources is not None:
                declared[resources.reference] = pick(resources.network, dumped)
                cluster_networks.add(resources.cluster_network_name)
                # Its DHCP server too: up, the VM asks for a lease at boot; down, vm-dhcp-controller refuses to delete
                # an IPPool while its VMs' VirtualMachineNetworkConfigs are left (ippool validator checkVmNetCfgs).
                waits_for.extend([resources.nad, *resources.dhcp])
                return resources.reference
            assert isinstance(network, Mapping)
            item = dict(network)
            reference = f"{item.get('namespace', 'default')}/{item['name']}"
            declared[reference] = item
            cluster_networks.add(item["clusterNetwork"])
            return reference

        for network in networks:
            declare(network)
        nics = []
        for interface in interfaces:
            nic = dict(dumped(interface))
            resources = network_of(nic.get("network"))
            if resources is not None:
                nic["network"] = declare(resources)
            nics.append(nic)

        vm: dict[str, Any] = {
            "name": name or resource_name,
            "namespace": namespace,
            "interfaces": nics,
            "cpu": cpu,
            "memory": memory,
            "userData": user_data,
            "networkDataVersion": network_data_version,
            "dns": [str(server) for server in dns] or None,
            "managementService": dumped(management_service),
        }
        if image is not None:
            vm["image"] = image
        data = {
            # A VM needs its networks' cluster networks by name only (a MAC is unique per cluster network).
            "clusterNetworks": [
                {"name": cn, "uplink": stand_in_uplink(i)} for i, cn in enumerate(sorted(cluster_networks))
            ],
            "networks": list(declared.values()),
            "virtualMachines": [{k: v for k, v in vm.items() if v is not None}],
        }
        self.plan: Lifted[Plan] = resolved(data, lambda d: validated(d, f"VirtualMachine {resource_name}"))

        # user_data may hold passwords: it is only in the Secret, whose data is a Pulumi secret.
        self.cloud_init_secret = self.workload(
            resource_name,
            pick(self.plan, lambda p: cloud_init_secret_object(p, p.virtual_machines[0])),
            kind="Secret",
        )
        self.virtual_machine = self.workload(
            resource_name,
            pick(self.plan, lambda p: virtual_machine_object(p, p.virtual_machines[0])),
            kind="VirtualMachine",
            depends_on=[*waits_for, self.cloud_init_secret],
        )
        self.service = (
            None
            if management_service is None
            else self.workload(
                resource_name,
                pick(self.plan, _management_service),
                kind="Service",
            )
        )
        # What users put in DHCP reservations, firewall rules or guest config.
        self.interfaces: Lifted[list[dict[str, Any]]] = pick(
            self.plan, lambda p: network_fragments(p, p.virtual_machines[0])["interfaces"]
        )
        self.network_data: Lifted[dict[str, Any]] = pick(self.plan, lambda p: network_data(p, p.virtual_machines[0]))
        self.register_outputs({"interfaces": self.interfaces, "networkData": self.network_data})


def _management_service(plan: Plan) -> dict[str, Any]:
    service = management_service_object(plan.virtual_machines[0])
    assert service is not None  # only asked for when the VM has a managementService
    return service
