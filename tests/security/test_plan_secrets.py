"""A plan's userData may hold credentials: `hvnet validate` and `hvnet plan` never print it, and a YAML error on
its line names the line and column, not the text (PyYAML's message quotes the line)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harvester_network.cli import app
from tests.security.markers import PASSWORD, leaked

PLAN = f"""clusterNetworks:
  - name: vlan
    uplink: {{nics: [eth1]}}
networks:
  - name: vlan100
    clusterNetwork: vlan
    vlan: 100
    route: {{mode: manual, cidr: 10.100.0.0/24, gateway: 10.100.0.1}}
virtualMachines:
  - name: web
    userData: "#cloud-config\\npassword: {PASSWORD}\\n"
    interfaces: [{{name: nic1, network: vlan100}}]
"""
BROKEN = PLAN.replace(f'userData: "#cloud-config\\npassword: {PASSWORD}\\n"', f"userData: {{password: {PASSWORD}")


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_user_data_is_not_printed(command: str, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    result = CliRunner().invoke(app, [command, str(plan)])
    assert result.exit_code == 0, result.output
    assert leaked(result.output) == []


def test_a_yaml_error_on_the_user_data_line_does_not_quote_it(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(BROKEN)
    result = CliRunner().invoke(app, ["validate", str(plan)])
    assert result.exit_code != 0
    assert "is not valid YAML" in result.output and "at line 12," in result.output
    assert leaked(result.output) == []
