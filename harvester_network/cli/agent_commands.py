"""`hvnet agent`: the node agent. Its options are agent/main.py's (argparse), so the agent runs without Typer; the
`hvnet` script hands `hvnet agent ...` to it before loading this CLI at all (harvester_network/hvnet.py). The
option checks here serve the other commands that take agent settings (`hvnet render --install-agent`)."""

from __future__ import annotations

import typer

from harvester_network.agent.main import KUBECONFIG_DATA_ENV

__all__ = ["KUBECONFIG_DATA_ENV", "checked_image", "checked_listen_address", "register"]

# Everything after `agent` goes to the agent's own parser, `--help` included.
_FORWARD_ALL = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def checked_listen_address(value: str | None) -> str | None:
    """A `--metrics-addr`-like option's value, refused with the reason unless it is HOST:PORT."""
    from harvester_network.render.agent_install import listen_address

    if value is not None:
        try:
            listen_address(value)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from None
    return value


def checked_image(value: str) -> str:
    """An image option's value, refused unless it is an image reference ([registry/]path[:tag][@sha256:digest])."""
    from harvester_network.model.names import is_image_reference

    if not is_image_reference(value):
        raise typer.BadParameter(f"'{value}' is not an image reference: REPO[:TAG], pinned: REPO@sha256:<64 hex>")
    return value


def agent(ctx: typer.Context) -> None:
    """Make this node's bridges, bonds and VLANs match the ClusterNetwork / VlanConfig / NAD objects, and report
    a VlanStatus per cluster network (`hvnet agent --help` for the options)."""
    from harvester_network.agent.main import main

    raise typer.Exit(main(ctx.args))


def register(app: typer.Typer) -> None:
    app.command("agent", context_settings=_FORWARD_ALL, add_help_option=False)(agent)
