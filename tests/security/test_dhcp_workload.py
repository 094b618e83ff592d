"""The dnsmasq DHCP workload with the least it needs: a pinned image (a digest when given), no API token,
all capabilities dropped but five, a read-only root, and dnsmasq itself running as `nobody`.

The last test runs the Deployment's own command as its container would (root whose capabilities are only
DHCP_CAPABILITIES, no new privileges) in a namespace of its own, and gets a lease from it there."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harvester_network.model import PlanError, load_plan
from harvester_network.model.plan import DEFAULT_DHCP_IMAGE, Network
from harvester_network.render.dhcp import DHCP_CAPABILITIES, DHCP_INTERFACE, LEASE_DIR, dhcp_objects

DIGEST = "sha256:" + "ab" * 32


def plan_data(image: str | None = None) -> dict[str, Any]:
    dhcp: dict[str, Any] = {"serverIP": "10.77.0.2", "range": {"start": "10.77.0.100", "end": "10.77.0.110"}}
    if image is not None:
        dhcp["image"] = image
    return {
        "clusterNetworks": [{"name": "vlan", "uplink": {"nics": ["eth1"]}}],
        "networks": [
            {
                "name": "vlan77",
                "clusterNetwork": "vlan",
                "vlan": 77,
                "route": {"mode": "manual", "cidr": "10.77.0.0/24", "gateway": "10.77.0.1"},
                "dhcpServer": dhcp,
            }
        ],
    }


def network(image: str | None = None) -> Network:
    return load_plan(plan_data(image), "test")[0].networks[0]


def deployment(net: Network) -> dict[str, Any]:
    [deployment] = [o for o in dhcp_objects(net) if o["kind"] == "Deployment"]
    return deployment


def test_the_default_image_is_pinned_to_a_release_not_latest() -> None:
    image = network().dhcp_server.image  # type: ignore[union-attr]
    assert image == DEFAULT_DHCP_IMAGE and not image.endswith(":latest") and re.search(r":v\d", image)


@pytest.mark.parametrize(
    "image", [f"quay.io/poseidon/dnsmasq@{DIGEST}", f"registry.local:5000/net/dnsmasq:2.90@{DIGEST}"]
)
def test_a_digest_is_accepted_and_rendered_as_given(image: str) -> None:
    [container] = deployment(network(image))["spec"]["template"]["spec"]["containers"]
    assert container["image"] == image


@pytest.mark.parametrize("image", ["dnsmasq@sha256:abc", "Quay.io/Dnsmasq", "dnsmasq:1 --privileged", ""])
def test_a_malformed_image_is_a_field_error(image: str) -> None:
    with pytest.raises(PlanError) as refused:
        load_plan(plan_data(image), "test")
    assert [i.path for i in refused.value.issues] == ["networks[0].dhcpServer.image"]


def test_the_pod_has_no_token_and_only_the_capabilities_dnsmasq_uses() -> None:
    pod = deployment(network())["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = pod["containers"]
    context = container["securityContext"]
    assert context["capabilities"] == {"drop": ["ALL"], "add": DHCP_CAPABILITIES}
    assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True
    assert "--user=nobody" in container["command"][-1]
    assert set(container["resources"]) == {"requests", "limits"}


# --- the command as its container runs it -------------------------------------------------------------------------


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str]]:
    """A server and a client namespace (hvt-*), joined by a veth pair: `net1` on the server's side."""
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "setpriv", "dnsmasq", "busybox")):
        pytest.fail("needs root, ip, setpriv, dnsmasq and busybox (make system-deps)")
    suffix = uuid.uuid4().hex[:6]
    server, client = f"hvt-dhcps-{suffix}", f"hvt-dhcpc-{suffix}"
    try:
        _ip("netns", "add", server)
        _ip("netns", "add", client)
        _ip("-n", server, "link", "add", DHCP_INTERFACE, "type", "veth", "peer", "name", "eth0", "netns", client)
        for ns, link in ((server, DHCP_INTERFACE), (client, "eth0"), (server, "lo"), (client, "lo")):
            _ip("-n", ns, "link", "set", link, "up")
        yield server, client
    finally:
        for ns in (server, client):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _capabilities(names: list[str]) -> str:
    return ",".join(f"+{n.lower()}" for n in names)


def test_dnsmasq_serves_as_nobody_with_only_those_capabilities(namespaces: tuple[str, str], tmp_path: Path) -> None:
    server, client = namespaces
    net = network()
    config_map, deploy = dhcp_objects(net)
    [container] = deploy["spec"]["template"]["spec"]["containers"]
    config_dir, lease_dir = tmp_path / "config", tmp_path / "leases"
    config_dir.mkdir()
    lease_dir.mkdir(mode=0o777)
    lease_dir.chmod(0o777)  # as an emptyDir is
    tmp_path.chmod(0o755)
    for key, text in config_map["data"].items():
        (config_dir / key).write_text(text.replace(LEASE_DIR, str(lease_dir)))
    command = container["command"][-1].replace("/etc/dnsmasq", str(config_dir)).replace(LEASE_DIR, str(lease_dir))
    caps = _capabilities(DHCP_CAPABILITIES)
    contained = [
        "setpriv", "--no-new-privs", "--bounding-set", f"-all,{caps}", "--inh-caps", "-all",
        "/bin/sh", "-c", command,
    ]  # fmt: skip
    dnsmasq = subprocess.Popen(
        ["ip", "netns", "exec", server, *contained], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        time.sleep(1)
        assert dnsmasq.poll() is None, dnsmasq.communicate()[0]
        status = Path(f"/proc/{dnsmasq.pid}/status").read_text()
        uid = re.search(r"^Uid:\s+(\d+)", status, re.M)
        assert uid is not None and uid.group(1) == "65534", status  # nobody, after binding
        lease = subprocess.run(
            ["ip", "netns", "exec", client, "busybox", "udhcpc", "-i", "eth0", "-q", "-n", "-t", "5", "-T", "1",
             "-s", "/bin/true"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert lease.returncode == 0, lease.stdout + lease.stderr
        assert "10.77.0.1" in (lease.stdout + lease.stderr)  # "lease of 10.77.0.10x obtained"
    finally:
        dnsmasq.terminate()
        dnsmasq.wait(timeout=10)


def test_the_agent_image_takes_a_digest_and_refuses_what_is_no_image() -> None:
    from typer.testing import CliRunner

    from harvester_network.cli import app

    quickstart = str(Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "plan.yaml")
    pinned = f"ghcr.io/harvester-network/hvnet-agent@{DIGEST}"
    result = CliRunner().invoke(app, ["render", quickstart, "--install-agent", "--agent-image", pinned])
    assert result.exit_code == 0 and f"image: {pinned}" in result.stdout
    refused = CliRunner().invoke(app, ["render", quickstart, "--install-agent", "--agent-image", "x@sha256:1"])
    assert refused.exit_code == 2 and "is not an image reference" in refused.output
