"""`hvnet agent`: the node agent (see harvester_network/agent/)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

# The agent's defaults come from facts.py: the agent modules (and pyroute2, slow to import) load only when
# `hvnet agent` runs, so `hvnet validate` and friends start fast.
from harvester_network.facts import AGENT_RESYNC_S, AGENT_STATE_DIR

LOG_LEVELS = ("debug", "info", "warning", "error")

if TYPE_CHECKING:
    from harvester_network.kube import KubeTarget

# Kubeconfig contents for CI, where there is no file: an argument would show in /proc/<pid>/cmdline and `ps`.
KUBECONFIG_DATA_ENV = "HVNET_KUBECONFIG_DATA"


def checked_listen_address(value: str | None) -> str | None:
    """A `--metrics-addr`-like option's value, refused with the reason unless it is HOST:PORT."""
    from harvester_network.render.agent_install import listen_address

    if value is not None:
        try:
            listen_address(value)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from None
    return value


def checked_image(value: str) -> str:
    """An image option's value, refused unless it is an image reference ([registry/]path[:tag][@sha256:digest])."""
    from harvester_network.model.names import is_image_reference

    if not is_image_reference(value):
        raise typer.BadParameter(f"'{value}' is not an image reference: REPO[:TAG], pinned: REPO@sha256:<64 hex>")
    return value


def _check_log_level(value: str) -> str:
    if value.lower() not in LOG_LEVELS:
        raise typer.BadParameter(f"use one of {', '.join(LOG_LEVELS)}")
    return value.lower()


def agent(
    node: Annotated[str, typer.Option(envvar="NODE_NAME", help="This node's name (DaemonSet: downward API)")],
    from_dir: Annotated[
        Path | None, typer.Option(help="Read objects from this directory (e.g. `hvnet render -o DIR`), not the API")
    ] = None,
    kubeconfig: Annotated[
        str | None,
        typer.Option(
            help="Without --from-dir: the API of the kubeconfig file at this PATH; `-` reads the contents from stdin "
            f"(or set ${KUBECONFIG_DATA_ENV}). Default: $KUBECONFIG, ~/.kube/config, in-cluster",
            metavar="PATH",
        ),
    ] = None,
    context: Annotated[str | None, typer.Option(help="With --kubeconfig: this context, not the current one")] = None,
    node_file: Annotated[
        Path | None, typer.Option(help="With --from-dir: YAML {name, labels} of this node (default: hostname label)")
    ] = None,
    status_dir: Annotated[Path | None, typer.Option(help="With --from-dir: write VlanStatus YAML files here")] = None,
    once: Annotated[
        bool, typer.Option(help="Reconcile once; exit 0 when every cluster network is ready, else 1")
    ] = False,
    resync: Annotated[float, typer.Option(help="Seconds between full resyncs")] = AGENT_RESYNC_S,
    metrics_addr: Annotated[
        str | None,
        typer.Option(
            help="Serve /metrics and /healthz (unauthenticated) on HOST:PORT: 127.0.0.1:9464 for this node only "
            "(the DaemonSet's default), 0.0.0.0:9464 for a Prometheus off the node",
            callback=checked_listen_address,
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error", callback=_check_log_level)] = "info",
    state_dir: Annotated[
        Path,
        typer.Option(
            help="Where host-IP migration keeps its records (a NIC's addresses moved to its bridge); "
            "must survive agent restarts"
        ),
    ] = Path(AGENT_STATE_DIR),
) -> None:
    """Make this node's bridges, bonds and VLANs match the ClusterNetwork / VlanConfig / NAD objects, and report
    a VlanStatus per cluster network."""
    from pyroute2 import IPRoute

    from harvester_network.agent.hostip import HostIpMigrator, RecordStore, install_test_crash_point
    from harvester_network.agent.logs import configure_logging
    from harvester_network.agent.loop import AgentLoop, KernelHost, ManifestDirSource, ObjectSource
    from harvester_network.agent.metrics import AgentMetrics, serve_metrics
    from harvester_network.agent.netlink import LinkEventWatcher
    from harvester_network.agent.status import DirStatusSink, KubeStatusSink, StatusSink

    configure_logging(log_level)
    install_test_crash_point()
    source: ObjectSource
    sink: StatusSink
    if from_dir is not None:
        if kubeconfig or context or os.environ.get(KUBECONFIG_DATA_ENV):
            raise typer.BadParameter(
                f"--from-dir reads no API: leave out --kubeconfig/--context/${KUBECONFIG_DATA_ENV}",
                param_hint="--from-dir",
            )
        source = ManifestDirSource(from_dir, node, node_file)
        sink = DirStatusSink(status_dir or from_dir.parent / "status")
    else:
        if node_file or status_dir:
            raise typer.BadParameter("--node-file and --status-dir go with --from-dir", param_hint="--from-dir")
        from harvester_network.agent.kube_source import KubeSource
        from harvester_network.kube import KubeError

        target = kube_target(kubeconfig, context)
        if target.in_cluster and context:
            raise typer.BadParameter("no kubeconfig to take a context from (in-cluster)", param_hint="--context")
        try:
            target.configuration()  # a kubeconfig that cannot work is an error now, not a retry loop
        except KubeError as error:
            raise typer.BadParameter(str(error), param_hint="--kubeconfig") from None
        source, sink = KubeSource(target, node), KubeStatusSink(target)
    metrics = AgentMetrics()
    if metrics_addr:
        try:
            serve_metrics(metrics, metrics_addr, max_age_s=max(3 * resync, 60))
        except OSError as error:  # taken, or an address this host does not have
            raise typer.BadParameter(
                f"cannot listen on {metrics_addr}: {error.strerror}", param_hint="--metrics-addr"
            ) from None
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    with IPRoute() as ipr:
        host = KernelHost(ipr, HostIpMigrator(ipr, RecordStore(state_dir, node)))
        loop = AgentLoop(source, host, sink, metrics, resync_s=resync)
        try:
            if once:
                raise typer.Exit(loop.run_once())
            with LinkEventWatcher(ipr) as watcher:
                loop.run_forever(watcher, stop=lambda: stopping)
        finally:
            source.close()


def kube_target(kubeconfig: str | None, context: str | None) -> KubeTarget:
    """`--kubeconfig PATH`, `--kubeconfig -` (contents on stdin) or $HVNET_KUBECONFIG_DATA; never contents as an
    argument (and never echoed: they hold credentials)."""
    from harvester_network.kube import KubeTarget
    from harvester_network.kube.target import looks_like_kubeconfig_contents

    data = os.environ.get(KUBECONFIG_DATA_ENV)
    if kubeconfig and data:
        raise typer.BadParameter(f"give --kubeconfig or ${KUBECONFIG_DATA_ENV}, not both", param_hint="--kubeconfig")
    if kubeconfig == "-":
        data = sys.stdin.read()
        if not data.strip():
            raise typer.BadParameter("`-` reads the kubeconfig from stdin, which was empty", param_hint="--kubeconfig")
    elif kubeconfig and looks_like_kubeconfig_contents(kubeconfig):
        raise typer.BadParameter(
            "takes the PATH of a kubeconfig file, not its contents (an argument is visible to every user in the "
            f"process list): pass the contents on stdin with `--kubeconfig -` or in ${KUBECONFIG_DATA_ENV}",
            param_hint="--kubeconfig",
        )
    if data:
        return KubeTarget(kubeconfig=data, context=context)
    if kubeconfig:
        return KubeTarget(kubeconfig_path=kubeconfig, context=context)
    return KubeTarget.from_kubeconfig(None, context)


def register(app: typer.Typer) -> None:
    app.command("agent")(agent)
