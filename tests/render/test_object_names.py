"""Object keys, file names and apply order, for known and unknown kinds; PlanIssue and PlanError texts."""

from __future__ import annotations

from harvester_network.model import PlanError, PlanIssue
from harvester_network.render import object_file_name, object_key
from harvester_network.render.objects import in_apply_order


def obj(kind: str, name: str, namespace: str | None = None) -> dict[str, object]:
    metadata = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    return {"kind": kind, "metadata": metadata}


def test_object_file_names_and_keys() -> None:
    assert object_file_name(obj("ClusterNetwork", "vlan")) == "10-clusternetwork-vlan.yaml"
    assert object_file_name(obj("NetworkAttachmentDefinition", "v1", "ns")) == (
        "30-networkattachmentdefinition-ns-v1.yaml"
    )
    assert object_file_name(obj("Widget", "w", "ns")) == "99-widget-ns-w.yaml"
    assert object_file_name(obj("CustomResourceDefinition", "a.b")) == "00-customresourcedefinition-a.b.yaml"
    assert [object_key(obj("ClusterNetwork", "vlan")), object_key(obj("ConfigMap", "c", "ns"))] == [
        "ClusterNetwork/vlan",
        "ConfigMap/ns/c",
    ]


# The apply order (what an object refers to comes first) and each kind's rank, the prefix of `hvnet render -o`'s
# file names: users' directories and scripts see these names, so they change only on purpose.
APPLY_ORDER = [
    ("CustomResourceDefinition", "00"),
    ("Namespace", "01"),
    ("ServiceAccount", "02"),
    ("ClusterRole", "03"),
    ("ClusterRoleBinding", "04"),
    ("ValidatingAdmissionPolicy", "05"),
    ("ValidatingAdmissionPolicyBinding", "06"),
    ("DaemonSet", "07"),
    ("ClusterNetwork", "10"),
    ("VlanConfig", "20"),
    ("NetworkAttachmentDefinition", "30"),
    ("IPPool", "40"),
    ("ConfigMap", "41"),
    ("Deployment", "42"),
    ("Secret", "45"),
    ("VirtualMachine", "50"),
    ("Service", "60"),
]


def test_every_kind_in_apply_order_with_its_file_rank() -> None:
    shuffled = [obj(kind, "x") for kind, _ in reversed(APPLY_ORDER)]
    assert [o["kind"] for o in in_apply_order(shuffled)] == [kind for kind, _ in APPLY_ORDER]
    assert [object_file_name(obj(kind, "x")) for kind, _ in APPLY_ORDER] == [
        f"{rank}-{kind.lower()}-x.yaml" for kind, rank in APPLY_ORDER
    ]


def test_unknown_kinds_go_last_in_the_order_given() -> None:
    objects = [obj("Widget", "w1"), obj("VirtualMachine", "vm"), obj("Gadget", "g"), obj("Namespace", "n")]
    assert [o["metadata"]["name"] for o in in_apply_order(objects)] == ["n", "vm", "w1", "g"]  # type: ignore[index]


def test_plan_issue_and_error_texts() -> None:
    assert str(PlanIssue("networks[0].vlan", "is bad", "fix it")) == "networks[0].vlan: is bad (fix: fix it)"
    assert str(PlanIssue("", "is empty")) == "<plan>: is empty"
    warning = PlanIssue("a", "odd", "check", "warning")
    error = PlanError([PlanIssue("b", "wrong", "right"), warning], "plan.yaml")
    assert (error.issues, error.warnings, error.source) == ([PlanIssue("b", "wrong", "right")], [warning], "plan.yaml")
    assert str(error) == "plan.yaml is invalid (1 error(s)):\n  - b: wrong (fix: right)"
