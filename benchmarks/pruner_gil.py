"""The VLAN-1 leak window (bridge plugin 1.1.1) while the agent's main thread computes: does a shorter GIL switch
interval than Python's 5 ms (`sys.setswitchinterval`) shorten it? (Measured: no; the agent keeps the default.)

In the lab kernel, in one namespace `hvt-benchgil-<pid>`: a bridge built by the agent's Reconciler, and a child
process that runs the agent's PortPruner on its own netlink sockets while its main thread either idles or runs
pure-Python work without pause (a stand-in for a pass or a status publish: what holds the GIL there). This
process makes VM ports as plugin 1.1.1 does and times, from the kernel's notifications (agent_kube.py's
BridgeVlanMonitor), how long each sat in VLAN 1. Each setting runs twice, interleaved, in the same run.

    .venv/bin/python benchmarks/pruner_gil.py [--trials 30]
"""

from __future__ import annotations

import argparse
import platform
import select
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyroute2 import IPRoute, netns  # noqa: E402

from benchmarks.agent_kube import BridgeVlanMonitor, leak_windows, percentiles  # noqa: E402
from harvester_network.agent.netlink import Reconciler  # noqa: E402
from harvester_network.agent.pruner import PortPruner  # noqa: E402
from harvester_network.lab.uml import needs_lab_kernel, run_in_lab_kernel  # noqa: E402
from tests.agent.conftest import hvt_netns  # noqa: E402
from tests.agent.test_netlink import add_dummies, network, state  # noqa: E402

PYTHON_DEFAULT_S, SHORTER_S = 0.005, 0.001
SETTINGS = (("idle", PYTHON_DEFAULT_S), ("busy", PYTHON_DEFAULT_S), ("busy", SHORTER_S))


def child(main_thread: str, switch_interval_s: float) -> None:
    """`--child`: a PortPruner; the main thread idles or computes until stdin closes."""
    sys.setswitchinterval(switch_interval_s)
    with IPRoute() as ipr, PortPruner(ipr, lambda writes: None):
        print("ready", flush=True)
        if main_thread == "idle":
            sys.stdin.read()
            return
        while not select.select([sys.stdin], [], [], 0)[0]:  # readable at EOF: stdin closed
            sum(i * i for i in range(20_000))  # bytecode all the way: the GIL is handed over per switch interval


def measure(trials: int) -> None:
    with hvt_netns("benchgil") as ns:
        netns.pushns(ns.name)  # the child process lives in the namespace too
        try:
            add_dummies(ns, "eth1")
            Reconciler(ns.ipr).reconcile(state(network("vlan", ["eth1"], {100})))
            monitor = BridgeVlanMonitor()
            windows: dict[tuple[str, float], list[float]] = {setting: [] for setting in SETTINGS}
            for round_ in range(2):
                for n, (main_thread, interval) in enumerate(SETTINGS):
                    process = subprocess.Popen(
                        [sys.executable, __file__, "--child", main_thread, str(interval)],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                    assert process.stdout is not None and process.stdin is not None
                    if process.stdout.readline().strip() != "ready":
                        raise SystemExit("the PortPruner process did not start")
                    time.sleep(0.5)
                    label = f"{round_}{n}"
                    windows[(main_thread, interval)] += leak_windows(ns.ipr, monitor, trials, label, newer=False)
                    process.stdin.close()
                    process.wait(10)
        finally:
            netns.popns()
    print(
        f"`benchmarks/pruner_gil.py`, lab kernel (Linux {platform.release()}), Python "
        f"{platform.python_version()}; {2 * trials} ports per row; ms as p50 / p95 / max.\n"
    )
    print("| PortPruner's main thread | switch interval | VLAN-1 leak, plugin 1.1.1 |\n|---|---:|---:|")
    for (main_thread, interval), samples in windows.items():
        print(f"| {main_thread} | {interval * 1000:g} ms | {percentiles(samples)} |")


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    options.add_argument("--trials", type=int, default=30)
    options.add_argument("--child", nargs=2, metavar=("MAIN_THREAD", "SWITCH_INTERVAL_S"), help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.child:
        child(args.child[0], float(args.child[1]))
        return 0
    if needs_lab_kernel():
        print("this kernel lacks bridge VLAN filtering: running inside the lab kernel", file=sys.stderr, flush=True)
        return run_in_lab_kernel([sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]], cwd=ROOT)
    measure(args.trials)
    return 0


if __name__ == "__main__":
    sys.exit(main())
