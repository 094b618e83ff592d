"""Kernel and Harvester facts every layer shares, each defined once.

Plain values only (no imports beyond `typing`), so the agent and the CLI import them without pydantic.
The numbers are network-controller-harvester's (pkg/utils/consts.go, pkg/utils/mtu.go) and Linux's
(include/uapi/linux/if_bonding.h, IEEE 802.1Q).
"""

from typing import Literal, get_args

# The kernel's bond modes, in the order of their numbers in if_bonding.h (netlink reports the number).
BondMode = Literal["balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"]
BOND_MODES: tuple[BondMode, ...] = get_args(BondMode)
DEFAULT_BOND_MODE: BondMode = "active-backup"  # Harvester's default when bondOptions.mode is empty
DEFAULT_MIIMON = 100  # ms; what Harvester's miimon -1 (the kernel's default link monitoring) means

DEFAULT_PVID = 1  # every bridge port's PVID: VLAN 1 travels untagged
MAX_VID = 4094  # 4095 is reserved by 802.1Q

# `mtu: 0` (or no MTU) means DEFAULT_MTU, as in Harvester (utils.MTUDefaultTo): the agent sets 1500 on the
# bond, its NICs and the bridge. It never means "leave the NIC's MTU as it is".
DEFAULT_MTU = 1500
MIN_MTU = 576
MAX_MTU = 9000

MAX_PORT = 65535  # a TCP/UDP port number (a Service port, the agent's metrics address)

# hvnet's own agent defaults, shared by the agent, `hvnet agent` (which must start without importing the agent)
# and the agent's install manifest.
# Intent and teardown records survive agent (pod) restarts here, so a crash mid-change completes or rolls back.
AGENT_STATE_DIR = "/var/lib/hvnet"
AGENT_RESYNC_S = 300.0
