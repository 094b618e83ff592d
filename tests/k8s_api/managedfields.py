"""Server-side apply: field sets, `managedFields` (FieldsV1), ownership, conflicts, and the apply merge.

A port of what sigs.k8s.io/structured-merge-diff does, on plain dicts:
- a field set holds paths; a path is a tuple of elements `("f", name)`, `("k", '{"name":"a"}')` (an item of a
  list-type map), `("v", '"x"')` (an item of a list-type set);
- Apply: merge the applied configuration into the live object, take the applied fields as the manager's set,
  remove what the manager applied last time and nobody manages now, and report other managers' fields whose
  value the apply changes as conflicts (409) unless forced;
- Update (create, PUT, non-apply patches): the manager takes every field it added or changed, others lose them.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tests.k8s_api.errors import apply_conflict, bad_request
from tests.k8s_api.schema import (
    UNKNOWN,
    is_atomic_map,
    is_declared_field,
    items_schema,
    list_map_keys,
    list_type,
    property_schema,
)

Element = tuple[str, Any]
Path = tuple[Element, ...]
_ABSENT: Any = object()

# Never tracked (structured-merge-diff's stripSet in the API server's field manager).
STRIPPED: frozenset[Path] = frozenset(
    {(("f", "apiVersion"),), (("f", "kind"),), (("f", "metadata"),)}
    | {
        (("f", "metadata"), ("f", name))
        for name in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    }
)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def list_element(item: Any, schema: dict[str, Any]) -> Element:
    """The path element naming one item of a granular list."""
    if list_type(schema) == "map" and isinstance(item, dict):
        return ("k", _canonical({k: item[k] for k in list_map_keys(schema) if k in item}))
    return ("v", _canonical(item))


def path_text(path: Path) -> str:
    """A path as structured-merge-diff prints it: `.spec.items[name="a"].value`."""
    text = ""
    for kind, value in path:
        if kind == "f":
            text += f".{value}"
        elif kind == "k":
            text += "[" + ",".join(f"{k}={_canonical(v)}" for k, v in json.loads(value).items()) + "]"
        elif kind == "v":
            text += f"[={value}]"
        else:
            text += f"[{value}]"
    return text


# --- field sets ------------------------------------------------------------------------------------------------


def field_set(value: Any, schema: dict[str, Any], path: Path = ()) -> set[Path]:
    """The fields a value sets (structured-merge-diff's ToFieldSet)."""
    out: set[Path] = set()
    _collect(value, schema, path, out)
    return out


def _collect(value: Any, schema: dict[str, Any], path: Path, out: set[Path]) -> None:
    if isinstance(value, dict) and not is_atomic_map(schema):
        for key, child in value.items():
            child_path = (*path, ("f", key))
            _collect(child, property_schema(schema, key) or UNKNOWN, child_path, out)
            if child is None or child == {} or not is_declared_field(schema, key):
                out.add(child_path)
    elif isinstance(value, list) and list_type(schema) != "atomic":
        sub = items_schema(schema)
        for item in value:
            item_path = (*path, list_element(item, schema))
            _collect(item, sub, item_path, out)
            out.add(item_path)
    elif path:
        out.add(path)


def _with_ancestors(paths: set[Path]) -> set[Path]:
    closed: set[Path] = set()
    for path in paths:
        for end in range(1, len(path) + 1):
            closed.add(path[:end])
    return closed


def without_subtrees(paths: set[Path], roots: set[Path]) -> set[Path]:
    """`paths` minus `roots` and everything below them (RecursiveDifference)."""
    return {p for p in paths if not any(p[: len(r)] == r for r in roots)}


@dataclass
class Comparison:
    added: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)


def compare(old: Any, new: Any, schema: dict[str, Any]) -> Comparison:
    result = Comparison()
    _compare(old, new, schema, (), result)
    return result


def _compare(old: Any, new: Any, schema: dict[str, Any], path: Path, out: Comparison) -> None:
    if isinstance(old, dict) and isinstance(new, dict) and not is_atomic_map(schema):
        for key in old.keys() | new.keys():
            sub = property_schema(schema, key) or UNKNOWN
            _compare(old.get(key, _ABSENT), new.get(key, _ABSENT), sub, (*path, ("f", key)), out)
        return
    if isinstance(old, list) and isinstance(new, list) and list_type(schema) != "atomic":
        old_items = {list_element(i, schema): i for i in old}
        new_items = {list_element(i, schema): i for i in new}
        sub = items_schema(schema)
        for element in old_items.keys() | new_items.keys():
            item_old, item_new = old_items.get(element, _ABSENT), new_items.get(element, _ABSENT)
            _compare(item_old, item_new, sub, (*path, element), out)
        return
    if old is _ABSENT:
        out.added |= _all_nodes(new, schema, path)
    elif new is _ABSENT:
        out.removed |= _all_nodes(old, schema, path)
    elif old != new:
        out.modified.add(path)


def _all_nodes(value: Any, schema: dict[str, Any], path: Path) -> set[Path]:
    """A value that appears or disappears as a whole: its own path and every path below it."""
    nodes = {path}
    if isinstance(value, dict) and not is_atomic_map(schema):
        for key, child in value.items():
            nodes |= _all_nodes(child, property_schema(schema, key) or UNKNOWN, (*path, ("f", key)))
    elif isinstance(value, list) and list_type(schema) != "atomic":
        for item in value:
            nodes |= _all_nodes(item, items_schema(schema), (*path, list_element(item, schema)))
    return nodes


# --- FieldsV1 --------------------------------------------------------------------------------------------------


def _encode_element(element: Element) -> str:
    kind, value = element
    return f"{kind}:{value}"


def _decode_element(text: str) -> Element:
    kind, _, value = text.partition(":")
    if kind not in ("f", "k", "v", "i"):
        raise bad_request(f"invalid managedFields: unknown path element {text!r}")
    return (kind, int(value) if kind == "i" else value)


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    trie: dict[str, Any] = {}
    members = set(paths)
    for path in sorted(paths, key=lambda p: [_encode_element(e) for e in p]):
        node = trie
        for element in path:
            node = node.setdefault(_encode_element(element), {})
    return _mark_members(trie, (), members)


def _mark_members(node: dict[str, Any], path: Path, members: set[Path]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, child in node.items():
        child_path = (*path, _decode_element(key))
        encoded = _mark_members(child, child_path, members)
        if encoded and child_path in members:
            encoded = {".": {}, **encoded}
        out[key] = encoded
    return out


def from_fields_v1(trie: dict[str, Any], path: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    for key, child in trie.items():
        if key == ".":
            paths.add(path)
            continue
        child_path = (*path, _decode_element(key))
        if not child:
            paths.add(child_path)
        else:
            paths |= from_fields_v1(child, child_path)
    return paths


# --- managers --------------------------------------------------------------------------------------------------


@dataclass
class Manager:
    manager: str
    operation: str  # "Apply" or "Update"
    api_version: str
    subresource: str
    time: str
    fields: set[Path]

    @property
    def identity(self) -> str:
        """Appliers are one manager whatever API version they use; updaters are one per version."""
        parts = {"manager": self.manager, "operation": self.operation, "subresource": self.subresource}
        if self.operation == "Update":
            parts["apiVersion"] = self.api_version
        return _canonical(parts)

    def printed(self) -> str:
        text = json.dumps(self.manager)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def entry(self) -> dict[str, Any]:
        entry = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(self.fields),
        }
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def decode_managers(entries: list[dict[str, Any]] | None) -> dict[str, Manager]:
    managers: dict[str, Manager] = {}
    for entry in entries or []:
        if not entry:
            continue
        if entry.get("fieldsType", "FieldsV1") != "FieldsV1":
            raise bad_request(f"invalid managedFields: fieldsType {entry.get('fieldsType')!r}")
        manager = Manager(
            manager=str(entry.get("manager", "")),
            operation=str(entry.get("operation", "Update")),
            api_version=str(entry.get("apiVersion", "")),
            subresource=str(entry.get("subresource", "")),
            time=str(entry.get("time", "")),
            fields=from_fields_v1(entry.get("fieldsV1") or {}),
        )
        managers[manager.identity] = manager
    return managers


def encode_managers(managers: dict[str, Manager]) -> list[dict[str, Any]]:
    ordered = sorted(managers.values(), key=lambda m: (m.operation, m.time, m.manager, m.api_version, m.subresource))
    return [m.entry() for m in ordered if m.fields]


def _tracked(paths: set[Path], ignored: set[Path]) -> set[Path]:
    return without_subtrees(paths, ignored) - STRIPPED


def record_update(
    old: Any, new: Any, schema: dict[str, Any], managers: dict[str, Manager], me: Manager, ignored: set[Path]
) -> dict[str, Manager]:
    """Ownership after a non-apply write: `me` takes what it added or changed; nobody keeps what it removed."""
    diff = compare(old, new, schema)
    taken = diff.modified | diff.added
    result: dict[str, Manager] = {}
    for identity, other in managers.items():
        if identity != me.identity:
            other.fields = other.fields - taken - diff.removed
            result[identity] = other
    previous = managers[me.identity].fields if me.identity in managers else set()
    me.fields = _tracked((previous - diff.removed) | taken, ignored)
    result[me.identity] = me
    return {k: m for k, m in result.items() if m.fields}


# --- apply -----------------------------------------------------------------------------------------------------


def merge_applied(live: Any, applied: Any, schema: dict[str, Any]) -> Any:
    """The applied configuration laid over the live value (structured-merge-diff's Merge)."""
    if live is _ABSENT:
        return json.loads(json.dumps(applied))
    if isinstance(live, dict) and isinstance(applied, dict) and not is_atomic_map(schema):
        merged = dict(live)
        for key, value in applied.items():
            merged[key] = merge_applied(live.get(key, _ABSENT), value, property_schema(schema, key) or UNKNOWN)
        return merged
    if isinstance(live, list) and isinstance(applied, list) and list_type(schema) != "atomic":
        return _merge_list(live, applied, schema)
    return json.loads(json.dumps(applied))


def _merge_list(live: list[Any], applied: list[Any], schema: dict[str, Any]) -> list[Any]:
    """Items merged by key; applied items keep the applied order, live-only items stay where they were."""
    sub = items_schema(schema)
    live_keys = [list_element(i, schema) for i in live]
    applied_keys = [list_element(i, schema) for i in applied]
    live_by, applied_by = dict(zip(live_keys, live, strict=True)), dict(zip(applied_keys, applied, strict=True))
    shared = deque(k for k in applied_keys if k in live_by)
    next_shared = shared.popleft() if shared else None
    out: list[Any] = []
    li = ri = 0
    while li < len(live_keys) or ri < len(applied_keys):
        if li < len(live_keys) and ri < len(applied_keys):
            key = live_keys[li]
            if key == applied_keys[ri]:
                out.append(merge_applied(live_by[key], applied_by[key], sub))
                li, ri = li + 1, ri + 1
                next_shared = shared.popleft() if shared else None
                continue
            if key in applied_by and next_shared is not None and next_shared != key:
                li += 1
                continue
        if li < len(live_keys) and live_keys[li] not in applied_by:
            out.append(live_by[live_keys[li]])
            li += 1
            continue
        if ri < len(applied_keys):
            key = applied_keys[ri]
            out.append(merge_applied(live_by.get(key, _ABSENT), applied_by[key], sub))
            ri += 1
            if next_shared is not None and next_shared == key:
                next_shared = shared.popleft() if shared else None
        else:
            li += 1
    return out


def remove_path(value: Any, path: Path, schema: dict[str, Any]) -> None:
    """Remove the field or list item at `path`, if it is there."""
    *parents, last = path
    node = value
    for element in parents:
        node, schema = _step(node, element, schema)
        if node is _ABSENT:
            return
    if last[0] == "f" and isinstance(node, dict):
        node.pop(last[1], None)
    elif isinstance(node, list):
        node[:] = [item for item in node if list_element(item, schema) != last]


def _step(node: Any, element: Element, schema: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    if element[0] == "f":
        if not isinstance(node, dict) or element[1] not in node:
            return _ABSENT, schema
        return node[element[1]], property_schema(schema, element[1]) or UNKNOWN
    if isinstance(node, list):
        for item in node:
            if list_element(item, schema) == element:
                return item, items_schema(schema)
    return _ABSENT, schema


def _prune_abandoned(merged: Any, schema: dict[str, Any], last: set[Path], managers: dict[str, Manager]) -> None:
    """Remove what the applier set last time and no manager (the applier included) manages now."""
    kept = _with_ancestors(set().union(*(m.fields for m in managers.values())))
    abandoned = sorted(_with_ancestors(last) - kept - STRIPPED, key=len)
    removed: list[Path] = []
    for path in abandoned:
        if not any(path[: len(r)] == r for r in removed):
            remove_path(merged, path, schema)
            removed.append(path)


def apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    schema: dict[str, Any],
    managers: dict[str, Manager],
    me: Manager,
    *,
    force: bool,
    ignored: set[Path],
) -> tuple[dict[str, Any], dict[str, Manager]]:
    """Server-side apply; raises the 409 Conflict listing other managers' fields unless `force`."""
    for path in ignored:
        remove_path(applied, path, schema)
    base = live if live is not None else {}
    merged: dict[str, Any] = merge_applied(base, applied, schema)
    last = managers[me.identity].fields if me.identity in managers else set()
    me.fields = _tracked(field_set(applied, schema), ignored)
    managers = {**managers, me.identity: me}
    _prune_abandoned(merged, schema, last, managers)
    diff = compare(base, merged, schema)
    changed = diff.modified | diff.added
    conflicts = [
        (other.printed(), path_text(path))
        for identity, other in managers.items()
        if identity != me.identity
        for path in sorted(other.fields & changed, key=path_text)
    ]
    if conflicts and not force:
        raise apply_conflict(conflicts)
    for identity, other in managers.items():
        if identity != me.identity:
            other.fields = other.fields - changed - diff.removed
    return merged, {k: m for k, m in managers.items() if m.fields}
