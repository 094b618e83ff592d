"""Reading a plan: YAML (or a dict) in, a valid `Plan` plus warnings out, or a `PlanError` with every error."""

from __future__ import annotations

import contextlib
import difflib
import gc
import ipaddress
import re
import stat
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from harvester_network.model import names
from harvester_network.model.issues import PlanError, PlanIssue, format_path
from harvester_network.model.plan import Plan
from harvester_network.model.rules import plan_issues
from harvester_network.model.yaml_problem import yaml_problem

MAX_PLAN_BYTES = 256 * 1024 * 1024  # a larger plan file is refused before it is read (README, "The plan")
_DECIMAL_INT = r"^[-+]?(?:0|[1-9][0-9]*)$"
# What YAML 1.1 reads as an integer and this loader reads as text (hex, octal, binary, with '_', base 60).
_YAML11_NUMBER = re.compile(r"[-+]?(0x[0-9a-fA-F_]+|0o?[0-7_]+|0b[01_]+|[0-9]+_[0-9_]*|[0-9][0-9_]*(:[0-5]?[0-9])+)")
_YAML_INT_TAG = "tag:yaml.org,2002:int"
_YAML_MERGE_TAG = "tag:yaml.org,2002:merge"
_YAML_STR_TAG = "tag:yaml.org,2002:str"


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader (libyaml's when installed: several times faster) that rejects duplicate and non-scalar keys,
    and reads only plain decimal integers as numbers: YAML 1.1's 0x64, 0144, 0b1, 1_000 and 1:30 stay text, so
    `vlan: 0x64` is an error, not VLAN 100, and a MAC such as 52:54:00:12:34:56 is not read as base 60."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._plain_tags: dict[str, str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        """A plain scalar's tag depends on its text only: keys and repeated values are resolved once (half of
        the time of reading a large plan went into the resolver's regular expressions)."""
        if kind is yaml.ScalarNode and implicit[0]:
            tag = self._plain_tags.get(value)
            if tag is None:
                tag = self._plain_tags[value] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _YAML_INT_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(_YAML_INT_TAG, re.compile(_DECIMAL_INT), list("-+0123456789"))


def _key_error(key_node: yaml.Node, problem: str) -> yaml.constructor.ConstructorError:
    return yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[str, Any]:
    """A mapping whose keys are names, each once. Built here rather than by PyYAML's construct_mapping, which
    constructs every key as an object: plan keys are plain strings, so the node's text is the key."""
    first: dict[str, yaml.Node] = {}
    merges = False
    for key_node, _ in node.value:
        if key_node.tag == _YAML_MERGE_TAG:
            merges = True  # `<<: *base`: its keys may be overridden here; PyYAML merges them below
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            raise _key_error(key_node, "a key must be a plain name, not a list or mapping")
        if key_node.tag != _YAML_STR_TAG:  # `1:`, `yes:`, `~:`: YAML reads them as a number, a boolean, null
            kind = key_node.tag.rpartition(":")[2]
            raise _key_error(key_node, f"key '{key_node.value}' is read as a {kind}, not a name: quote it")
        if key_node.value in first:
            line = first[key_node.value].start_mark.line + 1
            raise _key_error(key_node, f"duplicate key '{key_node.value}' (first on line {line})")
        first[key_node.value] = key_node
    if merges:
        return loader.construct_mapping(node)
    return {key_node.value: loader.construct_object(value_node) for key_node, value_node in node.value}


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str, source: str = "plan") -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise PlanError(
            [PlanIssue("", f"is not valid YAML: {yaml_problem(exc)}", "fix the YAML syntax")], source
        ) from None
    except RecursionError:
        raise PlanError([PlanIssue("", "nests too deep to read", "a plan needs only a few levels")], source) from None


def read_plan_text(path: Path) -> str:
    """The text of a plan file. Only a regular file of at most MAX_PLAN_BYTES, UTF-8: a FIFO or a device
    (/dev/zero) would hang or fill memory."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise PlanError([PlanIssue("", "is not a regular file", "give the path of a plan YAML file")], str(path))
        with path.open("rb") as f:
            data = f.read(MAX_PLAN_BYTES)
            larger = bool(f.peek())  # a byte past the limit is left unread
    except OSError as exc:
        raise PlanError([PlanIssue("", f"cannot be read: {exc.strerror}", "check the path")], str(path)) from None
    if larger:
        raise PlanError(
            [PlanIssue("", f"is larger than {MAX_PLAN_BYTES // 2**20} MiB", "split the plan into several")], str(path)
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PlanError(
            [PlanIssue("", f"is not UTF-8 text (byte {exc.start + 1}, line {line})", "save the file as UTF-8")],
            str(path),
        ) from None


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside. Reading, validating and rendering a plan allocate millions of objects
    and keep nearly all of them, and every few thousand allocations the collector walks the objects alive again:
    that was 70% of the time of reading a 100 000-network plan (benchmarks/RESULTS.md, "Render scale"). The
    objects form trees, not cycles: reference counting frees them all the same."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_plan_file(path: str | Path) -> tuple[Plan, list[PlanIssue]]:
    path = Path(path)
    with paused_gc():
        return load_plan(parse_yaml(read_plan_text(path), str(path)), str(path))


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
        loc = err["loc"]  # never empty: the Plan model has no model validator, so every error is in a section
        if len(loc) >= 2 and isinstance(loc[1], int):
            bad_items.setdefault(str(loc[0]), set()).add(loc[1])
        else:
            bad_sections.add(str(loc[0]))
    dropped: set[str] = set()
    trimmed: dict[str, Any] = {}
    origins: dict[str, list[int]] = {}
    for key, value in data.items():
        if key in bad_sections:
            origins[key] = []  # dropped whole: the plan holds its default, which rules must not judge
            continue
        if key in bad_items and isinstance(value, list):
            for i in bad_items[key]:
                item = value[i]  # pydantic's index of an item of this very list
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
        hints = difflib.get_close_matches(str(loc[-1]), allowed)  # the closest first
        fix = f"did you mean '{hints[0]}'?" if hints else f"allowed keys: {', '.join(sorted(allowed))}"
        return PlanIssue(path, "is not a known key", fix)
    if kind == "missing":
        return PlanIssue(path, "is required", "add it")
    if kind == "ip_v4_network":
        return PlanIssue(path, err["msg"], _network_fix(err["input"]))
    message = err["msg"].removeprefix("Value error, ")
    if kind == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == names.IFNAME_RE:
        return PlanIssue(
            path,
            "is not a Linux interface name: no '/', ':', whitespace or control characters",
            "use the NIC's name as `ip link` shows it, like eth1",
        )
    if kind == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == names.IMAGE_RE:
        return PlanIssue(
            path, "is not a container image reference", "write REPO[:TAG], or pin it: REPO@sha256:<64 hex digits>"
        )
    if kind == "int_type" and isinstance(err["input"], str) and _YAML11_NUMBER.fullmatch(err["input"]):
        return PlanIssue(path, f"{err['input']!r} is not a decimal number", "write the number in decimal, like 100")
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
    """Pydantic puts a discriminated union's tag ('manual') into the location: the path leaves it out."""
    models: list[type[BaseModel]] = [Plan]
    out: list[str | int] = []
    for part in loc:
        if part in _union_tags(models):
            continue  # `models` stays the whole union: its members' fields are looked up together
        out.append(part)
        models = _fields_by_alias(models).get(str(part), models)  # an index or a dict key keeps the models
    return tuple(out)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _fields_by_alias(models: list[type[BaseModel]]) -> dict[str, list[type[BaseModel]]]:
    """alias -> the models behind it (none, one, or the members of a union), over the fields of `models`."""
    return {info.alias or name: _models_in(info.annotation) for m in models for name, info in m.model_fields.items()}


def _union_tags(models: list[type[BaseModel]]) -> set[str]:
    """The values of the `mode` discriminator of Route's members (the plan's one tagged union)."""
    return {
        tag for m in models if "mode" in m.model_fields for tag in typing.get_args(m.model_fields["mode"].annotation)
    }


def _allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    models: list[type[BaseModel]] = [Plan]
    for part in loc:
        models = _fields_by_alias(models).get(str(part), models)
    return sorted(_fields_by_alias(models))


__all__ = ["PlanError", "PlanIssue", "load_plan", "load_plan_file", "parse_yaml", "paused_gc"]
