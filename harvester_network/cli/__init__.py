"""`hvnet`: the command line on top of every layer. Each command group lives in its own module."""

from __future__ import annotations

import os
import sys

import typer

from harvester_network.cli import agent_commands, lab_commands, plan_commands
from harvester_network.cli.terminal import safe_text

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


def main() -> None:
    """The `hvnet` command: `app`, with any error no command handles (a bug) reported in one line, exit 1.
    HVNET_DEBUG=1 shows the traceback instead."""
    try:
        app()
    except BrokenPipeError:  # the reader went away (`hvnet render PLAN | head`): nothing left to tell it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        sys.exit(1)
    except OSError as error:  # output that cannot be written (a full disk): not a bug
        if os.environ.get("HVNET_DEBUG"):
            raise
        plan_commands.err.print(f"[red]error[/]: {safe_text(error)}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except Exception as error:
        if os.environ.get("HVNET_DEBUG"):
            raise
        plan_commands.err.print(
            f"[red]internal error[/]: {safe_text(type(error).__name__)}: {safe_text(error)} "
            "(a bug in hvnet: rerun with HVNET_DEBUG=1 for the traceback and report it)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


__all__ = ["app", "main"]
