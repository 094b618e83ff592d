"""The real dynamic provider host (`python -m pulumi.dynamic`, what the engine's pulumi-resource-pulumi-python
plugin runs) driven over gRPC as the engine drives it, for a NAD: Configure, Check, Create, Read, Diff, Delete.

This proves the provider pickles (dill, by reference), imports in a fresh process, gets its numbers as floats
and its secrets unwrapped, and that its errors reach the engine as messages, not API client tracebacks.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from harvester_network.kube import KubeClient, KubeTarget
from harvester_network.provider import NetworkAttachmentDefinitionProvider
from harvester_network.render import harvester as h
from tests.k8s_api.fixtures import KubeApi

URN = "urn:pulumi:test::hvnet::pulumi-python:dynamic/harvester-network:NetworkAttachmentDefinition::vlan100"
ROUTE = {"mode": "manual", "cidr": "10.100.0.0/24", "gateway": "10.100.0.1"}


@pytest.fixture
def provider_host(tmp_path: Path) -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    """The provider host in its own process and directory, as the engine starts it; it prints its port."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.dynamic"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield provider_pb2_grpc.ResourceProviderStub(channel)
        channel.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


def struct(props: dict[str, Any]) -> struct_pb2.Struct:
    serialized: struct_pb2.Struct = asyncio.run(rpc.serialize_properties(props, {}))
    return serialized


def plain(properties: struct_pb2.Struct) -> dict[str, Any]:
    result: dict[str, Any] = rpc.deserialize_properties(properties)
    return result


def test_nad_through_the_provider_host(
    provider_host: provider_pb2_grpc.ResourceProviderStub, k8s_api: KubeApi, k8s_namespace: str
) -> None:
    k8s_api.install_crds()
    host = provider_host
    host.Configure(provider_pb2.ConfigureRequest(acceptSecrets=True, acceptResources=True))
    pickled = serialize_provider(NetworkAttachmentDefinitionProvider())
    spec = {"name": "vlan100", "namespace": k8s_namespace, "clusterNetwork": "vlan", "vlan": 100, "route": ROUTE}
    news = {**spec, "mtu": 1500, "kubeconfig": k8s_api.kubeconfig_path, "timeout": 10, "__provider": pickled}

    invalid = host.Check(provider_pb2.CheckRequest(urn=URN, olds=struct({}), news=struct({**news, "vlan": 5000})))
    assert [(f.property, f.reason) for f in invalid.failures] == [
        ("vlan", "Input should be less than or equal to 4094")
    ]
    checked = host.Check(provider_pb2.CheckRequest(urn=URN, olds=struct({}), news=struct(news)))
    assert list(checked.failures) == []

    created = host.Create(provider_pb2.CreateRequest(urn=URN, properties=checked.inputs))
    assert created.id == f"NetworkAttachmentDefinition/{k8s_namespace}/vlan100"
    outs = plain(created.properties)
    assert outs["networkName"] == f"{k8s_namespace}/vlan100"
    with KubeClient(KubeTarget.from_kubeconfig(k8s_api.kubeconfig_path)) as kube:
        live = kube.get("NetworkAttachmentDefinition", "vlan100", k8s_namespace)
        assert live is not None and '"vlan":100' in live["spec"]["config"] and '"mtu":1500' in live["spec"]["config"]

        read = host.Read(provider_pb2.ReadRequest(id=created.id, urn=URN, properties=created.properties))
        assert read.id == created.id
        assert plain(read.properties)["object"] == plain(created.properties)["object"]

        same = host.Diff(provider_pb2.DiffRequest(id=created.id, urn=URN, olds=read.properties, news=checked.inputs))
        assert same.changes == provider_pb2.DiffResponse.DIFF_NONE
        moved = host.Diff(
            provider_pb2.DiffRequest(
                id=created.id, urn=URN, olds=read.properties, news=struct({**news, "clusterNetwork": "storage"})
            )
        )
        assert (moved.changes, list(moved.replaces), moved.deleteBeforeReplace) == (
            provider_pb2.DiffResponse.DIFF_SOME,
            ["clusterNetwork"],
            True,
        )

        kube.apply(
            {
                "apiVersion": h.KUBEVIRT_API,
                "kind": "VirtualMachine",
                "metadata": {"name": "web", "namespace": k8s_namespace},
                "spec": {"template": {"spec": {"networks": [{"name": "n", "multus": {"networkName": "vlan100"}}]}}},
            }
        )
        with pytest.raises(grpc.RpcError) as refused:
            host.Delete(provider_pb2.DeleteRequest(id=created.id, urn=URN, properties=created.properties))
        details = refused.value.details()
        assert refused.value.code() == grpc.StatusCode.UNKNOWN
        assert details.rstrip().endswith(
            f"ProviderError: delete NetworkAttachmentDefinition {k8s_namespace}/vlan100: Harvester refuses while it "
            f"is in use:\n  - VM {k8s_namespace}/web lists it in its networks\n"
            "remove or detach those first, then run the deletion again"
        )
        kube.delete_and_wait("VirtualMachine", "web", k8s_namespace, timeout=10)
        host.Delete(provider_pb2.DeleteRequest(id=created.id, urn=URN, properties=created.properties))
        assert kube.get("NetworkAttachmentDefinition", "vlan100", k8s_namespace) is None

    gone = host.Read(provider_pb2.ReadRequest(id=created.id, urn=URN, properties=created.properties))
    assert gone.id == ""


def test_api_errors_reach_the_engine_as_messages(
    provider_host: provider_pb2_grpc.ResourceProviderStub, k8s_api: KubeApi
) -> None:
    k8s_api.install_crds()
    provider_host.Configure(provider_pb2.ConfigureRequest(acceptSecrets=True))
    props = {
        "name": "vlan100",
        "namespace": "no-such-namespace",
        "clusterNetwork": "vlan",
        "vlan": 100,
        "kubeconfig": k8s_api.kubeconfig_path,
        "__provider": serialize_provider(NetworkAttachmentDefinitionProvider()),
    }
    with pytest.raises(grpc.RpcError) as failed:
        provider_host.Create(provider_pb2.CreateRequest(urn=URN, properties=struct(props)))
    last_line = failed.value.details().rstrip().splitlines()[-1]
    assert last_line == (
        "harvester_network.kube.errors.KubeError: apply NetworkAttachmentDefinition no-such-namespace/vlan100: "
        'namespaces "no-such-namespace" not found (NotFound, HTTP 404)'
    )
    assert "ApiException" not in failed.value.details()
