"""The node agent's command line: `hvnet agent`, `hvnet-agent` and `python -m harvester_network.agent` all land in
`main`. It loads only what the agent runs on (argparse, not the CLI's Typer/Rich; no plan model), so the agent
starts fast and stays small. See docs/agent.md."""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harvester_network.agent.logs import LOG_LEVELS
from harvester_network.facts import AGENT_RESYNC_S, AGENT_STATE_DIR

if TYPE_CHECKING:
    from harvester_network.kube import KubeTarget

# Kubeconfig contents for CI, where there is no file: an argument would show in /proc/<pid>/cmdline and `ps`.
KUBECONFIG_DATA_ENV = "HVNET_KUBECONFIG_DATA"
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's initial value, kept


def parser(prog: str = "hvnet agent") -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog=prog,
        description="Make this node's bridges, bonds and VLANs match the ClusterNetwork / VlanConfig / NAD objects, "
        "and report a VlanStatus per cluster network.",
    )
    node = os.environ.get("NODE_NAME") or None
    cli.add_argument(
        "--node", default=node, required=node is None, help="This node's name (default: $NODE_NAME, the DaemonSet's)"
    )
    cli.add_argument(
        "--from-dir", type=Path, help="Read objects from this directory (e.g. `hvnet render -o DIR`), not the API"
    )
    cli.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="Without --from-dir: the API of the kubeconfig file at this PATH; `-` reads the contents from stdin "
        f"(or set ${KUBECONFIG_DATA_ENV}). Default: $KUBECONFIG, ~/.kube/config, in-cluster",
    )
    cli.add_argument("--context", help="With --kubeconfig: this context, not the current one")
    cli.add_argument(
        "--node-file", type=Path, help="With --from-dir: YAML {name, labels} of this node (default: hostname label)"
    )
    cli.add_argument("--status-dir", type=Path, help="With --from-dir: write VlanStatus YAML files here")
    cli.add_argument(
        "--once", action="store_true", help="Reconcile once; exit 0 when every cluster network is ready, else 1"
    )
    cli.add_argument("--resync", type=float, default=AGENT_RESYNC_S, help="Seconds between full resyncs")
    cli.add_argument(
        "--metrics-addr",
        metavar="HOST:PORT",
        help="Serve /metrics and /healthz (unauthenticated) on HOST:PORT: 127.0.0.1:9464 for this node only "
        "(the DaemonSet's default), 0.0.0.0:9464 for a Prometheus off the node",
    )
    cli.add_argument("--log-level", default="info", type=str.lower, choices=LOG_LEVELS, help="default: info")
    cli.add_argument(
        "--state-dir",
        type=Path,
        default=Path(AGENT_STATE_DIR),
        help="Where host-IP migration keeps its records (a NIC's addresses moved to its bridge); "
        "must survive agent restarts",
    )
    return cli


def main(argv: Sequence[str] | None = None, prog: str = "hvnet agent") -> int:
    """Run the agent; the exit code (2: options that cannot work, before any link is touched)."""
    from pyroute2 import IPRoute

    from harvester_network.agent.hostip import HostIpMigrator
    from harvester_network.agent.hostip_crash import install_test_crash_point
    from harvester_network.agent.hostip_journal import RecordStore
    from harvester_network.agent.logs import configure_logging
    from harvester_network.agent.loop import AgentLoop, KernelHost, ObjectSource
    from harvester_network.agent.metrics import AgentMetrics, serve_metrics
    from harvester_network.agent.pruner import PortPruner
    from harvester_network.agent.status import DirStatusSink, KubeStatusSink, StatusSink

    cli = parser(prog)
    options = cli.parse_args(argv)
    return_big_blocks_when_freed()
    if options.metrics_addr is not None:
        from harvester_network.render.agent_install import listen_address

        try:
            listen_address(options.metrics_addr)
        except ValueError as error:
            cli.error(f"Invalid value for --metrics-addr: {error}")
    configure_logging(options.log_level)
    install_test_crash_point()
    source: ObjectSource
    sink: StatusSink
    if options.from_dir is not None:
        if options.kubeconfig or options.context or os.environ.get(KUBECONFIG_DATA_ENV):
            cli.error(f"--from-dir reads no API: leave out --kubeconfig/--context/${KUBECONFIG_DATA_ENV}")
        from harvester_network.agent.sources import ManifestDirSource

        source = ManifestDirSource(options.from_dir, options.node, options.node_file)
        sink = DirStatusSink(options.status_dir or options.from_dir.parent / "status")
    else:
        if options.node_file or options.status_dir:
            cli.error("--node-file and --status-dir go with --from-dir")
        from harvester_network.agent.kube_source import KubeSource
        from harvester_network.kube import KubeError

        target = kube_target(cli, options.kubeconfig, options.context)
        if target.in_cluster and options.context:
            cli.error("Invalid value for --context: no kubeconfig to take a context from (in-cluster)")
        try:
            target.configuration()  # a kubeconfig that cannot work is an error now, not a retry loop
        except KubeError as error:
            cli.error(f"Invalid value for --kubeconfig: {error}")
        source, sink = KubeSource(target, options.node), KubeStatusSink(target)
    metrics = AgentMetrics()
    if options.metrics_addr:
        try:
            serve_metrics(metrics, options.metrics_addr, max_age_s=max(3 * options.resync, 60))
        except OSError as error:  # taken, or an address this host does not have
            cli.error(f"Invalid value for --metrics-addr: cannot listen on {options.metrics_addr}: {error.strerror}")
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    with IPRoute() as ipr:
        host = KernelHost(ipr, HostIpMigrator(ipr, RecordStore(options.state_dir, options.node)))
        loop = AgentLoop(source, host, sink, metrics, resync_s=options.resync)
        try:
            if options.once:
                return loop.run_once()
            with IPRoute() as events_ipr, PortPruner(events_ipr, metrics.writes.inc) as link_events:
                loop.run_forever(link_events, stop=lambda: stopping)
        finally:
            source.close()
    return 0


def return_big_blocks_when_freed() -> bool:
    """Fix glibc's mmap threshold (False where the C library has no mallopt, e.g. musl). glibc raises it to the
    size of every mmapped block freed (up to 32 MiB); from then on big short-lived blocks (a pass's dicts over
    10,000 NADs, list pages, API answers) come from heaps that keep their high-water mark, while mmapped blocks go
    back to the kernel when freed: 0.3 MiB less per 1,000 NADs (benchmarks/RESULTS.md), for an mmap/munmap per big
    block."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    return mallopt is not None and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1


def kube_target(cli: argparse.ArgumentParser, kubeconfig: str | None, context: str | None) -> KubeTarget:
    """`--kubeconfig PATH`, `--kubeconfig -` (contents on stdin) or $HVNET_KUBECONFIG_DATA; never contents as an
    argument (and never echoed: they hold credentials)."""
    from harvester_network.kube import KubeTarget
    from harvester_network.kube.target import looks_like_kubeconfig_contents

    refused = "Invalid value for --kubeconfig: "
    data = os.environ.get(KUBECONFIG_DATA_ENV)
    if kubeconfig and data:
        cli.error(f"{refused}give --kubeconfig or ${KUBECONFIG_DATA_ENV}, not both")
    if kubeconfig == "-":
        data = sys.stdin.read()
        if not data.strip():
            cli.error(f"{refused}`-` reads the kubeconfig from stdin, which was empty")
    elif kubeconfig and looks_like_kubeconfig_contents(kubeconfig):
        cli.error(
            f"{refused}takes the PATH of a kubeconfig file, not its contents (an argument is visible to every user "
            f"in the process list): pass the contents on stdin with `--kubeconfig -` or in ${KUBECONFIG_DATA_ENV}"
        )
    if data:
        return KubeTarget(kubeconfig=data, context=context)
    if kubeconfig:
        return KubeTarget(kubeconfig_path=kubeconfig, context=context)
    return KubeTarget.from_kubeconfig(None, context)


def console() -> None:
    """The `hvnet-agent` console script."""
    raise SystemExit(main(prog="hvnet-agent"))
