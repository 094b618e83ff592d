"""A catalogue of hostile inputs, through the `hvnet` command line: plans and invocations a careless or hostile
user could give. Each case asserts the exit code, the exact field path and message (or the exact refusal), and
that the output holds no traceback and no raw escape sequence (the terminal must stay the operator's)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from harvester_network.cli import app
from harvester_network.model import names
from tests.model.plan_edits import PlanEdit, add, edits, put, valid_plan

OSC8_LINK = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
ANSI_RED = "\x1b[31mred\x1b[0m"


def hvnet(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_terminal_safe(result: Result) -> None:
    """No Python traceback, no unhandled exception, and no control character but newline in the output."""
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", output), output


def unboxed(output: str) -> str:
    """Typer's error box wraps long messages: the text without the box and the line breaks."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


@dataclass(frozen=True)
class PlanCase:
    id: str
    edit: PlanEdit
    expected: str  # "error: <path>: <message...>" or "warning: ..." as printed (a prefix of the line)
    exit_code: int = 1


def _v(path: str, value: Any, expected: str, case_id: str, exit_code: int = 1) -> PlanCase:
    return PlanCase(case_id, put(path, value), expected, exit_code)


NIC = "clusterNetworks[0].uplink.nics[0]"
MAC = "virtualMachines[0].interfaces[1].macAddress"
PORT_NAME = "virtualMachines[0].managementService.ports[0].name"
IMAGE = "virtualMachines[0].image"
DHCP_IMAGE = "networks[0].dhcpServer.image"
VLAN = "networks[1].vlan"
IFNAME_PATTERN = "is not a Linux interface name: no '/', ':', whitespace or control characters"

PLAN_CASES: list[PlanCase] = [
    # Interface names: the kernel's dev_valid_name() and IFNAMSIZ, in bytes.
    _v(NIC, "e" * 16, f"error: {NIC}: is 16 bytes in UTF-8; Linux takes at most 15", "nic-16-ascii"),
    _v(NIC, "é" * 8, f"error: {NIC}: is 16 bytes in UTF-8; Linux takes at most 15", "nic-16-bytes"),
    _v(NIC, "€€€€€e", f"error: {NIC}: is 16 bytes in UTF-8", "nic-16-bytes-euro"),
    PlanCase("nic-15-bytes-ok", edits(put(NIC, "€€€€€"), put("lab.nodes.node1.nics[0]", "€€€€€")), "", 0),
    _v(NIC, "eth\x00", f"error: {NIC}: {IFNAME_PATTERN}", "nic-nul"),
    _v(NIC, "eth\x01", f"error: {NIC}: {IFNAME_PATTERN}", "nic-soh"),
    _v(NIC, "eth\x1b[31m", f"error: {NIC}: {IFNAME_PATTERN}", "nic-ansi"),
    _v(NIC, "eth\x7f", f"error: {NIC}: {IFNAME_PATTERN}", "nic-del"),
    _v(NIC, "eth/1", f"error: {NIC}: {IFNAME_PATTERN}", "nic-slash"),
    _v(NIC, "eth:1", f"error: {NIC}: {IFNAME_PATTERN}", "nic-colon"),
    _v(NIC, "eth 1", f"error: {NIC}: {IFNAME_PATTERN}", "nic-space"),
    _v(NIC, "eth\t1", f"error: {NIC}: {IFNAME_PATTERN}", "nic-tab"),
    _v(NIC, "eth\n1", f"error: {NIC}: {IFNAME_PATTERN}", "nic-newline"),
    _v(NIC, "eth\u00a01", f"error: {NIC}: {IFNAME_PATTERN}", "nic-nbsp"),
    _v(NIC, "à", f"error: {NIC}: holds a character whose UTF-8 has byte 0xa0", "nic-byte-a0"),
    _v(NIC, ".", f"error: {NIC}: '.' and '..' are not valid", "nic-dot"),
    _v(NIC, "..", f"error: {NIC}: '.' and '..' are not valid", "nic-dotdot"),
    _v(NIC, "", f"error: {NIC}: {IFNAME_PATTERN}", "nic-empty"),
    _v(NIC, 7, f"error: {NIC}: Input should be a valid string", "nic-number"),
    _v(NIC, ["eth1"], f"error: {NIC}: Input should be a valid string", "nic-list"),
    _v(NIC, "vlan-br", f"error: {NIC}: 'vlan-br' is the name the agent gives the bridge or bond", "nic-own-bridge"),
    _v(NIC, "vlan-bo", f"error: {NIC}: 'vlan-bo' is the name the agent gives", "nic-own-bond"),
    _v(NIC, "storage-br", f"error: {NIC}: 'storage-br' is the name the agent gives", "nic-other-cn-bridge"),
    _v(
        "clusterNetworks[0].nodeOverrides[0].nics[0]",
        "storage-bo",
        "error: clusterNetworks[0].nodeOverrides[0].nics[0]: 'storage-bo' is the name the agent gives",
        "override-nic-other-cn-bond",
    ),
    _v("lab.nodes.node1.nics[0]", "x" * 16, "error: lab.nodes.node1.nics[0]: is 16 bytes", "lab-nic"),
    _v("lab.nodes.node1.nics[0]", "a\x00", f"error: lab.nodes.node1.nics[0]: {IFNAME_PATTERN}", "lab-nic-nul"),
    # MAC addresses KubeVirt or the kernel refuse.
    _v(MAC, "00:00:00:00:00:00", f"error: {MAC}: 00:00:00:00:00:00 is no NIC's address", "mac-zero"),
    _v(MAC, "ff:ff:ff:ff:ff:ff", f"error: {MAC}: is a multicast MAC", "mac-broadcast"),
    _v(MAC, "01:00:5e:00:00:01", f"error: {MAC}: is a multicast MAC", "mac-multicast"),
    _v(MAC, "33:33:00:00:00:01", f"error: {MAC}: is a multicast MAC", "mac-ipv6-multicast"),
    _v(MAC, "52:54:00:aa:bb", f"error: {MAC}: String should match pattern", "mac-short"),
    _v(MAC, "52:54:00:aa:bb:cc:dd", f"error: {MAC}: String should match pattern", "mac-long"),
    _v(MAC, "52-54-00-aa-bb-cc", f"error: {MAC}: String should match pattern", "mac-dashes"),
    _v(MAC, "52:54:00:aa:bb:gg", f"error: {MAC}: String should match pattern", "mac-not-hex"),
    _v(MAC, "52:54:00:aa:bb:cc\n", f"error: {MAC}: String should match pattern", "mac-newline"),
    _v(MAC, 525400, f"error: {MAC}: Input should be a valid string", "mac-number"),
    # Service port names: Kubernetes' IANA_SVC_NAME.
    _v(PORT_NAME, "a" * 16, f"error: {PORT_NAME}: String should have at most 15 characters", "port-name-16"),
    _v(PORT_NAME, "ssh--alt", f"error: {PORT_NAME}: a Service port name (IANA_SVC_NAME)", "port-name-dd"),
    _v(PORT_NAME, "-ssh", f"error: {PORT_NAME}: String should match pattern", "port-name-lead-dash"),
    _v(PORT_NAME, "ssh-", f"error: {PORT_NAME}: String should match pattern", "port-name-trail-dash"),
    _v(PORT_NAME, "8080", f"error: {PORT_NAME}: a Service port name (IANA_SVC_NAME)", "port-name-digits"),
    _v(PORT_NAME, "SSH", f"error: {PORT_NAME}: String should match pattern", "port-name-upper"),
    _v(PORT_NAME, "ss_h", f"error: {PORT_NAME}: String should match pattern", "port-name-underscore"),
    _v(PORT_NAME, "", f"error: {PORT_NAME}: String should have at least 1 character", "port-name-empty"),
    _v(PORT_NAME, "[/x]", f"error: {PORT_NAME}: String should match pattern", "port-name-markup"),
    _v(PORT_NAME, "http-alt-8080ab", "", "port-name-15-ok", 0),
    # Descriptions become an annotation: 256 KiB for all of an object's annotations.
    _v(
        "clusterNetworks[0].description",
        "x" * (names.DESCRIPTION_MAX_BYTES + 1),
        f"error: clusterNetworks[0].description: is {names.DESCRIPTION_MAX_BYTES + 1} bytes",
        "description-too-big",
    ),
    _v(
        "clusterNetworks[0].description",
        "é" * (names.DESCRIPTION_MAX_BYTES // 2 + 1),
        f"error: clusterNetworks[0].description: is {names.DESCRIPTION_MAX_BYTES + 2} bytes",
        "description-too-big-in-bytes",
    ),
    _v("clusterNetworks[0].description", "x" * names.DESCRIPTION_MAX_BYTES, "", "description-at-limit", 0),
    _v("clusterNetworks[0].description", ["a"], "error: clusterNetworks[0].description: Input should be a valid", "d"),
    # Image references.
    _v(IMAGE, "", f"error: {IMAGE}: is not a container image reference", "image-empty"),
    _v(IMAGE, "quay.io/a\nquay.io/b", f"error: {IMAGE}: is not a container image reference", "image-two-lines"),
    _v(IMAGE, " quay.io/a", f"error: {IMAGE}: is not a container image reference", "image-leading-space"),
    _v(IMAGE, "quay.io/a ", f"error: {IMAGE}: is not a container image reference", "image-trailing-space"),
    _v(IMAGE, "quay.io/a\x1b[2J", f"error: {IMAGE}: is not a container image reference", "image-escape"),
    _v(IMAGE, "a" * 513, f"error: {IMAGE}: String should have at most 512 characters", "image-huge"),
    _v(IMAGE, 5, f"error: {IMAGE}: Input should be a valid string", "image-number"),
    _v(DHCP_IMAGE, "", f"error: {DHCP_IMAGE}: is not a container image reference", "dhcp-image-empty"),
    _v(DHCP_IMAGE, "a\tb", f"error: {DHCP_IMAGE}: is not a container image reference", "dhcp-image-tab"),
    # What netlink takes: IFLA_TXQLEN is a u32, the bond's miimon an int.
    _v(
        "clusterNetworks[0].uplink.txQLen", 2**32, "error: clusterNetworks[0].uplink.txQLen: Input should be less", "tx"
    ),
    _v("clusterNetworks[0].uplink.txQLen", 2**32 - 1, "", "txqlen-u32-max", 0),
    _v(
        "clusterNetworks[0].uplink.txQLen", -2, "error: clusterNetworks[0].uplink.txQLen: Input should be greater", "t-"
    ),
    _v("clusterNetworks[0].uplink.txQLen", 10**30, "error: clusterNetworks[0].uplink.txQLen: Input should be", "t-big"),
    _v(
        "clusterNetworks[0].uplink.bondMiimon",
        2**31,
        "error: clusterNetworks[0].uplink.bondMiimon: Input should be less than or equal to 2147483647",
        "miimon-int-max",
    ),
    _v("clusterNetworks[0].uplink.bondMiimon", 2**31 - 1, "", "miimon-ok", 0),
    _v(
        "clusterNetworks[0].nodeOverrides[0].bondMiimon",
        2**32,
        "error: clusterNetworks[0].nodeOverrides[0].bondMiimon: Input should be less than or equal to 2147483647",
        "override-miimon",
    ),
    _v("clusterNetworks[0].uplink.bondMiimon", -2, "error: clusterNetworks[0].uplink.bondMiimon: Input should be", "m"),
    _v("clusterNetworks[0].uplink.mtu", 2**40, "error: clusterNetworks[0].uplink.mtu: must be 0", "mtu"),
    # VLAN IDs and other numbers: decimal only (YAML 1.1 forms are text, see the raw cases).
    _v(VLAN, "0x64", f"error: {VLAN}: '0x64' is not a decimal number", "vlan-hex-string"),
    _v(VLAN, 10**20, f"error: {VLAN}: Input should be less than or equal to 4094", "vlan-huge"),
    _v(VLAN, float("nan"), f"error: {VLAN}: Input should be a valid integer", "vlan-nan"),
    _v(VLAN, float("inf"), f"error: {VLAN}: Input should be a valid integer", "vlan-inf"),
    _v(VLAN, None, f"error: {VLAN}: Input should be a valid integer", "vlan-null"),
    _v(VLAN, {"a": 1}, f"error: {VLAN}: Input should be a valid integer", "vlan-mapping"),
    # Rich markup and escape sequences in user text are printed as text.
    _v(
        "virtualMachines[1].interfaces[0].network",
        "default/[/x]",
        "error: virtualMachines[1].interfaces[0].network: network 'default/[/x]' is not in the plan",
        "network-ref-close-tag",
    ),
    _v(
        "virtualMachines[1].interfaces[0].network",
        "[link=https://evil.example]click[/link]",
        "error: virtualMachines[1].interfaces[0].network: network '[link=https://evil.example]click[/link]' is not in",
        "network-ref-link-markup",
    ),
    _v(
        "virtualMachines[1].interfaces[0].network",
        "[bold red]x[/]",
        "error: virtualMachines[1].interfaces[0].network: network '[bold red]x[/]' is not in the plan",
        "network-ref-style-markup",
    ),
    _v(
        "virtualMachines[1].interfaces[0].network",
        OSC8_LINK,
        "error: virtualMachines[1].interfaces[0].network: network "
        "'\\x1b]8;;https://evil.example/\\x1b\\click\\x1b]8;;\\x1b\\' is not in the plan",
        "network-ref-osc8",
    ),
    _v(
        "virtualMachines[1].interfaces[0].network",
        ANSI_RED,
        "error: virtualMachines[1].interfaces[0].network: network 'default/\\x1b[31mred\\x1b[0m' is not in the plan",
        "network-ref-ansi",
    ),
    _v(
        "virtualMachines[1].interfaces[0].network",
        "a\x07\x9b2J\u202eb",
        "error: virtualMachines[1].interfaces[0].network: network 'default/a\\x07\\x9b2J\\u202eb' is not in the plan",
        "network-ref-bell-csi-bidi",
    ),
    _v(
        "networks[1].clusterNetwork",
        "[a-z0-9]",
        "error: networks[1].clusterNetwork: String should match pattern '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'",
        "pattern-brackets-printed",
    ),
    _v(
        "lab.placement",
        {"[/x]": "node1"},
        "error: lab.placement.[/x].[key]: String should match pattern",
        "lab-placement-key-markup",
    ),
    # Cross-object errors and warnings.
    PlanCase(
        "vlan0-vlan1-one-segment",
        edits(put("networks[1].vlan", 1), put("networks[2].clusterNetwork", "vlan")),
        "warning: networks[2].vlan: VLAN 0 and network 'default/vlan200' (VLAN 1) on cluster network 'vlan' are one "
        "untagged segment",
        0,
    ),
    PlanCase(
        "vlan1-vlan0-across-namespaces",
        edits(
            put("networks[2].clusterNetwork", "vlan"),
            add("networks", {"name": "v1", "namespace": "x", "clusterNetwork": "vlan", "vlan": 1}),
        ),
        "warning: networks[3].vlan: VLAN 1 and network 'storage/san' (VLAN 0)",
        0,
    ),
    PlanCase(
        "vlan0-vlan1-different-cluster-networks-ok",
        put("networks[1].vlan", 1),
        "",
        0,
    ),
    PlanCase(
        "overlapping-subnets-on-one-vm",
        edits(
            put("networks[1].route", {"mode": "manual", "cidr": "10.100.0.0/16", "gateway": "10.100.128.1"}),
            add("virtualMachines[0].interfaces", {"name": "nic-2", "network": "vlan200"}),
        ),
        "warning: virtualMachines[0].interfaces[2].network: its subnet 10.100.0.0/16 overlaps 10.100.0.0/24 of "
        "interfaces[1]",
        0,
    ),
    PlanCase(
        "field-error-does-not-hide-cross-object-error",
        edits(put("networks[1].vlan", 5000), put("virtualMachines[0].interfaces[0].network", "nope")),
        "error: virtualMachines[0].interfaces[0].network: network 'default/nope' is not in the plan",
    ),
    PlanCase(
        "field-error-and-own-bridge-nic-in-one-run",
        edits(put("networks[0].vlan", -1), put(NIC, "vlan-br")),
        f"error: {NIC}: 'vlan-br' is the name the agent gives",
    ),
]


def _set_key(key: str) -> PlanEdit:
    return lambda data: data.__setitem__(key, 1)


# Keys that are not plan keys, however they are spelled: a path naming them, printed as text.
for key_id, key, shown in [
    ("key-markup-close", "[/x]", "[/x]"),
    ("key-markup-link", "[link=https://evil.example]x[/link]", "[link=https://evil.example]x[/link]"),
    ("key-ansi", ANSI_RED, "\\x1b[31mred\\x1b[0m"),
    ("key-osc8", OSC8_LINK, "\\x1b]8;;https://evil.example/\\x1b\\click\\x1b]8;;\\x1b\\"),
    ("key-nul", "a\x00b", "a\\x00b"),
    ("key-newline", "a\nerror: fake", "a\nerror: fake"),
    ("key-backslash", "a\\", "a\\"),
    ("key-unicode", "ñetworks", "ñetworks"),
    ("key-empty", "", ""),
    ("key-long", "k" * 500, "k" * 500),
]:
    PLAN_CASES.append(PlanCase(key_id, _set_key(key), f"error: {shown or '<plan>'}: is not a known key"))

# Every section given the wrong type.
for section, value, message in [
    ("clusterNetworks", "x", "Input should be a valid list"),
    ("clusterNetworks", {"a": 1}, "Input should be a valid list"),
    ("networks", 5, "Input should be a valid list"),
    ("networks", [None], "Input should be a valid dictionary or instance of Network"),
    ("networks", [[1]], "Input should be a valid dictionary or instance of Network"),
    ("virtualMachines", True, "Input should be a valid list"),
    ("nodes", "node1", "Input should be a valid list"),
    ("nodes", [], "is an empty list"),
    ("serviceCIDR", "10.53.0.1/16", "Input is not a valid IPv4 network"),
    ("serviceCIDR", "[/x]", "Input is not a valid IPv4 network"),
    ("lab", [], "Input should be a valid dictionary or instance of Lab"),
    ("lab", "x", "Input should be a valid dictionary or instance of Lab"),
]:
    path = section if not isinstance(value, list) or not value else f"{section}[0]"
    PLAN_CASES.append(PlanCase(f"section-{section}-{value!r:.10}", put(section, value), f"error: {path}: {message}"))


@pytest.mark.parametrize("case", PLAN_CASES, ids=[c.id for c in PLAN_CASES])
def test_hostile_plan(case: PlanCase, tmp_path: Path) -> None:
    data = valid_plan()
    case.edit(data)
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = hvnet("validate", plan_file)
    assert_terminal_safe(result)
    assert result.exit_code == case.exit_code, result.output
    assert case.expected in result.stderr, result.stderr
    if case.exit_code == 1:
        assert "nothing was rendered or applied" in result.stderr
        assert hvnet("render", plan_file).stdout == ""  # render refuses what validate refuses


@dataclass(frozen=True)
class RawCase:
    id: str
    content: bytes
    expected: str
    exit_code: int = 1


def _doc(text: str) -> bytes:
    return text.encode()


BASE_YAML = yaml.safe_dump(valid_plan(), sort_keys=False)
DEEP = 20_000

RAW_CASES = [
    RawCase("deep-flow-sequences", _doc("a: " + "[" * DEEP + "]" * DEEP), "is not valid YAML"),
    RawCase("deep-flow-mappings", _doc("a: " + "{a: " * DEEP + "1" + "}" * DEEP), "is not valid YAML"),
    RawCase("deep-block-sequences", _doc("".join(" " * i + "-\n" for i in range(3000))), "error: <plan>:"),
    RawCase("deep-1000-flow", _doc("a: " + "[" * 999 + "]" * 999), "error: a: is not a known key"),
    RawCase("not-utf8", b"networks: [\xff\xfe]\n", "error: <plan>: is not UTF-8 text (byte 12, line 1)"),
    RawCase("latin1", "clusterNetworks: []\nnodes: [n\xe9]\n".encode("latin-1"), "is not UTF-8 text (byte 30, line 2)"),
    RawCase("utf16", "networks: []\n".encode("utf-16"), "error: <plan>: is not UTF-8 text (byte 1, line 1)"),
    RawCase("nul-byte", b"networks: []\x00\n", "is not valid YAML"),
    RawCase("escape-in-yaml-error", b"a: [\x1b]8;;x\x1b\\\n", "is not valid YAML"),
    RawCase("markup-in-yaml-error", b"a: [/x] b: c\n  - [link=x]\n", "is not valid YAML"),
    RawCase("complex-key-sequence", b"? [a, b]\n: 1\n", "a key must be a plain name, not a list or mapping"),
    RawCase("complex-key-mapping", b"? {a: 1}\n: 1\n", "a key must be a plain name, not a list or mapping"),
    RawCase("complex-key-nested", b"networks:\n  - ? [x]\n    : 1\n", "a key must be a plain name"),
    RawCase("duplicate-key", b"networks: []\nnetworks: []\n", "duplicate key 'networks' (first on line 1)"),
    RawCase("null-key", b"~: 1\n", "key '~' is read as a null, not a name: quote it"),
    RawCase("int-key", b"nodes: [a]\n1: 1\n", "key '1' is read as a int, not a name: quote it"),
    RawCase("bool-key", b"lab:\n  placement: {yes: node1}\n", "key 'yes' is read as a bool, not a name: quote it"),
    RawCase("quoted-keys", b'"networks": []\n', "valid (0 cluster network(s)", 0),
    RawCase("empty-file", b"", "error: <plan>: is empty"),
    RawCase("only-comments", b"# nothing\n", "error: <plan>: is empty"),
    RawCase("a-list", b"- a\n", "error: <plan>: must be a mapping of sections, not a list"),
    RawCase("a-scalar", b"hello\n", "error: <plan>: must be a mapping of sections, not a str"),
    RawCase("two-documents", b"a: 1\n---\nb: 2\n", "expected a single document"),
    RawCase("tabs", b"networks:\n\t- a\n", "is not valid YAML"),
    RawCase("python-tag", b"a: !!python/object/apply:os.system [echo pwned]\n", "could not determine a constructor"),
    RawCase("unknown-tag", b"a: !custom 1\n", "could not determine a constructor"),
    RawCase("undefined-alias", b"a: *nope\n", "found undefined alias"),
    RawCase(
        "billion-laughs",
        _doc(
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8))
            + "networks: [*i, *i]\n"
        ),
        "error: a: is not a known key",
    ),
    RawCase(
        "merge-keys",
        _doc(
            "clusterNetworks: [{name: vlan, uplink: {nics: [eth1]}}]\n"
            "networks:\n"
            "  - &base {name: a, clusterNetwork: vlan, vlan: 10}\n"
            "  - <<: *base\n"
            "    name: b\n"
            "    vlan: 20\n"
        ),
        "valid (1 cluster network(s), 2 network(s), 0 VM(s))",
        0,
    ),
    RawCase(
        "merge-keys-list",
        _doc("x-cn: &cn {name: vlan}\nx-up: &up {uplink: {nics: [eth1]}}\nclusterNetworks: [{<<: [*cn, *up]}]\n"),
        "error: x-cn: is not a known key",
    ),
    RawCase("merge-key-not-a-mapping", b"a: &x 1\nb:\n  <<: *x\n", "is not valid YAML"),
]
for form in ["0x64", "0o144", "0144", "0b1100100", "1_00", "1:40", "+0x64"]:
    RAW_CASES.append(
        RawCase(
            f"vlan-{form}",
            _doc(BASE_YAML.replace("vlan: 200", f"vlan: {form}")),
            f"error: networks[1].vlan: '{form}' is not a decimal number",
        )
    )
RAW_CASES += [
    RawCase("vlan-plus-decimal", _doc(BASE_YAML.replace("vlan: 200", "vlan: +200")), "valid (", 0),
    RawCase("vlan-float-text", _doc(BASE_YAML.replace("vlan: 200", "vlan: 2.0e2")), "Input should be a valid integer"),
    RawCase(
        "unquoted-mac-is-text",
        _doc(BASE_YAML.replace("macAddress: 52:54:00:aa:bb:02", "macAddress: 52:54:00:12:34:56")),
        "valid (",
        0,
    ),
    RawCase(
        "unquoted-sexagesimal-mac",
        _doc(BASE_YAML.replace("macAddress: 52:54:00:aa:bb:02", "macAddress: 12:34:56:12:34:56")),
        "valid (",
        0,
    ),
]


@pytest.mark.parametrize("case", RAW_CASES, ids=[c.id for c in RAW_CASES])
def test_hostile_plan_file(case: RawCase, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_bytes(case.content)
    result = hvnet("validate", plan_file)
    assert_terminal_safe(result)
    assert result.exit_code == case.exit_code, result.output
    assert case.expected in result.stderr, result.stderr


def test_a_plan_over_the_size_limit_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harvester_network.model import load

    monkeypatch.setattr(load, "MAX_PLAN_BYTES", 1000)
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text("# " + "x" * 1000)
    result = hvnet("validate", plan_file)
    assert_terminal_safe(result)
    assert result.exit_code == 1
    assert "error: <plan>: is larger than 0 MiB" in result.stderr


@dataclass(frozen=True)
class CliCase:
    id: str
    argv: Callable[[Path], list[str]]
    exit_code: int
    expected: str


QUICKSTART = str(Path(__file__).resolve().parents[2] / "examples/quickstart/plan.yaml")


def _fifo(tmp: Path) -> str:
    os.mkfifo(tmp / "fifo")
    return str(tmp / "fifo")


def _file(tmp: Path) -> str:
    (tmp / "file").write_text("x")
    return str(tmp / "file")


CLI_CASES = [
    CliCase("validate-dev-zero", lambda t: ["validate", "/dev/zero"], 1, "error: <plan>: is not a regular file"),
    CliCase("validate-dev-null", lambda t: ["validate", "/dev/null"], 1, "error: <plan>: is not a regular file"),
    CliCase("validate-fifo", lambda t: ["validate", _fifo(t)], 1, "error: <plan>: is not a regular file"),
    CliCase("validate-directory", lambda t: ["validate", str(t)], 1, "error: <plan>: is not a regular file"),
    CliCase("validate-missing", lambda t: ["validate", str(t / "no")], 1, "cannot be read: No such file or directory"),
    CliCase("validate-markup-path", lambda t: ["validate", str(t / "[/x]")], 1, "[/x]: 1 error(s)"),
    CliCase("validate-escape-path", lambda t: ["validate", str(t / "\x1b[2J")], 1, "\\x1b[2J: 1 error(s)"),
    CliCase("validate-no-argument", lambda t: ["validate"], 2, "Missing argument"),
    CliCase("validate-two-arguments", lambda t: ["validate", "a", "b"], 2, "Got unexpected extra argument"),
    CliCase("render-fifo", lambda t: ["render", _fifo(t)], 1, "error: <plan>: is not a regular file"),
    CliCase("render-onto-file", lambda t: ["render", QUICKSTART, "-o", _file(t)], 1, "is not a directory"),
    CliCase("render-onto-dev-null", lambda t: ["render", QUICKSTART, "-o", "/dev/null"], 1, "is not a directory"),
    CliCase("render-unwritable", lambda t: ["render", QUICKSTART, "-o", "/proc/hvnet/x"], 1, "nothing was written"),
    CliCase("render-bad-option", lambda t: ["render", QUICKSTART, "--bogus"], 2, "No such option"),
    CliCase("plan-fifo", lambda t: ["plan", _fifo(t)], 1, "error: <plan>: is not a regular file"),
    CliCase("plan-dev-zero", lambda t: ["plan", "/dev/zero", "--json"], 1, "error: <plan>: is not a regular file"),
    CliCase("unknown-command", lambda t: ["bogus"], 2, "No such command"),
    CliCase(
        "agent-metrics-bogus", lambda t: ["agent", "--node", "n", "--metrics-addr", "bogus"], 2, "is not HOST:PORT"
    ),
    CliCase(
        "agent-metrics-port", lambda t: ["agent", "--node", "n", "--metrics-addr", ":99999"], 2, "a port of 0-65535"
    ),
    CliCase("agent-metrics-neg", lambda t: ["agent", "--node", "n", "--metrics-addr", "a:-1"], 2, "a port of 0-65535"),
    CliCase(
        "agent-metrics-empty-port", lambda t: ["agent", "--node", "n", "--metrics-addr", "a:"], 2, "a port of 0-65535"
    ),
    CliCase(
        "agent-log-level", lambda t: ["agent", "--node", "n", "--log-level", "bogus"], 2, "invalid choice: 'bogus'"
    ),
    CliCase(
        "agent-log-level-markup", lambda t: ["agent", "--node", "n", "--log-level", "[/x]"], 2, "invalid choice: '[/x]'"
    ),
    CliCase(
        "agent-resync-text",
        lambda t: ["agent", "--node", "n", "--resync", "x"],
        2,
        "argument --resync: invalid float value: 'x'",
    ),
    CliCase("agent-no-node", lambda t: ["agent"], 2, "the following arguments are required: --node"),
    CliCase("lab-demo-fifo", lambda t: ["lab", "demo", _fifo(t)], 1, "error: <plan>: is not a regular file"),
    CliCase("lab-shell-fifo", lambda t: ["lab", "shell", _fifo(t), "--", "true"], 1, "is not a regular file"),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_hostile_invocation(case: CliCase, tmp_path: Path) -> None:
    result = hvnet(*case.argv(tmp_path))
    assert_terminal_safe(result)
    assert result.exit_code == case.exit_code, result.output
    assert case.expected in unboxed(result.output), result.output


@pytest.mark.parametrize(
    ("kubeconfig", "expected"),
    [
        ("a: [\n", "expected the node content, but found '<stream end>' at line 2"),
        ("password: \x1b]8;;x\x1b\\ [\n", "is not valid YAML"),
        ("- just\n- a list\n", "--kubeconfig"),
    ],
    ids=["broken", "escape-and-secret", "not-a-mapping"],
)
def test_agent_with_a_bad_kubeconfig_file_exits_2_without_printing_it(
    tmp_path: Path, kubeconfig: str, expected: str
) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig)
    # A process of its own: the agent configures logging for the whole process.
    hvnet_bin = Path(sys.executable).with_name("hvnet")
    run = subprocess.run(
        [str(hvnet_bin), "agent", "--node", "n", "--kubeconfig", str(path), "--once"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = unboxed(run.stdout + run.stderr)
    assert run.returncode == 2, output
    assert expected in output
    assert "Traceback" not in output and "\x1b]8" not in output and "password" not in output


def test_the_catalogue_holds_at_least_150_cases() -> None:
    assert len(PLAN_CASES) + len(RAW_CASES) + len(CLI_CASES) + 3 >= 150


def test_thousands_of_warnings_print_the_first_hundred_and_a_count(tmp_path: Path) -> None:
    data = valid_plan()
    data["networks"] += [{"name": f"n{i}", "clusterNetwork": "vlan", "vlan": 200} for i in range(150)]
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump(data))
    result = hvnet("validate", plan_file)
    assert result.exit_code == 0
    assert result.stderr.count("warning: networks[") == 100
    assert "... and 50 more warning(s)" in result.stderr


def test_output_that_cannot_be_written_is_an_error_not_a_traceback() -> None:
    hvnet_bin = Path(sys.executable).with_name("hvnet")
    with open("/dev/full", "w") as full:
        run = subprocess.run(
            [str(hvnet_bin), "plan", QUICKSTART],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert run.returncode == 1
    assert run.stderr.strip() == "error: [Errno 28] No space left on device"


def test_an_unexpected_error_is_one_line_that_says_it_is_a_bug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harvester_network import cli

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("[/x] \x1b[2J")

    monkeypatch.setattr(cli, "app", broken)
    monkeypatch.delenv("HVNET_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1
    assert capsys.readouterr().err.startswith("internal error: RuntimeError: [/x] \\x1b[2J (a bug in hvnet")
