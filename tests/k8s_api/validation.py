"""ObjectMeta validation, worded like k8s.io/apimachinery's validation package."""

from __future__ import annotations

import re
from typing import Any

from tests.k8s_api.errors import FieldError, forbidden, invalid_value, required

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = rf"{_LABEL}(\.{_LABEL})*"
_DNS1035 = r"[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    f"and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{_SUBDOMAIN}')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    f"with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '{_LABEL}')"
)
DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, "
    f"and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '{_DNS1035}')"
)
_QUALIFIED_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    f"character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{_QUALIFIED_NAME}')"
)
_LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation "
    f"is '{_LABEL_VALUE}')"
)

# How each kind's names are checked: (regex, message, maximum length).
NAME_RULES = {
    "subdomain": (_SUBDOMAIN, SUBDOMAIN_MESSAGE, 253),
    "label": (_LABEL, LABEL_MESSAGE, 63),
    "dns1035": (_DNS1035, DNS1035_MESSAGE, 63),
}


def name_errors(name: str, rule: str, field: str = "metadata.name") -> list[FieldError]:
    pattern, message, maximum = NAME_RULES[rule]
    errors = []
    if len(name) > maximum:
        errors.append(invalid_value(field, name, f"must be no more than {maximum} characters"))
    if not re.fullmatch(pattern, name):
        errors.append(invalid_value(field, name, message))
    return errors


def _qualified_name_errors(key: str, field: str) -> list[FieldError]:
    prefix, _, name = key.rpartition("/")
    errors = []
    if prefix:
        errors += [
            invalid_value(field, key, "prefix part " + e.detail) for e in name_errors(prefix, "subdomain", field)
        ]
    if not name or len(name) > 63 or not re.fullmatch(_QUALIFIED_NAME, name):
        errors.append(invalid_value(field, key, _QUALIFIED_MESSAGE))
    return errors


def metadata_errors(meta: dict[str, Any], name_rule: str) -> list[FieldError]:
    errors: list[FieldError] = []
    name = meta.get("name")
    if not name:
        errors.append(required("metadata.name", "name or generateName is required"))
    else:
        errors += name_errors(str(name), name_rule)
    for key, value in (meta.get("labels") or {}).items():
        errors += _qualified_name_errors(key, "metadata.labels")
        if not isinstance(value, str) or len(value) > 63 or not re.fullmatch(_LABEL_VALUE, value):
            errors.append(invalid_value("metadata.labels", value, _LABEL_VALUE_MESSAGE))
    for key in meta.get("annotations") or {}:
        errors += _qualified_name_errors(key, "metadata.annotations")
    for index, ref in enumerate(meta.get("ownerReferences") or []):
        for needed in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(needed):
                errors.append(required(f"metadata.ownerReferences[{index}].{needed}"))
    return errors


def finalizer_update_errors(old_meta: dict[str, Any], new_meta: dict[str, Any]) -> list[FieldError]:
    if not old_meta.get("deletionTimestamp"):
        return []
    added = set(new_meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
    if added:
        return [forbidden("metadata.finalizers", "no new finalizers can be added if the object is being deleted")]
    return []
