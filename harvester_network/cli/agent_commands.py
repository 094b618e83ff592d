"""`hvnet agent`: the node agent. Its options are agent/main.py's (argparse), so the agent runs without Typer; the
`hvnet` script hands `hvnet agent ...` to it before loading this CLI at all (harvester_network/hvnet.py)."""

from __future__ import annotations

import typer

# Everything after `agent` goes to the agent's own parser, `--help` included.
_FORWARD_ALL = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def agent(ctx: typer.Context) -> None:
    """Make this node's bridges, bonds and VLANs match the ClusterNetwork / VlanConfig / NAD objects, and report
    a VlanStatus per cluster network (`hvnet agent --help` for the options)."""
    from harvester_network.agent.main import main

    raise typer.Exit(main(ctx.args))


def register(app: typer.Typer) -> None:
    app.command("agent", context_settings=_FORWARD_ALL, add_help_option=False)(agent)
