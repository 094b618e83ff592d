"""One fact, one home: no module-level constant is defined in two modules, and the kernel/Harvester facts of
harvester_network/facts.py appear as values nowhere else (read from the source, so a new copy fails here)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

import harvester_network
from harvester_network import facts

PACKAGE = Path(harvester_network.__file__).parent
# Same name, different facts: each says why it is not one constant.
SAME_NAME_OTHER_FACT = {
    "T": "a TypeVar, local to its module",
    "U": "a TypeVar, local to its module",
    "PROBE_TIMEOUT_S": "the lab's ping probe (1 s) and the agent's ARP probe (4 s) wait for different things",
}
# Values that are the fact itself wherever they appear (small numbers like 1 or 100 mean many things, and
# "broadcast" is also an address), and the bond modes as a list.
FACT_VALUES = {facts.DEFAULT_BOND_MODE, facts.MAX_VID, facts.MIN_MTU, facts.MAX_MTU, facts.AGENT_STATE_DIR}


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(PACKAGE.parent)), ast.parse(path.read_text(), str(path)))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def _module_constants(tree: ast.Module) -> list[str]:
    """UPPER_CASE names and type aliases (`X = Literal[...]`) assigned at module level; a leading _ is ignored."""
    found = []
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name) and (
                    name.id.lstrip("_").isupper() or (isinstance(node.value, ast.Subscript) and name.id[:1].isupper())
                ):
                    found.append(name.id.lstrip("_"))
    return found


def _docstrings(tree: ast.Module) -> set[int]:
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))]
    return {
        id(n.body[0].value)
        for n in nodes
        if n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)
    }


def test_no_constant_is_defined_in_two_modules() -> None:
    homes: dict[str, list[str]] = defaultdict(list)
    for module, tree in _modules():
        for name in _module_constants(tree):
            homes[name].append(module)
    twice = {name: where for name, where in homes.items() if len(where) > 1 and name not in SAME_NAME_OTHER_FACT}
    assert twice == {}, "define each once (harvester_network/facts.py for kernel/Harvester facts) and import it"


def _is_fact_value(node: ast.AST) -> bool:
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [item.value for item in node.elts if isinstance(item, ast.Constant)]
        return set(items) == set(facts.BOND_MODES)
    return isinstance(node, ast.Constant) and type(node.value) in (int, str) and node.value in FACT_VALUES


OTHER_MODULES = [(module, tree) for module, tree in _modules() if module != "harvester_network/facts.py"]


@pytest.mark.parametrize(("module", "tree"), OTHER_MODULES, ids=[module for module, _ in OTHER_MODULES])
def test_kernel_and_harvester_facts_are_imported_not_repeated(module: str, tree: ast.Module) -> None:
    docstrings = _docstrings(tree)
    copies = sorted(
        {
            f"line {node.lineno}: {ast.unparse(node)}"
            for node in ast.walk(tree)
            if _is_fact_value(node) and id(node) not in docstrings
        }
    )
    assert copies == [], f"{module} repeats a value of harvester_network/facts.py; import the constant instead"
