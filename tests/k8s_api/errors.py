"""API errors as the real server words them: a `Status` object with reason, code, details and causes.

Messages follow k8s.io/apimachinery's errors and field packages, so clients that match on them behave the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# field.ErrorType -> its String(); the keys are the StatusCause reasons (`metav1.CauseType`).
_ERROR_TYPE_TEXT = {
    "FieldValueRequired": "Required value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueTypeInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueTooLong": "Too long",
    "FieldValueTooMany": "Too many",
    "FieldValueNotFound": "Not found",
}
# These types never print the offending value (field.Error.ErrorBody).
_VALUELESS = {"FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong"}
_OMIT = object()


def _go_value(value: Any) -> str:
    """The value as Go's fmt prints it in a field error: strings quoted, numbers and bools plain."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class FieldError:
    """One field.Error: `type` is the cause reason, `field` the JSON path without a leading dot."""

    type: str
    field: str
    value: Any = _OMIT
    detail: str = ""

    def body(self) -> str:
        text = _ERROR_TYPE_TEXT[self.type]
        if self.type not in _VALUELESS and self.value is not _OMIT:
            text += f": {_go_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def required(field: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", field, detail=detail)


def invalid_value(field: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", field, value, detail)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", field, detail=detail)


class ApiError(Exception):
    """An error the HTTP layer answers with the `Status` object it carries."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            status["details"] = self.details
        return status


@dataclass(frozen=True)
class Subject:
    """What an error is about: the group, the resource (plural) or kind, and the name."""

    group: str
    resource: str
    name: str

    def qualified(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def details(self, **extra: Any) -> dict[str, Any]:
        details: dict[str, Any] = {"name": self.name}
        if self.group:
            details["group"] = self.group
        details["kind"] = self.resource
        details.update(extra)
        return details


def not_found(subject: Subject) -> ApiError:
    return ApiError(404, "NotFound", f'{subject.qualified()} "{subject.name}" not found', subject.details())


def already_exists(subject: Subject) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{subject.qualified()} "{subject.name}" already exists', subject.details())


def conflict(subject: Subject, why: str) -> ApiError:
    message = f'Operation cannot be fulfilled on {subject.qualified()} "{subject.name}": {why}'
    return ApiError(409, "Conflict", message, subject.details())


STALE_OBJECT = "the object has been modified; please apply your changes to the latest version and try again"


def invalid(group: str, kind: str, name: str, errors: list[FieldError]) -> ApiError:
    """422 Invalid; `kind` is the Kind here (not the plural), as in errors.NewInvalid."""
    qualified = f"{kind}.{group}" if group else kind
    listed = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
    causes = [{"reason": e.type, "message": e.body(), "field": e.field} for e in errors]
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = causes
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {listed}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden_error(subject: Subject, why: str) -> ApiError:
    return ApiError(403, "Forbidden", f'{subject.qualified()} "{subject.name}" is forbidden: {why}', subject.details())


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})


def unsupported_media_type(accepted: list[str]) -> ApiError:
    message = "the body of the request was in an unknown format - accepted media types include: " + ", ".join(accepted)
    return ApiError(415, "UnsupportedMediaType", message)


def resource_not_served() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def apply_conflict(conflicts: list[tuple[str, str]]) -> ApiError:
    """409 from server-side apply; `conflicts` pairs a printed manager with a field path (`.spec.x`)."""
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {m}", "field": p} for m, p in conflicts]
    if len(conflicts) == 1:
        manager, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {manager}: {path}"
    else:
        lines: list[str] = []
        for manager in sorted({m for m, _ in conflicts}):
            lines.append(f"conflicts with {manager}:")
            lines += [f"- {p}" for m, p in conflicts if m == manager]
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, {"causes": causes})


def server_error(code: int) -> ApiError:
    """What an overloaded or failing server answers (used by fault injection)."""
    reasons = {
        500: ("InternalError", "Internal error occurred: injected fault"),
        503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
        429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
        504: (
            "Timeout",
            "the server was unable to return a response in the time allotted, but may still be processing",
        ),
    }
    reason, message = reasons.get(code, ("InternalError", f"injected fault {code}"))
    return ApiError(code, reason, message, {})
