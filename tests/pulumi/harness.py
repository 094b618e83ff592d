"""Run a Pulumi program under `pulumi.runtime.set_mocks` and record every registered resource.

Mocks are global state: `run_program` installs fresh ones (and the given stack config) on every call.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from harvester_network import provider
from harvester_network.provider.base import ObjectProvider
from harvester_network.render import object_key, render_plan

DYNAMIC_PREFIX = "pulumi-python:dynamic/harvester-network:"
SECRET_SIG = rpc._special_sig_key  # the key that marks a secret in serialized properties
PROVIDERS: dict[str, ObjectProvider] = {
    "ClusterNetwork": provider.ClusterNetworkProvider(),
    "VlanConfig": provider.VlanConfigProvider(),
    "NetworkAttachmentDefinition": provider.NetworkAttachmentDefinitionProvider(),
    "IPPool": provider.IPPoolProvider(),
}


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    parent: str
    inputs: dict[str, Any]  # secrets still wrapped, see `is_secret`
    dependencies: list[str]
    additional_secret_outputs: list[str]
    provider: str
    source_position: str = ""  # <file URI>:<line> of the code the SDK took as declaring the resource

    def is_secret(self, key: str) -> bool:
        value = self.inputs.get(key)
        return isinstance(value, dict) and SECRET_SIG in value and "value" in value

    def plain(self, key: str) -> Any:
        value: Any = self.inputs.get(key)
        return value["value"] if self.is_secret(key) else value

    @property
    def kind(self) -> str | None:
        """The Harvester kind of a dynamic resource."""
        return self.type.removeprefix(DYNAMIC_PREFIX) if self.type.startswith(DYNAMIC_PREFIX) else None

    def rendered_object(self) -> dict[str, Any] | None:
        """The Kubernetes object this resource makes: rendered by its provider from its inputs (dynamic resources),
        or its inputs as given (pulumi-kubernetes resources). None for other resources."""
        if self.kind is not None:
            return PROVIDERS[self.kind].desired({k: self.plain(k) for k in self.inputs})
        if self.type.startswith("kubernetes:") and not self.type.startswith("pulumi:providers"):
            return json.loads(json.dumps({k: self.plain(k) for k in self.inputs}), parse_float=_number)
        return None


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


@dataclass
class Recording:
    registrations: list[Registration] = field(default_factory=list)
    resources: int = 0  # custom resources the mocks were asked for

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def by_name(self, type_: str, name: str) -> Registration:
        (found,) = [r for r in self.registrations if r.type == type_ and r.name == name]
        return found

    def children(self, parent: Registration) -> list[Registration]:
        return [r for r in self.registrations if r.parent == parent.urn]

    def objects(self, prefix: str = "") -> dict[str, dict[str, Any]]:
        """Every Kubernetes object the program makes (of resources named `<prefix>...`), by render's object key."""
        made = [
            obj for r in self.registrations if r.name.startswith(prefix) and (obj := r.rendered_object()) is not None
        ]
        keyed = {object_key(obj): obj for obj in made}
        assert len(keyed) == len(made), "two resources make the same object"
        return keyed


def rendered(plan: Any) -> dict[str, dict[str, Any]]:
    """What `hvnet render` makes for a plan, by object key."""
    return {object_key(obj): obj for obj in render_plan(plan)}


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self, recording: Recording) -> None:
        self.recording = recording

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.recording.resources += 1
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


class _RecordingMonitor(MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks, recording: Recording) -> None:
        super().__init__(mocks)
        self.recording = recording

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.recording.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    inputs=rpc.deserialize_properties(request.object),
                    dependencies=list(request.dependencies),
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                    provider=request.provider,
                    source_position=f"{request.sourcePosition.uri}:{request.sourcePosition.line}",
                )
            )
        return response


_program_loop: asyncio.AbstractEventLoop | None = None


def run_program(
    program: Callable[[], Any], *, config: dict[str, Any] | None = None, preview: bool = False, record: bool = True
) -> Recording:
    """Run `program` under fresh mocks with `config` (`{"harvester-network:plan": {...}}`, values as the stack file
    holds them) and return what it registered (nothing with record=False, which adds no work to the program)."""
    # The SDK builds its futures on the thread's current event loop; asyncio.run() elsewhere in the same process
    # (the gRPC host test) leaves none behind, so each program gets a loop of its own (the last one is closed:
    # recordings hold plain data, nothing of a finished program runs on its loop).
    global _program_loop
    if _program_loop is not None:
        _program_loop.close()
    _program_loop = asyncio.new_event_loop()
    asyncio.set_event_loop(_program_loop)
    recording = Recording()
    mocks = _Mocks(recording)
    monitor = _RecordingMonitor(mocks, recording) if record else MockMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(
        {key: value if isinstance(value, str) else json.dumps(value) for key, value in (config or {}).items()}
    )

    @pulumi.runtime.test
    def run() -> None:
        program()

    run()
    return recording
