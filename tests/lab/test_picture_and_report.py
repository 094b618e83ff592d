"""The topology picture and the check report, from a made-up check result (no lab needed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from rich.console import Console

from harvester_network.lab.lab import CheckReport, SwitchGap
from harvester_network.lab.matrix import Probe
from harvester_network.lab.picture import topology_svg, vlan_colours
from harvester_network.lab.report import matrix_table, mismatch_lines, report_json
from harvester_network.lab.topology import build_topology
from harvester_network.model import load_plan_file

ROOT = Path(__file__).resolve().parents[2]


def test_picture_is_svg_with_every_node_vm_and_a_colour_per_vlan() -> None:
    plan, _ = load_plan_file(ROOT / "tests/lab/plans/cluster.yaml")
    svg = topology_svg(plan, build_topology(plan), {"node3-eth1": (200,)})
    root = ET.fromstring(svg)
    texts = " | ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for name in ("node node1", "node node2", "node node3", "VM web-1", "VM db-1", "VM cache-1", "VM app-1"):
        assert name in texts
    assert "missing 200" in texts
    colours = vlan_colours(plan)
    assert len({colours[100], colours[200], colours[0]}) == 3
    assert f'fill="{colours[200]}"' in svg


def test_report_names_mismatches_and_switch_gaps() -> None:
    report = CheckReport(
        probes=[
            Probe("a/nic-1", "b/nic-1", "arp", expected=True, observed=False, detail="10.0.0.2"),
            Probe("a/nic-1", "c/nic-1", "arp", expected=False, observed=False, detail="10.0.0.3"),
        ],
        switch_gaps=[SwitchGap("node3-eth1", "node3 eth1", (200,))],
        missing_addresses=["c/nic-2"],
        vlan1_leaks=["node1 veth0a1b2c3d (default/c/nic-1)"],
    )
    assert not report.ok
    assert mismatch_lines(report) == [
        "switch port node3-eth1 (node3 eth1) lacks VLAN 200",
        "c/nic-2 got no address (networkData says it should)",
        "bridge port node1 veth0a1b2c3d (default/c/nic-1) is in VLAN 1 besides its own VLAN (#8816)",
        "a/nic-1 should reach b/nic-1 (arp 10.0.0.2): did not reach it",
    ]
    data = report_json(report)
    assert data["switchGaps"] == [{"port": "node3-eth1", "label": "node3 eth1", "missingVlans": [200]}]
    assert [p["ok"] for p in data["probes"]] == [False, True]
    console = Console(width=200, record=True)
    console.print(matrix_table(report))
    table = console.export_text()
    assert "MISMATCH(ES)" in table and "✗ want ✓" in table
    assert "b/nic-1" in table and "c/nic-1" in table
