"""The helpers Harvester's network webhooks and controllers share, as pure functions on plain dicts.

Each follows harvester/network-controller-harvester at 2e5cbea, pkg/utils (named per function): the NAD's CNI
config (`NetConf`), its route annotation (`Layer3NetworkConf`), MTUs, bridge names, VLAN ID sets, object names.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network
from typing import Any

GROUP = "network.harvesterhci.io"
LABEL_CLUSTER_NETWORK = f"{GROUP}/clusternetwork"
LABEL_VLANCONFIG = f"{GROUP}/vlanconfig"
LABEL_NODE = f"{GROUP}/node"
LABEL_NETWORK_TYPE = f"{GROUP}/type"
LABEL_VLAN_ID = f"{GROUP}/vlan-id"
LABEL_READY = f"{GROUP}/ready"
ANNOTATION_ROUTE = f"{GROUP}/route"
ANNOTATION_MATCHED_NODES = f"{GROUP}/matched-nodes"
ANNOTATION_UPLINK_MTU = f"{GROUP}/uplink-mtu"
ANNOTATION_MTU_SOURCE = f"{GROUP}/mtu-source-vc"
ANNOTATION_VID_SET = f"{GROUP}/vlan-id-set-str"
ANNOTATION_VID_SET_HASH = f"{GROUP}/vlan-id-set-str-hash"
LABEL_WITNESS_NODE = "node-role.harvesterhci.io/witness"
STORAGE_NETWORK = "storage-network.settings.harvesterhci.io"
RWX_NETWORK = "rwx-network.settings.harvesterhci.io"
LABEL_EXCLUSIVE_VLAN = f"{STORAGE_NETWORK}/exclusivevlan"
SYSTEM_NAMESPACE = "harvester-system"
MGMT = "mgmt"

# pkg/utils/consts.go, bridge.go, vlan.go
DEFAULT_MTU, MIN_MTU, MAX_MTU = 1500, 576, 9000
BRIDGE_SUFFIX = "-br"
MAX_DEVICE_NAME = 15
MAX_CLUSTER_NETWORK_NAME = MAX_DEVICE_NAME - len(BRIDGE_SUFFIX)
MAX_VLAN_ID = 4094


class HarvesterError(Exception):
    """What a Harvester webhook or helper returns as its error (the message is what users see)."""


def node_cluster_network_label(cluster_network: str) -> str:
    """utils.GetLabelKeyOfClusterNetwork."""
    return f"{GROUP}/{cluster_network}"


def name(prefix: str, *parts: str) -> str:
    """utils.Name (name.go): joined with '-', cut to 54 characters, then '-' and the CRC-32 of the uncut name."""
    joined = prefix + "-".join(parts)
    return f"{joined[:54]}-{zlib.crc32(joined.encode()):08x}"


def go_json(value: Any) -> str:
    """encoding/json.Marshal's compact form."""
    return json.dumps(value, separators=(",", ":"))


# --- MTU (mtu.go) -----------------------------------------------------------------------------------------------


def valid_mtu(mtu: int) -> bool:
    """IsValidMTU: 0 (the default) or MinMTU..MaxMTU."""
    return mtu == 0 or MIN_MTU <= mtu <= MAX_MTU


def equal_mtus(one: int, other: int) -> bool:
    """AreEqualMTUs: 0 stands for the default 1500."""
    return one == other or {one, other} == {0, DEFAULT_MTU}


def mtu_from_string(text: str) -> int:
    """GetMTUFromString."""
    try:
        mtu = int(text)
    except ValueError as error:
        raise HarvesterError(f"value {text} is not an integer: {error}") from error
    if not valid_mtu(mtu):
        raise HarvesterError(f"value {text} is not in range [0, {MIN_MTU}..{MAX_MTU}]")
    return mtu


def vlanconfig_mtu(vlanconfig: dict[str, Any]) -> int:
    """GetMTUFromVlanConfig: the uplink's MTU, 0 when unset."""
    attributes = ((vlanconfig.get("spec") or {}).get("uplink") or {}).get("linkAttributes") or {}
    return int(attributes.get("mtu") or 0)


# --- bridges (bridge.go, clusternetwork.go) ---------------------------------------------------------------------


def cluster_network_of_bridge(bridge: str) -> str:
    """GetClusterNetworkFromBridgeName via IsBridgeNameValid."""
    if len(bridge) <= len(BRIDGE_SUFFIX):
        raise HarvesterError(f"the length of bridge name {bridge} is less than {len(BRIDGE_SUFFIX)}")
    if len(bridge) > MAX_DEVICE_NAME:
        raise HarvesterError(f"the length of the bridge name {bridge} can't be more than {MAX_DEVICE_NAME}")
    if not bridge.endswith(BRIDGE_SUFFIX):
        raise HarvesterError(f"the bridge name {bridge} does not include suffix {BRIDGE_SUFFIX}")
    return bridge[: -len(BRIDGE_SUFFIX)]


def check_cluster_network_name(cluster_network: str) -> None:
    """IsClusterNetworkNameValid."""
    if len(cluster_network) > MAX_CLUSTER_NETWORK_NAME:
        raise HarvesterError(
            f"the length of the clusterNetwork name {cluster_network} is more than {MAX_CLUSTER_NETWORK_NAME}"
        )


# --- the NAD's CNI config (nad.go: NetConf) ----------------------------------------------------------------------

# NetConf's JSON fields and the Go types json.Unmarshal demands of them (a mismatch is an unmarshal error).
_NETCONF_FIELDS: dict[str, type | tuple[type, ...]] = {
    "cniVersion": str,
    "name": str,
    "type": str,
    "capabilities": dict,
    "ipam": dict,
    "dns": dict,
    "bridge": str,
    "isGateway": bool,
    "isDefaultGateway": bool,
    "forceAddress": bool,
    "ipMasq": bool,
    "mtu": int,
    "hairpinMode": bool,
    "promiscMode": bool,
    "vlan": int,
    "provider": str,
    "vlanTrunk": list,
}


@dataclass(frozen=True)
class NetConf:
    """The fields of a NAD's `spec.config` Harvester reads; `fields` (all known ones) is what DeepEqual compares."""

    type: str = ""
    bridge: str = ""
    mtu: int = 0
    vlan: int = 0
    vlan_trunk: tuple[dict[str, Any], ...] = ()
    fields: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def comparable(self) -> str:
        return json.dumps(self.fields, sort_keys=True)

    @property
    def is_bridge(self) -> bool:
        return self.type in ("bridge", "")

    @property
    def is_kube_ovn(self) -> bool:
        return self.type == "kube-ovn"

    def network_type(self) -> str:
        """GetNetworkType for bridge configs."""
        if self.vlan:
            return "L2VlanNetwork"
        return "L2VlanTrunkNetwork" if self.vlan_trunk else "UntaggedNetwork"

    def vlan_ids(self) -> set[int]:
        """dumpVlanIDSet: the access VID (0 counts as none) or every trunk VID."""
        if not self.vlan_trunk:
            return {self.vlan} if self.vlan else set()
        ids: set[int] = set()
        for item in self.vlan_trunk:
            if item.get("id") is not None:
                ids.add(int(item["id"]))
            if item.get("minID") is not None and item.get("maxID") is not None:
                ids.update(range(int(item["minID"]), int(item["maxID"]) + 1))
        return ids

    def check_vlans(self) -> None:
        """IsVlanConfigValid and VlanTrunk.IsValid."""
        if not 0 <= self.vlan <= MAX_VLAN_ID:
            raise HarvesterError(f"vlan {self.vlan} is out of range [0 .. {MAX_VLAN_ID}]")
        if self.vlan and self.vlan_trunk:
            raise HarvesterError("vlan can only be 0 when vlanTrunk is set")
        for item in self.vlan_trunk:
            low, high, single = item.get("minID"), item.get("maxID"), item.get("id")
            if low is not None and high is not None:
                for word, value in (("minID", low), ("maxID", high)):
                    if not 1 <= value <= MAX_VLAN_ID:
                        raise HarvesterError(f"incorrect trunk {word} parameter {value}")
                if high < low:
                    raise HarvesterError(f"minID {low} is greater than maxID {high} in trunk parameter")
            elif high is not None:
                raise HarvesterError("minID and maxID should be configured simultaneously, minID is missing")
            elif low is not None:
                raise HarvesterError("minID and maxID should be configured simultaneously, maxID is missing")
            if single is not None and not 1 <= single <= MAX_VLAN_ID:
                raise HarvesterError(f"incorrect trunk id parameter {single}")
            if single is None and low is None and high is None:
                raise HarvesterError("all fields in this VlanTrunk are empty")


def decode_netconf(nad: dict[str, Any]) -> NetConf:
    """DecodeNadConfigToNetConf: an empty config is an empty NetConf; a JSON or type error is an error."""
    meta = nad.get("metadata") or {}
    text = (nad.get("spec") or {}).get("config") or ""
    if not text:
        return NetConf()
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("cannot unmarshal into Go value of type utils.NetConf")
        for key, expected in _NETCONF_FIELDS.items():
            value = raw.get(key)
            if value is not None and (not isinstance(value, expected) or isinstance(value, bool) != (expected is bool)):
                raise ValueError(f"cannot unmarshal {type(value).__name__} into Go struct field NetConf.{key}")
    except ValueError as error:
        raise HarvesterError(
            f"failed to unmarshal nad {meta.get('namespace')}/{meta.get('name')} config {text} {error}"
        ) from error
    known = {key: raw[key] for key in _NETCONF_FIELDS if raw.get(key) is not None}
    return NetConf(
        type=raw.get("type") or "",
        bridge=raw.get("bridge") or "",
        mtu=raw.get("mtu") or 0,
        vlan=raw.get("vlan") or 0,
        vlan_trunk=tuple(raw.get("vlanTrunk") or ()),
        fields=known,
    )


def network_labels(conf: NetConf, labels: dict[str, str]) -> None:
    """SetNetworkInfoToLabels: cluster network, network type and (tagged only) VLAN ID, in place."""
    labels.pop(LABEL_VLAN_ID, None)
    if conf.is_kube_ovn:
        labels[LABEL_CLUSTER_NETWORK] = MGMT
        labels[LABEL_NETWORK_TYPE] = "OverlayNetwork"
        return
    if not conf.is_bridge:
        raise HarvesterError(f"cannot determin the network type from netconf type {conf.type}")
    labels[LABEL_CLUSTER_NETWORK] = cluster_network_of_bridge(conf.bridge)
    labels[LABEL_NETWORK_TYPE] = conf.network_type()
    if conf.vlan:
        labels[LABEL_VLAN_ID] = str(conf.vlan)


def set_config_mtu(config: str, mtu: int) -> str:
    """sjson.Set(config, "mtu", mtu): the top-level value replaced where it stands, else appended; the rest of the
    text (order, spacing) untouched."""
    depth, index, in_string = 0, 0, False
    while index < len(config):
        char = config[index]
        if in_string:
            if char == "\\":
                index += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            if depth == 1 and config.startswith('"mtu"', index):
                after_colon = config.index(":", index + 5) + 1
                value_start = after_colon + len(config[after_colon:]) - len(config[after_colon:].lstrip())
                _, value_end = json.JSONDecoder().raw_decode(config, value_start)
                return config[:value_start] + str(mtu) + config[value_end:]
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        index += 1
    body = config.rstrip()
    closing = body.rindex("}")
    inner = body[:closing].rstrip()
    separator = "" if inner.endswith("{") else ","
    return f'{inner}{separator}"mtu":{mtu}{body[closing:]}'


# --- the route annotation (nad.go: Layer3NetworkConf) -----------------------------------------------------------

# Layer3NetworkConf's fields in struct order; json.Marshal writes them in this order and omits empty ones.
_ROUTE_FIELDS = ("mode", "cidr", "gateway", "serverIPAddr", "connectivity", "outdated")


def parse_route(text: str) -> dict[str, Any]:
    """NewLayer3NetworkConf: unmarshal, then check the mode, and CIDR and gateway in manual mode."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("cannot unmarshal into Go value of type utils.Layer3NetworkConf")
        for key in _ROUTE_FIELDS:
            expected = bool if key == "outdated" else str
            if raw.get(key) is not None and not isinstance(raw[key], expected):
                raise ValueError(f"cannot unmarshal into Go struct field Layer3NetworkConf.{key}")
    except ValueError as error:
        raise HarvesterError(f"unmarshal {text} faield, error: {error}") from error
    route = {key: raw[key] for key in _ROUTE_FIELDS if raw.get(key) not in (None, "", False)}
    mode = route.get("mode", "")
    if mode not in ("", "auto", "manual"):
        raise HarvesterError(f"unknown mode {mode}")
    if mode == "manual":
        cidr = route.get("cidr", "")
        try:
            network = ip_network(cidr, strict=False)
            if "/" not in cidr or network.prefixlen == 0:
                raise ValueError(cidr)
        except ValueError as error:
            raise HarvesterError(f"the CIDR {cidr} is invalid") from error
        try:
            ip_address(route.get("gateway", ""))
        except ValueError as error:
            raise HarvesterError(f"the gateway {route.get('gateway', '')} is invalid") from error
    return route


def route_text(route: dict[str, Any]) -> str:
    """Layer3NetworkConf.ToString: struct order, empty fields omitted."""
    return go_json({key: route[key] for key in _ROUTE_FIELDS if route.get(key) not in (None, "", False)})


def outdated_route(route_annotation: str) -> str:
    """OutdateLayer3NetworkConfPerMode: auto mode is marked outdated, any other mode loses the mark."""
    route = parse_route_loosely(route_annotation)
    route["outdated"] = route.get("mode") == "auto"
    return route_text(route)


def parse_route_loosely(text: str) -> dict[str, Any]:
    """json.Unmarshal into Layer3NetworkConf without NewLayer3NetworkConf's checks."""
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise HarvesterError(f"unmarshal {text} failed, error: {error}") from error
    if not isinstance(raw, dict):
        raise HarvesterError(f"unmarshal {text} failed, error: not an object")
    return {key: raw[key] for key in _ROUTE_FIELDS if raw.get(key) not in (None, "", False)}


# --- VLAN ID sets (vlan.go) --------------------------------------------------------------------------------------


def vid_set_annotations(vlan_ids: set[int]) -> tuple[str, str]:
    """VidSetToStringHash: the IDs in order joined by ',' and the SHA-256 of that string in hex."""
    text = ",".join(str(vid) for vid in sorted(vlan_ids))
    return text, hashlib.sha256(text.encode()).hexdigest()


def mtu_target(cluster_network: dict[str, Any] | None, vlanconfigs: list[dict[str, Any]]) -> int:
    """The MTU a NAD must carry (nad mutator patchMTU, validator checkNadConfig): the cluster network's uplink-mtu
    annotation (0 meaning the default), else the first VlanConfig's MTU when valid and non-zero, else 1500."""
    annotations = ((cluster_network or {}).get("metadata") or {}).get("annotations") or {}
    if ANNOTATION_UPLINK_MTU in annotations:
        text = annotations[ANNOTATION_UPLINK_MTU]
        try:
            mtu = mtu_from_string(text)
        except HarvesterError as error:
            cn_name = (cluster_network or {}).get("metadata", {}).get("name")
            invalid = f"invalid MTU annotation {ANNOTATION_UPLINK_MTU}/{text}"
            raise HarvesterError(f"nad's host cluster network {cn_name} has {invalid} {error}") from error
        return mtu or DEFAULT_MTU
    if vlanconfigs:
        mtu = vlanconfig_mtu(vlanconfigs[0])
        if valid_mtu(mtu) and mtu:
            return mtu
    return DEFAULT_MTU
