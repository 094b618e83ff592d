"""The `hvnet` command. `hvnet agent ...` goes straight to the node agent (agent/main.py), which loads none of the
CLI's libraries (Typer, Rich) or the plan model; every other command goes to the Typer app (cli/)."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["agent"]:
        from harvester_network.agent.main import main as agent

        raise SystemExit(agent(sys.argv[2:]))
    from harvester_network.cli import main as cli

    cli()
