"""Values that may be known now or only later (pulumi.Input): compute with them now when they are all known
(so a plan error is raised at the line that declared the component), else inside an Output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

import pulumi

T = TypeVar("T")
U = TypeVar("U")

Lifted: TypeAlias = T | pulumi.Output[T]  # a value, or the Output it will be


def holds_output(value: Any) -> bool:
    """Whether a value is, or contains (in dicts and lists), a pulumi Output or other awaitable."""
    if isinstance(value, dict):
        return any(holds_output(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(holds_output(v) for v in value)
    return isinstance(value, pulumi.Output) or hasattr(value, "__await__")


def resolved(value: Any, build: Callable[[Any], T]) -> Lifted[T]:
    """`build(value)` now if `value` holds no Output, else an Output of it once every nested input resolved."""
    if holds_output(value):
        return pulumi.Output.from_input(value).apply(build)
    return build(value)


def pick(value: Lifted[T], part: Callable[[T], U]) -> Lifted[U]:
    """A part of a value that may be an Output."""
    if isinstance(value, pulumi.Output):
        return value.apply(part)
    return part(value)
