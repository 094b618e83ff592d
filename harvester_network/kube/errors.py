"""Kubernetes API failures as messages a user can act on: the verb, the object, the API's reason and message."""

from __future__ import annotations

import json
from typing import Any


class KubeError(Exception):
    """`<verb> <object>: <message> (<reason>[, HTTP <status>])`, e.g.
    `apply NetworkAttachmentDefinition default/vlan100: ... (Invalid, HTTP 422)`."""

    def __init__(self, verb: str, subject: str, reason: str, message: str, status: int | None = None) -> None:
        self.verb = verb
        self.subject = subject
        self.reason = reason
        self.message = message
        self.status = status
        http = f", HTTP {status}" if status else ""
        super().__init__(f"{verb} {subject}: {message} ({reason}{http})")

    @property
    def not_found(self) -> bool:
        return self.status == 404


class KubeTimeout(KubeError):
    """A wait that ran out of time; the message says what was still pending."""

    def __init__(self, verb: str, subject: str, message: str) -> None:
        super().__init__(verb, subject, "Timeout", message)


def status_error(verb: str, subject: str, status: int, body: bytes | str | None) -> KubeError:
    """The API server's `Status` body (or whatever else came back) as a KubeError."""
    reason, message = _status_fields(body)
    if not reason:
        reason = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict"}.get(status, "Error")
    return KubeError(verb, subject, reason, message or f"the API server answered HTTP {status}", status)


def _status_fields(body: bytes | str | None) -> tuple[str, str]:
    if not body:
        return "", ""
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        return "", text.strip()[:500]
    if not isinstance(parsed, dict):
        return "", text.strip()[:500]
    message = str(parsed.get("message") or "")
    causes = (parsed.get("details") or {}).get("causes") or []
    # A 422's message already lists its causes; a 409 apply conflict lists the contested fields only there.
    extra = [f"{c.get('field', '')}: {c.get('message', '')}".strip(": ") for c in causes if c.get("message")]
    missing = [c for c in extra if c not in message]
    if missing:
        message = f"{message} [{'; '.join(missing)}]" if message else "; ".join(missing)
    return str(parsed.get("reason") or ""), message
