"""`hvnet`: the command line on top of every layer. Each command group lives in its own module."""

from __future__ import annotations

import typer

from harvester_network.cli import agent_commands, lab_commands, plan_commands

app = typer.Typer(
    name="hvnet",
    help="Harvester-style VLAN networking as code: validate, render and plan networks; run the node agent and lab.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
plan_commands.register(app)
lab_commands.register(app)
agent_commands.register(app)

__all__ = ["app"]
