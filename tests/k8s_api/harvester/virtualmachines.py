"""Harvester's VirtualMachine webhooks (harvester/harvester at 3d63c2a, pkg/webhook/resources/virtualmachine),
with Harvester's default settings (pkg/settings: overcommit-config `{"cpu":1000,"memory":150,"storage":100}`,
default-vm-termination-grace-period-seconds 120, additional-guest-memory-overhead-ratio 1.5) on amd64.

Emulated: the mutator's resource overcommit, default CPU, network affinity, termination grace period and MAC
addresses; the validator's memory rule, networks that must exist, duplicate MACs and a negative grace period.
Also the run-strategy workaround (a Halted VM started by an update gets the vmRunStrategy annotation's strategy, or
RerunOnFailure). Not emulated (they need objects hvnet never writes): volumes, PVCs, backups, resource quotas,
kube-ovn bindings, Forklift limits, CPU/memory hotplug.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from tests.k8s_api.errors import ApiError
from tests.k8s_api.harvester import netconf as nc
from tests.k8s_api.harvester.netconf import HarvesterError
from tests.k8s_api.harvester.state import NADS, VMS, State, annotations_of, deleting, labels_of, meta
from tests.k8s_api.resources import ResourceType

CPU_OVERCOMMIT, MEMORY_OVERCOMMIT = 1000, 150
GRACE_PERIOD_SECONDS = 120
ANNOTATION_MAC_ADDRESS = "harvesterhci.io/mac-address"
ANNOTATION_RESERVED_MEMORY = "harvesterhci.io/reservedMemory"
ANNOTATION_RUN_STRATEGY = "harvesterhci.io/vmRunStrategy"
MIB = 1024 * 1024
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_QUANTITY = re.compile(r"^([0-9.]+)(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")


class PatchNotApplicable(HarvesterError):
    """The API server could not apply the mutator's JSON patch (evanphx/json-patch v4 `replace` needs the parent
    path to exist): apierrors.NewInternalError."""


class InvalidVm(HarvesterError):
    """werror.NewInvalidError: answered as 422 Invalid with the field as its cause."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


# --- resource.Quantity, as far as VM sizes need it ---------------------------------------------------------------


def parse_quantity(value: Any) -> tuple[int, str]:
    """(milli-units, format): format BinarySI for Ki..Ei, DecimalSI otherwise."""
    match = _QUANTITY.match(str(value))
    if not match:
        raise HarvesterError(f"quantities must match the regular expression: {value}")
    number, suffix = float(match.group(1)), match.group(2) or ""
    if suffix in _BINARY:
        return round(number * 1024 ** _BINARY[suffix] * 1000), "BinarySI"
    if suffix == "m":
        return round(number), "DecimalSI"
    return round(number * 10 ** _DECIMAL.get(suffix, 0) * 1000), "DecimalSI"


def format_quantity(milli: int, fmt: str) -> str:
    """Quantity.String(): the largest suffix that keeps the number whole."""
    if milli % 1000:
        return f"{milli}m"
    value = milli // 1000
    if fmt == "BinarySI" and value:
        for suffix, power in sorted(_BINARY.items(), key=lambda item: -item[1]):
            if value % 1024**power == 0:
                return f"{value // 1024**power}{suffix}"
    if value:
        for suffix, power in sorted(_DECIMAL.items(), key=lambda item: -item[1]):
            if value % 10**power == 0:
                return f"{value // 10**power}{suffix}"
    return str(value)


def _domain(vm: dict[str, Any]) -> dict[str, Any]:
    template = vm.setdefault("spec", {}).setdefault("template", {})
    domain: dict[str, Any] = template.setdefault("spec", {}).setdefault("domain", {})
    return domain


def _template_spec(vm: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = vm.setdefault("spec", {}).setdefault("template", {}).setdefault("spec", {})
    return spec


def _limit(vm: dict[str, Any], name: str) -> tuple[int, str]:
    value = ((_domain(vm).get("resources") or {}).get("limits") or {}).get(name)
    return parse_quantity(value) if value is not None else (0, "DecimalSI")


def _generate_mac() -> str:
    """network.GenerateLAAMacAddress: random, locally administered, unicast."""
    octets = [random.randrange(256) for _ in range(6)]
    octets[0] = (octets[0] | 0x02) & 0xFE
    return ":".join(f"{o:02x}" for o in octets)


class VmWebhooks:
    def __init__(self, state: State) -> None:
        self.state = state

    def mutate(
        self, operation: str, resource_type: ResourceType, new: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        if resource_type.storage_key != VMS or deleting(new):
            return
        try:
            if operation == "CREATE" or (old is not None and _overcommit_changed(old, new)):
                _patch_resource_overcommit(new)
            _patch_default_cpu(new)
            if old is not None and _starts(old, new):
                _patch_run_strategy(new)
            self._patch_affinity(new)
            _patch_grace_period(new)
            _patch_mac_addresses(new)
        except HarvesterError as error:
            raise _denied("mutator", error) from error

    def validate(
        self, operation: str, resource_type: ResourceType, new: dict[str, Any] | None, old: dict[str, Any] | None
    ) -> None:
        if resource_type.storage_key != VMS or new is None or operation == "DELETE":
            return
        try:
            _check_grace_period(new)
            _check_empty_memory(new)
            interfaces = _domain(new).get("devices", {}).get("interfaces")
            if operation == "CREATE" or old is None or _domain(old).get("devices", {}).get("interfaces") != interfaces:
                self._check_duplicate_macs(new)
        except HarvesterError as error:
            raise _denied("validator", error) from error

    # --- mutator (mutator.go) ------------------------------------------------------------------------------------

    def _patch_affinity(self, vm: dict[str, Any]) -> None:
        """patchAffinity: drop required terms keyed `network.harvesterhci.io*` (and cpumanager), then require
        `network.harvesterhci.io/<cn> In [true]` in every term for each multus network's NAD (looked up in the VM's
        namespace for a bare name; a missing NAD is an error); an empty result is `affinity: {}`."""
        spec = _template_spec(vm)
        affinity = json.loads(json.dumps(spec.get("affinity") or {}))
        node_affinity = affinity.setdefault("nodeAffinity", {})
        required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
        terms = []
        for term in required.get("nodeSelectorTerms") or []:
            kept = [
                e
                for e in term.get("matchExpressions") or []
                if not e.get("key", "").startswith(nc.GROUP) and e.get("key") != "cpumanager"
            ]
            if kept:
                terms.append({**term, "matchExpressions": kept})
        for network in spec.get("networks") or []:
            requirement = self._network_requirement(meta(vm).get("namespace") or "default", network)
            if requirement is None:
                continue
            for term in terms:
                if requirement not in term["matchExpressions"]:
                    term["matchExpressions"].append(requirement)
            if not terms:
                terms = [{"matchExpressions": [requirement]}]
        required["nodeSelectorTerms"] = terms
        if not terms:
            if not node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution"):
                del affinity["nodeAffinity"]
            else:
                del node_affinity["requiredDuringSchedulingIgnoredDuringExecution"]
        spec["affinity"] = affinity

    def _network_requirement(self, namespace: str, network: dict[str, Any]) -> dict[str, Any] | None:
        """getNodeSelectorRequirementFromNetwork."""
        name = (network.get("multus") or {}).get("networkName") or ""
        if not name:
            return None
        nad = self._nad(name, namespace)
        cluster_network = labels_of(nad).get(nc.LABEL_CLUSTER_NETWORK)
        if cluster_network is None:
            return None
        return {"key": nc.node_cluster_network_label(cluster_network), "operator": "In", "values": ["true"]}

    def _nad(self, network_name: str, default_namespace: str) -> dict[str, Any]:
        words = network_name.split("/")
        if len(words) > 2:
            raise HarvesterError(f"invalid network name {network_name}")
        namespace, name = words if len(words) == 2 else (default_namespace, words[0])
        nad = self.state.get(NADS, name, namespace)
        if nad is None:
            raise HarvesterError(f'network-attachment-definitions.k8s.cni.cncf.io "{name}" not found')
        return nad

    # --- validator (validator.go) -------------------------------------------------------------------------------

    def _check_duplicate_macs(self, vm: dict[str, Any]) -> None:
        """checkForDuplicateMacAddrs via getVMInterfaceInfo: every multus network's NAD must exist (a bare name is
        looked up in `default`); a MAC another VM uses on the same cluster network is refused."""
        mine = self._macs_by_cluster_network(vm)
        if not mine:
            return
        name = f"{meta(vm).get('namespace')}/{meta(vm)['name']}"
        for other in self.state.objects(VMS):
            if f"{meta(other).get('namespace')}/{meta(other)['name']}" == name:
                continue
            try:
                theirs = self._macs_by_cluster_network(other)
            except HarvesterError:
                continue
            for cluster_network, macs in mine.items():
                if macs & theirs.get(cluster_network, set()):
                    raise HarvesterError(
                        f"duplicate mac address present for vm {meta(vm)['name']} for cluster network {cluster_network}"
                    )

    def _macs_by_cluster_network(self, vm: dict[str, Any]) -> dict[str, set[str]]:
        spec = _template_spec(vm)
        network_cluster = {}
        for network in spec.get("networks") or []:
            network_name = (network.get("multus") or {}).get("networkName") or ""
            if network_name:
                nad = self._nad(network_name, "default")
                network_cluster[network.get("name")] = labels_of(nad).get(nc.LABEL_CLUSTER_NETWORK, "")
        found: dict[str, set[str]] = {}
        for interface in (_domain(vm).get("devices") or {}).get("interfaces") or []:
            if interface.get("macAddress"):
                cluster_network = network_cluster.get(interface.get("name"), "")
                found.setdefault(cluster_network, set()).add(interface["macAddress"].lower())
        return found


def _overcommit_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """needUpdateResourceOvercommit (host devices aside)."""
    for name in ("cpu", "memory"):
        new_value, old_value = _limit(new, name)[0], _limit(old, name)[0]
        if new_value and new_value != old_value:
            return True
    reserved = annotations_of(new).get(ANNOTATION_RESERVED_MEMORY) != annotations_of(old).get(
        ANNOTATION_RESERVED_MEMORY
    )
    return reserved or _dedicated(old) != _dedicated(new)


def _dedicated(vm: dict[str, Any]) -> bool:
    return bool((_domain(vm).get("cpu") or {}).get("dedicatedCpuPlacement"))


def _patch_resource_overcommit(vm: dict[str, Any]) -> None:
    """patchResourceOvercommit and generateMemoryPatch: requests are limits / overcommit (memory cut to MiB);
    guest memory is the limit (the overhead ratio setting is set, so no 100Mi reserve unless the reservedMemory
    annotation asks); maxSockets follows sockets."""
    domain = _domain(vm)
    resources = domain.setdefault("resources", {})
    requests_missing = not resources.get("requests")
    requests: dict[str, str] = {}
    cpu, cpu_format = _limit(vm, "cpu")
    if cpu:
        milli = cpu if _dedicated(vm) else cpu * 100 // CPU_OVERCOMMIT
        requests["cpu"] = format_quantity(milli, cpu_format)
    memory, memory_format = _limit(vm, "memory")
    if memory:
        value = memory // 1000
        request = value * 100 // MEMORY_OVERCOMMIT // MIB * MIB
        guest = value
        reserved_text = annotations_of(vm).get(ANNOTATION_RESERVED_MEMORY, "")
        if reserved_text:
            reserved = parse_quantity(reserved_text)[0] // 1000
            if reserved >= value:
                raise HarvesterError(f"reservedMemory can't be equal or greater than limits.memory  {reserved} {value}")
            guest -= reserved
        if guest < 10 * MIB:
            raise HarvesterError(
                f"guest memory is under the minimum requirement (10 Mi), original: {value}, final: {guest}"
            )
        requests["memory"] = format_quantity((value if _dedicated(vm) else request) * 1000, memory_format)
        guest_text = format_quantity(guest * 1000, memory_format)
        memory_spec = domain.get("memory")
        domain["memory"] = {**(memory_spec or {}), "guest": guest_text}
        if domain.get("cpu") is None:
            raise PatchNotApplicable(
                "replace operation does not apply: doc is missing path: /spec/template/spec/domain/cpu/maxSockets: "
                "missing value"
            )
        domain["cpu"]["maxSockets"] = domain["cpu"].get("sockets") or 1
    if requests:
        resources["requests"] = (
            dict(sorted(requests.items())) if requests_missing else {**resources["requests"], **requests}
        )


def _run_strategy(vm: dict[str, Any]) -> str:
    """KubeVirt's VirtualMachine.RunStrategy(): `running` wins, then `runStrategy`, else Halted."""
    spec = vm.get("spec") or {}
    if spec.get("running") is not None and spec.get("runStrategy") is not None:
        raise HarvesterError("running and runstrategy are mutually exclusive")
    if spec.get("running") is not None:
        return "Always" if spec["running"] else "Halted"
    return str(spec.get("runStrategy") or "Halted")


def _starts(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """needUpdateRunStrategy: not for `spec.running` users; a Halted VM given another run strategy."""
    if (new.get("spec") or {}).get("running") is not None:
        return False
    return _run_strategy(old) == "Halted" and _run_strategy(new) != "Halted"


def _patch_run_strategy(vm: dict[str, Any]) -> None:
    """patchRunStrategy (the kubevirt#7295 workaround): the strategy becomes the vmRunStrategy annotation's, else
    RerunOnFailure, whatever the update asked for."""
    vm["spec"]["runStrategy"] = annotations_of(vm).get(ANNOTATION_RUN_STRATEGY) or "RerunOnFailure"


def _patch_default_cpu(vm: dict[str, Any]) -> None:
    """patchDefaultCPU: no cpu -> 1 core, 1 socket, 1 thread; zeros -> 1."""
    domain = _domain(vm)
    cpu = domain.get("cpu")
    if cpu is None:
        domain["cpu"] = {"cores": 1, "sockets": 1, "threads": 1}
        return
    for key in ("cores", "sockets", "threads"):
        if not cpu.get(key):
            cpu[key] = 1


def _patch_grace_period(vm: dict[str, Any]) -> None:
    """patchTerminationGracePeriodSeconds: the setting's value when unset."""
    _template_spec(vm).setdefault("terminationGracePeriodSeconds", GRACE_PERIOD_SECONDS)


def _patch_mac_addresses(vm: dict[str, Any]) -> None:
    """patchInterfaceMacAddress: an interface without a MAC (and none recorded in the annotation) gets a random one."""
    try:
        recorded = json.loads(annotations_of(vm).get(ANNOTATION_MAC_ADDRESS) or "{}")
    except ValueError:
        recorded = {}
    for interface in (_domain(vm).get("devices") or {}).get("interfaces") or []:
        if not interface.get("macAddress") and interface.get("name") not in recorded:
            interface["macAddress"] = _generate_mac()


def _check_empty_memory(vm: dict[str, Any]) -> None:
    """checkEmptyMemory."""
    guest = (_domain(vm).get("memory") or {}).get("guest")
    guest_value = parse_quantity(guest)[0] if guest is not None else 0
    if not guest_value and not _limit(vm, "memory")[0]:
        raise InvalidVm("either memory.guest or resources.limits.memory must be set", "spec.template.spec.domain")


def _check_grace_period(vm: dict[str, Any]) -> None:
    """checkTerminationGracePeriodSeconds."""
    seconds = _template_spec(vm).get("terminationGracePeriodSeconds")
    if isinstance(seconds, int) and seconds < 0:
        raise InvalidVm(
            "Termination grace period can't be negative", "spec.Template.Spec.TerminationGracePeriodSeconds"
        )


def _denied(kind: str, error: HarvesterError) -> ApiError:
    """The API server's wording of Harvester's webhook answer (`validator.harvesterhci.io`): InvalidError results
    keep their 422 and cause; other errors are 500 InternalError."""
    if isinstance(error, PatchNotApplicable):
        return ApiError(
            500, "InternalError", f"Internal error occurred: {error}", {"causes": [{"message": str(error)}]}
        )
    prefix = f'admission webhook "{kind}.harvesterhci.io" denied the request: '
    if isinstance(error, InvalidVm):
        cause = {"reason": "FieldValueInvalid", "message": str(error), "field": error.field}
        return ApiError(422, "Invalid", prefix + str(error), {"causes": [cause]})
    return ApiError(500, "InternalError", prefix + str(error))
