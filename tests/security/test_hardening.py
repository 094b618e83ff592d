"""The agent's install as the Pod Security Standards see it, and its metrics/health listener: loopback unless a
scrape address is asked for (CLI, render, component, stack)."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from harvester_network.agent.metrics import AgentMetrics, serve_metrics
from harvester_network.cli import app
from harvester_network.components import HarvesterNetworking
from harvester_network.model import load_plan_file
from harvester_network.render.agent_install import (
    AGENT_NAMESPACE,
    DEFAULT_METRICS_ADDRESS,
    agent_install_objects,
    cluster_role,
    daemon_set,
    listen_address,
    namespace,
)
from tests.pulumi.harness import run_program

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "plan.yaml"
# Capabilities the restricted profile lets a container add.
RESTRICTED_ADDS = {"NET_BIND_SERVICE"}


def restricted_violations(pod: dict[str, Any]) -> set[str]:
    """The checks of the Pod Security Standards' baseline and restricted profiles
    (kubernetes.io/docs/concepts/security/pod-security-standards) this pod fails, one name each."""
    found = set()
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        found.add("host namespaces")
    if any("hostPath" in v for v in pod.get("volumes", [])):
        found.add("hostPath volumes")
    pod_context = pod.get("securityContext", {})
    for container in pod["containers"]:
        context = {**pod_context, **container.get("securityContext", {})}
        if context.get("privileged"):
            found.add("privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            found.add("privilege escalation")
        if context.get("runAsNonRoot") is not True or context.get("runAsUser") == 0:
            found.add("running as non-root")
        if context.get("seccompProfile", {}).get("type") not in ("RuntimeDefault", "Localhost"):
            found.add("seccomp")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []) or set(capabilities.get("add", [])) - RESTRICTED_ADDS:
            found.add("capabilities")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if container.get(probe, {}).get("httpGet", {}).get("host"):
                found.add("probe host")
    return found


def test_the_agent_deviates_from_restricted_only_where_its_job_needs_it() -> None:
    """Each deviation is commented in render/agent_install.py and listed in docs/security.md."""
    assert restricted_violations(daemon_set()["spec"]["template"]["spec"]) == {
        "host namespaces",  # hostNetwork: it configures the node's links
        "hostPath volumes",  # intent records that outlive the pod
        "running as non-root",  # netlink needs the capabilities effective, which Kubernetes gives root only
        "capabilities",  # NET_ADMIN, NET_RAW
        "probe host",  # 127.0.0.1: the listener is on loopback only
    }


def test_the_agent_container_is_locked_down() -> None:
    pod = daemon_set()["spec"]["template"]["spec"]
    [container] = pod["containers"]
    context = container["securityContext"]
    assert context["capabilities"] == {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW"]}
    assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "privileged" not in context
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"/var/lib/hvnet", "/tmp"}  # nothing else is writable
    assert pod["priorityClassName"] == "system-node-critical"


def test_the_namespace_states_its_pod_security_level() -> None:
    labels = namespace()["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "baseline"
    assert next(o for o in agent_install_objects() if o["kind"] == "Namespace") == namespace()
    assert namespace()["metadata"]["name"] == AGENT_NAMESPACE


def test_rbac_has_no_update_and_nothing_it_does_not_use() -> None:
    rules = cluster_role()["rules"]
    verbs = {(g, r): set(rule["verbs"]) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]}
    assert not any("update" in v or "*" in v for v in verbs.values())
    assert verbs[("", "nodes")] == {"get", "list", "watch", "patch"}
    assert verbs[("network.harvesterhci.io", "vlanstatuses/status")] == {"patch"}
    assert verbs[("network.harvesterhci.io", "clusternetworks/status")] == {"patch"}


# --- metrics and health ------------------------------------------------------------------------------------------


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]
    return container


def test_metrics_listen_on_loopback_by_default_and_the_probe_follows() -> None:
    container = _container(daemon_set())
    assert container["args"][-2:] == ["--metrics-addr", DEFAULT_METRICS_ADDRESS] and DEFAULT_METRICS_ADDRESS.startswith(
        "127."
    )
    assert container["livenessProbe"]["httpGet"] == {"host": "127.0.0.1", "path": "/healthz", "port": 9464}
    assert "ports" not in container  # nothing to scrape from outside


def test_a_scrape_address_opens_the_port() -> None:
    container = _container(daemon_set(metrics_address="0.0.0.0:9100"))
    assert container["args"][-1] == "0.0.0.0:9100"
    assert container["ports"] == [{"name": "metrics", "containerPort": 9100}]
    assert container["livenessProbe"]["httpGet"]["port"] == 9100


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("127.0.0.1:9464", ("127.0.0.1", 9464)), (":9464", ("127.0.0.1", 9464)), ("0.0.0.0:80", ("0.0.0.0", 80))],
)
def test_listen_addresses(value: str, parsed: tuple[str, int]) -> None:
    assert listen_address(value) == parsed


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9464", "is not HOST:PORT"),
        ("node1:9464", "'node1' is not an IPv4 address"),
        ("[::1]:9464", "'[::1]' is not an IPv4 address"),
        ("0.0.0.0:70000", "port of 0-65535"),
    ],
)
def test_bad_listen_addresses_say_why(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        listen_address(value)
    result = CliRunner().invoke(app, ["agent", "--node", "n1", "--metrics-addr", value])
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())


def test_a_portless_host_serves_on_loopback_only() -> None:
    server = serve_metrics(AgentMetrics(), ":0", max_age_s=60)
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert b"hvnet_agent_reconciles" in response.read()
    finally:
        server.shutdown()


def test_render_and_the_component_take_a_scrape_address() -> None:
    result = CliRunner().invoke(
        app, ["render", str(QUICKSTART), "--install-agent", "--agent-metrics-addr", "0.0.0.0:9100"]
    )
    assert result.exit_code == 0, result.output
    [ds] = [d for d in yaml.safe_load_all(result.stdout) if d["kind"] == "DaemonSet"]
    assert _container(ds)["args"][-1] == "0.0.0.0:9100"
    refused = CliRunner().invoke(app, ["render", str(QUICKSTART), "--install-agent", "--agent-metrics-addr", "x"])
    assert refused.exit_code == 2

    plan = load_plan_file(QUICKSTART)[0]
    recording = run_program(
        lambda: HarvesterNetworking("qs", plan=plan, install_agent=True, agent_metrics_address="0.0.0.0:9100")
    )
    [made] = [r for r in recording.registrations if r.type == "kubernetes:apps/v1:DaemonSet"]
    assert _container(made.inputs)["args"][-1] == "0.0.0.0:9100"


def test_an_address_the_host_does_not_have_is_an_error_before_the_agent_starts(tmp_path: Path) -> None:
    """192.0.2.0/24 is TEST-NET-1: never a host's address, so the bind fails before any link is looked at."""
    argv = ["agent", "--node", "n1", "--from-dir", str(tmp_path), "--metrics-addr", "192.0.2.77:9464"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
    assert "cannot listen on 192.0.2.77:9464" in " ".join(result.output.replace("│", " ").split())
