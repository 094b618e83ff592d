"""The stack program: structured stack config in, one HarvesterNetworking per cluster out.

Config (namespace `harvester-network`, i.e. `harvester-network:<key>` in Pulumi.<stack>.yaml):
- `plan`: one plan (plan.yaml form) for the stack's cluster, with optional `kubeconfig`, `context` and
  `installAgent`; or
- `clusters`: `[{name, kubeconfig?, context?, installAgent?, plan}]`, one cluster each, plus optional
  `defaults`: a partial plan deep-merged under every cluster's plan.
`installAgent: true` installs hvnet's node agent (and the CRDs) on a cluster without Harvester;
`agentMetricsAddress` (default 127.0.0.1:9464, the node's loopback) is where its agents serve /metrics.

Deep merge: mappings merge key by key; lists of named items (clusterNetworks, networks, virtualMachines,
interfaces, nodeOverrides, ports) merge item by item on their identity (`namespace`/`name`, or `node`, or
`port`), so a cluster can change one field of a shared network or add its own; other lists and values are
replaced by the cluster's.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi

from harvester_network.components.harvester import HarvesterNetworking
from harvester_network.model import PlanError, load_plan
from harvester_network.render.agent_install import DEFAULT_METRICS_ADDRESS

CONFIG_NAMESPACE = "harvester-network"
# Pulumi keeps every resource's Outputs alive until the program ends, so the cyclic garbage collector keeps
# re-scanning a growing heap: at 3 000 resources it took a third of the program's time with the default
# first-generation threshold (700), a tenth with 100 000, a twentieth with this (for about 10% more peak
# memory; benchmarks/RESULTS.md). A program process is short-lived; collecting less often is safe.
GC_FIRST_GENERATION_THRESHOLD = 1_000_000
_IDENTITY_KEYS = ("name", "node", "port")
CLUSTER_SETTINGS = (
    "kubeconfig",
    "context",
    "installAgent",
    "agentMetricsAddress",
)  # per cluster, besides name and plan


class StackConfigError(ValueError):
    """Stack config that cannot be used; the message names the key and the fix."""


def _identity(item: Any) -> tuple[Any, ...] | None:
    """What names a list item: its name (in its namespace: an omitted `namespace` is "default", as in the plan),
    node or port. None for an item without one."""
    if not isinstance(item, Mapping):
        return None
    key = next((k for k in _IDENTITY_KEYS if k in item), None)
    return None if key is None else (key, item.get("namespace") or "default", item[key])


def deep_merge(base: Any, override: Any) -> Any:
    """`override` merged over `base` (see the module docstring); neither is changed."""
    return _merge(base, override, "", "", "", {})


def _merge(base: Any, override: Any, at: str, base_at: str, override_at: str, origins: dict[str, str]) -> Any:
    """deep_merge, noting in `origins` where each part of the result came from: its path in the result
    ("networks[2]") -> the path(s) the user wrote ("clusters[1].plan.networks[0] over defaults.networks[1]");
    likewise each key only one side has."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = dict(base)
        origins.update({_key(at, key): _key(base_at, key) for key in base if key not in override})
        for key, value in override.items():
            if key in base:
                merged[key] = _merge(
                    base[key], value, _key(at, key), _key(base_at, key), _key(override_at, key), origins
                )
            else:
                merged[key] = value
                origins[_key(at, key)] = _key(override_at, key)
        return merged
    if isinstance(base, list) and isinstance(override, list):
        base_ids = [_identity(item) for item in base]
        override_ids = [_identity(item) for item in override]
        if None in base_ids or None in override_ids:
            return list(override)
        merged_list = list(base)
        sources = [f"{base_at}[{i}]" for i in range(len(base))]
        for k, (identity, item) in enumerate(zip(override_ids, override, strict=True)):
            if identity in base_ids:
                index = base_ids.index(identity)
                sources[index] = f"{override_at}[{k}] over {base_at}[{index}]"
                merged_list[index] = _merge(
                    base[index], item, f"{at}[{index}]", f"{base_at}[{index}]", f"{override_at}[{k}]", origins
                )
            else:
                sources.append(f"{override_at}[{k}]")
                merged_list.append(item)
        origins.update({f"{at}[{i}]": source for i, source in enumerate(sources)})
        return merged_list
    return override


def _key(at: str, key: Any) -> str:
    return f"{at}.{key}" if at else str(key)


def as_written(path: str, origins: Mapping[str, str]) -> str:
    """A path of a merged plan ("networks[2].vlan") in the terms of the config the user wrote
    ("clusters[1].plan.networks[0].vlan"), through the longest part of it `origins` knows."""
    ends = [m.start() for m in re.finditer(r"[.\[]", path)] + [len(path)]
    for end in reversed(ends):
        if path[:end] in origins:
            return origins[path[:end]] + path[end:]
    return path


def cluster_plans(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each cluster's `{name, kubeconfig, context, installAgent, plan}` with the defaults merged in."""
    plan, clusters = config.get("plan"), config.get("clusters")
    defaults = {} if config.get("defaults") is None else config["defaults"]
    if (plan is None) == (clusters is None):
        raise StackConfigError(
            f"set exactly one of `{CONFIG_NAMESPACE}:plan` (one cluster) and `{CONFIG_NAMESPACE}:clusters` (several)"
        )
    if not isinstance(defaults, Mapping):
        raise StackConfigError(f"`{CONFIG_NAMESPACE}:defaults` must be a mapping (a partial plan)")
    if clusters is not None:
        for key in CLUSTER_SETTINGS:
            if key in config:
                raise StackConfigError(
                    f"`{CONFIG_NAMESPACE}:{key}` is for one `plan`; with `clusters`, set `{key}` in each cluster"
                )
    if plan is not None:
        clusters = [
            {
                "name": pulumi.get_stack(),
                "plan": plan,
                **{k: config[k] for k in CLUSTER_SETTINGS if k in config},
            }
        ]
    if not isinstance(clusters, list) or not clusters:
        raise StackConfigError(f"`{CONFIG_NAMESPACE}:clusters` must be a non-empty list of {{name, plan}}")
    out = []
    names: set[str] = set()
    for i, cluster in enumerate(clusters):
        where = f"`{CONFIG_NAMESPACE}:clusters[{i}]`"
        if not isinstance(cluster, Mapping) or not isinstance(cluster.get("name"), str):
            raise StackConfigError(f"{where} needs a `name`")
        unknown = set(cluster) - {"name", "plan", *CLUSTER_SETTINGS}
        if unknown:
            raise StackConfigError(
                f"{where} has unknown keys {sorted(unknown)} (allowed: name, {', '.join(CLUSTER_SETTINGS)}, plan)"
            )
        if not isinstance(cluster.get("installAgent", False), bool):
            raise StackConfigError(f"{where}.installAgent must be true or false")
        if cluster["name"] in names:
            raise StackConfigError(f"{where}: cluster name '{cluster['name']}' is used twice")
        names.add(cluster["name"])
        out.append(
            {
                "name": cluster["name"],
                "kubeconfig": cluster.get("kubeconfig"),
                "context": cluster.get("context"),
                "installAgent": cluster.get("installAgent", False),
                "agentMetricsAddress": cluster.get("agentMetricsAddress", DEFAULT_METRICS_ADDRESS),
                "plan": _merged_plan(
                    defaults, cluster.get("plan") or {}, f"clusters[{i}].plan" if plan is None else "plan"
                ),
            }
        )
    return out


def _merged_plan(defaults: Mapping[str, Any], plan: Any, plan_at: str) -> Any:
    """The cluster's plan over the defaults; StackConfigError naming every error by the key the user wrote."""
    origins: dict[str, str] = {}
    merged = _merge(defaults, plan, "", "defaults", plan_at, origins)
    try:
        load_plan(merged)
    except PlanError as error:
        lines = [
            f"  - {CONFIG_NAMESPACE}:{as_written(i.path, origins) or plan_at}: {i.message}"
            + (f" (fix: {i.fix})" if i.fix else "")
            for i in error.issues
        ]
        raise StackConfigError(f"the plan of {plan_at} is invalid:\n" + "\n".join(lines)) from None
    return merged


def _collect_garbage_less_often() -> None:
    first, *older = gc.get_threshold()
    gc.set_threshold(max(GC_FIRST_GENERATION_THRESHOLD, first), *older)


def _export(name: str, networking: HarvesterNetworking) -> HarvesterNetworking:
    pulumi.export(f"{name}.networkNames", networking.network_names)
    pulumi.export(f"{name}.bridges", networking.bridges)
    return networking


# The programs below construct HarvesterNetworking themselves, not in a shared helper or a comprehension: the SDK
# records the call stack of every resource, so each frame between the program and its resources costs time.


def build_plan_file(path: str | Path) -> HarvesterNetworking:
    """The program of an example: its plan file on the cluster of `harvester-network:kubeconfig`/`context`
    (default: the current kubeconfig context), named after the file's directory."""
    _collect_garbage_less_often()
    config = pulumi.Config(CONFIG_NAMESPACE)
    path = Path(path)
    name, kubeconfig, context = path.resolve().parent.name, config.get("kubeconfig"), config.get("context")
    return _export(name, HarvesterNetworking(name, plan=path, kubeconfig=kubeconfig, context=context))


def build_stack(config: pulumi.Config | None = None) -> list[HarvesterNetworking]:
    """The program of the repository's Pulumi project: read the stack config, build every cluster, export
    each cluster's network names and bridges. Collects garbage less often (see GC_FIRST_GENERATION_THRESHOLD)."""
    _collect_garbage_less_often()
    config = config or pulumi.Config(CONFIG_NAMESPACE)
    values = {key: config.get_object(key) for key in ("plan", "clusters", "defaults")}
    values.update({key: config.get(key) for key in ("kubeconfig", "context", "agentMetricsAddress")})
    values["installAgent"] = config.get_bool("installAgent")
    built = []
    for c in cluster_plans({k: v for k, v in values.items() if v is not None}):
        networking = HarvesterNetworking(
            c["name"],
            plan=c["plan"],
            kubeconfig=c["kubeconfig"],
            context=c["context"],
            install_agent=c["installAgent"],
            agent_metrics_address=c["agentMetricsAddress"],
        )
        built.append(_export(c["name"], networking))
    return built
