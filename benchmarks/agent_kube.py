"""The node agent in Kubernetes mode, as it runs on a node: how fast it reacts, how long a new VM port sits in
VLAN 1, how much memory it holds, how long it takes to start, and what a pass costs when nothing changed.

Everything runs in the lab kernel (booted when this kernel lacks bridge VLAN filtering), in one namespace
`hvt-benchkube-<pid>`: the test API server (tests/k8s_api) with the quickstart objects and Node node1, a dummy
NIC eth1, and the real `hvnet agent` as a process. NADs are seeded straight into the server's store (not timed);
the timed changes go through the API. Kernel changes are seen by a netlink monitor in this process (AF_BRIDGE
link notifications carry each port's VLAN list), so no `bridge` command adds its start-up to a number.
- reaction: a NAD created (deleted) through the API -> its VID on (off) the uplink port vlan-bo; the baseline,
  measured in the same run, is the raw watch event's arrival in this process;
- VLAN-1 leak window: a VM port made as Debian's bridge plugin 1.1.1 makes it (join the bridge, then its VLAN as
  PVID: VID 1 stays, egress untagged) -> VID 1 gone; and as plugin >= 1.2 does with preserveDefaultVlan false
  (which hvnet's NADs carry): VID 1 removed before the VLAN is added;
- RSS of the agent (VmRSS) idle at the quickstart objects, 100, 5,000 and 10,000 NADs; the baseline is a process
  that only imports kubernetes.client and pyroute2, measured in the same run; import time of the agent likewise;
- start -> first converged status: from starting the process to its log line saying vlan is ready;
- a pass where nothing changed at 10,000 NADs + 200 VlanConfigs, as the agent process has it: `hvnet agent` with a
  0.2 s resync, its own pass-CPU counter (/metrics) and its process CPU (/proc) over 15 s of such passes, without
  and with 60 VM ports on the bridge; against computing the desired state from scratch, and the pass's kernel read
  decoded by pyroute2 (as before) against RouteSocket (now), both in this process.

    .venv/bin/python benchmarks/agent_kube.py [--trials 30] [--memory-only]
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyroute2 import IPRoute, netns  # noqa: E402
from pyroute2.netlink.rtnl import RTM_DELLINK, RTMGRP_LINK  # noqa: E402
from pyroute2.netlink.rtnl.marshal import MarshalRtnl  # noqa: E402

from harvester_network.agent.desired import desired_host_state  # noqa: E402
from harvester_network.agent.hostip import HostIpMigrator  # noqa: E402
from harvester_network.agent.hostip_journal import RecordStore  # noqa: E402
from harvester_network.agent.kube_source import KubeSource  # noqa: E402
from harvester_network.agent.loop import KernelHost  # noqa: E402
from harvester_network.agent.netlink_raw import RouteSocket  # noqa: E402
from harvester_network.agent.netlink_read import (  # noqa: E402
    BRIDGE_VLAN_INFO_PVID,
    BRIDGE_VLAN_INFO_UNTAGGED,
    RTEXT_FILTER_BRVLAN_COMPRESSED,
    RTEXT_FILTER_SKIP_STATS,
    PortVlan,
    ipv4_link_indexes,
    read_kernel_state,
    vlans_from_infos,
)
from harvester_network.kube import KubeClient, KubeError, KubeTarget  # noqa: E402
from harvester_network.lab.agents import hvnet_executable  # noqa: E402
from harvester_network.lab.uml import needs_lab_kernel, run_in_lab_kernel  # noqa: E402
from harvester_network.model import load_plan_file  # noqa: E402
from harvester_network.render import harvester as h  # noqa: E402
from harvester_network.render import render_plan  # noqa: E402
from harvester_network.render.vlanstatus import vlanstatus_name  # noqa: E402
from tests.agent.conftest import HvtNetns, hvt_netns  # noqa: E402
from tests.k8s_api.cluster import WriteOptions  # noqa: E402
from tests.k8s_api.server import TestApiServer  # noqa: E402

QUICKSTART = ROOT / "examples" / "quickstart" / "plan.yaml"
NODE_LABELS = {"kubernetes.io/hostname": "node1", "zone": "a"}
AGENT_KINDS = ("ClusterNetwork", "VlanConfig", "NetworkAttachmentDefinition")
BOND, BRIDGE = "vlan-bo", "vlan-br"
SEED_VIDS = range(2, 4000)  # seeded NADs cycle through these; trials use VIDs above
TRIAL_VID = 4001
LEAK_VID = 100
VM_PORTS = 60  # on the bridge while the no-op pass is measured a second time
WAIT_S = 30.0
Vlans = Mapping[int, PortVlan]


# --- what this process sees -------------------------------------------------------------------------------------


class BridgeVlanMonitor:
    """Every AF_BRIDGE link notification in the namespace: each port's VLANs, when they last changed, and every
    notification of the ports whose name starts with `history_prefix` (for the leak windows)."""

    def __init__(self, history_prefix: str = "vm") -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.bind((0, RTMGRP_LINK))
        self.marshal = MarshalRtnl()
        self.prefix = history_prefix
        self.ports: dict[str, tuple[float, Vlans]] = {}
        self.history: list[tuple[float, str, Vlans | None]] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            select.select([self.sock], [], [])
            data = self.sock.recv(1 << 22)
            now = time.perf_counter()
            with self.changed:
                for msg in self.marshal.parse(data):
                    self._note(now, msg)
                self.changed.notify_all()

    def _note(self, now: float, msg: Any) -> None:
        if msg["family"] != socket.AF_BRIDGE:
            return
        name = msg.get("IFLA_IFNAME") or ""
        if msg["header"]["type"] == RTM_DELLINK:
            vlans: Vlans | None = None
        else:
            spec = msg.get("IFLA_AF_SPEC")
            vlans = vlans_from_infos(spec.get_attrs("IFLA_BRIDGE_VLAN_INFO") if spec else [])
            self.ports[name] = (now, vlans)
        if name.startswith(self.prefix):
            self.history.append((now, name, vlans))

    def wait_for(self, port: str, check: Callable[[Vlans], bool], what: str) -> float:
        """When `port`'s VLANs last changed, once `check` holds for them."""

        def holds() -> bool:
            return port in self.ports and check(self.ports[port][1])

        with self.changed:
            if not self.changed.wait_for(holds, WAIT_S):
                raise SystemExit(f"timed out after {WAIT_S}s waiting for {what}")
            return self.ports[port][0]


class RawWatch:
    """A plain watch on NADs in this process: when each ADDED/DELETED event arrived (the baseline)."""

    def __init__(self, kube: KubeClient) -> None:
        _, version = kube.list_with_version("NetworkAttachmentDefinition")
        self.stream = kube.watch("NetworkAttachmentDefinition", version, timeout_seconds=3600)
        self.arrived: dict[tuple[str, str], float] = {}
        self.changed = threading.Condition()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            for event in self.stream.events():
                now = time.perf_counter()
                with self.changed:
                    self.arrived[(event.get("type", ""), event["object"]["metadata"].get("name", ""))] = now
                    self.changed.notify_all()
        except KubeError:  # the API server stopped (the run's end); a stop before it shows in wait_for's timeout
            return

    def wait_for(self, event_type: str, name: str) -> float:
        with self.changed:
            if not self.changed.wait_for(lambda: (event_type, name) in self.arrived, WAIT_S):
                raise SystemExit(f"no {event_type} event for NAD {name}")
            return self.arrived.pop((event_type, name))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no VmRSS for process {pid}")


def idle_rss(pid: int, settle_s: float = 3.0) -> float:
    time.sleep(settle_s)
    return rss_mib(pid)


IMPORT_PROBE = """
import sys, time
start = time.perf_counter()
{imports}
took = time.perf_counter() - start
start = time.perf_counter()
{then}
print(took, time.perf_counter() - start, flush=True)
sys.stdin.read()
"""
BASELINE_IMPORTS = "import kubernetes.client, pyroute2"
# What `hvnet agent` imports before its first pass (agent/main.py imports these inside main()).
AGENT_IMPORTS = """
from harvester_network.agent import main, kube_source, status, metrics, netlink, hostip, loop
from pyroute2 import IPRoute
"""


def import_probe(imports: str, then: str = "") -> tuple[float, float, float]:
    """(seconds importing `imports`, seconds importing `then` after them, RSS MiB) of a process that only does that
    (best of 3)."""
    best = (float("inf"), float("inf"), float("inf"))
    for _ in range(3):
        probe = subprocess.Popen(
            [sys.executable, "-c", IMPORT_PROBE.format(imports=imports, then=then)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert probe.stdout is not None and probe.stdin is not None
        took, then_took = map(float, probe.stdout.readline().split())
        rss = rss_mib(probe.pid)
        probe.stdin.close()
        probe.wait()
        best = (min(best[0], took), min(best[1], then_took), min(best[2], rss))
    return best


# --- the cluster and the agent -----------------------------------------------------------------------------------


def nad(name: str, vid: int) -> dict[str, Any]:
    config = {"cniVersion": "0.3.1", "name": name, "type": "bridge", "bridge": BRIDGE, "vlan": vid}
    return {
        "apiVersion": h.NAD_API,
        "kind": "NetworkAttachmentDefinition",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {h.LABEL_CLUSTER_NETWORK: "vlan"},
            "annotations": {h.ANNOTATION_ROUTE: f'{{"mode":"manual","cidr":"10.{vid // 256}.{vid % 256}.0/24"}}'},
        },
        "spec": {"config": json.dumps(config)},
    }


class Cluster:
    """The test API server, in a process of its own (its work must not take the CPU of this process's
    measuring threads), seeded with the quickstart objects and Node node1."""

    def __init__(self, workdir: Path) -> None:
        self.kubeconfig = str(workdir / "kubeconfig")
        self.server = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", self.kubeconfig],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self._ask("")  # its first line: listening
        self.target = KubeTarget(kubeconfig_path=self.kubeconfig)
        self.kube = KubeClient(self.target)
        self.kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
        for obj in render_plan(load_plan_file(QUICKSTART)[0]):
            if obj["kind"] in AGENT_KINDS:
                self.kube.apply(obj)
        self.kube.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1", "labels": NODE_LABELS}})
        self.seeded = 0

    def _ask(self, command: str) -> None:
        assert self.server.stdin is not None and self.server.stdout is not None
        if command:
            self.server.stdin.write(command + "\n")
            self.server.stdin.flush()
        if self.server.stdout.readline().strip() != "ok":
            raise SystemExit(f"the API server process failed at {command or 'start'!r}")

    def seed_nads(self, total: int) -> set[int]:
        """NADs `seed-<n>` up to `total` of them (plus the quickstart's), straight into the store; their VIDs."""
        if total > self.seeded:
            self._ask(f"nads {self.seeded} {total}")
        self.seeded = max(self.seeded, total)
        return {vid_of(n) for n in range(self.seeded)}

    def seed_vlan_configs(self, count: int) -> None:
        """VlanConfigs (and their ClusterNetworks) for other nodes: they match nothing here, but are read."""
        self._ask(f"vlanconfigs {count}")

    def stop(self) -> None:
        self.server.terminate()
        self.server.wait(10)


def serve(kubeconfig: str) -> None:
    """`--serve`: the API server process; seeds on request (stdin: `nads FROM TO`, `vlanconfigs N`)."""
    server = TestApiServer(event_window=50_000).start()
    server.install_crds()
    server.write_kubeconfig(kubeconfig)
    cluster = server.cluster

    def create(plural: tuple[str, str], namespace: str | None, obj: dict[str, Any]) -> None:
        cluster.create(cluster.type_of(plural), namespace, obj, WriteOptions(field_manager="bench-seed"))

    print("ok", flush=True)
    for line in sys.stdin:
        command, *numbers = line.split()
        if command == "nads":
            for n in range(int(numbers[0]), int(numbers[1])):
                create(("k8s.cni.cncf.io", "network-attachment-definitions"), "default", nad(f"seed-{n}", vid_of(n)))
        for n in range(int(numbers[0]) if command == "vlanconfigs" else 0):
            cn = f"other{n}"
            network = {"apiVersion": h.NETWORK_API, "kind": "ClusterNetwork", "metadata": {"name": cn}}
            create(("network.harvesterhci.io", "clusternetworks"), None, network)
            spec = {"clusterNetwork": cn, "nodeSelector": {"kubernetes.io/hostname": f"elsewhere{n}"}}
            spec["uplink"] = {"nics": ["eth7"], "linkAttributes": {"mtu": 1500}}
            vc = {"apiVersion": h.NETWORK_API, "kind": "VlanConfig", "metadata": {"name": cn}, "spec": spec}
            create(("network.harvesterhci.io", "vlanconfigs"), None, vc)
        print("ok", flush=True)


def vid_of(n: int) -> int:
    return SEED_VIDS[n % len(SEED_VIDS)]


class Agent:
    """`hvnet agent` in Kubernetes mode, as the DaemonSet runs it (its log in the work directory)."""

    def __init__(self, cluster: Cluster, workdir: Path, resync_s: float = 300, metrics_addr: str = "") -> None:
        self.log = workdir / f"agent-{time.monotonic_ns()}.log"
        argv = [hvnet_executable(), "agent", "--node", "node1", "--kubeconfig", cluster.kubeconfig]
        argv += ["--state-dir", str(workdir / "state"), "--resync", str(resync_s)]
        argv += ["--metrics-addr", metrics_addr] if metrics_addr else []
        self.started = time.perf_counter()
        with self.log.open("w") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def first_ready_s(self) -> float:
        """Seconds from start to the first pass that logs vlan ready (its status was published before)."""
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline:
            if "vlan=ready" in self.log.read_text():
                return time.perf_counter() - self.started
            if self.process.poll() is not None:
                raise SystemExit(f"the agent exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.005)
        raise SystemExit(f"the agent never converged: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


# --- the measurements ---------------------------------------------------------------------------------------------


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:.1f} / {p95 * 1000:.1f} / {ordered[-1] * 1000:.1f}"


def carries(vid: int, vlans: Vlans) -> bool:
    return vid in vlans


def lacks(vid: int, vlans: Vlans) -> bool:
    return vid not in vlans


STATUS = vlanstatus_name("vlan", "node1")


def wait_for_status(kube: KubeClient, vid: int, present: bool) -> float:
    """When the agent's VlanStatus (polled every 20 ms) lists `vid` (or no longer does)."""
    deadline = time.perf_counter() + WAIT_S
    while time.perf_counter() < deadline:
        live = kube.get("VlanStatus", STATUS) or {}
        if (vid in {area["vlanID"] for area in (live.get("status") or {}).get("localAreas") or []}) == present:
            return time.perf_counter()
        time.sleep(0.02)
    raise SystemExit(f"the status never {'showed' if present else 'dropped'} VID {vid}")


def reaction_trials(
    cluster: Cluster, monitor: BridgeVlanMonitor, watch: RawWatch, trials: int
) -> dict[str, list[float]]:
    """Each change waits for the last one's status to be written, so trials do not queue behind each other."""
    times: dict[str, list[float]] = {key: [] for key in ("add", "add watch", "add status", "delete", "delete watch")}
    times["delete status"] = []
    for trial in range(trials):
        vid = TRIAL_VID + trial
        name = f"trial-{vid}"
        start = time.perf_counter()
        cluster.kube.apply(nad(name, vid))
        on = monitor.wait_for(BOND, functools.partial(carries, vid), f"VID {vid} on {BOND}")
        times["add"].append(on - start)
        times["add watch"].append(watch.wait_for("ADDED", name) - start)
        times["add status"].append(wait_for_status(cluster.kube, vid, present=True) - start)
        start = time.perf_counter()
        cluster.kube.delete("NetworkAttachmentDefinition", name, "default")
        off = monitor.wait_for(BOND, functools.partial(lacks, vid), f"VID {vid} off {BOND}")
        times["delete"].append(off - start)
        times["delete watch"].append(watch.wait_for("DELETED", name) - start)
        times["delete status"].append(wait_for_status(cluster.kube, vid, present=False) - start)
    return times


def vm_port(ipr: IPRoute, port: str, remove_vlan_1_first: bool) -> None:
    """A VM's host-side veth as the bridge CNI plugin leaves it (VLAN LEAK_VID as PVID, egress untagged)."""
    ipr.link("add", ifname=port, kind="veth", peer=f"{port}p")
    index = ipr.link_lookup(ifname=port)[0]
    ipr.link("set", index=index, master=ipr.link_lookup(ifname=BRIDGE)[0], state="up")
    if remove_vlan_1_first:  # plugin >= 1.2 with preserveDefaultVlan false: removeDefaultVlan, then the VLAN
        ipr.vlan_filter("del", index=index, vlan_info={"vid": 1})
    flags = BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED
    ipr.vlan_filter("add", index=index, vlan_info={"vid": LEAK_VID, "flags": flags})


def leak_windows(ipr: IPRoute, monitor: BridgeVlanMonitor, trials: int, label: str, newer: bool) -> list[float]:
    """Per port: from the first notification with VID 1 not its PVID to the first without VID 1 (0 if never)."""
    windows = []
    for trial in range(trials):
        port = f"vm{label}{trial}"
        vm_port(ipr, port, remove_vlan_1_first=newer)
        monitor.wait_for(port, lambda vlans: 1 not in vlans and LEAK_VID in vlans, f"{port} out of VLAN 1")
        with monitor.changed:
            seen = [(t, vlans) for t, name, vlans in monitor.history if name == port and vlans is not None]
        leaking = [t for t, vlans in seen if 1 in vlans and not vlans[1].pvid]
        fixed = [t for t, vlans in seen if 1 not in vlans and (not leaking or t > leaking[0])]
        windows.append(fixed[0] - leaking[0] if leaking else 0.0)
        ipr.link("del", index=ipr.link_lookup(ifname=port)[0])
    return windows


def raw_list_s(kube: KubeClient) -> float:
    started = time.perf_counter()
    kube.list_with_version("NetworkAttachmentDefinition")
    return time.perf_counter() - started


def converge(monitor: BridgeVlanMonitor, vids: set[int], what: str) -> None:
    monitor.wait_for(BOND, lambda vlans: vids <= set(vlans), what)


METRICS_ADDR = "127.0.0.1:9464"  # in the benchmark's own namespace
NOOP_RESYNC_S = 0.2
NOOP_WINDOW_S = 15.0


def agent_counters() -> dict[str, float]:
    """The agent's /metrics counters (`<name>_total` lines) by name."""
    with urllib.request.urlopen(f"http://{METRICS_ADDR}/metrics", timeout=10) as response:
        lines = response.read().decode().splitlines()
    return {name: float(value) for name, _, value in (line.partition(" ") for line in lines) if name.endswith("_total")}


def process_cpu_s(pid: int) -> float:
    """utime + stime of every thread of process `pid` (/proc/<pid>/stat, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def noop_passes(cluster: Cluster, workdir: Path) -> tuple[float, float, int]:
    """(mean CPU of a pass on its thread, mean CPU of the whole process per pass, passes) of `hvnet agent` making
    a pass every NOOP_RESYNC_S where nothing changed (a resync), over NOOP_WINDOW_S; the agent's own counter
    (hvnet_agent_reconcile_cpu_seconds) and its /proc stat. The process figure has everything else a resync pass
    brings: the status thread checking the statuses, the log lines, the watches, this scrape."""
    agent = Agent(cluster, workdir, resync_s=NOOP_RESYNC_S, metrics_addr=METRICS_ADDR)
    try:
        agent.first_ready_s()
        time.sleep(3)  # the start's passes and status writes are over
        before, cpu_before = agent_counters(), process_cpu_s(agent.process.pid)
        time.sleep(NOOP_WINDOW_S)
        after, cpu_after = agent_counters(), process_cpu_s(agent.process.pid)
    finally:
        agent.stop()
    passes = int(after["hvnet_agent_reconciles_total"] - before["hvnet_agent_reconciles_total"])
    if after["hvnet_agent_netlink_writes_total"] != before["hvnet_agent_netlink_writes_total"] or passes < 10:
        raise SystemExit(f"not {passes} passes without writes: {before} -> {after}")
    pass_cpu = after["hvnet_agent_reconcile_cpu_seconds_total"] - before["hvnet_agent_reconcile_cpu_seconds_total"]
    return pass_cpu / passes, (cpu_after - cpu_before) / passes, passes


def kernel_reads(ipr: IPRoute, repeats: int = 40) -> tuple[float, float]:
    """Mean thread CPU, in this process, of one pass's kernel read (links, bridge VLANs, addresses): (decoded by
    pyroute2 as the pass did before, on RouteSocket as it does now)."""

    def by_pyroute2() -> None:
        list(ipr.link("dump", ext_mask=RTEXT_FILTER_SKIP_STATS))
        list(ipr.link("dump", family=socket.AF_BRIDGE, ext_mask=RTEXT_FILTER_BRVLAN_COMPRESSED))
        list(ipr.addr("dump", family=socket.AF_INET))

    route = RouteSocket.beside(ipr)

    def by_route_socket() -> None:
        read_kernel_state(route)
        ipv4_link_indexes(route)

    sums = [0.0, 0.0]
    for _ in range(repeats):  # interleaved: the machine's load falls on both alike
        for slot, read in enumerate((by_pyroute2, by_route_socket)):
            started = time.thread_time()
            read()
            sums[slot] += time.thread_time() - started
    route.close()
    return sums[0] / repeats, sums[1] / repeats


def scratch_desired_s(cluster: Cluster, ipr: IPRoute, workdir: Path) -> float:
    """Thread CPU of the desired state from scratch on the same objects (best of 3; mirrors in this process)."""
    source = KubeSource(cluster.target, "node1")
    try:
        objects, node = source.load()
        host = KernelHost(ipr, HostIpMigrator(ipr, RecordStore(workdir / "noop-state", "node1")))
        links = node.with_links(host.inventory())
        best = float("inf")
        for _ in range(3):
            started = time.thread_time()
            desired_host_state(objects, links)
            best = min(best, time.thread_time() - started)
        return best
    finally:
        source.close()


# --- the run ----------------------------------------------------------------------------------------------------


def run(trials: int, memory_only: bool) -> None:
    with hvt_netns("benchkube") as ns, tempfile.TemporaryDirectory(prefix="hvnet-bench-") as tmp:
        netns.pushns(ns.name)  # this thread, and every thread and process it starts, lives in the namespace
        try:
            measure(ns, Path(tmp), trials, memory_only)
        finally:
            netns.popns()


def compile_as_installed() -> None:
    """Byte-compile the package, as `pip install .` does for the agent image: an editable checkout run with
    PYTHONDONTWRITEBYTECODE compiles every module of ours at each start, a cost (~0.1 s, ~2 MiB of RSS) that no node
    pays and that the baseline's libraries, compiled at their install, do not carry either."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "harvester_network")], check=True)


def measure(ns: HvtNetns, workdir: Path, trials: int, memory_only: bool = False) -> None:
    """Every number of the RESULTS.md section; `memory_only`: the same steps without the timed trials (the
    memory and start-up rows, in about a minute)."""
    started = time.perf_counter()
    compile_as_installed()
    ns.ipr.link("add", ifname="eth1", kind="dummy")
    ns.ipr.link("set", index=ns.ipr.link_lookup(ifname="eth1")[0], state="up")
    base_import, _, base_rss = import_probe(BASELINE_IMPORTS)
    agent_import, _, agent_import_rss = import_probe(AGENT_IMPORTS)
    _, agent_share, _ = import_probe(BASELINE_IMPORTS, then=AGENT_IMPORTS)
    cluster = Cluster(workdir)
    monitor = BridgeVlanMonitor()
    watch = RawWatch(KubeClient(cluster.target))

    rows: list[str] = []
    status_rows: list[str] = []
    list_s: dict[str, float] = {}
    rss: dict[str, float] = {}
    agent = Agent(cluster, workdir)
    start_s = {"quickstart (2 tagged NADs)": agent.first_ready_s()}
    converge(monitor, {100, 200}, "the quickstart VIDs")
    rss["quickstart"] = idle_rss(agent.process.pid)
    for size in (100, 5000):
        vids = cluster.seed_nads(size)
        converge(monitor, vids, f"{size} NADs' VIDs")
        rss[f"{size:,} NADs"] = idle_rss(agent.process.pid)
        if not memory_only:
            times = reaction_trials(cluster, monitor, watch, trials)
            legacy = leak_windows(ns.ipr, monitor, trials, f"a{size}", newer=False)
            newer = leak_windows(ns.ipr, monitor, trials, f"b{size}", newer=True)
            rows.append(
                f"| {size:,} | {percentiles(times['add'])} | {percentiles(times['add watch'])} "
                f"| {percentiles(times['delete'])} | {percentiles(times['delete watch'])} "
                f"| {percentiles(legacy)} | {percentiles(newer)} |"
            )
            status_rows.append(
                f"| {size:,} | {percentiles(times['add status'])} | {percentiles(times['delete status'])} |"
            )
        print(f"[{time.perf_counter() - started:.0f}s] {size} NADs measured", file=sys.stderr, flush=True)
        agent.stop()
        list_s[f"{size:,} NADs"] = raw_list_s(cluster.kube)
        agent = Agent(cluster, workdir)
        start_s[f"{size:,} NADs"] = agent.first_ready_s()
    vids = cluster.seed_nads(10_000)
    cluster.seed_vlan_configs(200)
    converge(monitor, vids, "10,000 NADs' VIDs")
    rss["10,000 NADs + 200 VlanConfigs"] = idle_rss(agent.process.pid)
    agent.stop()
    list_s["10,000 NADs + 200 VlanConfigs"] = raw_list_s(cluster.kube)
    agent = Agent(cluster, workdir)
    start_s["10,000 NADs + 200 VlanConfigs"] = agent.first_ready_s()
    agent.stop()
    noop: dict[str, tuple[float, float, int]] = {}
    if not memory_only:
        noop["no VM ports"] = noop_passes(cluster, workdir)
        for n in range(VM_PORTS):  # a node running VMs: their ports on the bridge (in VLAN LEAK_VID)
            vm_port(ns.ipr, f"vmnoop{n}", remove_vlan_1_first=True)
        noop[f"{VM_PORTS} VM ports on the bridge"] = noop_passes(cluster, workdir)
        reads = kernel_reads(ns.ipr)
        scratch = scratch_desired_s(cluster, ns.ipr, workdir)
    cluster.stop()
    print(f"[{time.perf_counter() - started:.0f}s] done", file=sys.stderr, flush=True)

    growth = (rss["10,000 NADs + 200 VlanConfigs"] - rss["100 NADs"]) / 9.9
    print(
        f"## Agent in Kubernetes mode\n\n`benchmarks/agent_kube.py`, {datetime.date.today()}; lab kernel (Linux "
        f"{platform.release()}), Python {platform.python_version()}; {trials} trials each; the agent is "
        "`hvnet agent` against the test API server, both in one namespace; times in ms as p50 / p95 / max.\n"
    )
    if not memory_only:
        print(
            "| NADs | NAD created -> VID on uplink | baseline: watch event here | NAD deleted -> VID off "
            "| baseline: watch event here | VLAN-1 leak, plugin 1.1.1 | VLAN-1 leak, plugin >= 1.2 |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|")
        print("\n".join(rows))
        print("\n| NADs | NAD created -> its VlanStatus lists it | NAD deleted -> no longer listed |\n|---:|---:|---:|")
        print("\n".join(status_rows))
    print("\n| memory and start | value |\n|---|---:|")
    print(f"| baseline process: imports kubernetes.client + pyroute2 (RSS) | {base_rss:.1f} MiB |")
    print(f"| a process importing the agent's modules (RSS) | {agent_import_rss:.1f} MiB |")
    for label, value in rss.items():
        print(f"| agent idle at {label} (RSS) | {value:.1f} MiB |")
    print(f"| growth per 1,000 NADs (100 -> 10,000) | {growth:.2f} MiB |")
    print(f"| import: baseline / agent | {base_import:.2f} s / {agent_import:.2f} s |")
    print(f"| ... the agent's own modules, imported after the baseline's | {agent_share:.3f} s |")
    for label, value in start_s.items():
        listed = f" (baseline: listing the NADs here {list_s[label]:.2f} s)" if label in list_s else ""
        print(f"| start -> first converged status, {label}{listed} | {value:.2f} s |")
    if memory_only:
        return
    for label, (pass_cpu, process_cpu, passes) in noop.items():
        print(
            f"| no-op pass at 10,000 NADs + 200 VlanConfigs, {label}: the agent's pass thread / whole process per "
            f"pass ({passes} resync passes) | {pass_cpu * 1000:.1f} / {process_cpu * 1000:.1f} ms |"
        )
    print(
        f"| ... the pass's kernel read with {VM_PORTS} VM ports: decoded by pyroute2 (before) / on RouteSocket "
        f"(now), in this process | {reads[0] * 1000:.1f} / {reads[1] * 1000:.1f} ms |"
    )
    print(f"| baseline: desired state from scratch on the same objects, in this process | {scratch * 1000:.1f} ms |")


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    options.add_argument("--trials", type=int, default=30)
    options.add_argument(
        "--memory-only", action="store_true", help="Only the memory, import and start-up rows (no timed trials)"
    )
    options.add_argument("--serve", metavar="KUBECONFIG", help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    if needs_lab_kernel():
        print("this kernel lacks bridge VLAN filtering: running inside the lab kernel", file=sys.stderr, flush=True)
        return run_in_lab_kernel([sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]], cwd=ROOT)
    run(args.trials, args.memory_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
