"""What every dynamic resource's registration shares (`registration()`): connection and behaviour inputs, the
secret kubeconfig, and the computed outputs declared so Pulumi exposes them as attributes."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from typing import Any

import pulumi
import pulumi.dynamic
from pulumi.dynamic.dynamic import PROVIDER_KEY, serialize_provider

from harvester_network.kube import DEFAULT_TIMEOUT
from harvester_network.provider.base import ObjectProvider


@dataclass(frozen=True)
class ObjectSettings:
    """Where the object goes and how the provider treats it.

    kubeconfig: contents or path (stored as a secret); None uses $KUBECONFIG / ~/.kube/config, else in-cluster.
    adopt: take over an existing object hvnet did not create (dynamic resources cannot be `pulumi import`ed).
    wait_for_ready: wait until Harvester reports the object working (off for clusters where nothing reports).
    timeout: seconds to wait for readiness and for deletions.
    """

    kubeconfig: pulumi.Input[str] | None = None
    context: pulumi.Input[str] | None = None
    adopt: bool = False
    wait_for_ready: bool = True
    timeout: float = DEFAULT_TIMEOUT

    def inputs(self) -> dict[str, Any]:
        """The inputs that differ from the defaults (every input costs the program time; see
        benchmarks/RESULTS.md): the provider reads a missing one as its default."""
        inputs: dict[str, Any] = {}
        if self.kubeconfig is not None:
            inputs["kubeconfig"] = pulumi.Output.secret(self.kubeconfig)
        if self.context is not None:
            inputs["context"] = self.context
        if self.adopt:
            inputs["adopt"] = True
        if not self.wait_for_ready:
            inputs["waitForReady"] = False
        if self.timeout != DEFAULT_TIMEOUT:
            inputs["timeout"] = self.timeout
        return inputs


class HarvesterObject(pulumi.dynamic.Resource):
    """Base of the per-kind dynamic resources; never used directly (each subclass has its own type name).

    Besides the inputs and the kind's computed outputs, the state holds `object`: the live values of the
    fields hvnet applies, as the last create/update/refresh saw them (what drift detection compares).

    A kind's constructor passes `registration(...)` to pulumi.CustomResource.__init__ itself. The SDK takes a
    resource's source position from the caller of the third `__init__` up the stack (Resource's, CustomResource's,
    the kind's): a constructor here in between would place every resource in the kind's module, not where it was
    declared, and make the stack trace the SDK records for each resource one frame deeper.
    """

    def registration(
        self,
        provider: ObjectProvider,
        resource_name: str,
        spec: dict[str, Any],
        settings: ObjectSettings | None,
        opts: pulumi.ResourceOptions | None,
    ) -> tuple[str, str, dict[str, Any], pulumi.ResourceOptions]:
        """pulumi.CustomResource.__init__'s arguments for a resource of this kind."""
        props = {
            **{key: value for key, value in spec.items() if value is not None},
            **(settings or ObjectSettings()).inputs(),
            # Declared, so Pulumi gives the resource these attributes.
            **dict.fromkeys(provider.cluster_outputs),
        }
        props[PROVIDER_KEY] = serialized_provider(type(provider))
        # The engine keeps the kubeconfig secret in outputs too (the provider host hands it back in plain). Set on a
        # copy of the options: ResourceOptions.merge would copy both sides and re-merge every option, per resource.
        opts = copy.copy(opts) if opts is not None else pulumi.ResourceOptions()
        opts.additional_secret_outputs = [*(opts.additional_secret_outputs or ()), "kubeconfig"]
        # What pulumi.dynamic.Resource.__init__ does, with the provider pickled once per kind instead of once per
        # resource: the SDK's pickling wraps pickle's dict writer anew on every call, which costs time and, after
        # about a thousand resources, makes any stateful dynamic provider in the program fail with RecursionError.
        return f"pulumi-python:{self._resource_type_name}", resource_name, props, opts


@cache
def serialized_provider(provider_class: type[ObjectProvider]) -> str:
    """The pickled provider the provider host loads (by reference: the class is importable, the object holds
    no data), made once per class."""
    return serialize_provider(provider_class())
