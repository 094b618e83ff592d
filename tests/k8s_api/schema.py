"""Structural-schema handling of custom resources: pruning, defaulting and validation.

Follows apiextensions-apiserver: unknown fields are pruned unless `x-kubernetes-preserve-unknown-fields`; defaults
fill absent fields (and replace nulls); validation reports field errors worded like kube-openapi's
(`spec.x in body should be less than or equal to 9000`). Of CEL (`x-kubernetes-validations`) only the two rule
shapes our CRDs use are understood: `self == oldSelf` and `!has(oldSelf.f) || has(self.f)`; others are ignored.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from datetime import datetime
from typing import Any

from tests.k8s_api.errors import FieldError, invalid_value, required

PRESERVE = "x-kubernetes-preserve-unknown-fields"
# Marks a skeleton schema that stands for a typed Go struct (built-in kinds): for server-side apply its unknown
# keys are struct fields, not map entries, and so never "members" of a field set by themselves.
STRUCT = "x-hvnet-struct"
# The schema of anything below a preserve-unknown-fields node: no types, nothing pruned, lists atomic.
UNKNOWN: dict[str, Any] = {PRESERVE: True}
_STRUCT_UNKNOWN: dict[str, Any] = {PRESERVE: True, STRUCT: True}
# Marks "no old value" for transition rules (None is a value).
NO_OLD_VALUE: Any = object()

_JSON_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", dict: "object", list: "array"}
_HAS_TRANSITION = re.compile(r"^!has\(oldSelf\.(\w+)\) \|\| has\(self\.(\w+)\)$")


def property_schema(schema: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The schema of `key` inside an object node, or None when the key would be pruned."""
    properties = schema.get("properties") or {}
    if key in properties:
        result: dict[str, Any] = properties[key]
        return result
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        return additional
    if additional is True or schema.get(PRESERVE):
        return _STRUCT_UNKNOWN if schema.get(STRUCT) else UNKNOWN
    return None


def items_schema(schema: dict[str, Any]) -> dict[str, Any]:
    items = schema.get("items")
    if isinstance(items, dict):
        return items
    return _STRUCT_UNKNOWN if schema.get(STRUCT) else UNKNOWN


def is_declared_field(schema: dict[str, Any], key: str) -> bool:
    return bool(schema.get(STRUCT)) or key in (schema.get("properties") or {})


def is_unknown(schema: dict[str, Any]) -> bool:
    """Nothing to validate below this node."""
    return schema is UNKNOWN or schema is _STRUCT_UNKNOWN


def list_type(schema: dict[str, Any]) -> str:
    """`atomic`, `set` or `map` (x-kubernetes-list-type; atomic when unset)."""
    return str(schema.get("x-kubernetes-list-type", "atomic"))


def list_map_keys(schema: dict[str, Any]) -> list[str]:
    return list(schema.get("x-kubernetes-list-map-keys") or [])


def is_atomic_map(schema: dict[str, Any]) -> bool:
    return schema.get("x-kubernetes-map-type") == "atomic"


def json_type_name(value: Any) -> str:
    return "null" if value is None else _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def child_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --- pruning -------------------------------------------------------------------------------------------------


def prune(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Drop the fields the schema does not know, in place; returns their paths (for fieldValidation)."""
    unknown: list[str] = []
    if isinstance(value, dict):
        for key in list(value):
            sub = property_schema(schema, key)
            if sub is None:
                del value[key]
                unknown.append(child_path(path, key))
            else:
                unknown += prune(value[key], sub, child_path(path, key))
    elif isinstance(value, list):
        sub = items_schema(schema)
        for index, item in enumerate(value):
            unknown += prune(item, sub, f"{path}[{index}]")
    return unknown


# --- defaulting ----------------------------------------------------------------------------------------------


def apply_defaults(value: Any, schema: dict[str, Any]) -> None:
    """Fill absent fields that have a `default`, replace nulls of non-nullable fields (or drop them), in place."""
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if "default" in sub and value.get(key) is None and (key not in value or not sub.get("nullable")):
                value[key] = json.loads(json.dumps(sub["default"]))
        for key in list(value):
            sub_or_none = property_schema(schema, key)
            if sub_or_none is None:
                continue
            if value[key] is None and not sub_or_none.get("nullable") and not is_unknown(sub_or_none):
                del value[key]
                continue
            apply_defaults(value[key], sub_or_none)
    elif isinstance(value, list):
        sub = items_schema(schema)
        for item in value:
            apply_defaults(item, sub)


# --- validation ----------------------------------------------------------------------------------------------


def _type_matches(value: Any, schema: dict[str, Any]) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, int | str) and not isinstance(value, bool)
    expected = schema.get("type")
    if expected is None:
        return True
    if value is None:
        return bool(schema.get("nullable"))
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return json_type_name(value) == expected


def _format_ok(value: str, fmt: str) -> bool:
    checks = {
        "ipv4": lambda v: ipaddress.IPv4Address(v),
        "ipv6": lambda v: ipaddress.IPv6Address(v),
        "cidr": lambda v: ipaddress.ip_network(v, strict=False),
        "date-time": lambda v: datetime.fromisoformat(v.replace("Z", "+00:00")),
        "byte": lambda v: base64.b64decode(v, validate=True),
    }
    check = checks.get(fmt)
    if check is None:  # Kubernetes ignores formats it does not know, and so do we.
        return True
    try:
        check(value)
    except (ValueError, binascii.Error):
        return False
    return True


def _scalar_errors(value: Any, schema: dict[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if "enum" in schema and value not in schema["enum"]:
        quoted = ", ".join(json.dumps(str(v)) for v in schema["enum"])
        errors.append(FieldError("FieldValueNotSupported", path, value, f"supported values: {quoted}"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        bounds = [
            ("maximum", schema.get("exclusiveMaximum"), lambda v, b: v < b, "less than"),
            ("minimum", schema.get("exclusiveMinimum"), lambda v, b: v > b, "greater than"),
        ]
        for key, exclusive, strict_ok, words in bounds:
            if key not in schema:
                continue
            bound = schema[key]
            ok = strict_ok(value, bound) if exclusive else (strict_ok(value, bound) or value == bound)
            if not ok:
                relation = words if exclusive else f"{words} or equal to"
                errors.append(invalid_value(path, value, f"{path} in body should be {relation} {bound}"))
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(
                FieldError("FieldValueTooLong", path, value, f"may not be more than {schema['maxLength']} bytes")
            )
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(
                invalid_value(path, value, f"{path} in body should be at least {schema['minLength']} chars long")
            )
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(invalid_value(path, value, f"{path} in body should match '{schema['pattern']}'"))
        if "format" in schema and not _format_ok(value, schema["format"]):
            errors.append(
                invalid_value(path, value, f"{path} in body must be of type {schema['format']}: {json.dumps(value)}")
            )
    return errors


def _list_errors(value: list[Any], schema: dict[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(
            FieldError("FieldValueTooMany", path, len(value), f"must have at most {schema['maxItems']} items")
        )
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append(invalid_value(path, value, f"{path} in body should have at least {schema['minItems']} items"))
    kind = list_type(schema)
    if kind in ("set", "map"):
        seen: set[str] = set()
        for index, item in enumerate(value):
            if kind == "map" and isinstance(item, dict):
                identity: Any = {k: item.get(k) for k in list_map_keys(schema)}
            else:
                identity = item
            marker = json.dumps(identity, sort_keys=True)
            if marker in seen:
                errors.append(FieldError("FieldValueDuplicate", f"{path}[{index}]", identity))
            seen.add(marker)
    return errors


def _transition_errors(value: Any, old: Any, schema: dict[str, Any], path: str) -> list[FieldError]:
    """The CEL rules we understand; they are transition rules, so they only run when an old value exists."""
    errors: list[FieldError] = []
    if old is NO_OLD_VALUE:
        return errors
    for rule in schema.get("x-kubernetes-validations") or []:
        text = str(rule.get("rule", "")).strip()
        holds = True
        if text == "self == oldSelf":
            holds = value == old
        elif match := _HAS_TRANSITION.match(text):
            old_field, new_field = match.groups()
            holds = not (isinstance(old, dict) and old_field in old) or (isinstance(value, dict) and new_field in value)
        if not holds:
            message = rule.get("message") or f"failed rule: {text}"
            errors.append(invalid_value(path, schema.get("type", "object"), message))
    return errors


def validate(value: Any, schema: dict[str, Any], path: str = "", old: Any = NO_OLD_VALUE) -> list[FieldError]:
    """Field errors of `value` against a structural schema; `old` is the stored value for transition rules."""
    if not _type_matches(value, schema):
        expected = "integer or string" if schema.get("x-kubernetes-int-or-string") else schema["type"]
        detail = f"{path} in body must be of type {expected}: {json.dumps(json_type_name(value))}"
        return [FieldError("FieldValueTypeInvalid", path, value, detail)]
    errors = _scalar_errors(value, schema, path)
    errors += _transition_errors(value, old, schema, path)
    if isinstance(value, dict):
        for key in schema.get("required") or []:
            if key not in value:
                errors.append(required(child_path(path, key)))
        for key, item in value.items():
            sub = property_schema(schema, key)
            if sub is not None and not is_unknown(sub):
                old_item = old.get(key, NO_OLD_VALUE) if isinstance(old, dict) else NO_OLD_VALUE
                errors += validate(item, sub, child_path(path, key), old_item)
    elif isinstance(value, list):
        errors += _list_errors(value, schema, path)
        sub = items_schema(schema)
        if not is_unknown(sub):
            for index, item in enumerate(value):
                errors += validate(item, sub, f"{path}[{index}]")
    return errors
