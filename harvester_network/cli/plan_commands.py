"""`hvnet validate | render | plan`: work on a plan file, no cluster needed."""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from collections.abc import Set
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from harvester_network.cli.agent_commands import checked_image, checked_listen_address
from harvester_network.cli.terminal import safe_text
from harvester_network.model import Plan, PlanError, PlanIssue, load_plan_file
from harvester_network.model.load import paused_gc
from harvester_network.render import harvester as h
from harvester_network.render import object_file_name, object_key, render_plan
from harvester_network.render.agent_install import AGENT_IMAGE, DEFAULT_METRICS_ADDRESS, agent_install_objects
from harvester_network.render.nodeplan import ALL_NODES, node_plan
from harvester_network.render.objects import in_apply_order
from harvester_network.vids import format_ranges, vid_ranges

# Wide enough for the tables when piped (CI logs, `| less`); a terminal keeps its own width.
out = Console(width=None if sys.stdout.isatty() else 180)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 180)

PlanPath = Annotated[Path, typer.Argument(help="The plan YAML file", show_default=False)]


MAX_WARNINGS_SHOWN = 100  # a large plan can carry tens of thousands (a VLAN ID shared by many networks)


def print_issues(issues: list[PlanIssue]) -> None:
    """Every error; the first MAX_WARNINGS_SHOWN warnings, then how many more there are."""
    warnings = 0
    for issue in issues:
        warnings += issue.severity == "warning"
        if issue.severity == "warning" and warnings > MAX_WARNINGS_SHOWN:
            continue
        style = "red" if issue.severity == "error" else "yellow"
        err.print(
            f"[{style}]{issue.severity}[/]: [bold]{safe_text(issue.path or '<plan>')}[/]: {safe_text(issue.message)}",
            highlight=False,
            soft_wrap=True,
        )
        if issue.fix:
            err.print(f"       fix: {safe_text(issue.fix)}", highlight=False, soft_wrap=True)
    if warnings > MAX_WARNINGS_SHOWN:
        err.print(f"[yellow]... and {warnings - MAX_WARNINGS_SHOWN} more warning(s)[/]", highlight=False)


def load_or_exit(path: Path) -> Plan:
    """Load and validate; on errors print every one of them and exit 1."""
    try:
        plan, warnings = load_plan_file(path)
    except PlanError as exc:
        print_issues(exc.issues + exc.warnings)
        err.print(
            f"[red]{safe_text(path)}: {len(exc.issues)} error(s); nothing was rendered or applied[/]", highlight=False
        )
        raise typer.Exit(1) from None
    print_issues(warnings)
    return plan


def validate(plan: PlanPath) -> None:
    """Validate a plan: exit 0 when valid (warnings printed), 1 with every error listed."""
    parsed = load_or_exit(plan)
    err.print(
        f"[green]{safe_text(plan)}: valid[/] ({len(parsed.cluster_networks)} cluster network(s), "
        f"{len(parsed.networks)} network(s), {len(parsed.virtual_machines)} VM(s))",
        highlight=False,
    )


# libyaml's emitter when installed: PyYAML's own took a minute to write 100 000 networks' objects, libyaml's
# about 6 times less (the same data; only long quoted strings break their lines elsewhere).
_OBJECT_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_objects(objects: list[dict[str, object]]) -> str:
    return yaml.dump_all(objects, Dumper=_OBJECT_DUMPER, sort_keys=False, default_flow_style=False)


def render(
    plan: PlanPath,
    output_dir: Annotated[Path | None, typer.Option("-o", "--output-dir", help="One file per object here")] = None,
    install_agent: Annotated[
        bool, typer.Option(help="Also the node agent for clusters without Harvester: CRDs, RBAC, DaemonSet")
    ] = False,
    agent_image: Annotated[
        str,
        typer.Option(
            help="The agent's image (with --install-agent); pin it by digest: REPO@sha256:...", callback=checked_image
        ),
    ] = AGENT_IMAGE,
    agent_metrics_addr: Annotated[
        str,
        typer.Option(
            help="With --install-agent: where the agent serves /metrics and /healthz (unauthenticated, on the host "
            "network); the default is the node's loopback, 0.0.0.0:9464 opens it to scraping",
            callback=checked_listen_address,
        ),
    ] = DEFAULT_METRICS_ADDRESS,
    agent_admission_policy: Annotated[
        bool,
        typer.Option(
            help="With --install-agent: the admission policy that keeps each agent to its own node (leave out only "
            "on Kubernetes older than 1.30; see docs/security.md)"
        ),
    ] = True,
    nad_crd: Annotated[
        bool, typer.Option(help="With --install-agent: include the NAD CRD (leave out where Multus installed it)")
    ] = True,
) -> None:
    """Render a plan's Kubernetes objects: a YAML stream on stdout, or one file per object in a directory."""
    plan_model = load_or_exit(plan)
    with paused_gc():
        objects = render_plan(plan_model)
    if install_agent:
        objects = in_apply_order(
            agent_install_objects(agent_image, nad_crd, agent_metrics_addr, agent_admission_policy) + objects
        )
    if output_dir is None:
        typer.echo(dump_objects(objects), nl=False)
        return
    files: dict[str, dict[str, object]] = {}
    for obj in objects:
        other = files.setdefault(object_file_name(obj), obj)
        if other is not obj:
            err.print(
                f"[red]{safe_text(object_key(other))} and {safe_text(object_key(obj))} would both be written to "
                f"{safe_text(object_file_name(obj))}; "
                "nothing was written[/] (fix: rename one of them, or render to stdout)",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1)
    try:
        removed = write_object_files(
            output_dir,
            {name: dump_objects([obj]) for name, obj in files.items()},
            private={name for name, obj in files.items() if obj["kind"] == "Secret"},
        )
    except OutputDirError as error:
        err.print(f"[red]{safe_text(error)}[/]", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    stale = f"; removed {len(removed)} stale file(s): {', '.join(removed)}" if removed else ""
    err.print(
        f"wrote {len(objects)} object(s) to {safe_text(output_dir)}{safe_text(stale)}", highlight=False, soft_wrap=True
    )


# What object_file_name() makes: "<rank>-<kind>[-<namespace>]-<name>.yaml"; a cheap filter before reading a file.
_OBJECT_FILE_NAME = re.compile(r"[0-9]{2}-[a-z0-9.-]+\.yaml")


class OutputDirError(Exception):
    """A file of the output directory that cannot be written; nothing was changed."""


def write_object_files(output_dir: Path, files: dict[str, str], private: Set[str] = frozenset()) -> list[str]:
    """Write `files` (name -> text) into `output_dir` (the `private` ones, Secrets holding userData, readable by
    their owner only: mode 600, also when unchanged), and remove the files an earlier render wrote there for
    objects that are gone, so `hvnet agent --from-dir` stops seeing them. Returns the removed names.

    Every changed file is first staged under a hidden name (the agent skips dot files); only when all are staged
    do they replace the old ones, each by a rename, so a reader sees the old file or the new one, never half of
    one, and a failure changes nothing (OutputDirError). Unchanged files are left alone. New files go in before
    stale ones go, so a watching agent never sees a moment with neither the old nor the new object. A file is
    only removed when it is one of ours: its name is the object_file_name() of the one object it holds, and
    that object carries our managed-by label.
    """
    staged: dict[Path, Path] = {}
    try:
        if output_dir.exists() and not output_dir.is_dir():
            raise OutputDirError(f"{output_dir} is not a directory: give a directory for the object files")
        output_dir.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            path = output_dir / name
            mode = 0o600 if name in private else 0o644
            if _holds(path, text):
                if name in private and path.stat().st_mode & 0o077:
                    path.chmod(mode)
                continue
            if path.exists() and not path.is_file():
                raise OutputDirError(f"{path} is in the way (not a regular file): move it")
            staged[path] = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
            with os.fdopen(os.open(staged[path], os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "w") as f:
                f.write(text)
    except (OSError, OutputDirError) as error:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        raise OutputDirError(f"{error}; nothing was written") from None
    try:
        for path, tmp in staged.items():
            os.replace(tmp, path)
        removed = []
        for path in sorted(output_dir.iterdir()):
            if path.name not in files and _rendered_by_us(path):
                path.unlink()
                removed.append(path.name)
    except OSError as error:
        raise OutputDirError(f"{error}; some files may already be replaced") from None
    return removed


def _holds(path: Path, text: str) -> bool:
    try:
        return not path.is_symlink() and path.is_file() and path.read_text() == text
    except (OSError, UnicodeDecodeError):
        return False


def _rendered_by_us(path: Path) -> bool:
    if not _OBJECT_FILE_NAME.fullmatch(path.name) or path.is_symlink() or not path.is_file():
        return False
    try:
        documents = list(yaml.safe_load_all(path.read_text()))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    if len(documents) != 1 or not isinstance(documents[0], dict):
        return False
    obj = documents[0]
    meta = obj.get("metadata")
    if not (isinstance(meta, dict) and isinstance(obj.get("kind"), str) and isinstance(meta.get("name"), str)):
        return False
    labels = meta.get("labels")
    namespace = meta.get("namespace")
    return (
        isinstance(labels, dict)
        and labels.get(h.LABEL_MANAGED_BY) == h.MANAGED_BY
        and (namespace is None or isinstance(namespace, str))
        and object_file_name(obj) == path.name
    )


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
            _add_row(
                nodes,
                "every node" if node == ALL_NODES else node,
                b.cluster_network,
                b.bridge,
                b.bond,
                ", ".join(b.nics),
                b.bond_mode,
                str(b.mtu),
                format_ranges(vid_ranges(b.vids)) or "-",
                "yes" if b.untagged else "-",
            )
    out.print(nodes)
    switch = Table(title="Switch-port checklist (trunk or hybrid ports)")
    for col in ("node", "NIC", "cluster network", "permit tagged VLANs", "native / PVID"):
        switch.add_column(col)
    for port in result.switch_ports:
        _add_row(
            switch,
            "every node" if port.node == ALL_NODES else port.node,
            port.nic,
            port.cluster_network,
            format_ranges(vid_ranges(port.tagged_vids)) or "none",
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
        _add_row(vms, nic.vm, nic.interface, nic.network, nic.cluster_network, vlan, nic.mac, nic.ip)
    out.print(vms)


def _add_row(table: Table, *cells: str) -> None:
    """A table cell is Rich markup: the plan's names go in escaped."""
    table.add_row(*(safe_text(cell) for cell in cells))


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("render")(render)
    app.command("plan")(plan_command)
