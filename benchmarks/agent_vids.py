"""How fast the agent puts VIDs on an uplink bond port, against iproute2; and a no-op resync of 100 networks.

For 10, 100, 1 000 and the most VIDs (2..4094 contiguous; every other VID of 2..4094 scattered, 2 047, the
most ranges there can be), each on a fresh bridge + bond in its own namespace `hvt-bench-<pid>`:
- the agent: one reconcile pass that adds them (read + plan + write; the VIDs go out in one request as ranges);
- iproute2 `bridge -batch FILE`, one `vlan add vid N dev <bond>` line per VID;
- iproute2 range commands, `bridge vlan add vid A-B dev <bond>` per range (contiguous only: scattered VIDs are one
  range each, which is the batch file again).
Then 100 cluster networks (one NIC, 10 VIDs each) are built, and a second pass must make zero netlink writes.
Times are best of 3 (time.perf_counter). Runs inside the lab kernel (booted when this kernel lacks bridge VLAN
filtering), whose syscalls are 15-20x slower than the host's. Prints a markdown table.

    .venv/bin/python benchmarks/agent_vids.py
"""

from __future__ import annotations

import datetime
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harvester_network.agent.hoststate import BridgeState, HostState, UplinkState  # noqa: E402
from harvester_network.agent.netlink import Reconciler  # noqa: E402
from harvester_network.agent.netlink_apply import vid_ranges  # noqa: E402
from harvester_network.facts import MAX_VID  # noqa: E402
from harvester_network.lab.uml import needs_lab_kernel, run_in_lab_kernel  # noqa: E402
from harvester_network.model import names  # noqa: E402
from tests.agent.conftest import HvtNetns, hvt_netns  # noqa: E402

REPEATS = 3
SIZES = (10, 100, 1000, "max")
RESYNC_NETWORKS = 100
RESYNC_VIDS = 10
CN = "bench"
BOND = names.bond_name(CN)
Apply = Callable[[HvtNetns], None]


def vid_set(size: int | str, scattered: bool) -> list[int]:
    step = 2 if scattered else 1
    last = MAX_VID if size == "max" else 2 + step * int(size) - 1
    return list(range(2, last + 1, step))


def network(cn: str, nics: Sequence[str], vids: Iterable[int]) -> BridgeState:
    return BridgeState(cn, names.bridge_name(cn), UplinkState(names.bond_name(cn), tuple(nics)), frozenset(vids))


def best_time_on_fresh_port(vids: Sequence[int], apply: Apply) -> float:
    """Best of REPEATS runs of `apply`, each on a new bridge + bond (made by the agent, no VIDs yet)."""
    best = float("inf")
    for _ in range(REPEATS):
        with hvt_netns("bench") as ns:
            ns.ipr.link("add", ifname="eth1", kind="dummy")
            Reconciler(ns.ipr).reconcile(HostState(bridges=(network(CN, ["eth1"], ()),)))
            start = time.perf_counter()
            apply(ns)
            best = min(best, time.perf_counter() - start)
            got = set(Reconciler(ns.ipr).read().vlans(BOND)) - {1}
            if got != set(vids):
                raise SystemExit(f"{BOND} has {len(got)} VIDs after the run, wanted {len(vids)}")
    return best


def agent_pass(vids: Sequence[int]) -> Apply:
    def apply(ns: HvtNetns) -> None:
        result = Reconciler(ns.ipr).reconcile(HostState(bridges=(network(CN, ["eth1"], vids),)))
        if result.errors or result.writes != 1:
            raise SystemExit(f"agent pass: {result.errors or f'{result.writes} writes, wanted 1'}")

    return apply


def bridge_batch(vids: Sequence[int]) -> Apply:
    def apply(ns: HvtNetns) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".batch") as batch:
            batch.write("".join(f"vlan add vid {vid} dev {BOND}\n" for vid in vids))
            batch.flush()
            subprocess.run(["bridge", "-n", ns.name, "-batch", batch.name], check=True)

    return apply


def bridge_range_commands(vids: Sequence[int]) -> Apply:
    def apply(ns: HvtNetns) -> None:
        for first, last in vid_ranges(vids):
            vid = str(first) if first == last else f"{first}-{last}"
            subprocess.run(["bridge", "-n", ns.name, "vlan", "add", "vid", vid, "dev", BOND], check=True)

    return apply


def vid_rows() -> None:
    for scattered in (False, True):
        for size in SIZES:
            vids = vid_set(size, scattered)
            agent = best_time_on_fresh_port(vids, agent_pass(vids))
            batch = best_time_on_fresh_port(vids, bridge_batch(vids))
            ranges = None if scattered else best_time_on_fresh_port(vids, bridge_range_commands(vids))
            baseline = batch if ranges is None else ranges
            print(
                f"| {'scattered' if scattered else 'contiguous'} | {len(vids):,} | {len(vid_ranges(vids)):,} "
                f"| {agent * 1000:.1f} | {batch * 1000:.1f} | {'-' if ranges is None else f'{ranges * 1000:.1f}'} "
                f"| {agent / baseline:.2f} |",
                flush=True,
            )


def resync_row() -> str:
    with hvt_netns("benchresync") as ns:
        nics = [f"eth{i}" for i in range(RESYNC_NETWORKS)]
        for nic in nics:
            ns.ipr.link("add", ifname=nic, kind="dummy")
        desired = HostState(
            bridges=tuple(
                network(f"n{i:03d}", [nic], range(100 + RESYNC_VIDS * i, 100 + RESYNC_VIDS * (i + 1)))
                for i, nic in enumerate(nics)
            )
        )
        reconciler = Reconciler(ns.ipr)
        start = time.perf_counter()
        built = reconciler.reconcile(desired)
        build_s = time.perf_counter() - start
        if built.errors:
            raise SystemExit(f"building {RESYNC_NETWORKS} networks failed: {built.errors[:3]}")
        best, writes = float("inf"), 0
        for _ in range(REPEATS):
            start = time.perf_counter()
            again = reconciler.reconcile(desired)
            best = min(best, time.perf_counter() - start)
            writes += again.writes
        if writes:
            raise SystemExit(f"no-op resync made {writes} netlink writes, wanted 0")
        return (
            f"| {RESYNC_NETWORKS} networks (bridge + bond + NIC each, "
            f"{RESYNC_NETWORKS * RESYNC_VIDS:,} VIDs) | {build_s * 1000:.0f} ms, {built.writes} writes "
            f"| {best * 1000:.1f} ms | {writes} |"
        )


def main() -> int:
    if needs_lab_kernel():
        print("this kernel lacks bridge VLAN filtering: running inside the lab kernel", file=sys.stderr, flush=True)
        return run_in_lab_kernel([sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]], cwd=ROOT)
    print(
        f"## Agent VIDs\n\n`benchmarks/agent_vids.py`, {datetime.date.today()}; Linux {platform.release()}, "
        f"Python {platform.python_version()}; best of {REPEATS}, each run on a fresh bridge + bond.\n"
    )
    print(
        "| VIDs | count | ranges | agent pass (ms) | `bridge -batch` (ms) | `bridge vlan add vid A-B` (ms) "
        "| agent / baseline |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|", flush=True)
    vid_rows()
    print("\n| no-op resync | first pass | second pass (best) | writes |\n|---|---:|---:|---:|")
    print(resync_row())
    return 0


if __name__ == "__main__":
    sys.exit(main())
