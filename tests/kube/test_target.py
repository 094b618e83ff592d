"""KubeTarget: plain data naming a cluster; kubeconfig contents never shown; bad kubeconfigs are KubeErrors."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from harvester_network.kube import KubeError, KubeTarget
from harvester_network.kube.errors import status_error

CONTENTS = """apiVersion: v1
kind: Config
clusters:
  - {name: c, cluster: {server: "https://10.0.0.1:6443"}}
  - {name: d, cluster: {server: "https://10.0.0.2:6443"}}
users: [{name: u, user: {token: s3cret-token}}, {name: v, user: {token: other-token}}]
contexts:
  - {name: lab, context: {cluster: c, user: u}}
  - {name: other, context: {cluster: d, user: v}}
current-context: lab
"""


def test_contents_and_paths_are_told_apart() -> None:
    assert KubeTarget.from_kubeconfig(CONTENTS) == KubeTarget(kubeconfig=CONTENTS)
    assert KubeTarget.from_kubeconfig('{"apiVersion": "v1"}').kubeconfig == '{"apiVersion": "v1"}'
    assert KubeTarget.from_kubeconfig("~/.kube/lab", "lab") == KubeTarget(kubeconfig_path="~/.kube/lab", context="lab")


def test_contents_never_show_in_repr_or_descriptions() -> None:
    target = KubeTarget.from_kubeconfig(CONTENTS, "other")
    assert "s3cret" not in repr(target)
    assert target.describe() == "context 'other' of the given kubeconfig contents"


def test_a_target_is_plain_data() -> None:
    target = KubeTarget.from_kubeconfig(CONTENTS, "lab")
    assert pickle.loads(pickle.dumps(target)) == target
    assert hash(target) == hash(KubeTarget.from_kubeconfig(CONTENTS, "lab"))


def test_context_selects_the_cluster_and_user() -> None:
    for context, host, token in (("lab", "10.0.0.1", "s3cret-token"), ("other", "10.0.0.2", "other-token")):
        configuration = KubeTarget.from_kubeconfig(CONTENTS, context).configuration()
        assert configuration.host == f"https://{host}:6443"
        assert configuration.auth_settings()["BearerToken"]["value"] == f"Bearer {token}"


@pytest.mark.parametrize(
    ("kubeconfig", "context", "message"),
    [
        (CONTENTS, "missing", "Expected object with name missing in kube-config/contexts list"),
        ("apiVersion: v1\nkind: [", None, "is not valid YAML"),
        ("- a\n- b\n", None, "is not a kubeconfig (a YAML mapping"),
    ],
)
def test_bad_kubeconfigs_are_kube_errors(kubeconfig: str, context: str | None, message: str) -> None:
    with pytest.raises(KubeError) as caught:
        KubeTarget.from_kubeconfig(kubeconfig, context).configuration()
    assert caught.value.reason == "InvalidKubeconfig"
    assert message in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_a_missing_kubeconfig_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(KubeError) as caught:
        KubeTarget.from_kubeconfig(str(missing)).configuration()
    assert str(caught.value).startswith(f"load kubeconfig {missing}: ")


def test_without_a_kubeconfig_the_default_file_or_else_in_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert KubeTarget.from_kubeconfig(None) == KubeTarget(in_cluster=True)
    assert KubeTarget(in_cluster=True).describe() == "the in-cluster service account"
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube/config").write_text(CONTENTS)
    assert KubeTarget.from_kubeconfig(None, "lab") == KubeTarget(context="lab")
    assert KubeTarget.from_kubeconfig(None, "lab").configuration().host == "https://10.0.0.1:6443"


def test_status_errors_keep_the_api_reason_and_the_causes_the_message_lacks() -> None:
    body = (
        '{"kind":"Status","reason":"Conflict","message":"Apply failed with 1 conflict",'
        '"details":{"causes":[{"field":".spec.config","message":"conflict with \\"kubectl\\""}]}}'
    )
    error = status_error("apply", "NetworkAttachmentDefinition default/x", 409, body)
    assert str(error) == (
        "apply NetworkAttachmentDefinition default/x: Apply failed with 1 conflict "
        '[.spec.config: conflict with "kubectl"] (Conflict, HTTP 409)'
    )
    assert str(status_error("get", "Node n", 503, b"upstream down")) == "get Node n: upstream down (Error, HTTP 503)"
    assert status_error("get", "Node n", 404, None).not_found
