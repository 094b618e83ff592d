"""How long the multi-cluster stack program takes to build under Pulumi mocks, and its peak memory.

The program is the repository's own __main__.py (one HarvesterNetworking per cluster), fed the shape of
examples/multi-cluster: shared defaults with N networks, three clusters with their own overrides. Time is the
best of `--repeat` runs of the whole program (construction plus every registration the mocks answer);
peak memory is tracemalloc's over one run. `--profile` prints where the time goes (cProfile, by own time).

    .venv/bin/python benchmarks/pulumi_program.py [--networks 1000] [--clusters 3] [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import runpy
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.pulumi.harness import run_program

PROGRAM = Path(__file__).resolve().parent.parent / "__main__.py"
VMS_PER_CLUSTER = 10


def stack_config(networks: int, clusters: int) -> dict[str, Any]:
    """`networks` VLANs shared through `defaults`; each cluster overrides its uplink or a node, and has VMs."""
    defaults = {
        "clusterNetworks": [{"name": "vlan", "uplink": {"nics": ["eth1"], "mtu": 1500}}],
        "nodes": ["node1", "node2", "node3"],
        "networks": [
            {
                "name": f"vlan{vid}",
                "clusterNetwork": "vlan",
                "vlan": vid,
                "route": {
                    "mode": "manual",
                    "cidr": f"10.{vid // 256}.{vid % 256}.0/24",
                    "gateway": f"10.{vid // 256}.{vid % 256}.1",
                },
            }
            for vid in range(1, networks + 1)
        ],
    }
    cluster_list = []
    for c in range(clusters):
        vms = [
            {
                "name": f"vm-{v}",
                "interfaces": [
                    {"name": "default", "network": "mgmt"},
                    {"name": "nic-1", "network": f"vlan{v + 1}", "macAddress": f"52:54:00:{c:02x}:00:{v:02x}"},
                ],
            }
            for v in range(VMS_PER_CLUSTER)
        ]
        override = {
            "clusterNetworks": [{"name": "vlan", "nodeOverrides": [{"node": "node2", "nics": [f"eno{c + 1}"]}]}]
        }
        cluster_list.append(
            {"name": f"site-{chr(ord('a') + c)}", "context": f"site-{c}", "plan": {**override, "virtualMachines": vms}}
        )
    return {"harvester-network:defaults": defaults, "harvester-network:clusters": cluster_list}


def run_once(config: dict[str, Any]) -> int:
    """The program once; returns how many resources it registered."""
    return run_program(lambda: runpy.run_path(str(PROGRAM)), config=config, record=False).resources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=1000)
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    config = stack_config(args.networks, args.clusters)

    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run_once, config)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return

    times, cpu_times = [], []
    for _ in range(args.repeat):
        gc.collect()
        start, cpu_start = time.perf_counter(), time.process_time()
        resources = run_once(config)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    gc.collect()
    tracemalloc.start()
    run_once(config)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"{args.clusters} clusters x {args.networks} networks: {resources} resources, "
        f"best {min(times):.2f} s wall / {min(cpu_times):.2f} s CPU (runs: {', '.join(f'{t:.2f}' for t in times)}), "
        f"peak {peak / 2**20:.0f} MiB"
    )


if __name__ == "__main__":
    main()
