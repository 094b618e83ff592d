"""What every component shares: its type token, where its objects go, and how its children are made.

Children always take `parent=self`. Harvester objects become dynamic resources (harvester_network.provider);
workload objects (VMs, Services, the DHCP Deployment) go through pulumi-kubernetes with a `k8s.Provider`
built from the same kubeconfig/context, made once per component tree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from operator import itemgetter
from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel

from harvester_network.components.inputs import Lifted, pick
from harvester_network.kube import DEFAULT_TIMEOUT
from harvester_network.model import PlanError, load_plan
from harvester_network.model.plan import Plan
from harvester_network.provider import ObjectSettings

TYPE_PREFIX = "harvester-network:index:"


class ClusterSettings(TypedDict, total=False):
    """Where a component's objects go and how they are handled; every component takes these keywords.

    kubeconfig: contents or path (kept secret); None: $KUBECONFIG or ~/.kube/config, else in-cluster.
    context: the kubeconfig context.
    adopt: take over existing objects hvnet did not create (dynamic resources cannot be `pulumi import`ed).
    wait_for_ready: wait until Harvester reports the objects working (False where nothing reports status).
    timeout: seconds to wait for readiness and deletions.
    k8s_provider: a `kubernetes` provider to share for workload objects; made from kubeconfig/context if None.
    """

    kubeconfig: pulumi.Input[str] | None
    context: pulumi.Input[str] | None
    adopt: bool
    wait_for_ready: bool
    timeout: float
    k8s_provider: k8s.Provider | None


def validated(data: dict[str, Any], source: str) -> Plan:
    """A one-item plan, validated by the plan model (a PlanError lists every problem with its field path)."""
    plan, _warnings = load_plan(data, source)
    return plan


def dumped(model: Any) -> Any:
    """A plan model as plan.yaml data (camelCase keys, JSON types); other values pass through."""
    if isinstance(model, BaseModel):
        return model.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(model, list | tuple):
        return [dumped(item) for item in model]
    return model


class HarvesterComponent(pulumi.ComponentResource):
    def __init__(
        self, type_name: str, resource_name: str, settings: ClusterSettings, opts: pulumi.ResourceOptions | None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}{type_name}", resource_name, None, opts)
        # What the component waits for, its children wait for: the SDK does not pass a component's depends_on on.
        self._inherited_depends_on: Any = opts.depends_on if opts else None
        self._resource_name = resource_name
        self._settings = settings
        self._k8s_provider = settings.get("k8s_provider")

    @property
    def object_settings(self) -> ObjectSettings:
        s = self._settings
        return ObjectSettings(
            kubeconfig=s.get("kubeconfig"),
            context=s.get("context"),
            adopt=s.get("adopt", False),
            wait_for_ready=s.get("wait_for_ready", True),
            timeout=s.get("timeout", DEFAULT_TIMEOUT),
        )

    def child_settings(self, *, with_k8s_provider: bool) -> ClusterSettings:
        """Settings for child components, sharing this component's `kubernetes` provider when they need one."""
        settings = ClusterSettings(**self._settings)
        if with_k8s_provider:
            settings["k8s_provider"] = self.kubernetes_provider()
        return settings

    def child_opts(self, depends_on: Sequence[pulumi.Resource] = (), **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            parent=self, depends_on=_joined_depends_on(self._inherited_depends_on, depends_on), **extra
        )

    def kubernetes_provider(self) -> k8s.Provider:
        """The `kubernetes` provider for workload objects: the shared one, or one made here (once)."""
        if self._k8s_provider is None:
            kubeconfig = self._settings.get("kubeconfig")
            self._k8s_provider = k8s.Provider(
                f"{self._resource_name}-kubernetes",
                kubeconfig=None if kubeconfig is None else pulumi.Output.secret(kubeconfig),
                context=self._settings.get("context"),
                opts=pulumi.ResourceOptions(parent=self),
            )
        return self._k8s_provider

    def workload(
        self, resource_name: str, obj: Lifted[dict[str, Any]], *, kind: str, depends_on: Sequence[pulumi.Resource] = ()
    ) -> pulumi.CustomResource:
        """A rendered workload object as the pulumi-kubernetes resource of its kind, fields passed as rendered."""
        api_version, resource_type, fields = WORKLOAD_KINDS[kind]
        if not isinstance(obj, pulumi.Output):
            unexpected = set(obj) - {"apiVersion", "kind", *fields}
            assert not unexpected, f"{kind} fields {unexpected} have no place in {resource_type.__name__}"
        # pulumi-kubernetes takes top-level fields as snake_case keywords (roleRef -> role_ref).
        args = {_snake_case(field): pick(obj, itemgetter(field)) for field in fields}
        opts = self.child_opts(depends_on, provider=self.kubernetes_provider())
        if resource_type is k8s.apiextensions.CustomResource:
            return k8s.apiextensions.CustomResource(resource_name, api_version, kind, opts=opts, **args)
        resource: pulumi.CustomResource = resource_type(resource_name, opts=opts, **args)
        return resource


# kind -> (apiVersion, pulumi-kubernetes class, top-level fields); every kind render/ makes for workloads.
WORKLOAD_KINDS: dict[str, tuple[str, Any, tuple[str, ...]]] = {
    "VirtualMachine": ("kubevirt.io/v1", k8s.apiextensions.CustomResource, ("metadata", "spec")),
    "Service": ("v1", k8s.core.v1.Service, ("metadata", "spec")),
    "ConfigMap": ("v1", k8s.core.v1.ConfigMap, ("metadata", "data")),
    "Deployment": ("apps/v1", k8s.apps.v1.Deployment, ("metadata", "spec")),
    # The node agent's install (render/agent_install.py), for clusters without Harvester.
    "CustomResourceDefinition": (
        "apiextensions.k8s.io/v1",
        k8s.apiextensions.v1.CustomResourceDefinition,
        ("metadata", "spec"),
    ),
    "Namespace": ("v1", k8s.core.v1.Namespace, ("metadata",)),
    "ServiceAccount": ("v1", k8s.core.v1.ServiceAccount, ("metadata",)),
    "ClusterRole": ("rbac.authorization.k8s.io/v1", k8s.rbac.v1.ClusterRole, ("metadata", "rules")),
    "ClusterRoleBinding": (
        "rbac.authorization.k8s.io/v1",
        k8s.rbac.v1.ClusterRoleBinding,
        ("metadata", "roleRef", "subjects"),
    ),
    "DaemonSet": ("apps/v1", k8s.apps.v1.DaemonSet, ("metadata", "spec")),
    "ValidatingAdmissionPolicy": (
        "admissionregistration.k8s.io/v1",
        k8s.admissionregistration.v1.ValidatingAdmissionPolicy,
        ("metadata", "spec"),
    ),
    "ValidatingAdmissionPolicyBinding": (
        "admissionregistration.k8s.io/v1",
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding,
        ("metadata", "spec"),
    ),
}


def _joined_depends_on(inherited: Any, own: Sequence[pulumi.Resource]) -> Any:
    """`own` plus a depends_on as ResourceOptions takes it: None, a Resource, a list, or an Output of a list."""
    if inherited is None:
        return list(own)
    if isinstance(inherited, pulumi.Resource):
        return [inherited, *own]
    if isinstance(inherited, list | tuple):
        return [*inherited, *own]
    return pulumi.Output.from_input(inherited).apply(lambda resources: [*resources, *own])


def _snake_case(field: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", field).lower()


__all__ = ["ClusterSettings", "HarvesterComponent", "PlanError", "dumped", "validated"]
