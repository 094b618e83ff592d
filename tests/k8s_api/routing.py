"""HTTP: routing of Kubernetes API paths to the cluster, discovery documents, watch streaming, faults."""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from tests.k8s_api import admission_policy
from tests.k8s_api.cluster import BUILTIN_PATCH_TYPES, CUSTOM_PATCH_TYPES, Cluster, DeleteOptions, WriteOptions
from tests.k8s_api.errors import (
    ApiError,
    FieldError,
    bad_request,
    invalid,
    method_not_allowed,
    resource_not_served,
    server_error,
    unsupported_media_type,
)
from tests.k8s_api.faults import Faults
from tests.k8s_api.openapi import group_version_document, root_document
from tests.k8s_api.resources import ResourceType
from tests.k8s_api.watch import WatchSettings, WatchStream, expired_event

_log = logging.getLogger(__name__)
SERVER_VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0+hvnet-test",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}
_POLICIES = ["Foreground", "Background", "Orphan"]


@dataclass(frozen=True)
class Route:
    resource_type: ResourceType
    namespace: str | None
    name: str | None
    subresource: str


class ApiHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], cluster: Cluster, faults: Faults, settings: WatchSettings) -> None:
        super().__init__(address, ApiHandler)
        self.cluster = cluster
        self.faults = faults
        self.watch_settings = settings
        self.stopping = threading.Event()


def _flag(query: dict[str, str], key: str) -> bool:
    return query.get(key, "").lower() in ("true", "1")


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each answer waits for a delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server: ApiHttpServer

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # --- plumbing --------------------------------------------------------------------------------------------

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, code: int, payload: Any, warnings: list[str] | None = None) -> None:
        data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
        self.send_response(code)
        self.send_header("Content-Type", "application/json" if not isinstance(payload, bytes) else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        for warning in warnings or []:
            self.send_header("Warning", f"299 - {json.dumps(warning)}")
        self.end_headers()
        self.wfile.write(data)

    def _reset_connection(self) -> None:
        """Close with RST, so the client sees the connection reset rather than an answer."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _handle(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        body = self._body()
        fault = self.server.faults.on_request(self.command, self.path)
        if fault.refuse:
            self._reset_connection()
            return
        if fault.delay:
            time.sleep(fault.delay)
        try:
            if fault.error_code:
                raise server_error(fault.error_code)
            self._dispatch(url.path.rstrip("/") or "/", query, body)
        except ApiError as error:
            self._send(error.code, error.status())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as error:  # a server bug must still answer like a server
            _log.exception("request failed: %s %s", self.command, self.path)
            self._send(500, ApiError(500, "InternalError", f"Internal error occurred: {error!r}").status())

    # --- routing ---------------------------------------------------------------------------------------------

    def _dispatch(self, path: str, query: dict[str, str], body: bytes) -> None:
        cluster = self.server.cluster
        if path in ("/healthz", "/livez", "/readyz"):
            self._send(200, b"ok")
            return
        if path == "/version":
            self._send(200, SERVER_VERSION)
            return
        segments = path.strip("/").split("/")
        if segments[0] == "openapi":
            self._openapi(segments)
            return
        with cluster.lock:
            discovery = self._discovery(segments)
        if discovery is not None:
            if self.command != "GET":
                raise method_not_allowed()
            self._send(200, discovery)
            return
        route = self._route(segments)
        self._serve(route, query, body)

    def _openapi(self, segments: list[str]) -> None:
        registry = self.server.cluster.registry
        with self.server.cluster.lock:
            if segments == ["openapi", "v3"]:
                self._send(200, root_document(registry))
                return
            if segments[:2] == ["openapi", "v3"] and len(segments) in (4, 5):
                group, version = ("", segments[3]) if segments[2] == "api" else (segments[3], segments[4])
                if registry.in_group_version(group, version):
                    patch_types = {True: CUSTOM_PATCH_TYPES, False: BUILTIN_PATCH_TYPES}
                    self._send(200, group_version_document(registry, group, version, patch_types))
                    return
        raise resource_not_served()

    def _discovery(self, segments: list[str]) -> dict[str, Any] | None:
        registry = self.server.cluster.registry
        if segments == ["api"]:
            host, port = self.server.server_address[:2]
            address = f"{host!s}:{port}"
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
            }
        groups = registry.groups()
        if segments == ["apis"]:
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g, v) for g, v in groups.items()]}
        if len(segments) == 2 and segments[0] == "apis" and segments[1] in groups:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group(segments[1], groups[segments[1]])}
        if segments == ["api", "v1"] or (len(segments) == 3 and segments[0] == "apis"):
            group, version = ("", "v1") if segments[0] == "api" else (segments[1], segments[2])
            served = registry.in_group_version(group, version)
            if not served:
                raise resource_not_served()
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": [entry for t in served for entry in t.discovery_entry()],
            }
        return None

    def _route(self, segments: list[str]) -> Route:
        if segments[0] == "api" and len(segments) >= 3:
            group, version, rest = "", segments[1], segments[2:]
        elif segments[0] == "apis" and len(segments) >= 4:
            group, version, rest = segments[1], segments[2], segments[3:]
        else:
            raise resource_not_served()
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] != "status":
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise resource_not_served()
        with self.server.cluster.lock:
            resource_type = self.server.cluster.registry.lookup(group, version, rest[0])
        if resource_type is None or (namespace is not None and not resource_type.namespaced):
            raise resource_not_served()
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else ""
        if subresource and (subresource != "status" or not resource_type.status_subresource):
            raise resource_not_served()
        if name is not None and resource_type.namespaced and namespace is None:
            raise resource_not_served()
        return Route(resource_type, namespace, name, subresource)

    def _write_options(self, query: dict[str, str]) -> WriteOptions:
        return WriteOptions(
            field_manager=query.get("fieldManager", ""),
            user_agent=self.headers.get("User-Agent", ""),
            dry_run=query.get("dryRun") == "All",
            field_validation=query.get("fieldValidation") or "Warn",
            force=_flag(query, "force"),
        )

    def _decode(self, body: bytes) -> Any:
        content_type = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if content_type not in ("application/json", "application/yaml", "*/*", ""):
            raise unsupported_media_type(["application/json", "application/yaml"])
        try:
            return yaml.safe_load(body) if content_type == "application/yaml" else json.loads(body or b"null")
        except (ValueError, yaml.YAMLError) as error:
            raise bad_request(f"error decoding the request body: {error}") from error

    def _serve(self, route: Route, query: dict[str, str], body: bytes) -> None:
        cluster, method = self.server.cluster, self.command
        resource_type, namespace, name = route.resource_type, route.namespace, route.name
        admission_policy.begin_request(self.headers.get("Authorization", ""), route.subresource)
        if name is None:
            if method == "GET" and _flag(query, "watch"):
                self._watch(route, query)
            elif method == "GET":
                self._send(200, cluster.list_objects(resource_type, namespace, query))
            elif method == "POST" and (namespace is not None or not resource_type.namespaced):
                opts = self._write_options(query)
                self._send(201, cluster.create(resource_type, namespace, self._decode(body), opts), opts.warnings)
            elif method == "DELETE":
                self._send(
                    200, cluster.delete_collection(resource_type, namespace, query, self._delete_options(query, body))
                )
            else:
                raise method_not_allowed()
            return
        opts = self._write_options(query)
        if method == "GET":
            self._send(200, cluster.get(resource_type, namespace, name))
        elif method == "PUT":
            result = cluster.update(resource_type, namespace, name, self._decode(body), route.subresource, opts)
            self._send(200, result, opts.warnings)
        elif method == "PATCH":
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            code, result = cluster.patch(resource_type, namespace, name, route.subresource, content_type, body, opts)
            self._send(code, result, opts.warnings)
        elif method == "DELETE" and not route.subresource:
            self._send(200, cluster.delete(resource_type, namespace, name, self._delete_options(query, body)))
        else:
            raise method_not_allowed()

    def _delete_options(self, query: dict[str, str], body: bytes) -> DeleteOptions:
        options = json.loads(body) if body.strip() else {}
        if not isinstance(options, dict):
            raise bad_request("DeleteOptions must be a JSON object")
        policy = options.get("propagationPolicy") or query.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is not None:
            policy = "Orphan" if options["orphanDependents"] else "Background"
        if policy is not None and policy not in _POLICIES:
            quoted = ", ".join(json.dumps(p) for p in _POLICIES)
            error = FieldError("FieldValueNotSupported", "propagationPolicy", policy, f"supported values: {quoted}")
            raise invalid("meta.k8s.io", "DeleteOptions", "", [error])
        preconditions = options.get("preconditions") or {}
        dry_run = options.get("dryRun") or ([query["dryRun"]] if "dryRun" in query else [])
        return DeleteOptions(policy, preconditions.get("uid"), preconditions.get("resourceVersion"), "All" in dry_run)

    # --- watch -----------------------------------------------------------------------------------------------

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _watch(self, route: Route, query: dict[str, str]) -> None:
        server = self.server
        stream = WatchStream(server.cluster, route.resource_type, route.namespace, query, server.watch_settings)
        expire_now, cut_after, generation = server.faults.on_watch(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        if expire_now:
            self._write_chunk(json.dumps(expired_event(query.get("resourceVersion", ""))).encode() + b"\n")
            self._write_chunk(b"")
            return
        sent = 0
        events = stream.events(server.stopping)
        try:
            for event in events:
                if server.faults.watch_dropped(generation) or (cut_after is not None and sent >= cut_after):
                    self._reset_connection()
                    return
                if event is not None:
                    self._write_chunk(json.dumps(event).encode() + b"\n")
                    sent += 1
            self._write_chunk(b"")
        finally:
            events.close()


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}
