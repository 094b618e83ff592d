"""The VLAN-1 leak window (bridge plugin 1.1.1) while the agent's main thread idles or computes: this tree's
PortPruner against the one of another commit (`--baseline REV`), and with a GIL switch interval shorter than
Python's 5 ms (`sys.setswitchinterval`).

In the lab kernel, in one namespace `hvt-benchgil-<pid>`: a bridge built by the agent's Reconciler, and a child
process that runs a PortPruner on its own netlink sockets while its main thread either idles or runs
pure-Python work without pause (a stand-in for a pass or a status publish: what holds the GIL there). This
process makes VM ports as plugin 1.1.1 does and times, from the kernel's notifications (agent_kube.py's
BridgeVlanMonitor), how long each sat in VLAN 1. Each setting runs twice, interleaved, in the same run; the
baseline's child imports the agent (and the rest) from that commit's tree (`git archive REV`, under
.hvnet-lab/), first on its sys.path; its main thread does what this script says.

    .venv/bin/python benchmarks/pruner_gil.py [--trials 30] [--baseline REV]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TREE_ENV = "HVNET_BENCH_TREE"  # a child's tree, when it runs another commit's PortPruner
sys.path.insert(0, os.environ.get(TREE_ENV, str(ROOT)))

from pyroute2 import IPRoute, netns  # noqa: E402
from pyroute2.netlink.rtnl import RTM_SETLINK  # noqa: E402

from benchmarks.agent_kube import BridgeVlanMonitor, leak_windows, percentiles  # noqa: E402
from harvester_network.agent.netlink import Reconciler  # noqa: E402
from harvester_network.agent.pruner import PortPruner  # noqa: E402
from harvester_network.lab.uml import needs_lab_kernel, run_in_lab_kernel  # noqa: E402
from tests.agent.conftest import hvt_netns  # noqa: E402
from tests.agent.test_netlink import add_dummies, network, state  # noqa: E402

PYTHON_DEFAULT_S, SHORTER_S = 0.005, 0.001
BASELINE_DIR = ROOT / ".hvnet-lab" / "pruner-baseline"
# (whose PortPruner, its main thread, switch interval); "baseline" rows only with --baseline
SETTINGS = (
    ("baseline", "idle", PYTHON_DEFAULT_S),
    ("this tree", "idle", PYTHON_DEFAULT_S),
    ("baseline", "busy", PYTHON_DEFAULT_S),
    ("this tree", "busy", PYTHON_DEFAULT_S),
    ("this tree", "busy", SHORTER_S),
)


def note_acks(pruner: Any, acked: dict[str, float]) -> None:
    """Note in `acked` when each port's prune was answered (CLOCK_MONOTONIC, as the parent's clock): around
    PortPruner.prune, or the Applier of a baseline without it."""
    owner, name = (pruner, "prune") if hasattr(pruner, "prune") else (pruner.applier, "apply")
    send = getattr(owner, name)

    def timed(news_or_changes: Any, *args: Any, **kwargs: Any) -> Any:
        answer = send(news_or_changes, *args, **kwargs)
        now = time.perf_counter()
        changes = getattr(news_or_changes, "prunes", news_or_changes)
        acked.update({change.link: now for change in changes})
        return answer

    setattr(owner, name, timed)


def child(main_thread: str, switch_interval_s: float) -> None:
    """`--child`: a PortPruner; the main thread idles or computes until stdin closes; then, as JSON, when each
    prune was answered."""
    sys.setswitchinterval(switch_interval_s)
    acked: dict[str, float] = {}
    with IPRoute() as ipr, PortPruner(ipr, lambda writes: None) as pruner:
        note_acks(pruner, acked)  # the thread reads the attribute at each event: patched before the first port
        print(f"ready {sys.modules[PortPruner.__module__].__file__}", flush=True)
        if main_thread == "idle":
            sys.stdin.read()
        else:
            while not select.select([sys.stdin], [], [], 0)[0]:  # readable at EOF: stdin closed
                # Bytecode all the way for ~40 ms between two syscalls (as a pass over many NADs): the GIL is
                # handed over only when the switch interval runs out.
                sum(i * i for i in range(1_000_000))
    print(json.dumps(acked), flush=True)


class SendTimes:
    """The benchmark's IPRoute, noting when each VM port's VLAN was requested: the leak starts after that. That
    request goes out as one raw RTM_SETLINK (the same message as pyroute2's), so the time is taken right before
    the send, which keeps the GIL (agent/netlink_raw.py)."""

    def __init__(self, ipr: IPRoute) -> None:
        # Imported here: a baseline child runs this script's top level on a tree that may not have it.
        from harvester_network.agent.netlink_raw import NetlinkSocket, bridge_vlan_request

        self.ipr = ipr
        self.sock = NetlinkSocket()
        self.vlan_request = bridge_vlan_request
        self.port = ""
        self.sent: dict[str, float] = {}

    def link(self, command: str, **kwargs: Any) -> Any:
        if command == "add":
            self.port = kwargs["ifname"]
        return self.ipr.link(command, **kwargs)

    def vlan_filter(self, command: str, index: int, vlan_info: dict[str, int]) -> None:
        """vm_port's one call: add vlan_info's VID with its flags."""
        if command != "add":
            raise ValueError(f"vlan_filter {command}: vm_port only adds")
        body = self.vlan_request(socket.AF_BRIDGE, index, vlan_info["vid"], vlan_info["flags"])
        self.sent[self.port] = time.perf_counter()
        error = self.sock.request(RTM_SETLINK, body)
        if error:
            raise OSError(error, os.strerror(error))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ipr, name)


def extract_baseline(revision: str) -> None:
    """The tree of `revision` under BASELINE_DIR (on the host: the lab kernel has no git)."""
    subprocess.run(["rm", "-rf", str(BASELINE_DIR)], check=True)
    BASELINE_DIR.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(BASELINE_DIR)], input=archive.stdout, check=True)


def measure(trials: int, with_baseline: bool) -> None:
    settings = [setting for setting in SETTINGS if with_baseline or setting[0] != "baseline"]
    with hvt_netns("benchgil") as ns:
        netns.pushns(ns.name)  # the child process lives in the namespace too
        try:
            add_dummies(ns, "eth1")
            Reconciler(ns.ipr).reconcile(state(network("vlan", ["eth1"], {100})))
            monitor = BridgeVlanMonitor()
            windows: dict[tuple[str, str, float], list[float]] = {setting: [] for setting in settings}
            bounds: dict[tuple[str, str, float], list[float]] = {setting: [] for setting in settings}
            ipr = SendTimes(ns.ipr)
            for round_ in range(2):
                for n, (tree, main_thread, interval) in enumerate(settings):
                    agent_tree = BASELINE_DIR if tree == "baseline" else ROOT
                    process = subprocess.Popen(
                        [sys.executable, __file__, "--child", main_thread, str(interval)],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        text=True,
                        env=os.environ | {TREE_ENV: str(agent_tree)},
                    )
                    assert process.stdout is not None and process.stdin is not None
                    ready, _, module = process.stdout.readline().strip().partition(" ")
                    if ready != "ready" or not module.startswith(f"{agent_tree}/"):
                        raise SystemExit(f"the PortPruner process did not start with {agent_tree}'s agent: {module}")
                    time.sleep(0.5)
                    label = f"{round_}{n}"
                    windows[(tree, main_thread, interval)] += leak_windows(ipr, monitor, trials, label, newer=False)  # type: ignore[arg-type]
                    process.stdin.close()
                    acked = json.loads(process.stdout.read())
                    bounds[(tree, main_thread, interval)] += [t - ipr.sent[port] for port, t in acked.items()]
                    process.wait(10)
        finally:
            netns.popns()
    print(
        f"`benchmarks/pruner_gil.py`, lab kernel (Linux {platform.release()}), Python "
        f"{platform.python_version()}; {2 * trials} ports per row; ms as p50 / p95 / max.\n"
    )
    print(
        "| PortPruner of | its main thread | switch interval | VLAN-1 leak, plugin 1.1.1 (monitor) "
        "| VLAN requested -> prune answered (bound) |\n|---|---|---:|---:|---:|"
    )
    for setting, samples in windows.items():
        tree, main_thread, interval = setting
        cells = [tree, main_thread, f"{interval * 1000:g} ms", percentiles(samples), percentiles(bounds[setting])]
        print(f"| {' | '.join(cells)} |")


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    options.add_argument("--trials", type=int, default=30)
    options.add_argument("--baseline", metavar="REV", help="also measure the PortPruner of this commit")
    options.add_argument("--baseline-extracted", action="store_true", help=argparse.SUPPRESS)
    options.add_argument("--child", nargs=2, metavar=("MAIN_THREAD", "SWITCH_INTERVAL_S"), help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.child:
        child(args.child[0], float(args.child[1]))
        return 0
    if needs_lab_kernel():
        if args.baseline:
            extract_baseline(args.baseline)
        print("this kernel lacks bridge VLAN filtering: running inside the lab kernel", file=sys.stderr, flush=True)
        print(f"host load average before: {os.getloadavg()[0]:.1f}", flush=True)
        argv = [sys.executable, str(Path(__file__).resolve()), *sys.argv[1:], "--baseline-extracted"]
        status = run_in_lab_kernel(argv, cwd=ROOT)
        print(f"host load average after: {os.getloadavg()[0]:.1f}")
        return status
    if args.baseline and not args.baseline_extracted:
        raise SystemExit("--baseline needs git: run this script outside the lab kernel")
    measure(args.trials, with_baseline=bool(args.baseline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
