"""A YAML syntax error as a message that can be shown: what PyYAML found and where (line, column), without the
snippet of the offending line its str() includes, since that line may hold a token, a key or a password."""

from __future__ import annotations

import yaml


def yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        said = ", ".join(part for part in (exc.context, exc.problem) if part)  # "expected …, but found …"
        return f"{said or 'syntax error'}{where}"
    return type(exc).__name__
