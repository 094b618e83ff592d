"""Fixtures of the provider tests: a connection to the test cluster and a cluster network to put NADs on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from harvester_network.kube import KubeClient, KubeTarget
from harvester_network.provider import ClusterNetworkProvider
from harvester_network.render import harvester as h
from tests.k8s_api.fixtures import KubeApi


@pytest.fixture
def connection(k8s_api: KubeApi) -> dict[str, Any]:
    """Provider inputs that reach the test cluster, with short waits."""
    k8s_api.install_crds()
    return {"kubeconfig": k8s_api.kubeconfig_path, "timeout": 5}


@pytest.fixture
def kube(k8s_api: KubeApi) -> Any:
    with KubeClient(KubeTarget.from_kubeconfig(k8s_api.kubeconfig_path)) as connected:
        yield connected


@pytest.fixture
def cn_name() -> str:
    """A cluster network name of its own (at most 12 characters), so real clusters see no collisions."""
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def cluster_network(connection: dict[str, Any], kube: KubeClient, cn_name: str) -> Iterator[str]:
    """A ClusterNetwork for NADs to live on (Harvester refuses NADs of one that does not exist), and afterwards
    its NADs and itself gone again."""
    provider = ClusterNetworkProvider()
    created = provider.create({"name": cn_name, **connection})
    yield cn_name
    for nad in kube.list_objects("NetworkAttachmentDefinition", labels={h.LABEL_CLUSTER_NETWORK: cn_name}):
        kube.delete_and_wait("NetworkAttachmentDefinition", nad["metadata"]["name"], nad["metadata"]["namespace"])
    provider.delete(created.id, created.outs or {})
