"""`hvnet validate | render | plan`: work on a plan file, no cluster needed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from harvester_network.model import Plan, PlanError, PlanIssue, load_plan_file
from harvester_network.render import object_file_name, render_plan
from harvester_network.render.agent_install import AGENT_IMAGE, agent_install_objects
from harvester_network.render.nodeplan import ALL_NODES, node_plan, vid_ranges
from harvester_network.render.objects import in_apply_order

# Wide enough for the tables when piped (CI logs, `| less`); a terminal keeps its own width.
out = Console(width=None if sys.stdout.isatty() else 180)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 180)

PlanPath = Annotated[Path, typer.Argument(help="The plan YAML file", show_default=False)]


def print_issues(issues: list[PlanIssue]) -> None:
    for issue in issues:
        style = "red" if issue.severity == "error" else "yellow"
        err.print(
            f"[{style}]{issue.severity}[/]: [bold]{issue.path or '<plan>'}[/]: {issue.message}",
            highlight=False,
            soft_wrap=True,
        )
        if issue.fix:
            err.print(f"       fix: {issue.fix}", highlight=False, soft_wrap=True)


def load_or_exit(path: Path) -> Plan:
    """Load and validate; on errors print every one of them and exit 1."""
    try:
        plan, warnings = load_plan_file(path)
    except PlanError as exc:
        print_issues(exc.issues + exc.warnings)
        err.print(f"[red]{path}: {len(exc.issues)} error(s); nothing was rendered or applied[/]", highlight=False)
        raise typer.Exit(1) from None
    print_issues(warnings)
    return plan


def validate(plan: PlanPath) -> None:
    """Validate a plan: exit 0 when valid (warnings printed), 1 with every error listed."""
    parsed = load_or_exit(plan)
    err.print(
        f"[green]{plan}: valid[/] ({len(parsed.cluster_networks)} cluster network(s), "
        f"{len(parsed.networks)} network(s), {len(parsed.virtual_machines)} VM(s))",
        highlight=False,
    )


def dump_objects(objects: list[dict[str, object]]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False)


def render(
    plan: PlanPath,
    output_dir: Annotated[Path | None, typer.Option("-o", "--output-dir", help="One file per object here")] = None,
    install_agent: Annotated[
        bool, typer.Option(help="Also the node agent for clusters without Harvester: CRDs, RBAC, DaemonSet")
    ] = False,
    agent_image: Annotated[str, typer.Option(help="The agent's image (with --install-agent)")] = AGENT_IMAGE,
    nad_crd: Annotated[
        bool, typer.Option(help="With --install-agent: include the NAD CRD (leave out where Multus installed it)")
    ] = True,
) -> None:
    """Render a plan's Kubernetes objects: a YAML stream on stdout, or one file per object in a directory."""
    objects = render_plan(load_or_exit(plan))
    if install_agent:
        objects = in_apply_order(agent_install_objects(agent_image, include_nad_crd=nad_crd) + objects)
    if output_dir is None:
        typer.echo(dump_objects(objects), nl=False)
        return
    output_dir.mkdir(parents=True, exist_ok=True)
    for obj in objects:
        (output_dir / object_file_name(obj)).write_text(dump_objects([obj]))
    err.print(f"wrote {len(objects)} object(s) to {output_dir}", highlight=False)


def plan_command(
    plan: PlanPath,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Show what each node gets, the switch-port checklist and every VM NIC."""
    result = node_plan(load_or_exit(plan))
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    nodes = Table(title="Per node: bridges, bonds and uplinks")
    for col in (
        "node",
        "cluster network",
        "bridge",
        "bond",
        "uplink NICs",
        "bond mode",
        "MTU",
        "VIDs trunked",
        "untagged (PVID 1)",
    ):
        nodes.add_column(col)
    for node, bridges in result.nodes.items():
        for b in bridges:
            nodes.add_row(
                "every node" if node == ALL_NODES else node,
                b.cluster_network,
                b.bridge,
                b.bond,
                ", ".join(b.nics),
                b.bond_mode,
                str(b.mtu or "as is"),
                vid_ranges(b.vids) or "-",
                "yes" if b.untagged else "-",
            )
    out.print(nodes)
    switch = Table(title="Switch-port checklist (trunk or hybrid ports)")
    for col in ("node", "NIC", "cluster network", "permit tagged VLANs", "native / PVID"):
        switch.add_column(col)
    for port in result.switch_ports:
        switch.add_row(
            "every node" if port.node == ALL_NODES else port.node,
            port.nic,
            port.cluster_network,
            vid_ranges(port.tagged_vids) or "none",
            f"{port.native_vlan}, untagged",
        )
    out.print(switch)
    out.print(
        "Every switch port above must permit its VLANs tagged and keep PVID 1 untagged, "
        "or VMs on those VLANs cannot reach other nodes.",
        highlight=False,
    )
    vms = Table(title="VM NICs")
    for col in ("VM", "interface", "network", "cluster network", "VLAN", "MAC", "IP"):
        vms.add_column(col)
    for nic in result.vm_nics:
        vlan = "mgmt (pod network)" if nic.vlan is None else ("untagged" if nic.vlan == 0 else str(nic.vlan))
        vms.add_row(nic.vm, nic.interface, nic.network, nic.cluster_network, vlan, nic.mac, nic.ip)
    out.print(vms)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("render")(render)
    app.command("plan")(plan_command)
