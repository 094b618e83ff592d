"""Turn a test API server into a Harvester: the upstream CRDs (../shared/reference/upstream) instead of hvnet's and
KubeVirt's VirtualMachine schema,
Harvester's network webhooks in the request path, its controllers in the background, the `mgmt` cluster network
and the `nic` LinkMonitor it creates at start, and helpers for what a test needs around them (nodes, running VMs).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from tests.k8s_api.cluster import WriteOptions
from tests.k8s_api.harvester import netconf as nc
from tests.k8s_api.harvester.controllers import MANAGER, NetworkControllers, _ready_condition
from tests.k8s_api.harvester.ippools import IpPoolWebhooks
from tests.k8s_api.harvester.schemas import kubevirt_schema, upstream_crds
from tests.k8s_api.harvester.state import CLUSTER_NETWORKS, LINKMONITORS, NODES, VMIS, VMS, State
from tests.k8s_api.harvester.virtualmachines import VmWebhooks
from tests.k8s_api.harvester.webhooks import NetworkWebhooks
from tests.k8s_api.resources import CRDS

if TYPE_CHECKING:
    from tests.k8s_api.server import TestApiServer


class HarvesterMode:
    """Harvester on one TestApiServer. `settle()` waits until the emulated controllers are done."""

    def __init__(self, server: TestApiServer) -> None:
        self.server = server
        self.cluster = server.cluster
        self.state = State(self.cluster)
        self.webhooks = NetworkWebhooks(self.state)
        self.controllers = NetworkControllers(self.state)

    def install(self) -> HarvesterMode:
        crd_type = self.cluster.type_of(CRDS)
        for crd in upstream_crds():
            if self.cluster.store.get(CRDS, "", crd["metadata"]["name"]) is None:
                self.cluster.create(crd_type, None, crd, WriteOptions(field_manager="harvester"))
        self.settle()
        # KubeVirt's VirtualMachine CRD is structural: unknown fields are pruned (an error under Strict), types checked.
        vm_type = self.cluster.type_of(VMS)
        self.cluster.registry.add(dataclasses.replace(vm_type, schema=kubevirt_schema("v1.VirtualMachine")))
        self.cluster.admission += [self.webhooks, VmWebhooks(self.state), IpPoolWebhooks(self.state)]
        self.cluster.controllers.observers.append(self.controllers.observe)
        # manager/clusternetwork initializeClusterNetwork and initializeLinkMonitor
        mgmt: dict[str, Any] = {"metadata": {"name": nc.MGMT}}
        _ready_condition(mgmt, "True")
        self._create(CLUSTER_NETWORKS, mgmt)
        self._create(LINKMONITORS, {"metadata": {"name": "nic"}, "spec": {"targetLinkRule": {"typeRule": "device"}}})
        self.settle()
        return self

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until the controllers have nothing left to do (their writes trigger more work; this waits for all).
        Controllers that never settle are a bug of the emulation (or a loop Harvester has too): an error."""
        if not self.cluster.controllers.settle(timeout):
            raise AssertionError(f"Harvester's emulated controllers still busy after {timeout}s (a write loop?)")

    @property
    def dhcp_answers(self) -> dict[int, tuple[str, str]]:
        """VLAN ID -> (CIDR, gateway) the NAD helper job's DHCP finds on that VLAN (none: "DHCP failed")."""
        return self.controllers.dhcp_answers

    def fail_setup(self, node: str, error: str) -> None:
        """From now on the agent on `node` fails to set up VLANs with `error` (its VlanStatuses say so)."""
        with self.cluster.lock:
            self.controllers.failing_setup[node] = error
            self.controllers.observe(self.cluster.type_of(NODES), {})
        self.settle()

    def check_connectivity(self, result: str) -> None:
        """The 15-minute gateway ping, now, answering `result` ("true", "false", "ping failed")."""
        self.controllers.check_connectivity(result)
        self.settle()

    def _create(self, storage_key: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        resource_type = self.cluster.type_of(storage_key)
        namespace = body["metadata"].get("namespace")
        return self.cluster.create(resource_type, namespace, body, WriteOptions(field_manager=MANAGER))

    def add_node(self, name: str, labels: dict[str, str] | None = None) -> None:
        """A Node as the kubelet registers it (with its hostname label)."""
        node_labels = {"kubernetes.io/hostname": name, **(labels or {})}
        self._create(NODES, {"metadata": {"name": name, "labels": node_labels}})
        self.settle()

    def run_vm(self, namespace: str, name: str, networks: list[str], node: str) -> None:
        """A running VM: its VirtualMachineInstance on `node`, attached to the NADs `networks` (`[ns/]name`)."""
        spec = {"networks": [{"name": f"nic-{i}", "multus": {"networkName": n}} for i, n in enumerate(networks)]}
        body = {"metadata": {"name": name, "namespace": namespace}, "spec": spec}
        vmi_type = self.cluster.type_of(VMIS)
        with self.cluster.lock:
            self.cluster.create(vmi_type, namespace, body, WriteOptions(field_manager="virt-controller"))
            self.cluster.internal_update(
                vmi_type,
                self.cluster.store.get(VMIS, namespace, name) or {},
                lambda new: new.update(status={"nodeName": node, "phase": "Running"}),
                subresource="status",
                manager="virt-handler",
            )
        self.settle()

    def stop_vm(self, namespace: str, name: str) -> None:
        with self.cluster.lock:
            vmi = self.cluster.store.get(VMIS, namespace, name)
            if vmi is not None:
                self.cluster.internal_delete(self.cluster.type_of(VMIS), vmi, "Background")
        self.settle()
