"""vm-dhcp-controller's IPPool webhooks (harvester/vm-dhcp-controller at c3042d6, pkg/webhook/ippool), with the
webhook's default service CIDR (cmd/webhook/root.go: 10.53.0.0/16). IPv4 only, as the IPPool is."""

from __future__ import annotations

import contextlib
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network
from typing import Any

from tests.k8s_api.harvester.netconf import HarvesterError
from tests.k8s_api.harvester.state import IPPOOLS, NADS, State, deleting, full_name, meta
from tests.k8s_api.harvester.webhooks import denied
from tests.k8s_api.resources import ResourceType

SERVICE_CIDR = ip_network("10.53.0.0/16")
VM_NETWORK_CONFIGS = ("network.harvesterhci.io", "virtualmachinenetworkconfigs")
WEBHOOK = "harvester-vm-dhcp-controller-webhook"


def _config(pool: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = pool.setdefault("spec", {}).setdefault("ipv4Config", {})
    return config


def _network(cidr: str) -> IPv4Network:
    """util.LoadCIDR (net.ParseCIDR: host bits may be set)."""
    try:
        network = ip_network(cidr, strict=False)
    except ValueError as error:
        raise HarvesterError(f"invalid CIDR address: {cidr}") from error
    if not isinstance(network, IPv4Network):
        raise HarvesterError(f"invalid CIDR address: {cidr}")
    return network


def _address(text: str) -> IPv4Address | None:
    """netip.ParseAddr, '' as no address (util.LoadPool)."""
    if not text:
        return None
    try:
        address = ip_address(text)
    except ValueError as error:
        raise HarvesterError(f'ParseAddr("{text}"): unable to parse IP') from error
    return address if isinstance(address, IPv4Address) else None


class IpPoolWebhooks:
    def __init__(self, state: State) -> None:
        self.state = state

    def mutate(
        self, operation: str, resource_type: ResourceType, new: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        if resource_type.storage_key != IPPOOLS or operation != "CREATE":
            return
        try:
            _ensure_server_ip(new)
            _ensure_pool_range(new)
        except HarvesterError as error:
            raise denied("mutator", _create_error(new, error), WEBHOOK) from error

    def validate(
        self, operation: str, resource_type: ResourceType, new: dict[str, Any] | None, old: dict[str, Any] | None
    ) -> None:
        """Validator.Create/Update; Delete -> checkVmNetCfgs."""
        if resource_type.storage_key != IPPOOLS:
            return
        if operation == "DELETE" and old is not None:
            self._check_vm_network_configs(old)
            return
        if new is None or deleting(new):
            return
        verb = "create" if operation == "CREATE" else "update"
        try:
            config = _config(new)
            network = _network(config.get("cidr", ""))
            pool = config.get("pool") or {}
            start, end = _address(pool.get("start", "")), _address(pool.get("end", ""))
            server, router = _address(config.get("serverIP", "")), _address(config.get("router", ""))
            self._check_nad(str((new.get("spec") or {}).get("networkName", "")))
            if network.overlaps(SERVICE_CIDR):  # checkCIDR
                raise HarvesterError(f"cidr {config['cidr']} overlaps cluster service cidr {SERVICE_CIDR}")
            for word, address in (("start", start), ("end", end), ("server", server)):
                _check_in_subnet(word, address, network)  # checkPoolRange, checkServerIP
            if server is not None and server == router:
                raise HarvesterError(f"server ip {server} is the same as router ip")
            _check_in_subnet("router", router, network)  # checkRouter
        except HarvesterError as error:
            namespace, name = meta(new).get("namespace"), meta(new)["name"]
            message = f"cannot {verb} IPPool {namespace}/{name} because {error}"
            raise denied("validator", message, WEBHOOK) from error

    def _check_vm_network_configs(self, pool: dict[str, Any]) -> None:
        """checkVmNetCfgs via VmnetcfgGetter.WhoUseIPPool: VirtualMachineNetworkConfigs with a network config named
        `<pool namespace>/<pool name>` (the index is by network name; Harvester names a pool like its network)."""
        key = full_name(pool)
        users = [
            full_name(config)
            for config in self.state.objects(VM_NETWORK_CONFIGS)
            if any(c.get("networkName") == key for c in (config.get("spec") or {}).get("networkConfigs") or [])
        ]
        if users:
            reason = (
                f"it's still used by VirtualMachineNetworkConfig(s) {', '.join(users)}, which must be removed at first"
            )
            raise denied("validator", f"cannot delete IPPool {key} because {reason}", WEBHOOK)

    def _check_nad(self, network_name: str) -> None:
        """checkNAD: `<ns>/<name>` (kv.RSplit; no namespace means `default`) must exist."""
        namespace, _, name = network_name.rpartition("/")
        if self.state.get(NADS, name, namespace or "default") is None:
            raise HarvesterError(f'network-attachment-definitions.k8s.cni.cncf.io "{name}" not found')


def _check_in_subnet(word: str, address: IPv4Address | None, network: IPv4Network) -> None:
    if address is None:
        return
    if address not in network:
        raise HarvesterError(f"{word} ip {address} is not within subnet")
    if address == network.network_address:
        raise HarvesterError(f"{word} ip {address} is the same as network ip")
    if address == network.broadcast_address:
        shown = network.broadcast_address
        raise HarvesterError(f"{word} ip {shown} is the same as broadcast ip")


def _ensure_server_ip(pool: dict[str, Any]) -> None:
    """Mutator.Create -> ensureServerIP: without a server IP, the first address after the network address that is
    neither the router nor excluded."""
    config = _config(pool)
    network = _network(config.get("cidr", ""))
    if _address(config.get("serverIP", "")) is not None:
        return
    masked = {_address(a) for a in (config.get("pool") or {}).get("exclude") or []}
    with contextlib.suppress(HarvesterError):  # an unparsable router is ignored here (the validator refuses it)
        masked.add(_address(config.get("router", "")))
    for address in network.hosts() if network.prefixlen < 31 else []:
        if address not in masked:
            config["serverIP"] = str(address)
            return
    raise HarvesterError("fail to assign ip for dhcp server")


def _ensure_pool_range(pool: dict[str, Any]) -> None:
    """Mutator.Create -> ensurePoolRange: a missing start is the first address after the network address, a missing
    end the last before the broadcast address; start after end is refused."""
    config = _config(pool)
    network = _network(config.get("cidr", ""))
    spec_pool = config.setdefault("pool", {})
    start = _address(spec_pool.get("start", "")) or network.network_address + 1
    end = _address(spec_pool.get("end", "")) or network.broadcast_address - 1
    if start > end:
        raise HarvesterError("invalid pool range")
    spec_pool["start"], spec_pool["end"] = str(start), str(end)


def _create_error(pool: dict[str, Any], error: HarvesterError) -> str:
    return f"cannot create IPPool {meta(pool).get('namespace')}/{meta(pool)['name']} because {error}"
