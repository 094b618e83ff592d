"""`hvnet agent`: the node agent (see harvester_network/agent/)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

# Kept in sync with agent/loop.py's DEFAULT_RESYNC_S; the agent modules (and pyroute2, slow to import) load
# only when `hvnet agent` runs, so `hvnet validate` and friends start fast.
DEFAULT_RESYNC_S = 300.0
DEFAULT_STATE_DIR = Path("/var/lib/hvnet")  # agent/hostip.py's DEFAULT_STATE_DIR


def agent(
    node: Annotated[str, typer.Option(envvar="NODE_NAME", help="This node's name (DaemonSet: downward API)")],
    from_dir: Annotated[
        Path | None, typer.Option(help="Read objects from this directory (e.g. `hvnet render -o DIR`), not the API")
    ] = None,
    kubeconfig: Annotated[
        str | None,
        typer.Option(
            help="Without --from-dir: the API of this kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)"
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
    resync: Annotated[float, typer.Option(help="Seconds between full resyncs")] = DEFAULT_RESYNC_S,
    metrics_addr: Annotated[
        str | None, typer.Option(help="Serve /metrics and /healthz on host:port, e.g. 0.0.0.0:9464")
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
    state_dir: Annotated[
        Path,
        typer.Option(
            help="Where host-IP migration keeps its records (a NIC's addresses moved to its bridge); "
            "must survive agent restarts"
        ),
    ] = DEFAULT_STATE_DIR,
) -> None:
    """Make this node's bridges, bonds and VLANs match the ClusterNetwork / VlanConfig / NAD objects, and report
    a VlanStatus per cluster network."""
    from pyroute2 import IPRoute

    from harvester_network.agent.hostip import HostIpMigrator, RecordStore, install_test_crash_point
    from harvester_network.agent.logs import configure_logging
    from harvester_network.agent.loop import AgentLoop, KernelHost, ObjectSource
    from harvester_network.agent.metrics import AgentMetrics, serve_metrics
    from harvester_network.agent.netlink import LinkEventWatcher
    from harvester_network.agent.status import DirStatusSink, KubeStatusSink, StatusSink

    configure_logging(log_level)
    install_test_crash_point()
    source: ObjectSource
    sink: StatusSink
    if from_dir is not None:
        if kubeconfig or context:
            raise typer.BadParameter(
                "--from-dir reads no API: leave out --kubeconfig/--context", param_hint="--from-dir"
            )
        from harvester_network.agent.sources import ManifestDirSource

        source = ManifestDirSource(from_dir, node, node_file)
        sink = DirStatusSink(status_dir or from_dir.parent / "status")
    else:
        if node_file or status_dir:
            raise typer.BadParameter("--node-file and --status-dir go with --from-dir", param_hint="--from-dir")
        from harvester_network.agent.kube_source import KubeSource
        from harvester_network.kube import KubeError, KubeTarget

        target = KubeTarget.from_kubeconfig(kubeconfig, context)
        if target.in_cluster and context:
            raise typer.BadParameter("no kubeconfig to take a context from (in-cluster)", param_hint="--context")
        try:
            target.configuration()  # a kubeconfig that cannot work is an error now, not a retry loop
        except KubeError as error:
            raise typer.BadParameter(str(error), param_hint="--kubeconfig") from None
        source, sink = KubeSource(target, node), KubeStatusSink(target)
    metrics = AgentMetrics()
    if metrics_addr:
        serve_metrics(metrics, metrics_addr, max_age_s=max(3 * resync, 60))
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


def register(app: typer.Typer) -> None:
    app.command("agent")(agent)
