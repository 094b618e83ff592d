"""`hvnet lab demo | up | check | down | shell`: the real-kernel lab.

The lab needs a kernel with bridge VLAN filtering. When this one lacks it, `demo` and `shell` boot the
lab kernel (User-Mode Linux) and run themselves inside it; everything made there vanishes when it
powers off, which is why `demo` does boot, converge, check, picture and teardown in one go.
`up`, `check` and `down` work on the running kernel only (a host with VLAN filtering, or inside the
lab kernel, e.g. from `hvnet lab shell PLAN -- ...` or the lab tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from harvester_network.cli.plan_commands import PlanPath, err, load_or_exit, out
from harvester_network.cli.terminal import safe_text
from harvester_network.lab import lab as lab_run
from harvester_network.lab.netns import LabError
from harvester_network.lab.picture import topology_svg, write_picture
from harvester_network.lab.report import matrix_table, mismatch_lines, report_json
from harvester_network.lab.topology import LabPlanError, build_topology
from harvester_network.lab.workdir import DEFAULT_WORKDIR, Workdir

lab_app = typer.Typer(
    help="The real-kernel lab: a simulated cluster (switch, nodes running `hvnet agent`, router, DHCP, VMs) "
    "in network namespaces. Start with `hvnet lab demo PLAN`.",
    no_args_is_help=True,
)
WorkdirOption = Annotated[
    Path, typer.Option("--workdir", help="Rendered objects, agent status, leases, logs and the picture go here")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the check as JSON instead of tables")]


def register(app: typer.Typer) -> None:
    app.add_typer(lab_app, name="lab")


def _say(console: Console) -> lab_run.Say:
    return lab_run.timed(lambda step, message: console.print(f"[cyan]{step}[/] {safe_text(message)}", highlight=False))


def _needs_lab_kernel() -> bool:
    from harvester_network.lab.uml import needs_lab_kernel

    return needs_lab_kernel()


def _boot(argv: list[str]) -> int:
    """Run `hvnet <argv>` inside the lab kernel; its output streams here."""
    from harvester_network.lab.uml import run_in_lab_kernel

    hvnet = str(Path(sys.executable).with_name("hvnet"))
    err.print("[cyan]kernel[/]: this kernel has no bridge VLAN filtering; booting the lab kernel (User-Mode Linux)")
    return run_in_lab_kernel([hvnet, *argv])


def _require_vlan_kernel(command: str) -> None:
    if _needs_lab_kernel():
        err.print(
            f"[red]`hvnet lab {command}` needs a kernel with bridge VLAN filtering[/]: this one has none, and a lab "
            "made inside a one-shot lab kernel is gone when it powers off. Use `hvnet lab demo PLAN` (all in one "
            "boot) or `hvnet lab shell PLAN -- CMD...` (run CMD inside a lab).",
            highlight=False,
        )
        raise typer.Exit(2)


def _refuse_unfit_plan(plan: Path) -> None:
    """Validate the plan (its `lab:` section too) and check the lab can run it, before booting anything."""
    try:
        build_topology(load_or_exit(plan))
    except LabPlanError as exc:
        err.print(f"[red]not run[/]: {safe_text(exc)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _kernel_banner(say: lab_run.Say) -> None:
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    say("kernel", f"Linux {os.uname().release}, up {uptime:.1f} s; bridge VLAN filtering available")


def _print_check(report: lab_run.CheckReport, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report_json(report), indent=2))
        return
    out.print(matrix_table(report))
    for line in mismatch_lines(report):
        out.print(f"[red]mismatch[/]: {safe_text(line)}", highlight=False)
    if report.ok:
        out.print("[green]the datapath does what the plan says[/]")


def _write_picture(lab: lab_run.Lab, report: lab_run.CheckReport | None) -> list[Path]:
    gaps = {gap.port: gap.missing for gap in report.switch_gaps} if report else {}
    return write_picture(topology_svg(lab.plan, lab.topology, gaps), lab.workdir.picture)


def _bring_up(plan: Path, workdir: Path, console: Console) -> lab_run.Lab:
    say = _say(console)
    _kernel_banner(say)
    lab = lab_run.Lab(load_or_exit(plan), Workdir(workdir), say=say)
    removed = lab_run.teardown(also=lab.topology.namespaces())
    if removed:
        say("cleanup", f"removed a previous lab's namespaces: {', '.join(removed)}")
    lab.up()
    return lab


@lab_app.command()
def demo(plan: PlanPath, workdir: WorkdirOption = DEFAULT_WORKDIR, as_json: JsonOption = False) -> None:
    """Boot, converge, check, picture, down: the whole lab in one go (what `make demo` runs).

    Boots the lab kernel (User-Mode Linux) when this kernel lacks bridge VLAN filtering.
    Brings the lab up: switch, nodes running `hvnet agent`, router, DHCP, VMs attached by the bridge CNI plugin.
    Prints the connectivity matrix, writes the topology picture, removes everything. Exit 1 on any mismatch.
    """
    _refuse_unfit_plan(plan)
    if _needs_lab_kernel():
        raise typer.Exit(_boot(["lab", "demo", str(plan), "--workdir", str(workdir), *(["--json"] if as_json else [])]))
    started = time.monotonic()
    console = err if as_json else out
    lab = None
    try:
        lab = _bring_up(plan, workdir, console)
        report = lab.check()
        _print_check(report, as_json)
        for path in _write_picture(lab, report):
            console.print(f"[cyan]picture[/]: {safe_text(path)}", highlight=False)
    except (LabError, LabPlanError) as exc:
        err.print(f"[red]lab failed[/]: {safe_text(exc)}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        removed = lab.down() if lab is not None else lab_run.teardown()
        console.print(f"[cyan]down[/]: removed {len(removed)} namespace(s) in {time.monotonic() - started:.1f} s total")
    raise typer.Exit(0 if report.ok else 1)


@lab_app.command()
def up(plan: PlanPath, workdir: WorkdirOption = DEFAULT_WORKDIR) -> None:
    """Bring the lab up and leave it running; `hvnet lab down` removes it.

    Needs a kernel with bridge VLAN filtering: a host that has it, or inside the lab kernel.
    """
    _require_vlan_kernel("up")
    try:
        lab = _bring_up(plan, workdir, out)
    except (LabError, LabPlanError) as exc:
        err.print(f"[red]lab failed[/]: {safe_text(exc)}; `hvnet lab down` removes what was made", highlight=False)
        raise typer.Exit(1) from None
    for path in _write_picture(lab, None):
        out.print(f"[cyan]picture[/]: {safe_text(path)}", highlight=False)


@lab_app.command()
def check(plan: PlanPath, workdir: WorkdirOption = DEFAULT_WORKDIR, as_json: JsonOption = False) -> None:
    """Check a running lab: connectivity matrix and switch ports against the plan; exit 1 on any mismatch.

    Every VM NIC is probed against every other, its gateway and the untagged host.
    The switch ports are compared with `hvnet plan`'s switch-port checklist; a gap names the port and the VLAN.
    Needs a running lab (`hvnet lab up`, or inside `hvnet lab shell PLAN -- hvnet lab check PLAN`).
    """
    _require_vlan_kernel("check")
    try:
        lab = lab_run.Lab(load_or_exit(plan), Workdir(workdir))
        report = lab.check()
    except (LabError, LabPlanError) as exc:
        err.print(f"[red]check failed[/]: {safe_text(exc)} (is the lab up?)", highlight=False)
        raise typer.Exit(1) from None
    _print_check(report, as_json)
    raise typer.Exit(0 if report.ok else 1)


@lab_app.command()
def down() -> None:
    """Remove every lab namespace (hvt-*) with its processes and links; also after a crash."""
    _require_vlan_kernel("down")
    removed = lab_run.teardown()
    out.print(f"removed {len(removed)} namespace(s): {safe_text(', '.join(removed) or '-')}", highlight=False)


@lab_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def shell(ctx: typer.Context, plan: PlanPath, workdir: WorkdirOption = DEFAULT_WORKDIR) -> None:
    """Bring the lab up, run a command in it, tear it down.

    Example: hvnet lab shell PLAN -- ip netns exec hvt-node1 bridge vlan
    Boots the lab kernel when needed. Without a command you get an interactive shell,
    but only where the lab runs in this kernel: the lab kernel's console is not interactive.
    """
    command = list(ctx.args)
    _refuse_unfit_plan(plan)
    if _needs_lab_kernel():
        if not command:
            example = f"`hvnet lab shell {safe_text(plan)} -- ip netns exec hvt-sw bridge vlan`"
            err.print(
                f"[red]give a command[/]: the lab kernel's console is not interactive, e.g. {example}", highlight=False
            )
            raise typer.Exit(2)
        raise typer.Exit(_boot(["lab", "shell", str(plan), "--workdir", str(workdir), "--", *command]))
    lab = None
    try:
        lab = _bring_up(plan, workdir, err)
        status = subprocess.run(command or [os.environ.get("SHELL", "/bin/sh")], check=False).returncode
    except (LabError, LabPlanError) as exc:
        err.print(f"[red]lab failed[/]: {safe_text(exc)}", highlight=False)
        status = 1
    finally:
        if lab is not None:
            lab.down()
        else:
            lab_run.teardown()
    raise typer.Exit(status)
