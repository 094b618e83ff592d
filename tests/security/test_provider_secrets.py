"""Marker secrets in the `kubeconfig` input of every dynamic provider (each method, called directly and through
the real provider host over gRPC) and of the components under Pulumi mocks: no error, traceback, log line or
plain (non-secret) state value holds them."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from harvester_network.components import HarvesterNetworking
from harvester_network.components.stack import build_stack
from harvester_network.model import load_plan_file
from harvester_network.provider import (
    ClusterNetworkProvider,
    IPPoolProvider,
    NetworkAttachmentDefinitionProvider,
    ObjectProvider,
    VlanConfigProvider,
)
from tests.provider.test_check import DHCP, ROUTE
from tests.provider.test_grpc_host import URN, provider_host, struct  # noqa: F401 (a fixture)
from tests.pulumi.harness import SECRET_SIG, Recording, run_program
from tests.security.markers import MALFORMED_KUBECONFIGS, MARKERS, leaked

# Each provider with inputs that pass its check: only the kubeconfig is wrong.
PROVIDERS: dict[str, tuple[ObjectProvider, dict[str, Any]]] = {
    "ClusterNetwork": (ClusterNetworkProvider(), {"name": "vlan"}),
    "VlanConfig": (VlanConfigProvider(), {"clusterNetwork": "vlan", "uplink": {"nics": ["eth1"]}}),
    "NetworkAttachmentDefinition": (
        NetworkAttachmentDefinitionProvider(),
        {"name": "vlan100", "namespace": "default", "clusterNetwork": "vlan", "vlan": 100, "route": ROUTE},
    ),
    "IPPool": (IPPoolProvider(), {"name": "vlan100", "namespace": "default", "route": ROUTE, "dhcpServer": DHCP}),
}
CASES = sorted(MALFORMED_KUBECONFIGS)


def _failure_text(call: Callable[[], object]) -> str:
    """What the engine would print of the call: its result, or the exception with its traceback."""
    try:
        return repr(call())
    except Exception:  # every failure is looked at
        return traceback.format_exc()


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", sorted(PROVIDERS))
def test_provider_methods_never_show_the_kubeconfig(
    kind: str, case: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    provider, spec = PROVIDERS[kind]
    caplog.set_level(logging.DEBUG)
    news = {**spec, "kubeconfig": MALFORMED_KUBECONFIGS[case][0], "timeout": 1, "waitForReady": False}
    olds = {**news, "kubeconfig": "/nonexistent/old-kubeconfig"}
    checked = provider.check({}, news)
    assert checked.failures == [], [(f.property, f.reason) for f in checked.failures]
    identity = provider.desired(news)["metadata"]
    id_ = "/".join([kind, *([identity["namespace"]] if "namespace" in identity else []), identity["name"]])
    texts = [
        _failure_text(call)
        for call in (
            lambda: provider.diff(id_, olds, news),
            lambda: provider.create(news),
            lambda: provider.read(id_, news),
            lambda: provider.update(id_, olds, news),
            lambda: provider.delete(id_, news),
        )
    ]
    assert "InvalidKubeconfig" in texts[1] or case == "an exec plugin whose command holds the token"
    out, err = capfd.readouterr()
    assert leaked(*texts, caplog.text, out, err) == []


def test_a_kubeconfig_that_is_no_string_is_a_check_failure() -> None:
    provider, spec = PROVIDERS["ClusterNetwork"]
    failures = provider.check({}, {**spec, "kubeconfig": {"token": MARKERS[0]}}).failures
    assert [(f.property, f.reason) for f in failures] == [
        ("kubeconfig", "must be a string: a kubeconfig file's contents or its path")
    ]


@pytest.mark.parametrize("case", ["unclosed flow mapping on the token's line", "a cluster without a server"])
def test_the_provider_host_sends_the_engine_no_kubeconfig_text(
    provider_host: provider_pb2_grpc.ResourceProviderStub,  # noqa: F811
    case: str,
) -> None:
    """The real host, as the engine runs it: its failures travel as tracebacks in gRPC details."""
    provider, spec = PROVIDERS["NetworkAttachmentDefinition"]
    provider_host.Configure(provider_pb2.ConfigureRequest(acceptSecrets=True, acceptResources=True))
    props = {**spec, "kubeconfig": MALFORMED_KUBECONFIGS[case][0], "__provider": serialize_provider(provider)}
    checked = provider_host.Check(provider_pb2.CheckRequest(urn=URN, olds=struct({}), news=struct(props)))
    assert list(checked.failures) == []
    details = []
    for request in (
        lambda: provider_host.Create(provider_pb2.CreateRequest(urn=URN, properties=checked.inputs)),
        lambda: provider_host.Read(provider_pb2.ReadRequest(id="x", urn=URN, properties=checked.inputs)),
        lambda: provider_host.Delete(
            provider_pb2.DeleteRequest(
                id="NetworkAttachmentDefinition/default/vlan100", urn=URN, properties=checked.inputs
            )
        ),
    ):
        with pytest.raises(grpc.RpcError) as failed:
            request()
        details.append(failed.value.details())
    assert all("InvalidKubeconfig" in d for d in details)
    assert leaked(*details) == []


QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "plan.yaml"


def _plain_values(value: Any) -> list[str]:
    """Every string in serialized properties outside a secret wrapper."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return []
        return [s for item in value.values() for s in _plain_values(item)]
    if isinstance(value, list):
        return [s for item in value for s in _plain_values(item)]
    return [value] if isinstance(value, str) else []


KUBECONFIG = MALFORMED_KUBECONFIGS["no current context"][0]  # contents are never loaded under mocks


def _from_the_component() -> Recording:
    plan = load_plan_file(QUICKSTART)[0]
    return run_program(lambda: HarvesterNetworking("qs", plan=plan, kubeconfig=KUBECONFIG, install_agent=True))


def _from_the_stack_config() -> Recording:
    plan = yaml.safe_load(QUICKSTART.read_text())
    clusters = [{"name": "site", "kubeconfig": KUBECONFIG, "installAgent": True, "plan": plan}]
    return run_program(build_stack, config={"harvester-network:clusters": clusters})


@pytest.mark.parametrize("program", [_from_the_component, _from_the_stack_config])
def test_components_keep_the_kubeconfig_secret_in_the_state(program: Callable[[], Recording]) -> None:
    """Every resource HarvesterNetworking registers (agent install, kubernetes provider, dynamic resources): the
    kubeconfig reaches them only as a secret, and outputs that echo it are declared secret."""
    recording = program()
    holders = [r for r in recording.registrations if "kubeconfig" in r.inputs]
    assert {r.type.split(":")[0] for r in holders} >= {"pulumi", "pulumi-python"}  # the k8s provider, dynamic ones
    assert all(r.is_secret("kubeconfig") for r in holders)
    dynamic = [r for r in holders if r.kind is not None]
    assert dynamic and all("kubeconfig" in r.additional_secret_outputs for r in dynamic)
    assert leaked(*(s for r in recording.registrations for s in _plain_values(r.inputs))) == []
