"""HarvesterNetworking: a whole plan on one cluster, as the ClusterNetwork, VlanNetwork and VirtualMachine
components would build it by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Unpack

import pulumi

from harvester_network.components.base import ClusterSettings, HarvesterComponent, validated
from harvester_network.components.clusternetwork import ClusterNetwork
from harvester_network.components.virtualmachine import VirtualMachine
from harvester_network.components.vlannetwork import NetworkResources, network_resources
from harvester_network.model import load_plan_file, names
from harvester_network.model.plan import Plan
from harvester_network.render.agent_install import (
    AGENT_IMAGE,
    DEFAULT_METRICS_ADDRESS,
    agent_install_objects,
    listen_address,
)


def _plan(plan: Plan | dict[str, Any] | str | Path, source: str) -> Plan:
    if isinstance(plan, Plan):
        return plan
    if isinstance(plan, str | Path):
        return load_plan_file(plan)[0]
    return validated(plan, source)


class HarvesterNetworking(HarvesterComponent):
    """Every object of a plan (a Plan, plan.yaml data, or the path of a plan file) on one cluster.

    Children are named `<resource name>/<object>`, so one program can hold several clusters' plans.

    `install_agent=True` (clusters without Harvester) also makes what `hvnet render --install-agent` makes: the
    CRDs (the NAD CRD too, unless `nad_crd=False` where Multus installed it), the agent's namespace, RBAC and
    DaemonSet running `agent_image` (pin it by digest: `REPO@sha256:...`), and the admission policy that keeps
    each agent to its own node; the cluster networks wait for them. `agent_metrics_address`: where the agents
    serve /metrics and /healthz (default: each node's loopback; `0.0.0.0:9464` for a Prometheus off the node).
    `agent_admission_policy=False` leaves the policy out, for clusters older than Kubernetes 1.30 only.
    """

    def __init__(
        self,
        resource_name: str,
        *,
        plan: Plan | dict[str, Any] | str | Path,
        install_agent: bool = False,
        agent_image: str = AGENT_IMAGE,
        nad_crd: bool = True,
        agent_metrics_address: str = DEFAULT_METRICS_ADDRESS,
        agent_admission_policy: bool = True,
        opts: pulumi.ResourceOptions | None = None,
        **settings: Unpack[ClusterSettings],
    ) -> None:
        super().__init__("HarvesterNetworking", resource_name, settings, opts)
        self.plan = _plan(plan, f"HarvesterNetworking {resource_name}")
        try:
            listen_address(agent_metrics_address)
        except ValueError as error:
            raise ValueError(f"HarvesterNetworking {resource_name}: agent_metrics_address: {error}") from None
        if not names.is_image_reference(agent_image):
            raise ValueError(
                f"HarvesterNetworking {resource_name}: agent_image '{agent_image}' is not an image reference"
            )
        plan_ = self.plan
        dnsmasq = any(n.dhcp_server and n.dhcp_server.backend == "dnsmasq" for n in plan_.networks)
        # One `kubernetes` provider for every workload object of this cluster, made only when there are some.
        child = self.child_settings(with_k8s_provider=bool(plan_.virtual_machines) or dnsmasq or install_agent)

        # Objects the cluster networks need first: the CRDs and the agent that makes them ready.
        foundation = (
            self._agent_install(
                resource_name,
                agent_install_objects(agent_image, nad_crd, agent_metrics_address, agent_admission_policy),
            )
            if install_agent
            else []
        )

        self.cluster_networks = {
            cn.name: ClusterNetwork(
                f"{resource_name}/{cn.name}",
                name=cn.name,
                description=cn.description,
                uplink=cn.uplink,
                node_overrides=cn.node_overrides,
                nodes=plan_.nodes,
                opts=self.child_opts(foundation),
                **child,
            )
            for cn in plan_.cluster_networks
        }
        # Each network's NAD (and DHCP server) directly under this component: a component per network would
        # double the resources of large plans (see benchmarks/RESULTS.md, "Pulumi program").
        self.networks: dict[str, NetworkResources] = {}
        for net in plan_.networks:
            cluster_network = self.cluster_networks[net.cluster_network]
            # The plan is validated as a whole: its networks need no validation of their own. The NAD waits for the
            # ClusterNetwork component, which the SDK expands to its children (its `objects`): the same dependencies
            # as listing them, with fewer Outputs per network (tests/pulumi/test_registration.py).
            self.networks[net.ref] = network_resources(
                self,
                f"{resource_name}/{net.ref}",
                net,
                name=net.name,
                namespace=net.namespace,
                cluster_network=net.cluster_network,
                mtu=cluster_network.mtu,
                service_cidr=str(plan_.service_cidr),
                dhcp_backend=net.dhcp_server.backend if net.dhcp_server else None,
                depends_on=[cluster_network],
            )
        self.virtual_machines = {}
        for vm in plan_.virtual_machines:
            attached = {found.ref for nic in vm.interfaces if (found := plan_.network_for(vm, nic)) is not None}
            self.virtual_machines[f"{vm.namespace}/{vm.name}"] = VirtualMachine(
                f"{resource_name}/{vm.namespace}/{vm.name}",
                name=vm.name,
                namespace=vm.namespace,
                interfaces=vm.interfaces,
                cpu=vm.cpu,
                memory=vm.memory,
                image=vm.image,
                user_data=vm.user_data,
                network_data_version=vm.network_data_version,
                management_service=vm.management_service,
                networks=[self.networks[ref] for ref in sorted(attached)],
                opts=self.child_opts(),
                **child,
            )

        self.network_names = {ref: net.reference for ref, net in self.networks.items()}
        self.bridges = {name: cn.bridge for name, cn in self.cluster_networks.items()}
        self.register_outputs(
            {
                "networkNames": self.network_names,
                "bridges": self.bridges,
                "matchedNodes": {name: cn.matched_nodes for name, cn in self.cluster_networks.items()},
            }
        )

    def _agent_install(self, resource_name: str, objects: list[dict[str, Any]]) -> list[pulumi.Resource]:
        """The objects in render's apply order, each after all before it (as `kubectl apply` of the rendered
        files would make them): the DaemonSet's pods need their namespace, ServiceAccount, role and CRDs."""
        made: list[pulumi.Resource] = []
        for obj in objects:
            name = f"{resource_name}/{obj['metadata']['name']}"
            made.append(self.workload(name, obj, kind=obj["kind"], depends_on=list(made)))
        return made
