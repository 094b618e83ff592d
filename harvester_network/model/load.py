"""Reading a plan: YAML (or a dict) in, a valid `Plan` plus warnings out, or a `PlanError` with every error."""

from __future__ import annotations

import difflib
import ipaddress
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from harvester_network.model.issues import PlanError, PlanIssue, format_path
from harvester_network.model.plan import Plan
from harvester_network.model.rules import plan_issues
from harvester_network.model.yaml_problem import yaml_problem


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys instead of silently keeping the last one."""


def _construct_mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (first on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_without_duplicates)


def parse_yaml(text: str, source: str = "plan") -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise PlanError(
            [PlanIssue("", f"is not valid YAML: {yaml_problem(exc)}", "fix the YAML syntax")], source
        ) from None


def load_plan_file(path: str | Path) -> tuple[Plan, list[PlanIssue]]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise PlanError([PlanIssue("", f"cannot be read: {exc.strerror}", "check the path")], str(path)) from None
    return load_plan(parse_yaml(text, str(path)), str(path))


def load_plan(data: Any, source: str = "plan") -> tuple[Plan, list[PlanIssue]]:
    """Validate plan data completely. Returns (plan, warnings); raises PlanError listing every error."""
    if data is None:
        raise PlanError([PlanIssue("", "is empty", "start from examples/quickstart/plan.yaml")], source)
    if not isinstance(data, dict):
        raise PlanError(
            [
                PlanIssue(
                    "",
                    f"must be a mapping of sections, not a {type(data).__name__}",
                    "start from examples/quickstart/plan.yaml",
                )
            ],
            source,
        )
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        field_issues = [_issue_from_pydantic(err) for err in exc.errors()]
        partial, dropped, origins = _valid_part(data, exc.errors())
        # A finding about a whole section that lost items (`nodes` left empty) is about what was dropped, not the plan.
        cross = [i for i in plan_issues(partial, dropped, origins) if i.path not in origins] if partial else []
        issues = field_issues + cross
        raise PlanError(sorted(set(issues), key=field_issues_first(field_issues)), source) from None
    issues = plan_issues(plan)
    if any(i.severity == "error" for i in issues):
        raise PlanError(issues, source)
    return plan, issues


def field_issues_first(field_issues: list[PlanIssue]) -> Any:
    """Field errors in pydantic's order, then the others by path (and message: a set's order is not stable)."""
    order = {issue: n for n, issue in enumerate(field_issues)}
    return lambda issue: (order.get(issue, len(order)), issue)


def _valid_part(
    data: dict[str, Any], errors: list[ErrorDetails]
) -> tuple[Plan | None, frozenset[str], dict[str, list[int]]]:
    """The plan without the items that failed field validation, so cross-object rules can still run.

    Only whole top-level items are dropped (a bad interface drops its VM): an item missing a part would be judged
    on what it does not have. Returns the names of the dropped items too: references to them are not reported
    again; and, for each section that lost items, the index in `data` of every item kept ("networks" -> [1, 2]),
    so issues name the user's indexes (a section dropped whole maps to no items).
    """
    bad_items: dict[str, set[int]] = {}
    bad_sections: set[str] = set()
    for err in errors:
        loc = err["loc"]
        if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
            bad_items.setdefault(loc[0], set()).add(loc[1])
        elif loc and isinstance(loc[0], str):
            bad_sections.add(loc[0])
    dropped: set[str] = set()
    trimmed: dict[str, Any] = {}
    origins: dict[str, list[int]] = {}
    for key, value in data.items():
        if key in bad_sections:
            origins[key] = []  # dropped whole: the plan holds its default, which rules must not judge
            continue
        if key in bad_items and isinstance(value, list):
            for i in bad_items[key]:
                item = value[i] if i < len(value) else None
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    ns = item.get("namespace") if isinstance(item.get("namespace"), str) else "default"
                    dropped.update({item["name"], f"{ns}/{item['name']}"})
            origins[key] = [i for i in range(len(value)) if i not in bad_items[key]]
            value = [value[i] for i in origins[key]]
        trimmed[key] = value
    try:
        return Plan.model_validate(trimmed), frozenset(dropped), origins
    except ValidationError:
        return None, frozenset(dropped), origins


def _issue_from_pydantic(err: ErrorDetails) -> PlanIssue:
    loc = _strip_union_tags(err["loc"])
    path = format_path(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        fix = f"did you mean '{hint[0]}'?" if hint else f"allowed keys: {', '.join(sorted(allowed))}"
        return PlanIssue(path, "is not a known key", fix)
    if kind == "missing":
        return PlanIssue(path, "is required", "add it")
    if kind == "ip_v4_network":
        return PlanIssue(path, err["msg"], _network_fix(err["input"]))
    message = err["msg"].removeprefix("Value error, ")
    fixes = {
        "int_type": "write a whole number without quotes",
        "string_type": "write a string (quote it if YAML reads it as a number or boolean)",
        "list_type": "write a YAML list",
        "model_type": "write a mapping of keys",
        "union_tag_invalid": "use mode: manual or mode: auto",
        "union_tag_not_found": "use mode: manual or mode: auto",
        "ip_v4_address": "write an IPv4 address, like 10.100.0.1",
        "string_pattern_mismatch": "use lowercase letters, digits and '-' (a DNS label)"
        if "a-z" in str(err.get("ctx", {}).get("pattern", ""))
        else "see the format in README.md",
    }
    return PlanIssue(path, message, fixes.get(kind, ""))


def _network_fix(value: Any) -> str:
    """'10.100.0.5/24' is a host address, not a network: say which network was meant."""
    try:
        return f"use the network address {ipaddress.IPv4Network(value, strict=False)} (host bits must be zero)"
    except (TypeError, ValueError):
        return "write a subnet with its prefix length, like 10.100.0.0/24"


def _strip_union_tags(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Pydantic puts a discriminated union's tag ('manual') and function names into the location."""
    model: Any = Plan
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, int):
            out.append(part)
            continue
        fields = _fields_by_alias(model)
        if part in fields:
            out.append(part)
            model = fields[part]
        elif model is not None and not _fields_by_alias(model):
            out.append(part)  # a dict key (lab.nodes.<node>)
        else:
            model = _model_for_tag(model, part)
            if model is None:
                out.append(part)
    return tuple(out)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _fields_by_alias(model: Any) -> dict[str, Any]:
    """alias -> the annotation behind it (a model, a union of models, or a container of them)."""
    if isinstance(model, list):
        return {k: v for m in model for k, v in _fields_by_alias(m).items()}
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return {}
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        models = _models_in(info.annotation)
        out[info.alias or name] = models[0] if len(models) == 1 else (models or None)
    return out


def _model_for_tag(model: Any, tag: str) -> Any:
    for candidate in model if isinstance(model, list) else []:
        mode = candidate.model_fields.get("mode")
        if mode is not None and tag in typing.get_args(mode.annotation):
            return candidate
    return None


def _allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    model: Any = Plan
    for part in loc:
        if isinstance(part, int):
            continue
        fields = _fields_by_alias(model)
        if part in fields:
            model = fields[part]
    return sorted(_fields_by_alias(model))


__all__ = ["PlanError", "PlanIssue", "load_plan", "load_plan_file", "parse_yaml"]
