"""The non-apply patch types: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch.

Strategic merge patch covers what kubectl sends: maps merge, `null` deletes, lists with a patch merge key merge
by that key (`$patch: delete|replace` on items), primitive lists with strategy `merge` union, and the
`$patch`, `$retainKeys`, `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>` directives.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.k8s_api.errors import ApiError, bad_request
from tests.k8s_api.schema import UNKNOWN, items_schema, property_schema

_DELETE: Any = object()


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


# --- JSON patch --------------------------------------------------------------------------------------------


def _unprocessable(message: str) -> ApiError:
    return ApiError(422, "Invalid", message)


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}: it must start with '/'")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], op: str, path: str) -> Any:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _unprocessable(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return node


def _get(doc: Any, path: str, op: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent, last = _parent(doc, parts, op, path), parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise _unprocessable(f'{op} operation does not apply: doc is missing path: "{path}": missing value')


def _remove(doc: Any, path: str, op: str) -> Any:
    parts = _pointer(path)
    parent, last = _parent(doc, parts, op, path), parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise _unprocessable(f'{op} operation does not apply: doc is missing path: "{path}": missing value')


def _add(doc: Any, path: str, value: Any, op: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts, op, path), parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list) and (last == "-" or (last.isdigit() and int(last) <= len(parent))):
        parent.insert(len(parent) if last == "-" else int(last), value)
    else:
        raise _unprocessable(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(target)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise bad_request(f"invalid JSON patch operation: {operation!r}")
        op, path = operation["op"], operation["path"]
        if op == "add":
            doc = _add(doc, path, copy.deepcopy(operation.get("value")), op)
        elif op == "remove":
            _remove(doc, path, op)
        elif op == "replace":
            _get(doc, path, op)
            if _pointer(path):
                _remove(doc, path, op)
            doc = _add(doc, path, copy.deepcopy(operation.get("value")), op)
        elif op in ("move", "copy"):
            value = (
                _remove(doc, operation["from"], op) if op == "move" else copy.deepcopy(_get(doc, operation["from"], op))
            )
            doc = _add(doc, path, value, op)
        elif op == "test":
            if _get(doc, path, op) != operation.get("value"):
                raise _unprocessable(f"testing value {path} failed: test failed")
        else:
            raise bad_request(f"Unexpected kind: {op}")
    return doc


# --- strategic merge patch -----------------------------------------------------------------------------------


def _merges_by_strategy(schema: dict[str, Any]) -> bool:
    return "merge" in str(schema.get("x-kubernetes-patch-strategy", "")).split(",")


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value if not (isinstance(v, dict) and "$patch" in v)]
    return copy.deepcopy(value)


def strategic_merge_patch(target: Any, patch: Any, schema: dict[str, Any]) -> Any:
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return _strip_directives(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip_directives(patch)
    if directive == "delete":
        return _DELETE
    merged = dict(target)
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            merged.pop(key, None)
            continue
        sub = property_schema(schema, key) or UNKNOWN
        current = merged.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            result = strategic_merge_patch(current, value, sub)
        elif isinstance(value, list) and isinstance(current, list) and _merges_by_strategy(sub):
            result = _merge_list(current, value, sub)
        else:
            result = _strip_directives(value)
        if result is _DELETE:
            merged.pop(key, None)
        else:
            merged[key] = result
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(merged.get(name), list):
                merged[name] = [item for item in merged[name] if item not in value]
        elif key.startswith("$setElementOrder/"):
            name = key.split("/", 1)[1]
            if isinstance(merged.get(name), list):
                merged[name] = _ordered(merged[name], value, property_schema(schema, name) or UNKNOWN)
    if isinstance(patch.get("$retainKeys"), list):
        merged = {k: v for k, v in merged.items() if k in patch["$retainKeys"]}
    return merged


def _merge_list(current: list[Any], patch: list[Any], schema: dict[str, Any]) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        stripped: list[Any] = _strip_directives(patch)
        return stripped
    key = schema.get("x-kubernetes-patch-merge-key")
    if not key:
        return [*current, *(_strip_directives(item) for item in patch if item not in current)]
    merged = list(current)
    for item in patch:
        if not isinstance(item, dict):
            raise bad_request(f"strategic merge patch: list item {item!r} has no merge key {key!r}")
        index = next((i for i, existing in enumerate(merged) if existing.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                merged.pop(index)
        elif index is None:
            merged.append(_strip_directives(item))
        else:
            merged[index] = strategic_merge_patch(merged[index], item, items_schema(schema))
    return merged


def _ordered(items: list[Any], order: list[Any], schema: dict[str, Any]) -> list[Any]:
    """Items named in `$setElementOrder` come first, in that order; the rest keep theirs."""
    key = schema.get("x-kubernetes-patch-merge-key")

    def identity(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [identity(entry) for entry in order]
    first = sorted((i for i in items if identity(i) in wanted), key=lambda i: wanted.index(identity(i)))
    return first + [i for i in items if identity(i) not in wanted]
