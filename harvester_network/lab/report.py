"""The check's results for people (rich) and machines (JSON)."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from harvester_network.lab.lab import CheckReport
from harvester_network.lab.matrix import UNTAGGED_HOST, Probe, as_json

GATEWAY_COLUMN = "gateway"


def _cell(probe: Probe | None) -> Text:
    if probe is None:
        return Text("")
    if probe.observed is None:
        return Text("no addr", style="bold red" if probe.expected else "dim")
    mark = "✓" if probe.observed else "·"
    if probe.ok:
        return Text(mark, style="green" if probe.observed else "dim")
    return Text(f"{'✓' if probe.observed else '✗'} want {'✓' if probe.expected else '·'}", style="bold red")


def _column(probe: Probe) -> str:
    return GATEWAY_COLUMN if probe.dst.startswith("gateway ") else probe.dst


def matrix_table(report: CheckReport) -> Table:
    """Rows: source VM NICs; columns: the other VM NICs, the gateway, the untagged host."""
    sources = list(dict.fromkeys(p.src for p in report.probes))
    targets = {_column(p) for p in report.probes} - {GATEWAY_COLUMN, UNTAGGED_HOST}
    columns = [c for c in dict.fromkeys([*sources, *(p.dst for p in report.probes)]) if c in targets]
    if any(_column(p) == GATEWAY_COLUMN for p in report.probes):
        columns.append(GATEWAY_COLUMN)
    if any(p.dst == UNTAGGED_HOST for p in report.probes):
        columns.append(UNTAGGED_HOST)
    cells = {(p.src, _column(p)): p for p in report.probes}
    bad = sum(1 for p in report.probes if not p.ok)
    title = f"connectivity: {len(report.probes)} probes, " + ("all as planned" if not bad else f"{bad} MISMATCH(ES)")
    table = Table(title=title, caption="✓ reaches  · isolated  ✗/red: differs from the plan", show_lines=False)
    table.add_column("from \\ to", style="bold")
    for column in columns:
        table.add_column(column, justify="center")
    for src in sources:
        table.add_row(src, *(_cell(cells.get((src, c))) for c in columns))
    return table


def mismatch_lines(report: CheckReport) -> list[str]:
    lines = [str(gap) for gap in report.switch_gaps]
    lines += [f"{nic} got no address (networkData says it should)" for nic in report.missing_addresses]
    lines += [f"bridge port {port} is in VLAN 1 besides its own VLAN (#8816)" for port in report.vlan1_leaks]
    lines += report.stray_addresses
    for p in report.probes:
        if not p.ok:
            want = "reach" if p.expected else "be isolated from"
            got = "no address" if p.observed is None else ("reached it" if p.observed else "did not reach it")
            lines.append(f"{p.src} should {want} {p.dst} ({p.kind} {p.detail}): {got}")
    return lines


def report_json(report: CheckReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "probes": as_json(report.probes),
        "missingAddresses": report.missing_addresses,
        "vlan1Leaks": report.vlan1_leaks,
        "strayAddresses": report.stray_addresses,
        "switchGaps": [{"port": g.port, "label": g.label, "missingVlans": list(g.missing)} for g in report.switch_gaps],
    }
