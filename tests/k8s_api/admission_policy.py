"""ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1) stored in the test server, enforced on writes as
the API server's validating admission does, with a real CEL implementation (cel-python).

Identity: the server treats every request as its admin (the kubeconfig's token) unless the bearer token is one
`service_account_token()` issued: then the request is that service account's, with the node claim a bound token
of a pod on that node carries (`extra['authentication.kubernetes.io/node-name']`, Kubernetes 1.32+).

What is evaluated, as in k8s.io/apiserver plugin/policy/validating (dispatcher.go, validator.go): each binding
whose policy exists; the policy's `matchConstraints.resourceRules` (groups, versions, operations, resources with
`/subresource`), `matchConditions`, `variables` in order, then `validations`; a false validation denies with its
message, an expression that fails to evaluate denies under `failurePolicy: Fail` (the default). Denials answer
403 Forbidden: `ValidatingAdmissionPolicy '<policy>' with binding '<binding>' denied request: <message>`.
Not emulated (nothing here uses them): `paramKind`/params, namespace and object selectors, the binding's
`matchResources`, `auditAnnotations`, `messageExpression`, the `authorizer` variable, Warn/Audit actions.
Hooks: routing.py calls `begin_request` per request; cluster.py calls `admit` on create, update and delete.
"""

from __future__ import annotations

import functools
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import celpy

from tests.k8s_api.errors import forbidden_error
from tests.k8s_api.resources import ResourceType

API = "admissionregistration.k8s.io"
POLICIES = (API, "validatingadmissionpolicies")
BINDINGS = (API, "validatingadmissionpolicybindings")
NODE_NAME_CLAIM = "authentication.kubernetes.io/node-name"


@dataclass(frozen=True)
class UserInfo:
    username: str
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)


ADMIN = UserInfo("hvnet-test", ("system:masters", "system:authenticated"))
_TOKENS: dict[str, UserInfo] = {}
_request = threading.local()  # the user and subresource of the request this thread is serving


def service_account_token(namespace: str, name: str, node: str | None = None) -> str:
    """A bearer token the server takes as `system:serviceaccount:<namespace>:<name>`, of a pod on `node`."""
    token = f"hvnet-sa-{uuid.uuid4().hex}"
    extra = {NODE_NAME_CLAIM: [node]} if node else {}
    groups = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated")
    _TOKENS[token] = UserInfo(f"system:serviceaccount:{namespace}:{name}", groups, extra)
    return token


def begin_request(authorization: str, subresource: str) -> None:
    """Who sends the request this thread now serves (from its Authorization header), and to which subresource."""
    token = authorization.removeprefix("Bearer ").strip()
    _request.user, _request.subresource = _TOKENS.get(token, ADMIN), subresource


def admit(
    cluster: Any, resource_type: ResourceType, operation: str, obj: dict[str, Any] | None, old: dict[str, Any] | None
) -> None:
    """Raise 403 Forbidden when a stored policy denies this write (writes of the server itself pass as the admin)."""
    if resource_type.storage_key in (POLICIES, BINDINGS):
        return
    user, subresource = getattr(_request, "user", ADMIN), getattr(_request, "subresource", "")
    name = (obj or old or {}).get("metadata", {}).get("name", "")
    request = admission_request(resource_type, operation, name, user, subresource, obj, old)
    policies = {p["metadata"]["name"]: p for p in cluster.store.objects(POLICIES)}
    for binding in cluster.store.objects(BINDINGS):
        policy = policies.get(binding["spec"].get("policyName", ""))
        if policy is None or "Deny" not in binding["spec"].get("validationActions", []):
            continue
        denied = evaluate(policy, request)
        if denied:
            why = (
                f"ValidatingAdmissionPolicy '{policy['metadata']['name']}' with binding "
                f"'{binding['metadata']['name']}' denied request: {denied[0]}"
            )
            raise forbidden_error(resource_type.subject(name), why)


def admission_request(
    resource_type: ResourceType,
    operation: str,
    name: str,
    user: UserInfo,
    subresource: str = "",
    obj: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The CEL variables `request`, `object` and `oldObject` of an admission request."""
    meta = (obj or old or {}).get("metadata", {})
    return {
        "request": {
            "operation": operation,
            "name": name,
            "namespace": meta.get("namespace", ""),
            "kind": {"group": resource_type.group, "version": resource_type.version, "kind": resource_type.kind},
            "resource": {
                "group": resource_type.group,
                "version": resource_type.version,
                "resource": resource_type.plural,
            },
            "subResource": subresource,
            "userInfo": {"username": user.username, "groups": list(user.groups), "extra": user.extra},
        },
        "object": obj,
        "oldObject": old,
    }


def evaluate(policy: dict[str, Any], request: dict[str, Any]) -> list[str]:
    """The denial messages of one policy for one request: empty when it does not match or allows it."""
    spec = policy["spec"]
    if not _matches(spec.get("matchConstraints") or {}, request["request"]):
        return []
    fail_closed = spec.get("failurePolicy", "Fail") == "Fail"
    variables = celpy.celtypes.MapType()
    activation = {**{key: celpy.json_to_cel(value) for key, value in request.items()}, "variables": variables}
    try:
        if not all(_cel(c["expression"], activation) is True for c in spec.get("matchConditions", [])):
            return []
        # Evaluated in order, eagerly (the API server evaluates them lazily: same outcome for expressions
        # without errors; an erroring variable denies here even when no validation uses it).
        for variable in spec.get("variables", []):
            variables[celpy.celtypes.StringType(variable["name"])] = _cel(variable["expression"], activation, raw=True)
    except CelError as error:
        return [str(error)] if fail_closed else []
    denied = []
    for validation in spec.get("validations", []):
        try:
            allowed = _cel(validation["expression"], activation)
        except CelError as error:
            if fail_closed:
                denied.append(str(error))
            continue
        if allowed is not True:
            denied.append(validation.get("message") or f"failed expression: {validation['expression']}")
    return denied


def _matches(constraints: dict[str, Any], request: dict[str, Any]) -> bool:
    resource = request["resource"]
    plural = resource["resource"] + (f"/{request['subResource']}" if request["subResource"] else "")
    return any(
        _listed(rule.get("apiGroups", []), resource["group"])
        and _listed(rule.get("apiVersions", []), resource["version"])
        and _listed(rule.get("operations", []), request["operation"])
        and _listed(rule.get("resources", []), plural)
        for rule in constraints.get("resourceRules", [])
    )


def _listed(allowed: list[str], value: str) -> bool:
    return "*" in allowed or value in allowed


class CelError(Exception):
    """An expression that does not compile or evaluate (to a bool where one is needed)."""


@functools.lru_cache(maxsize=256)
def _program(expression: str) -> Any:
    environment = celpy.Environment()
    try:
        return environment.program(environment.compile(expression))
    except celpy.CELParseError as error:
        raise CelError(f"compilation failed: {expression}: {error}") from None


def _cel(expression: str, activation: dict[str, Any], raw: bool = False) -> Any:
    """The expression's value: True/False as Python bools (anything else stays a CEL value)."""
    try:
        result = _program(expression).evaluate(activation)
    except celpy.CELEvalError as error:
        raise CelError(f"expression '{expression}' resulted in error: {error}") from None
    if isinstance(result, celpy.CELEvalError):
        raise CelError(f"expression '{expression}' resulted in error: {result}")
    if raw or not isinstance(result, celpy.celtypes.BoolType):
        return result
    return bool(result)
