"""The lab's topology as an SVG picture (PNG too when `rsvg-convert` is installed): switch, router,
untagged host, nodes with their NICs and bridges, and VMs, each VM NIC coloured by its VLAN.

Plain SVG text, no drawing library: boxes in rows, lines between them.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from harvester_network.lab.topology import SWITCH_NS, Topology, nad_vlan, untagged
from harvester_network.model import names
from harvester_network.model.plan import Plan

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
UNTAGGED_COLOUR = "#555555"
NODE_W, VM_W, VM_H, GAP = 260, 240, 24, 30
TOP_Y, SWITCH_Y, NODE_Y = 20, 100, 210


def vlan_colours(plan: Plan) -> dict[int, str]:
    tagged = sorted({n.vlan for n in plan.networks if not untagged(n.vlan)})
    colours = {vid: PALETTE[i % len(PALETTE)] for i, vid in enumerate(tagged)}
    return colours | {0: UNTAGGED_COLOUR, 1: UNTAGGED_COLOUR}


@dataclass
class Svg:
    width: int = 0
    height: int = 0
    items: list[str] = field(default_factory=list)

    def box(self, x: float, y: float, w: float, h: float, fill: str = "#ffffff", stroke: str = "#333333") -> None:
        self.items.append(
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" rx="6" fill="{fill}" stroke="{stroke}"/>'
        )

    def text(
        self, x: float, y: float, label: str, size: int = 12, colour: str = "#111111", anchor: str = "start"
    ) -> None:
        self.items.append(
            f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" fill="{colour}" text-anchor="{anchor}" '
            f'font-family="sans-serif">{escape(label)}</text>'
        )

    def line(self, x1: float, y1: float, x2: float, y2: float, colour: str = "#777777", width: float = 2) -> None:
        self.items.append(
            f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="{colour}" stroke-width="{width}"/>'
        )

    def render(self) -> str:
        body = "\n".join(self.items)
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
            f'viewBox="0 0 {self.width} {self.height}">\n'
            f'<rect width="100%" height="100%" fill="#fafafa"/>\n{body}\n</svg>\n'
        )


def _vids_label(vids: tuple[int, ...]) -> str:
    return "PVID 1" + (" + " + ",".join(map(str, vids)) if vids else "")


def _draw_switch_row(svg: Svg, topology: Topology) -> None:
    """Router (left) and untagged host (right) above the switch, which spans the width."""
    ports = {p.name: p for p in topology.switch_ports}
    svg.box(20, SWITCH_Y, svg.width - 40, 44, fill="#eef3fb")
    svg.text(30, SWITCH_Y + 27, f"switch {SWITCH_NS}: VLAN-filtering bridge, ports trunked from `hvnet plan`", 13)
    if "router" in ports:
        svg.box(20, TOP_Y, 240, 50, fill="#fff5e6")
        svg.text(30, TOP_Y + 20, "router hvt-rtr (gateway, DHCP)", 12)
        legs = ", ".join(f"{leg.address.ip}" for leg in topology.router_legs[:3])
        svg.text(30, TOP_Y + 38, legs + ("…" if len(topology.router_legs) > 3 else ""), 10)
        svg.line(140, TOP_Y + 50, 140, SWITCH_Y, width=4)
        svg.text(146, TOP_Y + 66, _vids_label(ports["router"].tagged_vids), 9)
    if topology.untagged_host:
        x = svg.width - 260
        svg.box(x, TOP_Y, 240, 50, fill="#f0f0f0")
        svg.text(x + 10, TOP_Y + 20, "untagged host (PVID 1)", 12)
        svg.text(x + 10, TOP_Y + 38, ", ".join(str(a.ip) for a in topology.untagged_host), 10)
        svg.line(x + 120, TOP_Y + 50, x + 120, SWITCH_Y, UNTAGGED_COLOUR)


def topology_svg(plan: Plan, topology: Topology, gaps: dict[str, tuple[int, ...]] | None = None) -> str:
    """The picture. `gaps`: switch port -> VLANs it lacks (drawn in red)."""
    gaps = gaps or {}
    colours = vlan_colours(plan)
    svg = Svg()
    node_x = {node.name: 20 + i * (NODE_W + GAP) for i, node in enumerate(topology.nodes)}
    svg.width = max(20 + len(topology.nodes) * (NODE_W + GAP), 900)
    _draw_switch_row(svg, topology)
    port_y = SWITCH_Y + 44
    bottom = NODE_Y
    vms_by_node = {node.name: [vm for vm in topology.vms if vm.node == node.name] for node in topology.nodes}
    for node in topology.nodes:
        x = node_x[node.name]
        node_ports = [p for p in topology.switch_ports if p.node == node.name]
        uplinks = {nic for cn in plan.cluster_networks for nic in cn.uplink_for(node.name).nics}
        bridges = [f"{names.bridge_name(cn.name)} over {names.bond_name(cn.name)}" for cn in plan.cluster_networks]
        height = 70 + 30 * len(bridges)
        svg.box(x, NODE_Y, NODE_W, height, fill="#f4fbf2")
        svg.text(x + 10, NODE_Y + 18, f"node {node.name} ({node.netns})", 13)
        for i, port in enumerate(node_ports):
            nic_x = x + 20 + i * (NODE_W - 40) / max(len(node_ports), 1)
            missing = gaps.get(port.name, ())
            colour = "#d62728" if missing else "#777777"
            svg.line(nic_x + 10, port_y, nic_x + 10, NODE_Y, colour, 4 if port.tagged_vids else 2)
            uplink = port.nic in uplinks
            svg.text(nic_x, NODE_Y + 34, f"{port.nic} (uplink)" if uplink else port.nic or "", 11)
            if uplink:
                svg.line(nic_x + 10, NODE_Y + 38, nic_x + 10, NODE_Y + 44, width=3)
            label = _vids_label(port.tagged_vids)
            if missing:
                label += " missing " + ",".join(map(str, missing))
            svg.text(nic_x + 13, port_y + 24 + 12 * (i % 2), label, 9, colour)
        for j, bridge in enumerate(bridges):
            svg.box(x + 10, NODE_Y + 44 + 30 * j, NODE_W - 20, 24, fill="#ffffff")
            svg.text(x + 18, NODE_Y + 61 + 30 * j, f"{bridge} (made by the agent)", 11)
        vm_y = NODE_Y + height + 30
        lane = 0  # each VM NIC's line to the bridge gets its own x
        for vm in vms_by_node[node.name]:
            rows = max(len(vm.attachments), 1)
            svg.box(x + 10, vm_y, VM_W, 20 + VM_H * rows, fill="#ffffff")
            svg.text(x + 18, vm_y + 15, f"VM {vm.ref.split('/')[-1]}", 12)
            for k, att in enumerate(vm.attachments):
                vlan = nad_vlan(att.nad_config)
                colour = colours.get(vlan, UNTAGGED_COLOUR)
                ny = vm_y + 20 + VM_H * k
                svg.box(x + 20, ny + 2, VM_W - 20, VM_H - 4, fill=colour, stroke=colour)
                tag = "untagged" if untagged(vlan) else f"VLAN {vlan}"
                svg.text(x + 26, ny + 16, f"{att.interface}: {att.network.split('/')[-1]} ({tag})", 11, "#ffffff")
                svg.line(x + 13 + 4 * lane, ny + VM_H / 2, x + 13 + 4 * lane, NODE_Y + height, colour, 3)
                lane += 1
            vm_y += 30 + VM_H * rows
        for workload in [w for w in topology.dhcp_workloads if w.node == node.name]:
            colour = colours.get(workload.net.vlan, UNTAGGED_COLOUR)
            svg.box(x + 20, vm_y, VM_W - 10, 28, fill=colour, stroke=colour)
            svg.text(x + 28, vm_y + 18, f"DHCP server {workload.net.name} {workload.address}", 11, "#ffffff")
            svg.line(x + 13, vm_y + 14, x + 13, NODE_Y + height, colour, 3)
            vm_y += 38
        bottom = max(bottom, vm_y)
    # Legend.
    lx = 20
    for vid, colour in sorted(colours.items()):
        if vid == 0:
            continue
        svg.box(lx, bottom + 10, 14, 14, fill=colour, stroke=colour)
        svg.text(lx + 20, bottom + 22, "untagged / VLAN 1" if vid == 1 else f"VLAN {vid}", 11)
        lx += 140
    svg.text(20, bottom + 46, "Management (pod network) NICs are out of the lab's scope.", 10, "#666666")
    svg.height = bottom + 60
    return svg.render()


def write_picture(svg: str, path: Path) -> list[Path]:
    """Write the SVG, and a PNG next to it when rsvg-convert is installed (librsvg2-bin)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(svg)
    written = [path]
    converter = shutil.which("rsvg-convert")
    if converter is not None:
        png = path.with_suffix(".png")
        if subprocess.run([converter, "-o", str(png), str(path)], check=False).returncode == 0:
            written.append(png)
    return written
