"""`hvnet lab` where the kernel has no VLAN filtering: only demo and shell may boot the lab kernel."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from harvester_network.cli import app, lab_commands

PLAN = str(Path(__file__).resolve().parents[2] / "tests/lab/plans/cluster.yaml")


@pytest.fixture
def no_vlan_kernel(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    booted: list[list[str]] = []

    def boot(argv: list[str]) -> int:
        booted.append(argv)
        return 7

    monkeypatch.setattr(lab_commands, "_needs_lab_kernel", lambda: True)
    monkeypatch.setattr(lab_commands, "_boot", boot)
    return booted


@pytest.mark.parametrize("argv", [["up", PLAN], ["check", PLAN], ["down"]])
def test_commands_that_need_a_lasting_lab_refuse_and_say_what_to_use(
    no_vlan_kernel: list[list[str]], argv: list[str]
) -> None:
    result = CliRunner().invoke(app, ["lab", *argv])
    assert result.exit_code == 2
    assert "hvnet lab demo PLAN" in result.stderr
    assert no_vlan_kernel == []


def test_demo_boots_the_lab_kernel_with_itself_and_returns_its_status(no_vlan_kernel: list[list[str]]) -> None:
    result = CliRunner().invoke(app, ["lab", "demo", PLAN, "--workdir", "out"])
    assert result.exit_code == 7
    assert no_vlan_kernel == [["lab", "demo", PLAN, "--workdir", "out"]]


def test_shell_runs_the_given_command_inside_the_lab_kernel(no_vlan_kernel: list[list[str]]) -> None:
    result = CliRunner().invoke(app, ["lab", "shell", PLAN, "--", "ip", "netns", "exec", "hvt-sw", "bridge", "vlan"])
    assert result.exit_code == 7
    assert no_vlan_kernel == [
        ["lab", "shell", PLAN, "--workdir", ".hvnet-lab", "--", "ip", "netns", "exec", "hvt-sw", "bridge", "vlan"]
    ]


def test_shell_without_a_command_cannot_be_interactive_in_the_lab_kernel(no_vlan_kernel: list[list[str]]) -> None:
    result = CliRunner().invoke(app, ["lab", "shell", PLAN])
    assert result.exit_code == 2
    assert "give a command" in result.stderr


def test_demo_refuses_a_plan_the_lab_cannot_run_before_booting(no_vlan_kernel: list[list[str]], tmp_path: Path) -> None:
    plan = yaml.safe_load((Path(PLAN).parents[3] / "examples/quickstart/plan.yaml").read_text())
    plan["networks"][1]["vlan"] = 100
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    result = CliRunner().invoke(app, ["lab", "demo", str(path)])
    assert result.exit_code == 1
    assert "not run: the lab cannot run this plan: networks default/vlan100 and default/vlan200 both route" in (
        result.stderr
    )
    assert no_vlan_kernel == []
