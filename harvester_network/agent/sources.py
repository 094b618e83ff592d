"""Where the agent's objects come from. This part: a directory of manifests (`hvnet agent --from-dir`).

The directory is what `hvnet render -o DIR` writes (one object per file) or any `*.yaml`/`*.yml`/`*.json`
files holding single objects, multi-document streams or `kind: List` objects. Kinds the agent does not use
are skipped. Hidden files and directories (names starting with ".") are skipped, so a writer may stage
files there and rename them into place.

A load either returns every object or raises `ManifestError` naming the file and why: the caller keeps its
last good state then, because computing desired state from a half-read directory would tear down bridges
whose VlanConfigs were merely not read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from harvester_network.agent.inputs import AGENT_KINDS, ClusterObjects, NodeIdentity, group_kind
from harvester_network.agent.wakeup import Wakeup
from harvester_network.model import names

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class ManifestError(Exception):
    """A manifest directory or node file that cannot be used; the message names the file and why."""


def manifest_files(directory: Path) -> list[Path]:
    """The manifest files under `directory` (recursively), sorted, hidden names skipped."""
    return sorted(
        path
        for path in directory.rglob("*")
        if path.suffix in MANIFEST_SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(directory).parts)
        and path.is_file()
    )


def _documents(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ManifestError(f"{path}: removed while the directory was read; read it again") from error
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path}: cannot be read: {error}") from error
    try:
        if path.suffix == ".json":
            return [json.loads(text)]
        return list(yaml.safe_load_all(text))
    except ValueError as error:  # json.JSONDecodeError
        raise ManifestError(f"{path}: not valid JSON: {error}") from error
    except yaml.YAMLError as error:
        raise ManifestError(f"{path}: not valid YAML: {error}") from error


def _objects(path: Path) -> Iterator[dict[str, Any]]:
    """Every object in one file; `kind: List` objects are opened up."""
    for index, document in enumerate(_documents(path)):
        if document is None:  # an empty document, e.g. after a trailing `---`
            continue
        items = document.get("items") if isinstance(document, dict) and document.get("kind") == "List" else [document]
        for obj in items if isinstance(items, list) else [items]:
            if not isinstance(obj, dict) or not obj.get("kind") or not obj.get("apiVersion"):
                raise ManifestError(f"{path}: document {index + 1} is not a Kubernetes object (no kind/apiVersion)")
            yield obj


class ObjectKey(NamedTuple):
    """An object's identity: two files defining the same one are an error."""

    group: str
    kind: str
    namespace: str
    name: str


def _object_key(obj: dict[str, Any], path: Path) -> ObjectKey:
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise ManifestError(f"{path}: a {obj['kind']} without metadata.name")
    group, kind = group_kind(obj)
    return ObjectKey(group, kind, str(metadata.get("namespace") or ""), name)


def load_manifest_dir(directory: str | Path) -> ClusterObjects:
    """The ClusterNetworks, VlanConfigs and NADs in a manifest directory; raises ManifestError."""
    root = Path(directory)
    if not root.is_dir():
        raise ManifestError(f"{root}: not a directory")
    seen: dict[ObjectKey, Path] = {}
    objects = []
    for path in manifest_files(root):
        for obj in _objects(path):
            if group_kind(obj) not in AGENT_KINDS:
                continue
            key = _object_key(obj, path)
            if key in seen:
                shown = f"{key.namespace}/{key.name}" if key.namespace else key.name
                raise ManifestError(f"{key.kind} {shown} is defined twice: in {seen[key]} and in {path}")
            seen[key] = path
            objects.append(obj)
    return ClusterObjects.from_objects(objects)


def load_node_file(path: str | Path) -> NodeIdentity:
    """A node's name and labels from YAML `{name: node1, labels: {...}}`; raises ManifestError.

    Like the kubelet, `kubernetes.io/hostname` defaults to the node name when the file does not set it.
    """
    file = Path(path)
    documents = _documents(file)
    data = documents[0] if len(documents) == 1 else None
    if not isinstance(data, dict):
        raise ManifestError(f"{file}: expected one YAML mapping {{name: <node>, labels: {{...}}}}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ManifestError(f"{file}: name must be the node's name (a non-empty string)")
    labels = data.get("labels") or {}
    if not isinstance(labels, dict):
        raise ManifestError(f"{file}: labels must be a mapping of label to value")
    for key, value in labels.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ManifestError(f"{file}: label {key!r}: {value!r} must be a string to string (quote the value)")
    return NodeIdentity(name=name, labels={names.HOSTNAME_LABEL: name, **labels})


def dir_fingerprint(directory: str | Path) -> str:
    """A value that changes when a manifest file is added, removed, renamed or rewritten ("" if no directory).

    Made from every manifest file's relative path, mtime (ns) and size, so it costs one stat per file.
    """
    root = Path(directory)
    if not root.is_dir():
        return ""
    digest = hashlib.sha256()
    for path in manifest_files(root):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue  # removed since the listing; the next fingerprint will not list it either
        digest.update(f"{path.relative_to(root)}\0{stat.st_mtime_ns}\0{stat.st_size}\n".encode())
    return digest.hexdigest()


class ManifestDirSource:
    """`--from-dir`: the objects of a directory (e.g. `hvnet render -o DIR`), re-read when any file changes."""

    def __init__(self, directory: Path, node_name: str, node_file: Path | None) -> None:
        self.directory, self.node_name, self.node_file = directory, node_name, node_file
        self._seen = ""

    def _fingerprint(self) -> str:
        node = dir_fingerprint(self.node_file.parent) if self.node_file else ""
        return dir_fingerprint(self.directory) + node

    def load(self) -> tuple[ClusterObjects, NodeIdentity]:
        self._seen = self._fingerprint()
        objects = load_manifest_dir(self.directory)
        if self.node_file is None:
            return objects, NodeIdentity(self.node_name, {names.HOSTNAME_LABEL: self.node_name})
        node = load_node_file(self.node_file)
        if node.name != self.node_name:
            raise ManifestError(f"{self.node_file}: names node '{node.name}', but the agent runs as '{self.node_name}'")
        return objects, node

    def changed(self) -> bool:
        return self._fingerprint() != self._seen

    @property
    def wakeup(self) -> Wakeup | None:
        return None  # polled: a stat per file every TICK_S

    def close(self) -> None:
        pass
