"""The manifest-directory source: load_manifest_dir, load_node_file, dir_fingerprint."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from harvester_network.agent.desired import desired_host_state
from harvester_network.agent.inputs import LinkInfo
from harvester_network.agent.sources import (
    ManifestError,
    dir_fingerprint,
    load_manifest_dir,
    load_node_file,
)
from tests.agent.test_desired import cluster_network, nad, node, vlan_config

VIRTUAL_MACHINE = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "vm1"}}
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "vlanconfigs.network.harvesterhci.io"},
}


def write(path: Path, *documents: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    """A directory as `hvnet render -o` writes it: one object per file, other kinds mixed in."""
    write(tmp_path / "00-customresourcedefinition-vlanconfigs.yaml", CRD)
    write(tmp_path / "10-clusternetwork-cn1.yaml", cluster_network("cn1"))
    write(tmp_path / "20-vlanconfig-cn1.yaml", vlan_config("cn1", "cn1", ["eth1"]))
    write(tmp_path / "30-networkattachmentdefinition-default-vlan100.yaml", nad("vlan100", "cn1-br", 100))
    write(tmp_path / "50-virtualmachine-default-vm1.yaml", VIRTUAL_MACHINE)
    return tmp_path


def test_loads_the_agents_kinds_and_skips_the_rest(rendered: Path) -> None:
    objects = load_manifest_dir(rendered)
    assert objects.cluster_networks == (cluster_network("cn1"),)
    assert objects.vlan_configs == (vlan_config("cn1", "cn1", ["eth1"]),)
    assert objects.nads == (nad("vlan100", "cn1-br", 100),)


def test_a_loaded_directory_gives_the_desired_state(rendered: Path) -> None:
    result = desired_host_state(load_manifest_dir(rendered), node(links={"eth1": LinkInfo()}))
    bridge = result.bridge_for("cn1")
    assert bridge is not None and bridge.vids == {100} and bridge.uplink.nics == ("eth1",)


def test_multi_document_streams_json_lists_and_subdirectories(tmp_path: Path) -> None:
    write(tmp_path / "stream.yml", cluster_network("cn1"), None, vlan_config("vc1", "cn1", ["eth1"]), VIRTUAL_MACHINE)
    listing = {"apiVersion": "v1", "kind": "List", "items": [nad("a", "cn1-br", 10), nad("b", "cn1-br", 20)]}
    (tmp_path / "nads").mkdir()
    (tmp_path / "nads" / "list.json").write_text(json.dumps(listing))
    write(tmp_path / "nads" / "more.yaml", listing | {"items": [nad("c", "cn1-br", 30)]})
    objects = load_manifest_dir(tmp_path)
    assert [o["metadata"]["name"] for o in objects.cluster_networks + objects.vlan_configs] == ["cn1", "vc1"]
    assert sorted(o["metadata"]["name"] for o in objects.nads) == ["a", "b", "c"]


def test_hidden_files_and_other_suffixes_are_not_read(tmp_path: Path) -> None:
    write(tmp_path / "cn.yaml", cluster_network("cn1"))
    (tmp_path / ".staging.yaml").write_text("not: [valid")
    (tmp_path / ".tmp").mkdir()
    write(tmp_path / ".tmp" / "vc.yaml", vlan_config("vc1", "cn1", ["eth1"]))
    (tmp_path / "README.txt").write_text("{{{ not yaml")
    objects = load_manifest_dir(tmp_path)
    assert len(objects.cluster_networks) == 1 and objects.vlan_configs == ()


def test_an_empty_directory_holds_no_objects(tmp_path: Path) -> None:
    objects = load_manifest_dir(tmp_path)
    assert (objects.cluster_networks, objects.vlan_configs, objects.nads) == ((), (), ())


@pytest.mark.parametrize(
    ("name", "text", "why"),
    [
        ("bad.yaml", "kind: VlanConfig\nmetadata: {name: [unclosed\n", "bad.yaml: not valid YAML: "),
        ("bad.json", '{"kind": "VlanConfig",', "bad.json: not valid JSON: "),
        ("scalar.yaml", "just a string\n", "scalar.yaml: document 1 is not a Kubernetes object (no kind/apiVersion)"),
        ("nokind.yaml", "---\n---\nmetadata: {name: x}\n", "nokind.yaml: document 2 is not a Kubernetes object"),
        (
            "noname.yaml",
            "apiVersion: network.harvesterhci.io/v1beta1\nkind: VlanConfig\nmetadata: {}\n",
            "noname.yaml: a VlanConfig without metadata.name",
        ),
        ("latin1.yaml", b"kind: \xff\n", "latin1.yaml: cannot be read: "),
    ],
)
def test_bad_files_are_errors_naming_the_file(tmp_path: Path, name: str, text: str | bytes, why: str) -> None:
    write(tmp_path / "good.yaml", cluster_network("cn1"))
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ManifestError) as raised:
        load_manifest_dir(tmp_path)
    assert str(raised.value).startswith(f"{tmp_path}/{why}")


def test_yaml_errors_say_where(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("kind: VlanConfig\nspec:\n  nics: [eth1\n")
    with pytest.raises(ManifestError, match=r"line \d+, column \d+"):
        load_manifest_dir(tmp_path)


def test_an_object_defined_twice_is_an_error_naming_both_files(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", nad("vlan100", "cn1-br", 100))
    write(tmp_path / "b.yaml", nad("vlan100", "cn1-br", 200))
    write(tmp_path / "c.yaml", nad("vlan100", "cn1-br", 100) | {"metadata": {"name": "vlan100", "namespace": "other"}})
    with pytest.raises(ManifestError) as raised:
        load_manifest_dir(tmp_path)
    assert str(raised.value) == (
        f"NetworkAttachmentDefinition default/vlan100 is defined twice: in {tmp_path}/a.yaml and in {tmp_path}/b.yaml"
    )


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not a directory"):
        load_manifest_dir(tmp_path / "absent")


# --- node file -----------------------------------------------------------------------------------------------


def test_node_file_gives_name_and_labels_with_the_hostname_default(tmp_path: Path) -> None:
    path = write(tmp_path / "node.yaml", {"name": "node1", "labels": {"rack": "a"}})
    identity = load_node_file(path)
    assert (identity.name, dict(identity.labels)) == ("node1", {"kubernetes.io/hostname": "node1", "rack": "a"})
    links = {"eth1": LinkInfo()}
    assert identity.with_links(links).links == links


def test_node_file_keeps_an_explicit_hostname_label(tmp_path: Path) -> None:
    path = write(tmp_path / "node.yaml", {"name": "node1", "labels": {"kubernetes.io/hostname": "host-a"}})
    assert dict(load_node_file(path).labels) == {"kubernetes.io/hostname": "host-a"}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("- node1\n", "expected one YAML mapping"),
        ("name: a\n---\nname: b\n", "expected one YAML mapping"),
        ("labels: {}\n", "name must be the node's name"),
        ("name: node1\nlabels: [a]\n", "labels must be a mapping"),
        ("name: node1\nlabels: {rack: 1}\n", "label 'rack': 1 must be a string to string (quote the value)"),
        ("name: [node1\n", "not valid YAML"),
    ],
)
def test_bad_node_files_are_errors(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "node.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError) as raised:
        load_node_file(path)
    assert str(raised.value).startswith(f"{path}: ") and why in str(raised.value)


# --- fingerprint ---------------------------------------------------------------------------------------------


def test_fingerprint_is_stable_and_follows_every_manifest_change(rendered: Path) -> None:
    before = dir_fingerprint(rendered)
    assert dir_fingerprint(rendered) == before

    (rendered / "README.txt").write_text("not a manifest")
    (rendered / ".staging.yaml").write_text("hidden")
    assert dir_fingerprint(rendered) == before  # neither is read by the loader

    vc = rendered / "20-vlanconfig-cn1.yaml"
    stat = vc.stat()
    os.utime(vc, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    changes = [
        lambda: None,  # the touch above
        lambda: write(vc, vlan_config("cn1", "cn1", ["eth1", "eth2"])),
        lambda: write(rendered / "sub" / "new.yaml", cluster_network("cn2")),
        lambda: (rendered / "sub" / "new.yaml").rename(rendered / "sub" / "renamed.yaml"),
        lambda: (rendered / "sub" / "renamed.yaml").unlink(),
    ]
    for change in changes:
        change()
        after = dir_fingerprint(rendered)
        assert after != before
        before = after


def test_fingerprint_of_a_missing_directory_is_empty(tmp_path: Path) -> None:
    assert dir_fingerprint(tmp_path / "absent") == ""
    assert dir_fingerprint(tmp_path) != ""
