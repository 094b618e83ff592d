"""The real node agent, one per node namespace: `ip netns exec hvt-<node> hvnet agent --from-dir ...`.

The lab never makes node bridges, bonds or trunks itself: only the agent does, from the rendered objects.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from harvester_network.lab import netns as ns
from harvester_network.lab.topology import LabNodeSpec
from harvester_network.lab.workdir import Workdir
from harvester_network.model import names

CONVERGE_TIMEOUT_S = 90.0  # Python starts slowly in the lab kernel (about 3 s per agent)


def hvnet_executable() -> str:
    """The `hvnet` script next to this interpreter, by full path (PATH shims cost seconds in the lab kernel)."""
    candidate = Path(sys.executable).with_name("hvnet")
    if not candidate.exists():
        raise ns.LabError(f"{candidate} is missing; install the project (`make setup`) to get the hvnet command")
    return str(candidate)


def write_node_file(node: LabNodeSpec, workdir: Workdir) -> Path:
    """The Kubernetes Node the agent runs on: its name and hostname label (what nodeSelectors match)."""
    path = workdir.node_file(node.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"name": node.name, "labels": {names.HOSTNAME_LABEL: node.name}}))
    return path


def agent_argv(node: LabNodeSpec, workdir: Workdir, once: bool) -> list[str]:
    argv = [
        hvnet_executable(),
        "agent",
        "--from-dir",
        str(workdir.objects),
        "--node",
        node.name,
        "--node-file",
        str(write_node_file(node, workdir)),
        "--status-dir",
        str(workdir.status(node.name)),
    ]
    return ns.in_netns(node.netns, [*argv, "--once"] if once else argv)


def start_agent(node: LabNodeSpec, workdir: Workdir, once: bool = False) -> subprocess.Popen[bytes]:
    """Start the node's agent with an empty status directory: `wait_converged` then reads only what this
    agent wrote (a previous agent's 'ready' says nothing about this one)."""
    shutil.rmtree(workdir.status(node.name), ignore_errors=True)
    workdir.status(node.name).mkdir(parents=True)
    log = workdir.log(f"agent-{node.name}").open("ab")
    return subprocess.Popen(agent_argv(node, workdir, once), stdout=log, stderr=subprocess.STDOUT)


def vlan_statuses(workdir: Workdir, node: str) -> list[dict[str, Any]]:
    statuses = []
    for path in sorted(workdir.status(node).glob("*.yaml")):
        loaded = yaml.safe_load(path.read_text())
        if isinstance(loaded, dict):
            statuses.append(loaded)
    return statuses


def ready_cluster_networks(workdir: Workdir, node: str) -> dict[str, tuple[bool, str]]:
    """{cluster network: (ready, message)} from the VlanStatus files the node's agent wrote."""
    out = {}
    for status in vlan_statuses(workdir, node):
        body = status.get("status", {})
        ready: dict[str, Any] = next((c for c in body.get("conditions", []) if c.get("type") == "ready"), {})
        out[body.get("clusterNetwork", "?")] = (ready.get("status") == "True", ready.get("message", ""))
    return out


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def wait_converged(
    node: LabNodeSpec, workdir: Workdir, cluster_networks: list[str], agent: subprocess.Popen[bytes]
) -> None:
    """Until the agent reports every cluster network ready on the node; raise with its status and log if not."""

    def done() -> bool:
        # The agent writes a status after each pass: a not-ready one carries the error, and is the answer.
        reported = ready_cluster_networks(workdir, node.name)
        return all(cn in reported for cn in cluster_networks) or agent.poll() not in (None, 0)

    wait_until(done, CONVERGE_TIMEOUT_S)
    ready = ready_cluster_networks(workdir, node.name)
    missing = {
        cn: ready.get(cn, (False, "no VlanStatus written"))[1]
        for cn in cluster_networks
        if not ready.get(cn, (False, ""))[0]
    }
    if missing:
        log = workdir.log(f"agent-{node.name}")
        tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
        state = f"exited with status {agent.returncode}" if agent.poll() is not None else "still running"
        raise ns.LabError(
            f"agent on {node.name} ({state}) did not report ready for "
            + ", ".join(f"{cn} ({msg or 'not ready'})" for cn, msg in missing.items())
            + f"; its log {log}:\n{tail}"
        )
