"""pytest fixtures for the test API server (registered by tests/conftest.py).

- `k8s_api`: a handle on a Kubernetes API for one test: a fresh in-process server (starts in a few ms), or the
  real cluster named by HVNET_TEST_KUBECONFIG. `.kubeconfig_path`, `.api_client()`, `.dynamic_client()`,
  `.faults` (None against a real cluster), `.install_crds()`.
- `k8s_server`: the in-process server itself (skips against a real cluster).
- `k8s_faults`: its fault-injection handle (skips against a real cluster).
- `k8s_namespace`: a uniquely named namespace, deleted after the test.
- `harvester_api`: a `k8s_api` whose server is a Harvester (tests/k8s_api/harvester): upstream CRDs, Harvester's
  network webhooks and controllers, nodes `node1` and `node2`; `.harvester` (a HarvesterMode), `.settle()`.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from tests.k8s_api.faults import Faults
from tests.k8s_api.harvester.mode import HarvesterMode
from tests.k8s_api.server import TestApiServer

REAL_CLUSTER_ENV = "HVNET_TEST_KUBECONFIG"
NEEDS_TEST_SERVER = f"needs the in-process test API server ({REAL_CLUSTER_ENV} points at a real cluster)"
T = TypeVar("T")


def real_cluster_kubeconfig() -> str | None:
    return os.environ.get(REAL_CLUSTER_ENV) or None


def eventually(check: Callable[[], T | None], *, timeout: float = 30.0, what: str = "condition") -> T:
    """Poll `check` until it returns something truthy (controllers act asynchronously, here as on a real cluster)."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def apply_crds(api_client: client.ApiClient, crds: list[dict[str, Any]], *, timeout: float = 60.0) -> None:
    """Create the CRDs that are missing (an existing one is left alone, so a real Harvester's own CRDs are never
    overwritten) and wait until every one is Established."""
    extensions: Any = client.ApiextensionsV1Api(api_client)
    for crd in crds:
        try:
            extensions.create_custom_resource_definition(crd)
        except ApiException as error:
            if error.status != 409:
                raise
    for crd in crds:
        name = crd["metadata"]["name"]

        def established(crd_name: str = name) -> bool:
            status = extensions.read_custom_resource_definition(crd_name).status
            conditions = (status.conditions if status else None) or []
            return any(c.type == "Established" and c.status == "True" for c in conditions)

        eventually(established, timeout=timeout, what=f"CRD {name} to be Established")


@dataclass
class KubeApi:
    """One test's Kubernetes API."""

    kubeconfig_path: str
    faults: Faults | None
    server: TestApiServer | None
    discovery_cache: str

    @property
    def is_real_cluster(self) -> bool:
        return self.server is None

    def api_client(self) -> client.ApiClient:
        return config.new_client_from_config(config_file=self.kubeconfig_path)

    def dynamic_client(self) -> DynamicClient:
        """A DynamicClient with a discovery cache of its own (the default one is shared by host:port in /tmp)."""
        return DynamicClient(self.api_client(), cache_file=self.discovery_cache)

    def install_crds(self) -> None:
        """hvnet's CRDs (harvester_network.render.crds): idempotent, waits until Established."""
        from harvester_network.render.crds import custom_resource_definitions

        apply_crds(self.api_client(), custom_resource_definitions())


@dataclass
class HarvesterApi(KubeApi):
    """A KubeApi on a server in Harvester mode."""

    harvester: HarvesterMode | None = None

    def settle(self) -> None:
        """Wait until Harvester's emulated controllers have written all they will (call after each change)."""
        assert self.harvester is not None
        self.harvester.settle()


HARVESTER_NODES = ("node1", "node2")


@pytest.fixture
def harvester_api(k8s_server: TestApiServer, tmp_path: Path) -> HarvesterApi:
    harvester = HarvesterMode(k8s_server).install()
    for node in HARVESTER_NODES:
        harvester.add_node(node)
    path = k8s_server.write_kubeconfig(tmp_path / "kubeconfig")
    return HarvesterApi(path, k8s_server.faults, k8s_server, str(tmp_path / "discovery-cache.json"), harvester)


@pytest.fixture
def k8s_server() -> Iterator[TestApiServer]:
    if real_cluster_kubeconfig():
        pytest.skip(NEEDS_TEST_SERVER)
    server = TestApiServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def k8s_api(request: pytest.FixtureRequest, tmp_path: Path) -> KubeApi:
    cache = str(tmp_path / "discovery-cache.json")
    real = real_cluster_kubeconfig()
    if real:
        return KubeApi(real, None, None, cache)
    server: TestApiServer = request.getfixturevalue("k8s_server")
    path = server.write_kubeconfig(tmp_path / "kubeconfig")
    return KubeApi(path, server.faults, server, cache)


@pytest.fixture
def k8s_faults(k8s_api: KubeApi) -> Faults:
    if k8s_api.faults is None:
        pytest.skip(NEEDS_TEST_SERVER)
    return k8s_api.faults


@pytest.fixture
def k8s_namespace(k8s_api: KubeApi) -> Iterator[str]:
    core: Any = client.CoreV1Api(k8s_api.api_client())
    name = f"hvnet-test-{uuid.uuid4().hex[:10]}"
    core.create_namespace({"metadata": {"name": name}})
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name)
        except ApiException as error:
            if error.status != 404:
                raise
