"""model/load.py's YAML reading in-process (the hostile-input catalogue runs much of it through the CLI in a
subprocess): parsed values whole, refusals as whole messages, the file size limit at its boundary, and a plan
with a bad lab section still judged by the rules on the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harvester_network.model import PlanError, load_plan
from harvester_network.model import load as load_module
from harvester_network.model.load import parse_yaml, read_plan_text
from harvester_network.model.yaml_problem import yaml_problem


def test_values_as_read() -> None:
    text = (
        "a: 'x'\n"
        'b: [1, "2", -3, +4, 0]\n'
        "c: {o: 010, h: 0x1f, e: 1_000, f: 1.5, t: true, n: ~}\n"
        "base: &b {x: 1}\n"
        "m: {<<: *b, y: 2}\n"
        "s: !!str 7\n"
    )
    assert parse_yaml(text) == {
        "a": "x",
        "b": [1, "2", -3, 4, 0],
        # Only plain decimal integers are numbers: YAML 1.1's octal, hex and underscores stay text.
        "c": {"o": "010", "h": "0x1f", "e": "1_000", "f": 1.5, "t": True, "n": None},
        "base": {"x": 1},
        "m": {"x": 1, "y": 2},
        "s": "7",
    }


def test_repeated_scalars_keep_their_types() -> None:
    # The resolver caches a plain scalar's tag by its text; quoting must still win over the cache.
    assert parse_yaml("a: 5\nb: '5'\nc: 5\nd: [5, '5']\n") == {"a": 5, "b": "5", "c": 5, "d": [5, "5"]}


def test_a_plain_scalar_is_resolved_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # The loader caches a plain scalar's tag by its text (the resolver's regular expressions were half of the
    # time of reading a large plan): each distinct plain text reaches PyYAML's resolver once; quoted ones always.
    resolved: list[tuple[str, object]] = []
    resolve = yaml.resolver.BaseResolver.resolve

    def counting(self: yaml.resolver.BaseResolver, kind: type[yaml.Node], value: object, implicit: object) -> str:
        resolved.append((kind.__name__, value))
        return resolve(self, kind, value, implicit)

    monkeypatch.setattr(yaml.resolver.BaseResolver, "resolve", counting)
    assert parse_yaml("a: 5\nb: 5\nc: '5'\nd: '5'\ne: [a]\n") == {"a": 5, "b": 5, "c": "5", "d": "5", "e": ["a"]}
    assert sorted(resolved, key=str) == sorted(
        [("MappingNode", None), ("ScalarNode", "a"), ("ScalarNode", "5"), ("ScalarNode", "b"),
         ("ScalarNode", "5"), ("ScalarNode", "5"), ("ScalarNode", "c"), ("ScalarNode", "d"),
         ("ScalarNode", "e"), ("SequenceNode", None)],
        key=str,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: [1\n", "while parsing a flow sequence, did not find expected ',' or ']' at line 2, column 1"),
        ("a: 1\na: 2\n", "duplicate key 'a' (first on line 1) at line 2, column 1"),
        ("1: x\n", "key '1' is read as a int, not a name: quote it at line 1, column 1"),
        ("[a]: x\n", "a key must be a plain name, not a list or mapping at line 1, column 1"),
        ("a: \x07\n", "ReaderError"),  # an error without a place: only its kind, never the text
    ],
)
def test_refusals_whole(text: str, problem: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_yaml(text, "p.yaml")
    assert [(i.path, i.message, i.fix) for i in caught.value.issues] == [
        ("", f"is not valid YAML: {problem}", "fix the YAML syntax")
    ]
    assert caught.value.source == "p.yaml"


def test_size_limit_boundary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load_module, "MAX_PLAN_BYTES", 2 * 2**20)
    plan = tmp_path / "plan.yaml"
    plan.write_bytes(b"#" * (2 * 2**20))
    assert read_plan_text(plan) == "#" * (2 * 2**20)  # exactly the limit: read
    plan.write_bytes(b"#" * (2 * 2**20 + 1))
    with pytest.raises(PlanError) as caught:
        read_plan_text(plan)
    assert [(i.path, i.message, i.fix) for i in caught.value.issues] == [
        ("", "is larger than 2 MiB", "split the plan into several")
    ]


def test_not_utf8_names_byte_and_line(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(PlanError) as caught:
        read_plan_text(plan)
    assert [(i.path, i.message, i.fix) for i in caught.value.issues] == [
        ("", "is not UTF-8 text (byte 9, line 2)", "save the file as UTF-8")
    ]


def test_a_bad_nested_section_leaves_the_rest_judged() -> None:
    # The lab section's error is deep (lab.nodes.node1.nics); the section is set aside whole, so the rules
    # still check the networks.
    data = {
        "clusterNetworks": [{"name": "cn1", "uplink": {"nics": ["eth1"]}}],
        "networks": [{"name": "n1", "clusterNetwork": "nope", "vlan": 10}],
        "nodes": ["node1"],
        "lab": {"nodes": {"node1": {"nics": 5}}},
    }
    with pytest.raises(PlanError) as caught:
        load_plan(data)
    assert [(i.path, i.message, i.fix) for i in caught.value.issues] == [
        ("lab.nodes.node1.nics", "Input should be a valid list", "write a YAML list"),
        ("networks[0].clusterNetwork", "cluster network 'nope' is not in the plan (known: cn1)",
         "name one of clusterNetworks[].name"),
    ]  # fmt: skip


def test_a_bad_list_entry_deep_in_a_section_leaves_the_rest_judged() -> None:
    # The error's location ends in a list index (lab.nodes.node1.nics[0]): the section is still set aside whole.
    data = {
        "clusterNetworks": [{"name": "cn1", "uplink": {"nics": ["eth1"]}}],
        "networks": [{"name": "n1", "clusterNetwork": "nope", "vlan": 10}],
        "nodes": ["node1"],
        "lab": {"nodes": {"node1": {"nics": [5]}}},
    }
    with pytest.raises(PlanError) as caught:
        load_plan(data)
    assert [(i.path, i.message) for i in caught.value.issues] == [
        ("lab.nodes.node1.nics[0]", "Input should be a valid string"),
        ("networks[0].clusterNetwork", "cluster network 'nope' is not in the plan (known: cn1)"),
    ]


def test_a_yaml_that_recurses_past_pythons_stack_is_an_issue(monkeypatch: pytest.MonkeyPatch) -> None:
    # PyYAML stops at its own nesting limit first today; the guard is for one that recurses deeper.
    def too_deep(*_: object, **__: object) -> object:
        raise RecursionError

    monkeypatch.setattr(yaml, "load", too_deep)
    with pytest.raises(PlanError) as caught:
        parse_yaml("a: 1\n", "p.yaml")
    assert [(i.path, i.message, i.fix) for i in caught.value.issues] == [
        ("", "nests too deep to read", "a plan needs only a few levels")
    ]


def test_only_a_mapping_with_a_merge_key_goes_through_pyyamls_construct_mapping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Without `<<`, the node's key texts are the keys (PyYAML would construct each key as an object).
    merged: list[int] = []
    construct_mapping = yaml.constructor.SafeConstructor.construct_mapping

    def counting(self: yaml.constructor.SafeConstructor, node: yaml.MappingNode, deep: bool = False) -> object:
        merged.append(node.start_mark.line + 1)
        return construct_mapping(self, node, deep)

    monkeypatch.setattr(yaml.constructor.SafeConstructor, "construct_mapping", counting)
    assert parse_yaml("base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\nn: {z: 3}\n") == {
        "base": {"x": 1},
        "m": {"x": 1, "y": 2},
        "n": {"z": 3},
    }
    assert merged == [3]


def test_yaml_problem_without_a_place_or_words() -> None:
    # A marked error may carry neither marks nor a description; the problem's mark wins over the context's.
    assert yaml_problem(yaml.MarkedYAMLError()) == "syntax error"
    only_context = yaml.MarkedYAMLError("while reading", yaml.Mark("", 0, 4, 9, None, None))
    assert yaml_problem(only_context) == "while reading at line 5, column 10"
