"""The API semantics, independent of HTTP: create, get, list, update, patch and delete on top of the store.

Every write goes through one pipeline (`_write`): subresource rules (the main resource ignores `status`, the
status subresource ignores everything else), system metadata, pruning, defaulting, validation (422 with field
causes), generation, managedFields, no-op detection (identical writes do not bump the resourceVersion), and
deletion once the last finalizer is gone.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from tests.k8s_api import admission_policy
from tests.k8s_api import managedfields as mf
from tests.k8s_api.controllers import Controllers
from tests.k8s_api.errors import (
    STALE_OBJECT,
    ApiError,
    FieldError,
    already_exists,
    bad_request,
    conflict,
    expired,
    forbidden,
    forbidden_error,
    invalid,
    invalid_value,
    not_found,
    required,
    unsupported_media_type,
)
from tests.k8s_api.patches import json_patch, merge_patch, strategic_merge_patch
from tests.k8s_api.resources import CRD_CLEANUP, CRDS, FOREGROUND, NAMESPACES, ORPHAN, Registry, ResourceType
from tests.k8s_api.schema import NO_OLD_VALUE, apply_defaults, prune, validate
from tests.k8s_api.selectors import selector_predicate
from tests.k8s_api.store import Store
from tests.k8s_api.util import clone, now_rfc3339
from tests.k8s_api.validation import finalizer_update_errors, metadata_errors, name_errors

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
CUSTOM_PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
BUILTIN_PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH]

CORE_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SYSTEM_FIELDS = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")


def manager_from_user_agent(user_agent: str) -> str:
    """What the API server calls a writer that names no fieldManager: its user agent up to the first '/'."""
    return (user_agent or "unknown").split("/", 1)[0][:128]


@dataclass
class WriteOptions:
    field_manager: str = ""
    user_agent: str = ""
    dry_run: bool = False
    field_validation: str = "Warn"  # Strict, Warn or Ignore
    force: bool = False
    # Filled while handling the request; the HTTP layer sends them as `Warning` headers.
    warnings: list[str] = field(default_factory=list)

    @property
    def manager(self) -> str:
        return self.field_manager or manager_from_user_agent(self.user_agent)


@dataclass
class DeleteOptions:
    propagation_policy: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    dry_run: bool = False


def _content(obj: dict[str, Any], *, without_status: bool, spec_only: bool) -> Any:
    if spec_only:
        return obj.get("spec")
    return {k: v for k, v in obj.items() if k != "metadata" and not (without_status and k == "status")}


def _reset_paths(resource_type: ResourceType, subresource: str) -> set[mf.Path]:
    """Fields a write cannot set and so nobody manages through it (the strategies' ResetFields)."""
    if subresource == "status":
        return {(("f", "spec"),), (("f", "metadata"),)}
    return {(("f", "status"),)} if resource_type.status_subresource else set()


def _without_manager_times(obj: dict[str, Any]) -> dict[str, Any]:
    entries = [{k: v for k, v in e.items() if k != "time"} for e in obj["metadata"].get("managedFields") or []]
    return {**obj, "metadata": {**obj["metadata"], "managedFields": entries}}


def _encode_continue(resource_version: int, last_key: tuple[str, str]) -> str:
    raw = json.dumps({"rv": resource_version, "start": list(last_key)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))
    except (ValueError, KeyError, IndexError, TypeError, binascii.Error) as error:
        raise bad_request(f"continue key is not valid: {error}") from error


class AdmissionPlugin(Protocol):
    """A webhook pair run in the request path (tests/k8s_api/harvester emulates Harvester's): `mutate` changes
    `new` in place after the field manager has recorded the writer's fields (so its changes belong to nobody, as
    with real mutating webhooks); `validate` raises an ApiError to refuse. `new` is None for DELETE."""

    def mutate(
        self, operation: str, resource_type: ResourceType, new: dict[str, Any], old: dict[str, Any] | None
    ) -> None: ...

    def validate(
        self, operation: str, resource_type: ResourceType, new: dict[str, Any] | None, old: dict[str, Any] | None
    ) -> None: ...


class Cluster:
    def __init__(self, *, event_window: int = 10_000, first_resource_version: int = 1000) -> None:
        self.store = Store(first_resource_version=first_resource_version, event_window=event_window)
        self.registry = Registry()
        self.controllers = Controllers(self)
        self.admission: list[AdmissionPlugin] = []
        namespace_type = self.type_of(NAMESPACES)
        for name in CORE_NAMESPACES:
            self.create(
                namespace_type, None, {"metadata": {"name": name}}, WriteOptions(field_manager="kube-apiserver")
            )

    @property
    def lock(self) -> Any:
        return self.store.lock

    def type_of(self, storage_key: tuple[str, str]) -> ResourceType:
        return self.registry.versions_of(storage_key)[0]

    # --- presentation --------------------------------------------------------------------------------------

    def present(self, resource_type: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The stored object as the requested version shows it (conversion strategy None)."""
        shown = clone(obj)
        shown["apiVersion"] = resource_type.api_version
        return shown

    def _stored(self, resource_type: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.store.get(resource_type.storage_key, namespace or "", name)
        if obj is None:
            raise not_found(resource_type.subject(name))
        return obj

    # --- reads ---------------------------------------------------------------------------------------------

    def get(self, resource_type: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        with self.lock:
            return self.present(resource_type, self._stored(resource_type, namespace, name))

    def list_objects(self, resource_type: ResourceType, namespace: str | None, query: dict[str, str]) -> dict[str, Any]:
        matches = selector_predicate(query.get("labelSelector", ""), query.get("fieldSelector", ""))
        limit = int(query.get("limit") or 0)
        token = query.get("continue") or ""
        with self.lock:
            list_version, objects = self._list_state(resource_type, query, token)
        start = _decode_continue(token)[1] if token else None
        selected = [
            o
            for o in objects
            if (not namespace or o["metadata"].get("namespace") == namespace)
            and (start is None or (o["metadata"].get("namespace") or "", o["metadata"]["name"]) > start)
            and matches(o)
        ]
        meta: dict[str, Any] = {"resourceVersion": str(list_version)}
        if limit and len(selected) > limit:
            last = selected[limit - 1]["metadata"]
            meta["continue"] = _encode_continue(list_version, (last.get("namespace") or "", last["name"]))
            # ListMeta.remainingItemCount (k8s.io/apimachinery/pkg/apis/meta/v1/types.go): unknown, so unset,
            # when a selector filters; unset on the last page
            if not query.get("labelSelector") and not query.get("fieldSelector"):
                meta["remainingItemCount"] = len(selected) - limit
            selected = selected[:limit]
        items = [self.present(resource_type, o) for o in selected]
        if not resource_type.custom:  # typed lists of built-in kinds do not repeat kind and apiVersion per item
            for item in items:
                item.pop("kind", None)
                item.pop("apiVersion", None)
        return {
            "kind": resource_type.list_kind,
            "apiVersion": resource_type.api_version,
            "metadata": meta,
            "items": items,
        }

    def _list_state(
        self, resource_type: ResourceType, query: dict[str, str], token: str
    ) -> tuple[int, list[dict[str, Any]]]:
        version, match = query.get("resourceVersion", ""), query.get("resourceVersionMatch", "")
        key = resource_type.storage_key
        if token:
            list_version = _decode_continue(token)[0]
            try:
                return list_version, self.store.objects_at(key, list_version)
            except ApiError as error:
                raise expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start "
                    "a new list without the continue parameter."
                ) from error
        if match and not version:
            errors = [
                forbidden(
                    "resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"
                )
            ]
            raise invalid("meta.k8s.io", "ListOptions", "", errors)
        if match == "Exact":
            if version == "0":
                errors = [
                    forbidden(
                        "resourceVersionMatch", 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
                    )
                ]
                raise invalid("meta.k8s.io", "ListOptions", "", errors)
            return int(version), self.store.objects_at(key, int(version))
        if version not in ("", "0") and int(version) > self.store.resource_version:
            raise ApiError(
                504, "Timeout", f"Too large resource version: {version}, current: {self.store.resource_version}"
            )
        return self.store.resource_version, self.store.objects(key)

    # --- create --------------------------------------------------------------------------------------------

    def _check_identity(self, resource_type: ResourceType, obj: Any) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise bad_request("the body of the request must be a JSON object")
        if obj.get("apiVersion") not in (None, resource_type.api_version):
            raise bad_request(
                f"the API version in the data ({obj['apiVersion']}) does not match the expected API version "
                f"({resource_type.api_version})"
            )
        if obj.get("kind") not in (None, resource_type.kind):
            raise bad_request(
                f"the kind in the data ({obj['kind']}) does not match the expected kind ({resource_type.kind})"
            )
        if not isinstance(obj.setdefault("metadata", {}), dict):
            raise bad_request("metadata must be an object")
        obj["apiVersion"], obj["kind"] = resource_type.api_version, resource_type.kind
        return obj

    def _check_namespace(self, resource_type: ResourceType, namespace: str | None, meta: dict[str, Any]) -> None:
        if not resource_type.namespaced:
            meta.pop("namespace", None)
            return
        if meta.get("namespace") not in (None, "", namespace):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = namespace

    def _require_live_namespace(self, subject_name: str, resource_type: ResourceType, namespace: str | None) -> None:
        if not resource_type.namespaced:
            return
        ns = self.store.get(NAMESPACES, "", namespace or "")
        if ns is None:
            raise not_found(self.type_of(NAMESPACES).subject(namespace or ""))
        if ns["metadata"].get("deletionTimestamp"):
            raise forbidden_error(
                resource_type.subject(subject_name),
                f"unable to create new content in namespace {namespace} because it is being terminated",
            )

    def _name_rule(self, resource_type: ResourceType) -> str:
        if resource_type.storage_key == NAMESPACES:
            return "label"
        return "dns1035" if resource_type.storage_key == ("", "services") else "subdomain"

    def create(
        self,
        resource_type: ResourceType,
        namespace: str | None,
        body: Any,
        opts: WriteOptions,
        *,
        managers: dict[str, mf.Manager] | None = None,
    ) -> dict[str, Any]:
        obj = self._check_identity(resource_type, clone(body))
        meta = obj["metadata"]
        self._check_namespace(resource_type, namespace, meta)
        if meta.get("resourceVersion"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choices(_GENERATE_ALPHABET, k=5))
        with self.lock:
            self._require_live_namespace(str(meta.get("name", "")), resource_type, namespace)
            if resource_type.status_subresource and managers is None:
                obj.pop("status", None)
            for key in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
                meta.pop(key, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            if resource_type.tracks_generation:
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
            CREATE_HOOKS.get(resource_type.storage_key, _no_hook)(obj)
            self._prune_default(resource_type, obj, opts)
            if not self.admission:
                self._check(resource_type, obj, None)
                admission_policy.admit(self, resource_type, "CREATE", obj, None)
            if managers is None:
                me = mf.Manager(opts.manager, "Update", resource_type.api_version, "", now_rfc3339(), set())
                managers = mf.record_update({}, obj, resource_type.schema, {}, me, _reset_paths(resource_type, ""))
            self._set_managers(meta, managers)
            if self.admission:
                self._mutating_admission("CREATE", resource_type, obj, None, opts)
                self._check(resource_type, obj, None)
                self._validating_admission("CREATE", resource_type, obj, None)
            if self.store.get(resource_type.storage_key, namespace or "", meta["name"]) is not None:
                raise already_exists(resource_type.subject(meta["name"]))
            if opts.dry_run:
                return self.present(resource_type, obj)
            self.store.put(resource_type.storage_key, obj, None)
            self.controllers.after_write(resource_type, obj)
            return self.present(resource_type, obj)

    @staticmethod
    def _set_managers(meta: dict[str, Any], managers: dict[str, mf.Manager]) -> None:
        encoded = mf.encode_managers(managers)
        if encoded:
            meta["managedFields"] = encoded
        else:
            meta.pop("managedFields", None)

    def _mutating_admission(
        self,
        operation: str,
        resource_type: ResourceType,
        new: dict[str, Any],
        old: dict[str, Any] | None,
        opts: WriteOptions,
    ) -> None:
        """After the field manager has recorded the writer's fields and before the schema is checked, as the API
        server orders them; a mutation is pruned and defaulted like the request was."""
        for plugin in self.admission:
            plugin.mutate(operation, resource_type, new, old)
        self._prune_default(resource_type, new, opts)

    def _validating_admission(
        self, operation: str, resource_type: ResourceType, new: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        """ValidatingAdmissionPolicies, then the plugins' validating webhooks."""
        admission_policy.admit(self, resource_type, operation, new, old)
        for plugin in self.admission:
            plugin.validate(operation, resource_type, new, old)

    def _prune_default(self, resource_type: ResourceType, obj: dict[str, Any], opts: WriteOptions) -> None:
        unknown = prune(obj, resource_type.schema)
        if unknown and opts.field_validation == "Strict":
            listed = ", ".join(f'unknown field "{path}"' for path in unknown)
            kind, version = resource_type.kind, resource_type.version
            raise bad_request(
                f'{kind} in version "{version}" cannot be handled as a {kind}: strict decoding error: {listed}'
            )
        if opts.field_validation != "Ignore":
            opts.warnings += [f'unknown field "{path}"' for path in unknown]
        apply_defaults(obj, resource_type.schema)

    def _check(self, resource_type: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Metadata and schema validation (422 with every field error)."""
        errors: list[FieldError] = []
        if old is None:
            errors += metadata_errors(obj["metadata"], self._name_rule(resource_type))
        else:  # the name cannot change, so only the rest of the metadata is checked
            errors += [e for e in metadata_errors(obj["metadata"], "subdomain") if e.field != "metadata.name"]
            errors += finalizer_update_errors(old["metadata"], obj["metadata"])
        errors += validate(
            {k: v for k, v in obj.items() if k != "metadata"}, resource_type.schema, "", _old_content(old)
        )
        errors += VALIDATION_HOOKS.get(resource_type.storage_key, _no_errors)(obj)
        if errors:
            raise invalid(resource_type.group, resource_type.kind, obj["metadata"].get("name", ""), errors)

    # --- update and patch ----------------------------------------------------------------------------------

    def update(
        self,
        resource_type: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        subresource: str,
        opts: WriteOptions,
    ) -> dict[str, Any]:
        """PUT: a whole object, with its resourceVersion as precondition."""
        new = self._check_identity(resource_type, clone(body))
        with self.lock:
            current = self._stored(resource_type, namespace, name)
            if not new["metadata"].get("resourceVersion") and resource_type.custom:
                errors = [invalid_value("metadata.resourceVersion", 0, "must be specified for an update")]
                raise invalid(resource_type.group, resource_type.kind, name, errors)
            return self._write(resource_type, current, new, subresource, opts)

    def patch(
        self,
        resource_type: ResourceType,
        namespace: str | None,
        name: str,
        subresource: str,
        content_type: str,
        raw: bytes,
        opts: WriteOptions,
    ) -> tuple[int, dict[str, Any]]:
        accepted = CUSTOM_PATCH_TYPES if resource_type.custom else BUILTIN_PATCH_TYPES
        if content_type not in accepted:
            raise unsupported_media_type(accepted)
        if content_type == APPLY_PATCH and not opts.field_manager:
            raise invalid("meta.k8s.io", "PatchOptions", "", [required("fieldManager", "is required for apply patch")])
        if content_type != APPLY_PATCH and opts.force:
            raise invalid(
                "meta.k8s.io", "PatchOptions", "", [forbidden("force", "may not be specified for non-apply patch")]
            )
        try:
            document = yaml.safe_load(raw) if content_type == APPLY_PATCH else json.loads(raw or b"null")
        except (ValueError, yaml.YAMLError) as error:
            raise bad_request(f"error decoding patch: {error}") from error
        with self.lock:
            current = self.store.get(resource_type.storage_key, namespace or "", name)
            if content_type == APPLY_PATCH:
                return self._apply(resource_type, namespace, name, subresource, current, document, opts)
            if current is None:
                raise not_found(resource_type.subject(name))
            old = self.present(resource_type, current)
            if content_type == JSON_PATCH:
                new = json_patch(old, document)
            elif content_type == MERGE_PATCH:
                new = merge_patch(old, document)
            else:
                if not isinstance(document, dict):
                    raise bad_request("strategic merge patch must be a JSON object")
                new = strategic_merge_patch(old, document, resource_type.schema)
            return 200, self._write(resource_type, current, self._check_identity(resource_type, new), subresource, opts)

    def _apply(
        self,
        resource_type: ResourceType,
        namespace: str | None,
        name: str,
        subresource: str,
        current: dict[str, Any] | None,
        document: Any,
        opts: WriteOptions,
    ) -> tuple[int, dict[str, Any]]:
        if not isinstance(document, dict) or not document.get("apiVersion") or not document.get("kind"):
            raise bad_request("invalid object: apply patches must set apiVersion and kind")
        applied = self._check_identity(resource_type, clone(document))
        meta = applied["metadata"]
        if meta.get("name") not in (None, name):
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        meta["name"] = name
        self._check_namespace(resource_type, namespace, meta)
        if current is None and subresource:
            raise not_found(resource_type.subject(name))
        me = mf.Manager(opts.field_manager, "Apply", resource_type.api_version, subresource, now_rfc3339(), set())
        live = None if current is None else self.present(resource_type, current)
        managers = mf.decode_managers(None if live is None else live["metadata"].get("managedFields"))
        merged, managers = mf.apply(
            live,
            applied,
            resource_type.schema,
            managers,
            me,
            force=opts.force,
            ignored=_reset_paths(resource_type, subresource),
        )
        if current is None:
            return 201, self.create(resource_type, namespace, merged, opts, managers=managers)
        return 200, self._write(resource_type, current, merged, subresource, opts, managers=managers)

    def _request_managers(self, requested: Any, current: dict[str, Any]) -> dict[str, mf.Manager]:
        """Managers as the request sent them: unchanged or [] keeps the stored ones, [{}] resets them."""
        if not requested:
            return mf.decode_managers(current["metadata"].get("managedFields"))
        if not isinstance(requested, list):
            raise bad_request("metadata.managedFields must be a list")
        if all(not entry for entry in requested):
            return {}
        return mf.decode_managers(requested)

    def _write(
        self,
        resource_type: ResourceType,
        current: dict[str, Any],
        new: dict[str, Any],
        subresource: str,
        opts: WriteOptions,
        *,
        managers: dict[str, mf.Manager] | None = None,
    ) -> dict[str, Any]:
        meta, current_meta = new["metadata"], current["metadata"]
        name = current_meta["name"]
        subject = resource_type.subject(name)
        if meta.get("name") not in (None, name):
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        if resource_type.namespaced and meta.get("namespace") not in (None, "", current_meta.get("namespace")):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        if meta.get("resourceVersion") and meta["resourceVersion"] != current_meta["resourceVersion"]:
            raise conflict(subject, STALE_OBJECT)
        if meta.get("uid") and meta["uid"] != current_meta["uid"]:
            raise conflict(
                subject,
                f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: {current_meta['uid']}",
            )
        requested_managers = meta.get("managedFields")
        if subresource == "status":
            status = new.get("status")
            new = clone(current)
            new["status"] = status
            if status is None:
                del new["status"]
            meta = new["metadata"]
        elif resource_type.status_subresource:
            new.pop("status", None)
            if "status" in current:
                new["status"] = clone(current["status"])
        for key in ("name", "namespace", *_SYSTEM_FIELDS):
            if key in current_meta:
                meta[key] = current_meta[key]
            else:
                meta.pop(key, None)
        meta.pop("selfLink", None)
        # Webhooks registered for a resource see neither its subresources' writes nor (Harvester's skip them) a
        # deleting object's.
        admitted = bool(self.admission) and not subresource and not meta.get("deletionTimestamp")
        self._prune_default(resource_type, new, opts)
        if not admitted:
            self._check(resource_type, new, current)
            admission_policy.admit(self, resource_type, "UPDATE", new, current)
        if managers is None:
            me = mf.Manager(opts.manager, "Update", resource_type.api_version, subresource, now_rfc3339(), set())
            base = self._request_managers(requested_managers, current)
            reset = _reset_paths(resource_type, subresource)
            managers = mf.record_update(current, new, resource_type.schema, base, me, reset)
        self._set_managers(meta, managers)
        if admitted:
            self._mutating_admission("UPDATE", resource_type, new, current, opts)
            self._check(resource_type, new, current)
            self._validating_admission("UPDATE", resource_type, new, current)
        if resource_type.tracks_generation:
            kwargs = {"without_status": resource_type.status_subresource, "spec_only": not resource_type.custom}
            if _content(new, **kwargs) != _content(current, **kwargs):
                meta["generation"] = current_meta.get("generation", 1) + 1
        meta["resourceVersion"] = current_meta["resourceVersion"]
        if _without_manager_times(new) == _without_manager_times(current):
            return self.present(resource_type, current)
        if opts.dry_run:
            return self.present(resource_type, new)
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and resource_type.storage_key != NAMESPACES:
            return self.present(resource_type, self.remove(resource_type, current))
        self.store.put(resource_type.storage_key, new, current)
        self.controllers.after_write(resource_type, new)
        return self.present(resource_type, new)

    # --- delete --------------------------------------------------------------------------------------------

    def remove(self, resource_type: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Take an object out of storage now (its finalizers are done) and let the controllers react."""
        removed = self.store.remove(resource_type.storage_key, obj)
        self.controllers.after_remove(resource_type, removed)
        return removed

    # --- writes of the control plane itself --------------------------------------------------------------------

    def internal_update(
        self,
        resource_type: ResourceType,
        current: dict[str, Any],
        change: Callable[[dict[str, Any]], None],
        *,
        subresource: str = "",
        manager: str = "kube-controller-manager",
    ) -> dict[str, Any]:
        new = clone(current)
        change(new)
        return self._write(resource_type, current, new, subresource, WriteOptions(field_manager=manager))

    def internal_delete(self, resource_type: ResourceType, obj: dict[str, Any], policy: str) -> dict[str, Any]:
        meta = obj["metadata"]
        return self.delete(resource_type, meta.get("namespace"), meta["name"], DeleteOptions(policy))

    def delete(
        self, resource_type: ResourceType, namespace: str | None, name: str, options: DeleteOptions
    ) -> dict[str, Any]:
        with self.lock:
            current = self._stored(resource_type, namespace, name)
            meta = current["metadata"]
            subject = resource_type.subject(name)
            if options.uid and options.uid != meta["uid"]:
                raise conflict(
                    subject,
                    f"Precondition failed: UID in precondition: {options.uid}, UID in object meta: {meta['uid']}",
                )
            if options.resource_version and options.resource_version != meta["resourceVersion"]:
                raise conflict(
                    subject,
                    f"Precondition failed: ResourceVersion in precondition: {options.resource_version}, "
                    f"ResourceVersion in object meta: {meta['resourceVersion']}",
                )
            if resource_type.storage_key == NAMESPACES and name in CORE_NAMESPACES[:3]:
                raise forbidden_error(subject, "this namespace may not be deleted")
            admission_policy.admit(self, resource_type, "DELETE", None, current)
            if meta.get("deletionTimestamp"):
                return self.present(resource_type, current)
            for plugin in self.admission:
                plugin.validate("DELETE", resource_type, None, current)
            policy = options.propagation_policy or "Background"
            finalizers = list(meta.get("finalizers") or [])
            for wanted, marker in (("Foreground", FOREGROUND), ("Orphan", ORPHAN)):
                if policy == wanted and marker not in finalizers:
                    finalizers.append(marker)
            if finalizers or resource_type.storage_key == NAMESPACES:
                pending = clone(current)
                pending_meta = pending["metadata"]
                pending_meta["deletionTimestamp"] = now_rfc3339()
                pending_meta["deletionGracePeriodSeconds"] = 0
                if finalizers:
                    pending_meta["finalizers"] = finalizers
                if pending_meta.get("generation"):
                    pending_meta["generation"] += 1
                if resource_type.storage_key == NAMESPACES:
                    pending.setdefault("status", {})["phase"] = "Terminating"
                if not options.dry_run:
                    self.store.put(resource_type.storage_key, pending, current)
                    self.controllers.after_write(resource_type, pending)
                return self.present(resource_type, pending)
            removed = current if options.dry_run else self.remove(resource_type, current)
            if resource_type.custom:
                return self.present(resource_type, removed)
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {**subject.details(), "uid": meta["uid"]},
            }

    def delete_collection(
        self, resource_type: ResourceType, namespace: str | None, query: dict[str, str], options: DeleteOptions
    ) -> dict[str, Any]:
        with self.lock:
            listed = self.list_objects(resource_type, namespace, {k: v for k, v in query.items() if k != "limit"})
            deleted = []
            for item in listed["items"]:
                meta = item["metadata"]
                deleted.append(self.delete(resource_type, meta.get("namespace"), meta["name"], options))
        return {**listed, "items": deleted}


def _old_content(old: dict[str, Any] | None) -> Any:
    return NO_OLD_VALUE if old is None else {k: v for k, v in old.items() if k != "metadata"}


def _no_hook(obj: dict[str, Any]) -> None:
    return None


def _no_errors(obj: dict[str, Any]) -> list[FieldError]:
    return []


def _namespace_created(obj: dict[str, Any]) -> None:
    obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
    obj["status"] = {"phase": "Active"}
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"].get("name", "")


def _crd_created(obj: dict[str, Any]) -> None:
    finalizers = obj["metadata"].setdefault("finalizers", [])
    if CRD_CLEANUP not in finalizers:
        finalizers.append(CRD_CLEANUP)
    obj.pop("status", None)


def _crd_errors(obj: dict[str, Any]) -> list[FieldError]:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    errors: list[FieldError] = []
    for key in ("group", "scope"):
        if not spec.get(key):
            errors.append(required(f"spec.{key}"))
    for key in ("plural", "kind"):
        if not names.get(key):
            errors.append(required(f"spec.names.{key}"))
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if obj["metadata"].get("name") != expected:
        errors.append(
            invalid_value("metadata.name", obj["metadata"].get("name"), 'must be spec.names.plural+"."+spec.group')
        )
    versions = spec.get("versions") or []
    if not versions:
        errors.append(required("spec.versions", "must have exactly one version marked as storage version"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        errors.append(
            invalid_value("spec.versions", versions, "must have exactly one version marked as storage version")
        )
    errors += name_errors(str(names.get("plural", "")), "label", "spec.names.plural") if names.get("plural") else []
    return errors


CREATE_HOOKS: dict[tuple[str, str], Callable[[dict[str, Any]], None]] = {
    NAMESPACES: _namespace_created,
    CRDS: _crd_created,
}
VALIDATION_HOOKS: dict[tuple[str, str], Callable[[dict[str, Any]], list[FieldError]]] = {CRDS: _crd_errors}
