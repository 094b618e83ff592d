"""`hvnet validate | render | plan` on the quickstart and on broken plans, through Typer's CliRunner."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from harvester_network.cli import app
from harvester_network.model import load_plan_file
from harvester_network.render import object_file_name, render_plan

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "examples" / "quickstart" / "plan.yaml"
EXAMPLES = sorted((REPO / "examples").glob("*/plan.yaml"))


def hvnet(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def broken_quickstart(tmp_path: Path) -> Path:
    """The quickstart with a VLAN out of range and a VM NIC on a network that does not exist."""
    data = yaml.safe_load(QUICKSTART.read_text())
    data["networks"][1]["vlan"] = 4095
    data["virtualMachines"][0]["interfaces"][1]["network"] = "default/vlan999"
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump(data))
    return plan_file


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_validate_accepts_every_example(example: Path) -> None:
    result = hvnet("validate", example)
    assert result.exit_code == 0, result.stderr
    assert f"{example}: valid" in result.stderr
    assert result.stdout == ""


def test_validate_counts_what_the_quickstart_declares() -> None:
    result = hvnet("validate", QUICKSTART)
    assert "valid (1 cluster network(s), 3 network(s), 3 VM(s))" in result.stderr


def test_validate_lists_every_error_and_exits_1(tmp_path: Path) -> None:
    result = hvnet("validate", broken_quickstart(tmp_path))
    assert result.exit_code == 1
    assert "error: networks[1].vlan: Input should be less than or equal to 4094" in result.stderr
    assert (
        "error: virtualMachines[0].interfaces[1].network: network 'default/vlan999' is not in the plan" in result.stderr
    )
    assert "fix: use 'mgmt' or '<namespace>/<name>' of a declared network" in result.stderr
    assert "2 error(s); nothing was rendered or applied" in result.stderr


def test_validate_of_a_missing_file_says_so(tmp_path: Path) -> None:
    result = hvnet("validate", tmp_path / "absent.yaml")
    assert result.exit_code == 1
    assert "cannot be read: No such file or directory" in result.stderr


def test_render_to_stdout_is_a_yaml_stream_of_every_object() -> None:
    result = hvnet("render", QUICKSTART)
    assert result.exit_code == 0, result.stderr
    documents = list(yaml.safe_load_all(result.stdout))
    plan, _ = load_plan_file(QUICKSTART)
    assert documents == render_plan(plan)
    kinds = [d["kind"] for d in documents]
    # 1 ClusterNetwork, a VlanConfig per node, 3 NADs, 3 cloud-init Secrets, 3 VMs, web-1's Service; in order.
    assert kinds == [
        "ClusterNetwork",
        *["VlanConfig"] * 3,
        *["NetworkAttachmentDefinition"] * 3,
        *["Secret"] * 3,
        *["VirtualMachine"] * 3,
        "Service",
    ]
    assert [d["metadata"]["name"] for d in documents if d["kind"] == "VlanConfig"] == [
        "vlan-node1",
        "vlan-node2",
        "vlan-node3",
    ]


def test_render_to_a_directory_writes_one_object_per_stably_named_file(tmp_path: Path) -> None:
    plan, _ = load_plan_file(QUICKSTART)
    objects = render_plan(plan)
    first, second = tmp_path / "first", tmp_path / "second"
    for out_dir in (first, second):
        result = hvnet("render", QUICKSTART, "-o", out_dir)
        assert result.exit_code == 0, result.stderr
        assert f"wrote {len(objects)} object(s) to {out_dir}" in result.stderr
        assert result.stdout == ""
    files = sorted(p.name for p in first.iterdir())
    assert files == sorted(object_file_name(o) for o in objects)
    assert "10-clusternetwork-vlan.yaml" in files
    assert "30-networkattachmentdefinition-default-vlan100.yaml" in files
    assert "60-service-default-web-1.yaml" in files
    for name in files:
        text = (first / name).read_text()
        assert text == (second / name).read_text(), f"{name} differs between two renders"
        [document] = yaml.safe_load_all(text)
        assert object_file_name(document) == name


def test_render_of_an_invalid_plan_leaves_an_existing_directory_alone(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "keep.yaml").write_text("kept: true\n")
    result = hvnet("render", broken_quickstart(tmp_path), "-o", out_dir)
    assert result.exit_code == 1
    assert [p.name for p in out_dir.iterdir()] == ["keep.yaml"]
    assert result.stdout == ""


def smaller_quickstart(tmp_path: Path) -> Path:
    """The quickstart without node3, the untagged network, cache-1 and web-1's management Service."""
    data = yaml.safe_load(QUICKSTART.read_text())
    data["nodes"].remove("node3")
    data["networks"] = [n for n in data["networks"] if n["name"] != "untagged"]
    data["virtualMachines"] = [vm for vm in data["virtualMachines"] if vm["name"] != "cache-1"]
    del data["virtualMachines"][0]["managementService"]
    del data["lab"]
    plan_file = tmp_path / "smaller.yaml"
    plan_file.write_text(yaml.safe_dump(data))
    return plan_file


def test_render_to_a_directory_removes_the_files_it_wrote_for_objects_that_are_gone(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    assert hvnet("render", QUICKSTART, "-o", out_dir).exit_code == 0
    nad = yaml.safe_load((out_dir / "30-networkattachmentdefinition-default-vlan100.yaml").read_text())
    hand_made = {**nad, "metadata": {"name": "handmade", "namespace": "default"}}
    foreign = {
        "keep.yaml": "kept: true\n",
        # Named as we name files, but not labelled as ours.
        "30-networkattachmentdefinition-default-handmade.yaml": yaml.safe_dump(hand_made),
        # Ours, but copied to a name we would not give it.
        "my-copy.yaml": yaml.safe_dump(nad),
        "30-networkattachmentdefinition-default-other.yaml": yaml.safe_dump(nad),
        # Named and labelled like ours, but two objects: not a file we wrote.
        "30-networkattachmentdefinition-default-two.yaml": yaml.safe_dump_all(
            [{**nad, "metadata": {**nad["metadata"], "name": "two"}}, nad]
        ),
        "30-networkattachmentdefinition-default-broken.yaml": "{not yaml: [\n",
    }
    for name, text in foreign.items():
        (out_dir / name).write_text(text)

    result = hvnet("render", smaller_quickstart(tmp_path), "-o", out_dir)
    assert result.exit_code == 0, result.stderr
    plan, _ = load_plan_file(smaller_quickstart(tmp_path))
    wanted = {object_file_name(o) for o in render_plan(plan)}
    assert {p.name for p in out_dir.iterdir()} == wanted | set(foreign)
    for name, text in foreign.items():
        assert (out_dir / name).read_text() == text
    gone = [
        "20-vlanconfig-vlan-node3.yaml",
        "30-networkattachmentdefinition-default-untagged.yaml",
        "45-secret-default-cache-1-cloudinit.yaml",
        "50-virtualmachine-default-cache-1.yaml",
        "60-service-default-web-1.yaml",
    ]
    assert f"removed 5 stale file(s): {', '.join(gone)}" in result.stderr


def test_render_to_a_directory_writes_through_hidden_files_and_leaves_unchanged_files_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent watches the directory and skips dot files: it must never see a half-written object."""
    out_dir = tmp_path / "out"
    renames: list[tuple[Path, Path]] = []
    replace = os.replace

    def recording_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        renames.append((Path(src), Path(dst)))
        replace(src, dst)

    monkeypatch.setattr(os, "replace", recording_replace)
    assert hvnet("render", QUICKSTART, "-o", out_dir).exit_code == 0
    files = sorted(p.name for p in out_dir.iterdir())
    assert sorted(dst.name for _, dst in renames) == files
    for src, dst in renames:
        assert src.parent == dst.parent == out_dir
        assert src.name.startswith(f".{dst.name}.")

    renames.clear()
    before = {name: (out_dir / name).stat().st_ino for name in files}
    assert hvnet("render", QUICKSTART, "-o", out_dir).exit_code == 0
    assert renames == []
    assert {name: (out_dir / name).stat().st_ino for name in files} == before

    data = yaml.safe_load(QUICKSTART.read_text())
    data["networks"][0]["vlan"] = 101
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data))
    assert hvnet("render", changed, "-o", out_dir).exit_code == 0
    assert [dst.name for _, dst in renames] == ["30-networkattachmentdefinition-default-vlan100.yaml"]
    assert sorted(p.name for p in out_dir.iterdir()) == files


def test_render_to_a_directory_refuses_two_objects_with_one_file_name(tmp_path: Path) -> None:
    """`a`/`b-c` and `a-b`/`c` both make ...-a-b-c.yaml: one object would silently overwrite the other."""
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(
        yaml.safe_dump(
            {
                "clusterNetworks": [{"name": "vlan", "uplink": {"nics": ["eth1"]}}],
                "networks": [
                    {"name": "b-c", "namespace": "a", "clusterNetwork": "vlan", "vlan": 1},
                    {"name": "c", "namespace": "a-b", "clusterNetwork": "vlan", "vlan": 2},
                ],
            }
        )
    )
    out_dir = tmp_path / "out"
    result = hvnet("render", plan_file, "-o", out_dir)
    assert result.exit_code == 1
    assert (
        "NetworkAttachmentDefinition/a/b-c and NetworkAttachmentDefinition/a-b/c would both be written to "
        "30-networkattachmentdefinition-a-b-c.yaml" in result.stderr
    )
    assert not out_dir.exists()
    assert hvnet("render", plan_file).exit_code == 0


def test_plan_table_shows_the_override_and_the_switch_checklist() -> None:
    result = hvnet("plan", QUICKSTART)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    per_node = [line for line in lines if "vlan-br" in line]
    assert len(per_node) == 3
    node2 = next(line for line in per_node if " node2 " in line)
    assert " eno2 " in node2 and " 100,200 " in node2 and " 1500 " in node2
    assert all(" eth1 " in line for line in per_node if line is not node2)
    checklist_start = next(i for i, line in enumerate(lines) if "Switch-port checklist" in line)
    ports = [line for line in lines[checklist_start:] if "1, untagged" in line]
    assert len(ports) == 3
    assert all(" 100,200 " in line for line in ports)
    assert any(" node2 " in line and " eno2 " in line for line in ports)
    assert "keep PVID 1 untagged" in result.stdout


def test_plan_json_is_machine_readable() -> None:
    result = hvnet("plan", QUICKSTART, "--json")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert sorted(plan["nodes"]) == ["node1", "node2", "node3"]
    [bridge] = plan["nodes"]["node2"]
    assert bridge["nics"] == ["eno2"]
    assert bridge["bridge"] == "vlan-br" and bridge["bond"] == "vlan-bo"
    assert bridge["vids"] == [100, 200] and bridge["untagged"] is True and bridge["mtu"] == 1500
    ports = {(p["node"], p["nic"]): p for p in plan["switch_ports"]}
    assert sorted(ports) == [("node1", "eth1"), ("node2", "eno2"), ("node3", "eth1")]
    assert all(p["tagged_vids"] == [100, 200] and p["native_vlan"] == 1 for p in ports.values())
    nics = {(n["vm"], n["interface"]): n for n in plan["vm_nics"]}
    assert nics["default/web-1", "default"]["vlan"] is None
    assert nics["default/db-1", "nic-1"] == {
        "vm": "default/db-1",
        "interface": "nic-1",
        "network": "default/vlan100",
        "cluster_network": "vlan",
        "vlan": 100,
        "mac": "52:54:00:aa:bb:02",
        "ip": "10.100.0.20/24",
    }


def test_plan_of_an_invalid_plan_exits_1(tmp_path: Path) -> None:
    result = hvnet("plan", broken_quickstart(tmp_path), "--json")
    assert result.exit_code == 1
    assert result.stdout == ""


def test_render_to_a_directory_changes_nothing_when_one_file_cannot_be_written(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    assert hvnet("render", QUICKSTART, "-o", out_dir).exit_code == 0
    before = {p.name: p.read_text() for p in out_dir.iterdir()}
    blocked = out_dir / "30-networkattachmentdefinition-default-vlan200.yaml"
    blocked.unlink()
    blocked.mkdir()  # in the way of a file the changed plan writes
    before.pop(blocked.name)
    data = yaml.safe_load(QUICKSTART.read_text())
    for net in data["networks"]:
        net["vlan"] = {100: 101, 200: 201}.get(net["vlan"], net["vlan"])
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data))
    result = hvnet("render", changed, "-o", out_dir)
    assert result.exit_code == 1
    assert f"{blocked} is in the way (not a regular file): move it; nothing was written" in " ".join(
        result.stderr.split()
    )
    assert {p.name: p.read_text() for p in out_dir.iterdir() if p.is_file()} == before  # vlan100's file too
    assert sorted(p.name for p in out_dir.iterdir() if p.name.startswith(".")) == []


def test_render_to_a_directory_keeps_the_cloud_init_secrets_readable_by_their_owner_only(tmp_path: Path) -> None:
    """A VM's Secret holds its userData, which may carry credentials: mode 600, also when a render finds it unchanged
    with looser bits; the other objects keep the usual mode."""
    out_dir = tmp_path / "out"
    assert hvnet("render", QUICKSTART, "-o", out_dir).exit_code == 0
    secret = out_dir / "45-secret-default-web-1-cloudinit.yaml"
    modes = {path.name: path.stat().st_mode & 0o777 for path in out_dir.iterdir()}
    assert modes.pop(secret.name) == 0o600
    assert {mode & 0o077 for mode in modes.values()} != {0}, "only Secrets are private"
    secret.chmod(0o644)
    assert hvnet("render", QUICKSTART, "-o", out_dir).exit_code == 0
    assert secret.stat().st_mode & 0o777 == 0o600
