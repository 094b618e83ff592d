"""The only code that talks to a Kubernetes API: targets as plain data, one client, actionable errors."""

from harvester_network.kube.client import (
    DEFAULT_TIMEOUT,
    FIELD_MANAGER,
    KubeClient,
    condition,
    field_managers,
    network_reference_matches,
    poll_until,
)
from harvester_network.kube.errors import KubeError, KubeTimeout
from harvester_network.kube.kinds import KINDS, Kind, kind_named, kind_of
from harvester_network.kube.target import KubeTarget

__all__ = [
    "DEFAULT_TIMEOUT",
    "FIELD_MANAGER",
    "KINDS",
    "Kind",
    "KubeClient",
    "KubeError",
    "KubeTarget",
    "KubeTimeout",
    "condition",
    "field_managers",
    "kind_named",
    "kind_of",
    "network_reference_matches",
    "poll_until",
]
