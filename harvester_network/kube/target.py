"""Which Kubernetes API to talk to, as plain data, and why a kubeconfig cannot be used.

A `KubeTarget` is what Pulumi dynamic providers and the CLI keep instead of a live client: it pickles,
compares and hashes, and its repr never shows kubeconfig contents (they usually hold credentials).

A kubeconfig that cannot be used is a `KubeError` naming the file (or "the given kubeconfig contents"), the
field and the problem, never a value: YAML errors give line and column without the line's text, bad base64
names the field, and the client library's messages have every credential-like value of the file cut out.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from harvester_network.kube.errors import KubeError
from harvester_network.model.yaml_problem import yaml_problem

DEFAULT_KUBECONFIG = "~/.kube/config"
# A path is shown in messages only when it looks like one: a long or spaced value may be contents passed where a
# path belongs (a base64 kubeconfig, a token), and those must never be echoed.
_SHOWN_PATH_MAX = 200
REDACTED = "<redacted>"


def looks_like_kubeconfig_contents(value: str) -> bool:
    """pulumi-kubernetes' `kubeconfig` takes the file's contents or its path; so do we.

    Contents are YAML over several lines or a JSON object; a path is a single line that is not JSON.
    """
    return "\n" in value.strip() or value.lstrip().startswith("{")


def shown_path(path: str) -> str:
    """The path as messages show it: itself when it looks like a path, else only its length."""
    if len(path) <= _SHOWN_PATH_MAX and not any(c.isspace() for c in path):
        return path
    return f"<a {len(path)}-character value that is not a path; not shown>"


@dataclass(frozen=True)
class KubeTarget:
    """A kubeconfig (contents or path) plus context, or the pod's in-cluster service account."""

    kubeconfig: str | None = field(default=None, repr=False)  # the file's contents
    kubeconfig_path: str | None = None
    context: str | None = None
    in_cluster: bool = False

    @classmethod
    def from_kubeconfig(cls, kubeconfig: str | None = None, context: str | None = None) -> KubeTarget:
        """`kubeconfig`: contents or path. None: $KUBECONFIG or ~/.kube/config when one exists, else in-cluster."""
        if kubeconfig:
            if looks_like_kubeconfig_contents(kubeconfig):
                return cls(kubeconfig=kubeconfig, context=context)
            return cls(kubeconfig_path=kubeconfig, context=context)
        if os.environ.get("KUBECONFIG") or Path(DEFAULT_KUBECONFIG).expanduser().exists():
            return cls(context=context)
        return cls(in_cluster=True)

    def describe(self) -> str:
        """Where this points, for error messages (never the contents)."""
        if self.in_cluster:
            return "the in-cluster service account"
        source = (
            "the given kubeconfig contents"
            if self.kubeconfig is not None
            else f"kubeconfig {shown_path(self.kubeconfig_path or os.environ.get('KUBECONFIG') or DEFAULT_KUBECONFIG)}"
        )
        return f"context '{self.context}' of {source}" if self.context else source

    def configuration(self) -> client.Configuration:
        """A fresh client configuration; raises KubeError when the kubeconfig cannot be used."""
        configuration = client.Configuration()
        secrets: set[str] = set()
        try:
            with _redacting_root_log(secrets):
                if self.in_cluster:
                    config.load_incluster_config(client_configuration=configuration)
                elif self.kubeconfig is not None:
                    parsed = self._checked(self.kubeconfig, "", secrets)
                    config.load_kube_config_from_dict(
                        parsed, context=self.context, client_configuration=configuration, persist_config=False
                    )
                else:
                    for file in self._files():
                        self._checked(self._read(file), file, secrets)
                    # The library reads the files again: it resolves their relative certificate paths and merges them.
                    path = os.path.expanduser(self.kubeconfig_path) if self.kubeconfig_path else None
                    config.load_kube_config(
                        config_file=path, context=self.context, client_configuration=configuration, persist_config=False
                    )
        # AttributeError/KeyError: shapes the library does not expect (its message still goes through redaction).
        except (ConfigException, OSError, TypeError, ValueError, AttributeError, KeyError, yaml.YAMLError) as exc:
            raise self._error(_redacted(_library_message(exc), secrets)) from None
        return configuration

    def _error(self, problem: str, file: str = "") -> KubeError:
        where = self.describe() if not file or self.kubeconfig_path else f"{self.describe()} (file {shown_path(file)})"
        return KubeError("load", where, "InvalidKubeconfig", problem)

    def _files(self) -> list[str]:
        if self.kubeconfig_path:
            return [os.path.expanduser(self.kubeconfig_path)]
        listed = os.environ.get("KUBECONFIG", "")
        paths = [p for p in listed.split(os.pathsep) if p] or [DEFAULT_KUBECONFIG]
        # The library skips listed files that do not exist; a named --kubeconfig must exist (read raises).
        return [os.path.expanduser(p) for p in paths if not listed or os.path.exists(os.path.expanduser(p))]

    def _read(self, path: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise self._error("no such file (fix: give the path of a kubeconfig file)", path) from None
        except IsADirectoryError:
            raise self._error("is a directory, not a kubeconfig file", path) from None
        except PermissionError:
            raise self._error("cannot be read: permission denied", path) from None
        except UnicodeDecodeError:
            raise self._error("is not UTF-8 text", path) from None

    def _checked(self, text: str, file: str, secrets: set[str]) -> dict[str, Any]:
        """The parsed kubeconfig, its credential-like values added to `secrets`; a KubeError naming the first
        problem the client library would report with a value in it (or not at all)."""
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise self._error(f"is not valid YAML: {yaml_problem(exc)}", file) from None
        if not isinstance(parsed, dict):
            raise self._error("is not a kubeconfig (a YAML mapping of clusters, users and contexts)", file)
        secrets.update(_credentials(parsed))
        problems = _shape_problems(parsed)
        if problems:
            raise self._error("; ".join(problems), file)
        for path, value in _data_fields(parsed):
            if not isinstance(value, str):
                raise self._error(f"{path} must be a base64 string", file)
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise self._error(
                    f"{path} is not valid base64 (fix: `base64 -w0 FILE` of the PEM file)", file
                ) from None
        return parsed


def _library_message(exc: BaseException) -> str:
    if isinstance(exc, yaml.YAMLError):
        return f"is not valid YAML: {yaml_problem(exc)}"
    return str(exc) or type(exc).__name__


_NAMED_LISTS = {"clusters": "cluster", "users": "user", "contexts": "context"}


def _shape_problems(parsed: dict[str, Any]) -> list[str]:
    """What the client library would crash on or silently default (a cluster without a server is localhost)."""
    problems = []
    for list_key, item_key in _NAMED_LISTS.items():
        items = parsed.get(list_key)
        if items is None:
            continue
        if not isinstance(items, list):
            problems.append(f"{list_key} must be a list of {{name, {item_key}}}")
            continue
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                problems.append(f"{list_key}[{index}] needs a name (a string)")
            elif not isinstance(item.get(item_key), dict):
                problems.append(f"{list_key}[name={item['name']}].{item_key} must be a mapping")
            elif item_key == "cluster" and not isinstance(item[item_key].get("server"), str):
                problems.append(f"{list_key}[name={item['name']}].cluster.server is missing (the API server's URL)")
    return problems


def _data_fields(parsed: dict[str, Any]) -> list[tuple[str, Any]]:
    """`(field path, value)` of each base64 `*-data` field of the clusters and users."""
    found = []
    for list_key, item_key in (("clusters", "cluster"), ("users", "user")):
        for item in parsed.get(list_key) or []:  # shaped as _shape_problems checked
            found += [
                (f"{list_key}[name={item['name']}].{item_key}.{k}", v)
                for k, v in item[item_key].items()
                if str(k).endswith("-data")
            ]
    return found


def _credentials(value: Any, under_user: bool = False) -> set[str]:
    """Every string that may be a credential: all of `users` (tokens, keys, passwords, exec arguments) and every
    `*-data` field; short strings (names, "v1") are left, as cutting them would garble messages."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            secretish = under_user or key == "users" or str(key).endswith("-data")
            found |= _credentials(item, secretish)
    elif isinstance(value, list):
        for item in value:
            found |= _credentials(item, under_user)
    elif under_user and isinstance(value, str) and len(value) >= 6:
        found.add(value)
    return found


@contextlib.contextmanager
def _redacting_root_log(secrets: set[str]) -> Iterator[None]:
    """The client library logs some failures (an exec plugin's) to the root logger, values included."""

    def redact(record: logging.LogRecord) -> bool:
        record.msg, record.args = _redacted(record.getMessage(), secrets), None
        return True

    root = logging.getLogger()
    root.addFilter(redact)
    try:
        yield
    finally:
        root.removeFilter(redact)


def _redacted(message: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, REDACTED)
    return message
