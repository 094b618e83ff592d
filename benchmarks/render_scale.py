"""How validation and rendering scale: plans of 100, 1 000 and 10 000 networks, each with 500 VMs; and plan
files of 10 000 and 100 000 networks read, validated and rendered as the CLI does, against a baseline loader.

Times `load_plan` and `render_plan` separately (best of 3, time.perf_counter), then measures their
peak memory in a separate run (tracemalloc slows the code it watches). Prints a markdown table and
writes it into the "## Render scale" section of benchmarks/RESULTS.md, leaving other sections alone.

    .venv/bin/python benchmarks/render_scale.py [--profile]   # --profile: cProfile of the largest plan
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import json
import os
import platform
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from harvester_network.model import Plan, load_plan
from harvester_network.model import load as load_module
from harvester_network.render import render_plan

NETWORK_COUNTS = (100, 1_000, 10_000)
VM_COUNT = 500
# The same largest plan without VMs: shows what the networks alone cost.
SIZES = [(n, VM_COUNT) for n in NETWORK_COUNTS] + [(NETWORK_COUNTS[-1], 0)]
REPEATS = 3
TARGET_SECONDS = 2.0  # 10 000 networks validated + rendered
FILE_NETWORK_COUNTS = (10_000, 100_000)
FILE_LOADERS = ("baseline", "hvnet")
FILE_TARGET_NETWORKS = 100_000
FILE_TARGET_SECONDS = 10.0
FILE_TARGET_MIB = 1024
RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## Render scale"
NODES = [f"node{i}" for i in range(1, 6)]
NAMESPACES = [f"team-{i}" for i in range(10)]


def subnet(i: int) -> str:
    """A distinct /24 per network (up to 2**24 of them), outside the default service CIDR 10.53.0.0/16."""
    return f"{100 + i // 65536}.{(i // 256) % 256}.{i % 256}"


def generated_plan(networks: int, vms: int = VM_COUNT) -> dict[str, Any]:
    """3 cluster networks (one with a node override), `networks` networks - every 3rd with a manual route,
    every 30th with a DHCP server - and `vms` VMs with a mgmt NIC and two VLAN NICs."""
    cluster_networks: list[dict[str, Any]] = [
        {"name": f"cn{c}", "uplink": {"nics": [f"eth{c + 1}"], "mtu": 9000 if c == 0 else 0}} for c in range(3)
    ]
    cluster_networks[0]["nodeOverrides"] = [{"node": "node2", "nics": ["eno9"]}]
    nets = []
    for i in range(networks):
        net: dict[str, Any] = {
            "name": f"net-{i}",
            "namespace": NAMESPACES[i % len(NAMESPACES)],
            "clusterNetwork": f"cn{i % 3}",
            "vlan": i % 4094 + 1,
        }
        if i % 3 == 0:
            net["route"] = {"mode": "manual", "cidr": f"{subnet(i)}.0/24", "gateway": f"{subnet(i)}.1"}
        if i % 30 == 0:
            net["dhcpServer"] = {
                "serverIP": f"{subnet(i)}.2",
                "range": {"start": f"{subnet(i)}.100", "end": f"{subnet(i)}.199"},
            }
        nets.append(net)
    virtual_machines = []
    static_ips_given: Counter[int] = Counter()  # per network: .10, .11, ... below the DHCP range
    for v in range(vms):
        interfaces: list[dict[str, Any]] = [{"name": "default", "network": "mgmt"}]
        for k, i in enumerate(((v * 7) % networks, (v * 13 + 1) % networks)):
            nic: dict[str, Any] = {"name": f"nic-{k}", "network": f"{nets[i]['namespace']}/{nets[i]['name']}"}
            if "route" in nets[i] and k == 0 and static_ips_given[i] < 80:
                nic["ip"] = f"{subnet(i)}.{10 + static_ips_given[i]}/24"
                static_ips_given[i] += 1
            else:
                nic["macAddress"] = f"02:00:00:{v // 256:02x}:{v % 256:02x}:{k:02x}"
            interfaces.append(nic)
        virtual_machines.append(
            {
                "name": f"vm-{v}",
                "namespace": "default",
                "interfaces": interfaces,
                "managementService": {"ports": [{"port": 22}]},
            }
        )
    return {"clusterNetworks": cluster_networks, "nodes": NODES, "networks": nets, "virtualMachines": virtual_machines}


def load(data: dict[str, Any]) -> Plan:
    return load_plan(data)[0]


def best_time(run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def peak_mib(run: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def measure(networks: int, vms: int) -> dict[str, float]:
    data = generated_plan(networks, vms)
    plan = load(data)
    objects = render_plan(plan)
    load_s = best_time(lambda: load(data))
    render_s = best_time(lambda: render_plan(plan))
    return {
        "networks": networks,
        "vms": vms,
        "objects": len(objects),
        "load_s": load_s,
        "render_s": render_s,
        "total_s": load_s + render_s,
        "load_mib": peak_mib(lambda: load(data)),
        "render_mib": peak_mib(lambda: render_plan(plan)),
    }


def file_pipeline(path: Path, loader: str) -> dict[str, float]:
    """What `hvnet validate` + `hvnet render` do with a plan file, in this process: read, parse, validate,
    render. `loader`: "hvnet" (model/load.py's) or "baseline" (PyYAML's pure-Python SafeLoader, what the
    plan loader used before). Returns the seconds of each step and this process's peak RSS."""
    started = time.perf_counter()
    text = load_module.read_plan_text(path)
    read = time.perf_counter()
    data = load_module.parse_yaml(text) if loader == "hvnet" else yaml.load(text, Loader=yaml.SafeLoader)
    parsed = time.perf_counter()
    plan, _ = load_plan(data)
    validated = time.perf_counter()
    objects = render_plan(plan)
    rendered = time.perf_counter()
    return {
        "objects": len(objects),
        "parse_s": parsed - read + (read - started),
        "validate_s": validated - parsed,
        "render_s": rendered - validated,
        "total_s": rendered - started,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure_file(networks: int, loader: str, workdir: Path) -> dict[str, Any]:
    """`file_pipeline` on a generated plan file, in a fresh interpreter (so RSS is this run's alone)."""
    path = workdir / f"plan-{networks}.yaml"
    if not path.exists():
        path.write_text(yaml.safe_dump(generated_plan(networks), sort_keys=False))
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import render_scale as r; "
        "from pathlib import Path; print(json.dumps(r.file_pipeline(Path(sys.argv[2]), sys.argv[3])))"
    )
    argv = [sys.executable, "-c", code, str(Path(__file__).parent), str(path), loader]
    result = subprocess.run(argv, capture_output=True, text=True, check=True)
    return {"networks": networks, "loader": loader, "mib": path.stat().st_size / 2**20} | json.loads(result.stdout)


def file_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| networks | plan file (MiB) | YAML loader | objects | read + parse (s) | validate (s) | render (s) | "
        "total (s) | peak RSS (MiB) |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['networks']:,} | {r['mib']:.1f} | {r['loader']} | {r['objects']:,} | {r['parse_s']:.2f} | "
            f"{r['validate_s']:.2f} | {r['render_s']:.2f} | {r['total_s']:.2f} | {r['rss_mib']:.0f} |"
        )
    return "\n".join(lines)


def table(rows: list[dict[str, float]]) -> str:
    lines = [
        "| networks | VMs | objects | load_plan (s) | render_plan (s) | total (s) | "
        "load_plan peak (MiB) | render_plan peak (MiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['networks']:,} | {r['vms']} | {r['objects']:,} | {r['load_s']:.3f} | {r['render_s']:.3f} | "
            f"{r['total_s']:.3f} | {r['load_mib']:.1f} | {r['render_mib']:.1f} |"
        )
    return "\n".join(lines)


def section(rows: list[dict[str, float]], file_rows: list[dict[str, Any]]) -> str:
    small, _, largest, networks_only = rows
    big = next(r for r in file_rows if r["networks"] == FILE_TARGET_NETWORKS and r["loader"] == "hvnet")
    big_verdict = "met" if big["total_s"] < FILE_TARGET_SECONDS and big["rss_mib"] < FILE_TARGET_MIB else "MISSED"
    per_thousand = (largest["total_s"] - small["total_s"]) / (largest["networks"] - small["networks"]) * 1000
    verdict = "met" if largest["total_s"] < TARGET_SECONDS else "MISSED"
    return "\n".join(
        [
            SECTION,
            "",
            f"`benchmarks/render_scale.py`, {datetime.date.today().isoformat()}; machine: {os.cpu_count()} CPUs "
            f"(shared with other jobs), Python {platform.python_version()} ({platform.machine()}).",
            f"Each plan: 3 cluster networks, {len(NODES)} nodes (one override), the networks (every 3rd with a manual "
            f"route, every 30th with a DHCP server) and {VM_COUNT} VMs (mgmt + 2 VLAN NICs, a Service each).",
            f"Times: best of {REPEATS}; peak memory: tracemalloc, in a separate run.",
            "",
            table(rows),
            "",
            f"Target: {largest['networks']:,} networks validated + rendered in under {TARGET_SECONDS:.0f} s: "
            f"{verdict} ({largest['total_s']:.2f} s). Growth: {per_thousand * 1000:.0f} ms per 1 000 more networks "
            f"(between {small['networks']:,} and {largest['networks']:,}); the {VM_COUNT} VMs cost about "
            f"{largest['total_s'] - networks_only['total_s']:.2f} s whatever the network count, mostly PyYAML "
            "dumping each VM's cloud-init data.",
            "",
            "From a plan file, as `hvnet validate` and `hvnet render` read it (each run in a fresh interpreter; "
            "`baseline`: PyYAML's pure-Python SafeLoader, which the plan loader used before libyaml's):",
            "",
            file_table(file_rows),
            "",
            f"Target: {FILE_TARGET_NETWORKS:,} networks from a file validated + rendered in under "
            f"{FILE_TARGET_SECONDS:.0f} s and {FILE_TARGET_MIB / 1024:.0f} GiB: {big_verdict} "
            f"({big['total_s']:.1f} s, {big['rss_mib']:.0f} MiB).",
            "",
        ]
    )


def update_results(text: str) -> None:
    """Replace this script's section of RESULTS.md (heading up to the next `## `), or append it."""
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text + "\n", current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(updated.rstrip("\n") + "\n")


def profile(networks: int) -> None:
    data = generated_plan(networks)
    profiler = cProfile.Profile()
    profiler.runcall(lambda: render_plan(load(data)))
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the largest plan instead")
    parser.add_argument("--no-write", action="store_true", help="print the table only, leave RESULTS.md alone")
    args = parser.parse_args()
    if args.profile:
        profile(NETWORK_COUNTS[-1])
        return
    rows = [measure(networks, vms) for networks, vms in SIZES]
    with tempfile.TemporaryDirectory() as tmp:
        file_rows = [measure_file(n, loader, Path(tmp)) for n in FILE_NETWORK_COUNTS for loader in FILE_LOADERS]
    text = section(rows, file_rows)
    print(text)
    if not args.no_write:
        update_results(text)


if __name__ == "__main__":
    main()
