"""The one Kubernetes API client hvnet uses: server-side apply, get, list, delete-and-wait, waits with timeouts.

Objects are plain dicts in and out. Every failure is a `KubeError` naming the verb, the object and the API's
reason; nothing here returns a kubernetes-client model or leaks an ApiException.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import urllib3
from kubernetes import client
from kubernetes.client import rest

from harvester_network.kube.errors import KubeError, KubeTimeout, status_error
from harvester_network.kube.kinds import Kind, kind_named, kind_of
from harvester_network.kube.target import KubeTarget

FIELD_MANAGER = "hvnet"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
DEFAULT_TIMEOUT = 300.0
# A watch stream silent this long is presumed dead (a real API server sends a bookmark about every minute), so a
# connection lost without a reset (the node's addresses moved under it) is noticed in two minutes, not at its end.
WATCH_READ_TIMEOUT_S = 120.0
_PAGE_SIZE = 500
# Polling starts fast (tests, quick controllers) and backs off to this, to go easy on the API server.
_MAX_POLL_INTERVAL = 1.0
T = TypeVar("T")


def field_managers(obj: dict[str, Any]) -> set[str]:
    """The field managers recorded on a live object (who wrote its fields)."""
    return {entry.get("manager", "") for entry in obj.get("metadata", {}).get("managedFields") or []}


def condition(obj: dict[str, Any], condition_type: str) -> dict[str, Any] | None:
    """The status condition of that type (Harvester's are lowercase, e.g. `ready`)."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == condition_type), None)


def network_reference_matches(reference: str, vm_namespace: str, nad_namespace: str, nad_name: str) -> bool:
    """A multus networkName names a NAD as `<ns>/<name>`, or as `<name>` in the VM's own namespace."""
    if "/" in reference:
        return reference == f"{nad_namespace}/{nad_name}"
    return reference == nad_name and vm_namespace == nad_namespace


def is_transient(error: KubeError) -> bool:
    """An API hiccup worth retrying within a wait: throttling, a server error, a dropped connection."""
    return error.reason == "Unreachable" or error.status in (429, 500, 502, 503, 504)


def poll_until(check: Callable[[], tuple[T | None, str]], *, timeout: float, verb: str, subject: str) -> T:
    """Call `check` until it returns a result. `check` returns (result or None, what is still pending); on timeout
    the last pending text becomes the KubeTimeout message. Transient API errors count as pending, not failure:
    a wait of minutes should not end at one 503."""
    deadline = time.monotonic() + timeout
    interval = 0.05
    while True:
        try:
            result, pending = check()
        except KubeError as error:
            if not is_transient(error):
                raise
            result, pending = None, f"the last check failed: {error}"
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise KubeTimeout(verb, subject, f"not done after {timeout:g}s: {pending}")
        time.sleep(min(interval, max(deadline - time.monotonic(), 0.0)))
        interval = min(interval * 2, _MAX_POLL_INTERVAL)


class KubeClient:
    """A connection to one API server. Cheap to make; make one per operation and close it (or use `with`)."""

    def __init__(self, target: KubeTarget, *, request_timeout: float = 30.0) -> None:
        self.target = target
        self._request_timeout = request_timeout
        self._api = client.ApiClient(target.configuration())

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------------------------------------

    def get(self, kind: Kind | str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The live object, or None when it does not exist."""
        kind = kind_named(kind) if isinstance(kind, str) else kind
        try:
            return self._request("GET", kind.path(namespace, name), verb="get", subject=kind.subject(name, namespace))
        except KubeError as error:
            if error.not_found:
                return None
            raise

    def list_objects(
        self, kind: Kind | str, namespace: str | None = None, *, labels: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Every object of a kind (in one namespace, or all), optionally only those carrying `labels`."""
        label_selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items())) if labels else None
        return self.list_with_version(kind, namespace, label_selector=label_selector)[0]

    def list_with_version(
        self,
        kind: Kind | str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        transform: Callable[[dict[str, Any]], Any] | None = None,
    ) -> tuple[list[Any], str]:
        """Every matching object, page by page, and the list's resourceVersion (where a watch starts from).
        `transform` is applied to each page's items as they come (a big list never sits in memory whole)."""
        kind = kind_named(kind) if isinstance(kind, str) else kind
        query: dict[str, str] = {"limit": str(_PAGE_SIZE)}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        where = f"in namespace {namespace}" if namespace else "in all namespaces" if kind.namespaced else ""
        subject = f"{kind.kind} objects {where}".strip()
        items: list[Any] = []
        while True:
            page = self._request("GET", kind.path(namespace), query=query, verb="list", subject=subject)
            # A list's items carry no apiVersion/kind; give them back so callers can treat them as objects.
            page_items = [
                {"apiVersion": kind.api_version, "kind": kind.kind, **item} for item in page.get("items") or []
            ]
            items += map(transform, page_items) if transform else page_items
            metadata = page.get("metadata") or {}
            if not metadata.get("continue"):
                return items, str(metadata.get("resourceVersion") or "")
            query["continue"] = metadata["continue"]

    def watch(
        self,
        kind: Kind | str,
        resource_version: str,
        *,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> WatchStream:
        """Open a watch of the changes after `resource_version` (bookmarks on); the server ends it after
        `timeout_seconds`. Iterate `.events()`; `.close()` ends it from any thread."""
        kind = kind_named(kind) if isinstance(kind, str) else kind
        query = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if field_selector:
            query["fieldSelector"] = field_selector
        subject = f"{kind.kind} objects"
        response = self._send(
            "GET", kind.path(), query=query, verb="watch", subject=subject, timeout=(10.0, WATCH_READ_TIMEOUT_S)
        )
        return WatchStream(response.response, subject, self._unreachable)

    # --- writing -------------------------------------------------------------------------------------------------

    def apply(
        self,
        obj: dict[str, Any],
        *,
        force: bool = True,
        field_manager: str = FIELD_MANAGER,
        subresource: str | None = None,
        read_back: bool = True,
    ) -> dict[str, Any]:
        """Server-side apply as `field_manager` (default `hvnet`), to the object or its `subresource` ("status").
        `force` takes over fields another manager set: the plan is the declared owner of every field it renders.
        Returns the live object; `read_back=False`: {} (the answer is not decoded: a VlanStatus of 4,000 local
        areas decodes to about 1 MiB of dicts that a caller that does not read it is spared)."""
        kind = kind_of(obj)
        meta = obj["metadata"]
        query = {"fieldManager": field_manager, "force": "true" if force else "false"}
        path = kind.path(meta.get("namespace"), meta["name"]) + (f"/{subresource}" if subresource else "")
        return self._request(
            "PATCH",
            path,
            query=query,
            body=obj,
            content_type=APPLY_PATCH,
            verb="apply" if subresource is None else f"apply {subresource} of",
            subject=kind.subject(meta["name"], meta.get("namespace")),
            decode=read_back,
        )

    def merge_patch(
        self, kind: Kind | str, name: str, patch: dict[str, Any], namespace: str | None = None
    ) -> dict[str, Any]:
        """A JSON merge patch (RFC 7386): maps merge, a null removes the key."""
        kind = kind_named(kind) if isinstance(kind, str) else kind
        return self._request(
            "PATCH",
            kind.path(namespace, name),
            body=patch,
            content_type=MERGE_PATCH,
            verb="patch",
            subject=kind.subject(name, namespace),
        )

    def delete(self, kind: Kind | str, name: str, namespace: str | None = None) -> bool:
        """Ask for deletion (dependents go in the background). False when it was already gone."""
        kind = kind_named(kind) if isinstance(kind, str) else kind
        try:
            self._request(
                "DELETE",
                kind.path(namespace, name),
                body={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"},
                verb="delete",
                subject=kind.subject(name, namespace),
            )
        except KubeError as error:
            if error.not_found:
                return False
            raise
        return True

    def delete_and_wait(
        self, kind: Kind | str, name: str, namespace: str | None = None, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        """Delete and wait until the object is gone (finalizers done), so its name can be reused."""
        kind = kind_named(kind) if isinstance(kind, str) else kind
        live = self.get(kind, name, namespace)
        if live is None:
            return
        uid = live["metadata"].get("uid")
        self.delete(kind, name, namespace)

        def gone() -> tuple[bool | None, str]:
            current = self.get(kind, name, namespace)
            if current is None or current["metadata"].get("uid") != uid:
                return True, ""
            finalizers = current["metadata"].get("finalizers") or []
            return None, f"still there, waiting for finalizers {finalizers}" if finalizers else "still there"

        poll_until(gone, timeout=timeout, verb="delete", subject=kind.subject(name, namespace))

    # --- waiting -------------------------------------------------------------------------------------------------

    def wait_for_condition(
        self,
        kind: Kind | str,
        name: str,
        namespace: str | None = None,
        *,
        condition_type: str = "ready",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> dict[str, Any]:
        """Wait until the object's condition is True; returns the object. The timeout names the condition's state."""
        kind = kind_named(kind) if isinstance(kind, str) else kind

        def ready() -> tuple[dict[str, Any] | None, str]:
            live = self.get(kind, name, namespace)
            if live is None:
                return None, "the object does not exist"
            found = condition(live, condition_type)
            if found is None:
                return None, f"it has no '{condition_type}' condition yet"
            if found.get("status") == "True":
                return live, ""
            message = f": {found['message']}" if found.get("message") else ""
            return None, f"condition '{condition_type}' is {found.get('status')}{message}"

        return poll_until(ready, timeout=timeout, verb="wait for", subject=kind.subject(name, namespace))

    # --- questions Harvester's webhooks ask ------------------------------------------------------------------

    def vms_referencing_nad(self, namespace: str, name: str) -> list[str]:
        """`<ns>/<vm>` of every KubeVirt VirtualMachine whose networks name this NAD. None without KubeVirt."""
        return self._kubevirt_users("VirtualMachine", {(namespace, name)})

    def running_vms_using_nads(self, nads: set[tuple[str, str]], nodes: set[str] | None = None) -> list[str]:
        """`<ns>/<vm>` of every running VM (VirtualMachineInstance) attached to one of `nads` (namespace, name),
        optionally only those on `nodes`."""
        return self._kubevirt_users("VirtualMachineInstance", nads, nodes)

    def _kubevirt_users(self, kind: str, nads: set[tuple[str, str]], nodes: set[str] | None = None) -> list[str]:
        try:
            objects = self.list_objects(kind)
        except KubeError as error:
            if error.not_found:  # KubeVirt is not installed: nothing can use a NAD
                return []
            raise
        users = []
        for obj in objects:
            spec = obj.get("spec") or {}
            # A VM's networks sit in its template; a VMI's in its own spec.
            networks = ((spec.get("template") or {}).get("spec") or spec).get("networks") or []
            obj_namespace = obj["metadata"].get("namespace", "")
            references = [(n.get("multus") or {}).get("networkName", "") for n in networks]
            uses = any(
                network_reference_matches(ref, obj_namespace, nad_namespace, nad_name)
                for ref in references
                if ref
                for nad_namespace, nad_name in nads
            )
            if uses and (nodes is None or (obj.get("status") or {}).get("nodeName") in nodes):
                users.append(f"{obj_namespace}/{obj['metadata']['name']}")
        return sorted(users)

    # --- HTTP ----------------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, decode: bool = True, **send: Any) -> dict[str, Any]:
        """The parsed JSON answer of `_send(method, path, **send)` ({} when not `decode`)."""
        response = self._send(method, path, **send)
        try:
            data = response.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unreachable(send["verb"], send["subject"], exc) from None
        if not decode:
            return {}
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise _bad_response(send["verb"], send["subject"], data)
        return parsed

    def _send(
        self,
        method: str,
        path: str,
        *,
        verb: str,
        subject: str,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] | None = None,
    ) -> rest.RESTResponse:
        """The response with its body unread (a watch streams it); an error status is raised as KubeError."""
        headers = {"Accept": "application/json", "Content-Type": content_type}
        _, url, headers, body, _ = self._api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((query or {}).items()),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self._api.call_api(
                method, url, header_params=headers, body=body, _request_timeout=timeout or self._request_timeout
            )
            if response.status >= 400:
                raise status_error(verb, subject, response.status, response.read())
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unreachable(verb, subject, exc) from None
        except client.ApiException as exc:  # TLS failures surface this way
            raise KubeError(verb, subject, "Unreachable", f"{self.target.describe()}: {exc.reason}") from None
        return response

    def _unreachable(self, verb: str, subject: str, exc: Exception) -> KubeError:
        reason = str(getattr(exc, "reason", None) or exc)
        return KubeError(
            verb, subject, "Unreachable", f"cannot reach the API server of {self.target.describe()}: {reason}"
        )


class WatchStream:
    """One open watch. `events()` gives `{type, object}` dicts, BOOKMARKs included, until the server ends the
    stream; an in-stream ERROR event raises a KubeError with its code (410: the version is too old, list again).
    `close()`, from any thread, ends the stream at once (`events()` then just stops)."""

    def __init__(
        self, stream: urllib3.BaseHTTPResponse, subject: str, unreachable: Callable[[str, str, Exception], KubeError]
    ) -> None:
        self._stream, self._subject, self._unreachable = stream, subject, unreachable
        self._closed = False

    def events(self) -> Iterator[dict[str, Any]]:
        try:
            for line in _lines(self._stream.stream(amt=None, decode_content=False)):
                try:
                    event = json.loads(line)
                except ValueError:
                    event = None
                if not isinstance(event, dict):
                    raise _bad_response("watch", self._subject, line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise status_error("watch", self._subject, int(status.get("code") or 500), json.dumps(status))
                yield event
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if not self._closed:
                raise self._unreachable("watch", self._subject, exc) from None
        finally:
            if self._closed:
                self._stream.close()  # its socket was shut down: not one for the pool
            else:
                self._stream.release_conn()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Shutting the socket down unblocks a read waiting on a quiet stream; a stream that already ended and gave
        # its connection back to the pool has nothing to unblock.
        with contextlib.suppress(ValueError, RuntimeError, OSError):
            self._stream.shutdown()
        self._stream.close()


def _bad_response(verb: str, subject: str, data: bytes | str) -> KubeError:
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    return KubeError(
        verb, subject, "BadResponse", f"the API server answered something that is not JSON: {text[:200]!r}"
    )


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The newline-separated JSON documents of a watch stream, whatever the chunking."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            if line.strip():
                yield line
    if pending.strip():
        yield pending
