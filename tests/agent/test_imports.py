"""The agent loads only what it runs on: not the CLI's Typer/Rich, not the plan model (issue 14's memory goal)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

LOADED_BY_HVNET_AGENT = """
import json, sys
sys.argv = ["hvnet", *ARGV]
from harvester_network import hvnet
try:
    hvnet.main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def loaded_modules(*argv: str) -> set[str]:
    code = LOADED_BY_HVNET_AGENT.replace("ARGV", repr(list(argv)))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_hvnet_agent_loads_no_cli_library_and_no_plan_model() -> None:
    loaded = loaded_modules("agent", "--help")  # past every import of agent/main.py

    assert "harvester_network.agent.loop" in loaded and "pyroute2" in loaded  # it did get that far
    assert not {m for m in loaded if m.split(".")[0] in ("typer", "rich", "click")}
    # agent/metrics.py writes the exposition format itself: prometheus_client's import brings an HTTP server,
    # WSGI and gzip along (about 1.5 MiB of RSS).
    assert not {m for m in loaded if m.split(".")[0] in ("prometheus_client", "wsgiref", "gzip", "socketserver")}
    assert "http.server" not in loaded
    assert {m for m in loaded if m.startswith("harvester_network.model")} == {
        "harvester_network.model",
        "harvester_network.model.names",  # naming facts only: stdlib, no pydantic models
        "harvester_network.model.yaml_problem",  # kubeconfig YAML errors (kube/target.py): no pydantic models
    }
    assert not {m for m in loaded if m.startswith("harvester_network.cli")}
    assert "harvester_network.render.objects" not in loaded


@pytest.mark.parametrize("command", [["hvnet", "agent"], ["hvnet-agent"], ["python", "-m", "harvester_network.agent"]])
def test_every_entry_point_runs_the_same_agent(command: list[str]) -> None:
    program = sys.executable if command[0] == "python" else str(Path(sys.executable).with_name(command[0]))
    script = [program, *command[1:]]

    done = subprocess.run([*script, "--help"], capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    assert "--from-dir" in done.stdout and "--state-dir" in done.stdout


def test_other_commands_still_get_the_cli() -> None:
    assert "typer" in loaded_modules("validate", "--help")
