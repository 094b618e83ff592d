"""Shared pieces of the contract tests: API clients, a test-only CRD (`Widget`), cleanup of cluster-scoped objects.

Every object is uniquely named and removed afterwards, so the suite also runs against a real cluster
(HVNET_TEST_KUBECONFIG). The Widget CRD stays installed on a real cluster only until the session ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.k8s_api.contract import MERGE, WIDGET_CRD, Widgets
from tests.k8s_api.fixtures import KubeApi, apply_crds, real_cluster_kubeconfig


@pytest.fixture
def api_client(k8s_api: KubeApi) -> client.ApiClient:
    return k8s_api.api_client()


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def dynamic(k8s_api: KubeApi) -> Any:
    return k8s_api.dynamic_client()


@pytest.fixture
def custom(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


@pytest.fixture(scope="session")
def _widget_crd_cleanup() -> Iterator[list[client.ApiClient]]:
    """On a real cluster, remove the Widget CRD once the session is over."""
    installed_on: list[client.ApiClient] = []
    yield installed_on
    if real_cluster_kubeconfig():
        for api in installed_on[:1]:
            try:
                client.ApiextensionsV1Api(api).delete_custom_resource_definition(WIDGET_CRD["metadata"]["name"])
            except ApiException as error:
                if error.status != 404:
                    raise


@pytest.fixture
def widgets(
    k8s_api: KubeApi,
    k8s_namespace: str,
    custom: client.CustomObjectsApi,
    _widget_crd_cleanup: list[client.ApiClient],
) -> Widgets:
    apply_crds(k8s_api.api_client(), [WIDGET_CRD])
    _widget_crd_cleanup.append(k8s_api.api_client())
    return Widgets(custom, k8s_namespace)


@pytest.fixture
def product_crds(k8s_api: KubeApi) -> None:
    k8s_api.install_crds()


@pytest.fixture
def cluster_scoped(custom: client.CustomObjectsApi) -> Iterator[list[tuple[str, str, str, str]]]:
    """Register (group, version, plural, name) of cluster-scoped custom objects to delete after the test."""
    created: list[tuple[str, str, str, str]] = []
    yield created
    for group, version, plural, name in created:
        try:
            custom.patch_cluster_custom_object(
                group, version, plural, name, {"metadata": {"finalizers": None}}, _content_type=MERGE
            )
            custom.delete_cluster_custom_object(group, version, plural, name)
        except ApiException as error:
            if error.status != 404:
                raise
