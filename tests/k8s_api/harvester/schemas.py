"""The peers' schemas (../shared/reference/upstream) as structural schemas the test server's validator reads:
Harvester's, vm-dhcp-controller's and Multus' CRDs, and KubeVirt's OpenAPI definitions (swagger.json)."""

from __future__ import annotations

from typing import Any

import yaml

from tests.k8s_api.resources import OBJECT_META, types_from_crd
from tests.k8s_api.schema import PRESERVE
from tests.upstream import upstream_json, upstream_path

UPSTREAM_CRDS = (
    "harvester-network-controller/network.harvesterhci.io_clusternetworks.yaml",
    "harvester-network-controller/network.harvesterhci.io_vlanconfigs.yaml",
    "harvester-network-controller/network.harvesterhci.io_vlanstatuses.yaml",
    "harvester-network-controller/network.harvesterhci.io_linkmonitors.yaml",
    "harvester-network-controller/network.harvesterhci.io_hostnetworkconfigs.yaml",
    "vm-dhcp-controller/network.harvesterhci.io_ippools.yaml",
    "vm-dhcp-controller/network.harvesterhci.io_virtualmachinenetworkconfigs.yaml",
    "multus/k8s.cni.cncf.io_network-attachment-definitions.yaml",
)
KUBEVIRT_SWAGGER = "kubevirt/swagger.json"
_REF_PREFIX = "#/definitions/"
# apimachinery types whose OpenAPI form is not their JSON form (or that the server knows better).
_SPECIAL = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta": OBJECT_META,
    "k8s.io.apimachinery.pkg.api.resource.Quantity": {"x-kubernetes-int-or-string": True},
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": {"x-kubernetes-int-or-string": True},
}


def upstream_crds() -> list[dict[str, Any]]:
    """The CRDs a Harvester cluster serves for the kinds hvnet writes, unchanged from upstream."""
    return [yaml.safe_load(upstream_path(relative).read_text()) for relative in UPSTREAM_CRDS]


def crd_schemas() -> dict[str, dict[str, Any]]:
    """Kind -> the structural schema the API server validates it with (metadata as the server knows it)."""
    schemas: dict[str, dict[str, Any]] = {}
    for crd in upstream_crds():
        served = types_from_crd(crd)[0]
        schemas[served.kind] = served.schema
    return schemas


def kubevirt_schema(definition: str) -> dict[str, Any]:
    """A swagger.json definition with its `$ref`s resolved; KubeVirt's CRDs are generated from the same types,
    with structural pruning, so a field the definition lacks is an unknown field there too."""
    definitions = upstream_json(KUBEVIRT_SWAGGER)["definitions"]
    return _resolve(definitions, definitions[definition], ())


def _resolve(definitions: dict[str, Any], node: Any, seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_resolve(definitions, item, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.removeprefix(_REF_PREFIX)
        if name in _SPECIAL:
            return _SPECIAL[name]
        if name in seen:  # a recursive type: below here anything goes
            return {PRESERVE: True}
        return _resolve(definitions, definitions[name], (*seen, name))
    resolved = {key: _resolve(definitions, value, seen) for key, value in node.items() if key != "properties"}
    if isinstance(node.get("properties"), dict):  # a map of field names, any of which may be called "description"
        resolved["properties"] = {key: _resolve(definitions, value, seen) for key, value in node["properties"].items()}
    resolved.pop("description", None)
    return resolved
