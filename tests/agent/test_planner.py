"""The pure planner on the host, no kernel: a `KernelState` and a desired `HostState` in, change summaries out.

Each row is one planning rule (as the CNI bridge plugin table-tests its VLAN trunk parsing); the lab-kernel
tests (test_netlink.py) keep what only a kernel can show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pytest

from harvester_network.agent.hoststate import BridgeState, HostState, UplinkState
from harvester_network.agent.netlink import Plan, plan_changes
from harvester_network.agent.netlink_apply import (
    CreateBond,
    DeleteLink,
    EnslaveNic,
    ReleaseNic,
    vlan_infos,
)
from harvester_network.agent.netlink_read import OWNER_LINK_GROUP, KernelState, LinkState, PortVlan, owner_alias

UNTAGGED_PVID = PortVlan(pvid=True, untagged=True)
TAGGED = PortVlan()


def link(name: str, kind: str = "", master: str | None = None, owner: str | None = None, **attrs: object) -> LinkState:
    fields: dict[str, object] = {"mtu": 1500, "txqlen": 1000, "up": True, "group": 0}
    fields |= attrs
    alias = owner_alias(owner) if owner else None
    return LinkState(index=0, name=name, kind=kind, master=master, alias=alias, **fields)  # type: ignore[arg-type]


def nic(name: str, master: str | None = None, **attrs: object) -> LinkState:
    return link(name, master=master, **attrs)


def bridge(cn: str, **attrs: object) -> LinkState:
    return link(f"{cn}-br", "bridge", owner=cn, **{"vlan_filtering": True, **attrs})


def bond(cn: str, **attrs: object) -> LinkState:
    fields = {"master": f"{cn}-br", "bond_mode": "active-backup", "miimon": 100, **attrs}
    return link(f"{cn}-bo", "bond", owner=cn, **fields)


def kernel(*links: LinkState, vlans: Mapping[str, Mapping[int, PortVlan]] | None = None) -> KernelState:
    indexed = {each.name: replace(each, index=i) for i, each in enumerate(links, start=1)}
    return KernelState(links=indexed, port_vlans=dict(vlans or {}))


def wanted(
    cn: str = "vlan",
    nics: tuple[str, ...] = ("eth1", "eth2"),
    vids: frozenset[int] = frozenset({100, 200}),
    **uplink: object,
) -> BridgeState:
    fields = {"bond_mode": "active-backup", "miimon": 100, "mtu": 1500, "txqlen": -1, **uplink}
    state = UplinkState(f"{cn}-bo", nics, **fields)  # type: ignore[arg-type]
    return BridgeState(cn, f"{cn}-br", state, vids, vlan_config=f"{cn}-vc")


def desired(*bridges: BridgeState) -> HostState:
    return HostState(bridges=bridges)


# The kernel as the agent leaves it for `wanted()`: nothing to do.
CONVERGED_LINKS = (bridge("vlan"), bond("vlan"), nic("eth1", "vlan-bo"), nic("eth2", "vlan-bo"), nic("eth3"))
CONVERGED_VLANS = {"vlan-bo": {1: UNTAGGED_PVID, 100: TAGGED, 200: TAGGED}}


def converged(*changed: LinkState, vlans: Mapping[str, Mapping[int, PortVlan]] | None = None) -> KernelState:
    """The converged kernel with some links replaced (by name) or added, and some ports' VLANs replaced."""
    links = {each.name: each for each in CONVERGED_LINKS} | {each.name: each for each in changed}
    return kernel(*links.values(), vlans={**CONVERGED_VLANS, **(vlans or {})})


def summaries(plan: Plan) -> list[str]:
    return [change.summary() for change in plan.changes]


FRESH_BUILD = [
    "create bridge vlan-br (VLAN filtering)",
    "create bond vlan-bo (active-backup, miimon 100) as a port of vlan-br",
    "enslave eth1 to vlan-bo",
    "enslave eth2 to vlan-bo",
    "add tagged VIDs 100,200 to vlan-bo",
]


@pytest.mark.parametrize(
    ("current", "want", "expected"),
    [
        pytest.param(converged(), wanted(), [], id="converged: no change, no write"),
        pytest.param(kernel(nic("eth1"), nic("eth2")), wanted(), FRESH_BUILD, id="nothing yet: build in order"),
        pytest.param(
            kernel(nic("eth1"), nic("eth2")),
            wanted(vids=frozenset({0, 1, 2, 3, 4, 10, 4094, 4095})),
            [*FRESH_BUILD[:-1], "add tagged VIDs 2-4,10,4094 to vlan-bo"],
            id="VIDs 0, 1 and beyond 4094 are never trunked; neighbours fold into ranges",
        ),
        pytest.param(
            converged(bridge("vlan", vlan_filtering=False)),
            wanted(),
            ["turn on VLAN filtering on bridge vlan-br"],
            id="bridge without VLAN filtering",
        ),
        pytest.param(converged(bridge("vlan", up=False)), wanted(), ["set vlan-br up"], id="bridge down"),
        pytest.param(converged(bond("vlan", up=False)), wanted(), ["set vlan-bo up"], id="bond down"),
        pytest.param(converged(nic("eth2", "vlan-bo", up=False)), wanted(), ["set eth2 up"], id="uplink NIC down"),
        pytest.param(
            converged(bridge("vlan", mtu=9000)), wanted(), ["set MTU of vlan-br to 1500"], id="bridge MTU differs"
        ),
        pytest.param(
            converged(bond("vlan", mtu=9000)),
            wanted(),
            ["set MTU of vlan-bo to 1500"],
            id="bond MTU differs: the NICs follow the bond by themselves",
        ),
        pytest.param(
            converged(nic("eth1", "vlan-bo", mtu=9000)),
            wanted(),
            ["set MTU of eth1 to 1500"],
            id="NIC MTU changed behind the bond's back",
        ),
        pytest.param(
            converged(bridge("vlan", mtu=9000), bond("vlan", mtu=9000), nic("eth1", "vlan-bo", mtu=9000)),
            wanted(mtu=0),
            [],
            id="UplinkState mtu 0 sets no MTU",
        ),
        pytest.param(
            converged(bond("vlan", miimon=0)), wanted(), ["set miimon of bond vlan-bo to 100"], id="miimon differs"
        ),
        pytest.param(converged(bond("vlan", txqlen=5)), wanted(txqlen=-1), [], id="txqlen -1 leaves it"),
        pytest.param(
            converged(bond("vlan", txqlen=5)),
            wanted(txqlen=0),
            ["set txqueuelen of vlan-bo to 0"],
            id="txqlen 0 is a value",
        ),
        pytest.param(converged(bond("vlan", txqlen=2000)), wanted(txqlen=2000), [], id="txqlen already right"),
        pytest.param(
            converged(bond("vlan", bond_mode="balance-rr")),
            wanted(),
            [
                "delete bond vlan-bo",
                "create bond vlan-bo (active-backup, miimon 100) as a port of vlan-br",
                "enslave eth1 to vlan-bo",
                "enslave eth2 to vlan-bo",
                "add tagged VIDs 100,200 to vlan-bo",
            ],
            id="bond mode changes only without NICs: delete, create, enslave again",
        ),
        pytest.param(
            converged(bond("vlan", master=None)),
            wanted(),
            ["make vlan-bo a port of vlan-br", "add tagged VIDs 100,200 to vlan-bo"],
            id="bond not a bridge port: its VIDs go on anew",
        ),
        pytest.param(
            converged(vlans={"vlan-bo": {1: UNTAGGED_PVID, 100: TAGGED, 300: TAGGED, 301: TAGGED, 303: TAGGED}}),
            wanted(),
            ["remove VIDs 300-301,303 from vlan-bo", "add tagged VIDs 200 to vlan-bo"],
            id="stale VIDs go, missing ones come; PVID 1 stays",
        ),
        pytest.param(
            converged(vlans={"vlan-bo": {1: UNTAGGED_PVID, 100: UNTAGGED_PVID, 200: TAGGED}}),
            wanted(),
            ["add tagged VIDs 100 to vlan-bo"],
            id="a wanted VID that is not tagged is added tagged",
        ),
        pytest.param(
            converged(nic("eth3", "vlan-bo")),
            wanted(),
            ["release eth3 from vlan-bo"],
            id="a NIC the uplink no longer lists is released",
        ),
        pytest.param(
            converged(nic("vm1", "vlan-br"), vlans={"vm1": {1: PortVlan(untagged=True), 100: UNTAGGED_PVID}}),
            wanted(),
            ["remove VLAN 1 from vm1 (port of vlan-br)"],
            id="VM port on VLAN 100 keeps no VLAN 1",
        ),
        pytest.param(
            converged(nic("vm1", "vlan-br"), vlans={"vm1": {1: UNTAGGED_PVID}}),
            wanted(),
            [],
            id="VM port whose PVID is 1 keeps it",
        ),
        pytest.param(
            converged(nic("vm1", "vlan-br"), vlans={"vm1": {100: UNTAGGED_PVID}}),
            wanted(),
            [],
            id="VM port already pruned",
        ),
        pytest.param(
            converged(link("vlan-br", "bridge", vlan_filtering=True, group=OWNER_LINK_GROUP)),
            wanted(),
            ["set ifalias hvnet:vlan on vlan-br"],
            id="a link the agent made but could not name yet is claimed",
        ),
        pytest.param(
            converged(bridge("old"), bond("old"), nic("eth3", "old-bo")),
            wanted(),
            ["release eth3 from old-bo", "delete bond old-bo", "delete bridge old-br"],
            id="a cluster network no longer wanted is torn down, bond first",
        ),
        pytest.param(
            kernel(bridge("old"), bond("old"), nic("eth1", "old-bo"), nic("eth2")),
            wanted(),
            ["release eth1 from old-bo", "delete bond old-bo", "delete bridge old-br", *FRESH_BUILD],
            id="a NIC moves between cluster networks: released and deleted before the build",
        ),
    ],
)
def test_plan_changes(current: KernelState, want: BridgeState, expected: list[str]) -> None:
    plan = plan_changes(desired(want), current)
    assert (summaries(plan), plan.errors) == (expected, [])


def test_a_nic_an_unwanted_cluster_network_still_holds_is_released_by_the_builder_first() -> None:
    current = kernel(bridge("vlan"), bond("vlan"), nic("eth1", "vlan-bo"), nic("eth2", "lost-bo"), bond("lost"))
    plan = plan_changes(desired(wanted()), current)
    assert summaries(plan)[:2] == ["release eth2 from lost-bo", "delete bond lost-bo"]
    assert summaries(plan)[2:] == ["enslave eth2 to vlan-bo", "add tagged VIDs 100,200 to vlan-bo"]


ERRORS = [
    (kernel(nic("eth1")), "NIC eth2 does not exist; list a NIC this node has", []),
    (
        kernel(nic("eth1"), nic("eth2", "br0"), link("br0", "bridge")),
        "enslave eth2 to vlan-bo: eth2 is already enslaved to br0 (not owned by hvnet); release it or list another NIC",
        [],
    ),
    (
        kernel(nic("eth1"), nic("eth2"), link("vlan-br", "bridge")),
        "vlan-br exists and is not owned by hvnet (no 'hvnet:' ifalias); rename or delete it",
        [],
    ),
    (
        kernel(nic("eth1"), nic("eth2"), link("vlan-bo", "bridge", owner="vlan")),
        "vlan-bo is a bridge, not a bond; delete it and hvnet makes the bond",
        [],
    ),
    (
        kernel(nic("eth1"), nic("eth2"), link("vlan-br", owner="vlan")),
        "vlan-br is a NIC, not a bridge; delete it and hvnet makes the bridge",
        [],
    ),
    # Links of a cluster network that is not wanted here are torn down all the same.
    (
        kernel(nic("eth1"), nic("eth2"), link("vlan-br", "bridge", owner="other")),
        "vlan-br belongs to hvnet cluster network other; remove that cluster network's VlanConfig first",
        ["delete bridge vlan-br"],
    ),
    (
        kernel(nic("eth1"), link("eth2", "bond", owner="other")),
        "NIC eth2 is a link hvnet made itself (cluster network other), not a NIC; list a NIC instead",
        ["delete bond eth2"],
    ),
]


@pytest.mark.parametrize(("current", "message", "changes"), ERRORS, ids=[message for _, message, _ in ERRORS])
def test_a_cluster_network_that_cannot_be_set_up_is_left_as_it_is(
    current: KernelState, message: str, changes: list[str]
) -> None:
    plan = plan_changes(desired(wanted()), current)
    assert summaries(plan) == changes
    assert [(e.cluster_network, e.message, e.vlan_config) for e in plan.errors] == [("vlan", message, "vlan-vc")]


def test_all_problems_of_a_cluster_network_are_in_one_message() -> None:
    plan = plan_changes(desired(wanted(nics=("eth1", "eth8", "eth9"))), kernel(nic("eth1"), link("vlan-br")))
    assert [e.message for e in plan.errors] == [
        "vlan-br exists and is not owned by hvnet (no 'hvnet:' ifalias); rename or delete it; "
        "NIC eth8 does not exist; list a NIC this node has; NIC eth9 does not exist; list a NIC this node has"
    ]


def test_a_nic_another_wanted_cluster_network_uses_is_an_error() -> None:
    current = kernel(bridge("other"), bond("other"), nic("eth1", "other-bo"), nic("eth2"), nic("eth5"))
    plan = plan_changes(desired(wanted(), wanted("other", nics=("eth1", "eth5"), vids=frozenset())), current)
    assert [(e.cluster_network, e.message) for e in plan.errors] == [
        (
            "vlan",
            "enslave eth1 to vlan-bo: eth1 is already enslaved to other-bo (cluster network other uses it); "
            "list it in one VlanConfig only",
        )
    ]
    assert summaries(plan) == ["enslave eth5 to other-bo"]


def test_a_nic_a_wanted_cluster_network_dropped_moves_to_the_one_that_lists_it() -> None:
    current = kernel(bridge("other"), bond("other"), nic("eth1", "other-bo"), nic("eth2"), nic("eth5", "other-bo"))
    plan = plan_changes(desired(wanted(), wanted("other", nics=("eth5",), vids=frozenset())), current)
    assert plan.errors == []
    assert summaries(plan) == ["release eth1 from other-bo", *FRESH_BUILD]


def test_a_broken_cluster_network_still_prunes_vlan_1_from_its_vm_ports() -> None:
    current = converged(nic("eth2", "br0"), link("br0", "bridge"), nic("vm1", "vlan-br"), vlans={"vm1": {1: TAGGED}})
    plan = plan_changes(desired(wanted()), current)
    assert [e.message for e in plan.errors] == [
        "enslave eth2 to vlan-bo: eth2 is already enslaved to br0 (not owned by hvnet); release it or list another NIC"
    ]
    assert summaries(plan) == ["remove VLAN 1 from vm1 (port of vlan-br)"]


def test_the_changes_carry_the_values_they_apply() -> None:
    uplink = wanted(nics=("eth1",), mtu=9000, txqlen=2000, miimon=0, bond_mode="802.3ad")
    plan = plan_changes(desired(uplink), kernel(nic("eth1")))
    create = next(change for change in plan.changes if isinstance(change, CreateBond))
    assert create == CreateBond(
        "vlan",
        "vlan-bo",
        "cluster network vlan has no bond yet",
        bridge="vlan-br",
        mode="802.3ad",
        miimon=0,
        mtu=9000,
        txqlen=2000,
    )


def test_a_change_without_its_required_field_fails_where_it_is_built() -> None:
    for change_type in (EnslaveNic, ReleaseNic, DeleteLink, CreateBond):
        with pytest.raises(TypeError, match="required keyword-only argument"):
            change_type("vlan", "eth1", "why")


def test_vlan_infos_use_the_kernels_range_flags() -> None:
    assert vlan_infos([(5, 5), (10, 12)], flags=0x4) == [
        ("IFLA_BRIDGE_VLAN_INFO", {"flags": 0x4, "vid": 5}),
        ("IFLA_BRIDGE_VLAN_INFO", {"flags": 0x4 | 0x8, "vid": 10}),
        ("IFLA_BRIDGE_VLAN_INFO", {"flags": 0x4 | 0x10, "vid": 12}),
    ]


def test_a_nic_enslaved_straight_to_the_bridge_is_released_before_it_joins_the_bond() -> None:
    plan = plan_changes(desired(wanted()), converged(nic("eth2", "vlan-br")))
    assert summaries(plan) == ["release eth2 from vlan-br", "enslave eth2 to vlan-bo"]


def test_changes_say_why() -> None:
    plan = plan_changes(desired(wanted()), converged(bond("vlan", master=None, miimon=0)))
    assert [(type(c).__name__, c.reason) for c in plan.changes] == [
        ("SetMiimon", "miimon is 0, wanted 100"),
        ("AttachToBridge", "its master is none, wanted vlan-br"),
        ("AddVids", "networks of the cluster network use them"),
    ]
