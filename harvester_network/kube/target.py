"""Which Kubernetes API to talk to, as plain data.

A `KubeTarget` is what Pulumi dynamic providers and the CLI keep instead of a live client: it pickles,
compares and hashes, and its repr never shows kubeconfig contents (they usually hold credentials).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from harvester_network.kube.errors import KubeError

DEFAULT_KUBECONFIG = "~/.kube/config"


def looks_like_kubeconfig_contents(value: str) -> bool:
    """pulumi-kubernetes' `kubeconfig` takes the file's contents or its path; so do we.

    Contents are YAML over several lines or a JSON object; a path is a single line that is not JSON.
    """
    return "\n" in value.strip() or value.lstrip().startswith("{")


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
            else f"kubeconfig {self.kubeconfig_path or os.environ.get('KUBECONFIG') or DEFAULT_KUBECONFIG}"
        )
        return f"context '{self.context}' of {source}" if self.context else source

    def configuration(self) -> client.Configuration:
        """A fresh client configuration; raises KubeError when the kubeconfig cannot be used."""
        configuration = client.Configuration()
        try:
            if self.in_cluster:
                config.load_incluster_config(client_configuration=configuration)
            elif self.kubeconfig is not None:
                config.load_kube_config_from_dict(
                    self._parsed_contents(),
                    context=self.context,
                    client_configuration=configuration,
                    persist_config=False,
                )
            else:
                path = os.path.expanduser(self.kubeconfig_path) if self.kubeconfig_path else None
                config.load_kube_config(
                    config_file=path, context=self.context, client_configuration=configuration, persist_config=False
                )
        except (ConfigException, OSError, TypeError, ValueError) as exc:
            raise KubeError("load", self.describe(), "InvalidKubeconfig", str(exc)) from None
        return configuration

    def _parsed_contents(self) -> dict[str, Any]:
        assert self.kubeconfig is not None
        try:
            parsed = yaml.safe_load(self.kubeconfig)
        except yaml.YAMLError as exc:
            raise KubeError("load", self.describe(), "InvalidKubeconfig", f"is not valid YAML: {exc}") from None
        if not isinstance(parsed, dict):
            raise KubeError("load", self.describe(), "InvalidKubeconfig", "is not a kubeconfig mapping")
        return parsed
