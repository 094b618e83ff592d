"""Label selectors (equality- and set-based) and the field selectors every kind supports."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.k8s_api.errors import bad_request

_SET_REQUIREMENT = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQUALITY = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|!=|=)\s*([A-Za-z0-9_.-]*)\s*$")
FIELD_SELECTABLE = ("metadata.name", "metadata.namespace")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # =, !=, in, notin, exists, !exists
    values: frozenset[str]

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "exists":
            return present
        if self.operator == "!exists":
            return not present
        if self.operator in ("=", "in"):
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def parse_label_selector(text: str) -> list[Requirement]:
    requirements = []
    for part in _split_top_level(text or ""):
        equality = _EQUALITY.match(part)
        if equality:
            key, op, value = equality.groups()
            requirements.append(Requirement(key, "!=" if op == "!=" else "=", frozenset({value})))
            continue
        match = _SET_REQUIREMENT.match(part)
        if not match or (match.group(1) and match.group(3)):
            raise bad_request(f"unable to parse requirement: found '{part.strip()}', expected: label selector")
        negated, key, op, values = match.groups()
        if op:
            requirements.append(Requirement(key, op, frozenset(v.strip() for v in values.split(",") if v.strip())))
        else:
            requirements.append(Requirement(key, "!exists" if negated else "exists", frozenset()))
    return requirements


def parse_field_selector(text: str) -> list[tuple[str, bool, str]]:
    """(field, equal?, value) triples; only metadata.name and metadata.namespace are selectable."""
    selectors = []
    for part in _split_top_level(text or ""):
        match = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
        if not match:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = match.groups()
        if field not in FIELD_SELECTABLE:
            raise bad_request(f"field label not supported: {field}")
        selectors.append((field, op != "!=", value))
    return selectors


def selector_predicate(label_selector: str, field_selector: str) -> Callable[[dict[str, Any]], bool]:
    labels_required = parse_label_selector(label_selector)
    fields_required = parse_field_selector(field_selector)

    def matches(obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        if not all(r.matches(labels) for r in labels_required):
            return False
        for field, equal, value in fields_required:
            actual = meta.get(field.split(".", 1)[1]) or ""
            if (actual == value) != equal:
                return False
        return True

    return matches
