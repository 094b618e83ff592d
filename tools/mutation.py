"""`make mutation`: how many small changes to the core pure modules the host-side tests notice.

Each mutant is one change inside one function body (module-level code is left alone): a comparison flipped,
`and`/`or` swapped, an integer constant +-1, a statement dropped, a string dict key or subscript renamed,
`not` dropped, a `True`/`False` swapped. A mutant is killed when the module's tests fail (or run past 10 times
the baseline) with it in place. The parent imports everything once and collects the tests; each mutant runs in
a forked child that swaps the mutated function's code object in (every importer sees it) and runs the module's
tests with `-x`. Source files are never written.

    python tools/mutation.py                       # every module of MODULES, all mutants
    python tools/mutation.py render/dhcp.py --sample 40 --seed 7   # 40 random mutants of one module
    python tools/mutation.py model/rules.py --line 192              # the mutants of one line (a survivor)

Prints one line per module (killed/total, score) and every survivor; docs/testing.md keeps the last scores.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import importlib
import os
import random
import signal
import sys
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "harvester_network"
HOST_ONLY = ["-m", "not lab and not netlink", "-p", "no:cacheprovider", "-q", "-x", "--no-header"]

# module (under harvester_network/) -> (the tests that exercise it, the functions to mutate; None: all of them)
MODULES: dict[str, tuple[list[str], set[str] | None]] = {
    "model/names.py": (
        ["tests/model/test_names.py", "tests/model/test_dhcp_server.py", "tests/model/test_invalid_plans.py"],
        None,
    ),
    "model/plan.py": (
        [
            "tests/model/test_plan_fields.py",
            "tests/model/test_field_checks.py",
            "tests/model/test_rules_boundaries.py",
            "tests/test_mtu_zero.py",
            "tests/model/test_invalid_plans.py",
            "tests/model/test_partial_validation.py",
            "tests/model/test_hostile_inputs.py",
        ],
        None,
    ),
    "model/rules.py": (
        [
            "tests/model/test_rule_texts.py",
            "tests/model/test_rules_boundaries.py",
            "tests/model/test_rules_untagged.py",
            "tests/model/test_invalid_plans.py",
            "tests/model/test_dhcp_server.py",
            "tests/model/test_user_data.py",
            "tests/model/test_hostile_inputs.py",
        ],
        None,
    ),
    "model/load.py": (
        [
            "tests/model/test_load_sections.py",
            "tests/model/test_yaml_reading.py",
            "tests/model/test_paused_gc.py",
            "tests/model/test_invalid_plans.py",
            "tests/model/test_partial_validation.py",
            "tests/model/test_hostile_inputs.py",
        ],
        None,
    ),
    "model/issues.py": (
        ["tests/render/test_object_names.py", "tests/model/test_plan_error.py", "tests/model/test_invalid_plans.py"],
        None,
    ),
    "model/guest.py": (
        ["tests/render/test_vm_whole.py", "tests/model/test_user_data.py", "tests/render/test_golden.py"],
        None,
    ),
    "model/userdata.py": (["tests/model/test_user_data.py", "tests/render/test_vm_whole.py"], None),
    "model/yaml_problem.py": (["tests/model/test_yaml_reading.py", "tests/model/test_user_data.py"], None),
    "render/clusternetwork.py": (["tests/render/test_golden.py"], None),
    "render/nad.py": (["tests/render/test_nad_whole.py", "tests/render/test_golden.py"], None),
    "render/dhcp.py": (
        [
            "tests/render/test_dhcp_whole.py",
            "tests/render/test_golden.py",
            "tests/model/test_dhcp_server.py",
            "tests/security/test_dhcp_workload.py",
        ],
        None,
    ),
    "render/nodeplan.py": (
        ["tests/render/test_nodeplan_table.py", "tests/test_mtu_zero.py", "tests/model/test_cli.py"],
        None,
    ),
    "render/vm.py": (
        [
            "tests/render/test_vm_whole.py",
            "tests/render/test_golden.py",
            "tests/guest/test_guest_side.py",
            "tests/model/test_user_data.py",
            "tests/render/test_examples.py",
        ],
        None,
    ),
    "render/objects.py": (
        ["tests/render/test_object_names.py", "tests/render/test_golden.py", "tests/render/test_examples.py"],
        None,
    ),
    "render/crds.py": (
        [
            "tests/render/test_crds_upstream.py",
            "tests/render/test_crds_metadata.py",
            "tests/agent/test_vlanstatus.py",
            "tests/render/test_agent_install.py",
        ],
        None,
    ),
    "render/vlanstatus.py": (["tests/agent/test_vlanstatus.py"], None),
    "render/agent_install.py": (
        [
            "tests/render/test_agent_install_whole.py",
            "tests/render/test_agent_install.py",
            "tests/security/test_hardening.py",
        ],
        None,
    ),
    "render/agent_policy.py": (
        [
            "tests/render/test_agent_policy_whole.py",
            "tests/security/test_admission_policy.py",
            "tests/render/test_agent_install_whole.py",
        ],
        None,
    ),
    "render/harvester.py": (["tests/render/test_harvester_keys.py", "tests/render/test_golden.py"], None),
    "vids.py": (["tests/test_vids.py"], None),
    "agent/desired.py": (
        [
            "tests/agent/test_desired_incremental.py",
            "tests/agent/test_desired_edges.py",
            "tests/agent/test_desired.py",
            "tests/test_mtu_zero.py",
        ],
        None,
    ),
    "agent/netlink.py": (
        ["tests/agent/test_planner.py"],
        {
            "plan_changes",
            "_plan_teardown",
            "_bonds_first",
            "_ownership_problem",
            "_nic_problem",
            "_plan_cluster_network",
            "_bridge_changes",
            "_bond_changes",
            "_nic_changes",
            "_vid_changes",
            "_prune_changes",
        },
    ),
    "agent/netlink_read.py": (["tests/agent/test_netlink_read.py", "tests/agent/test_planner.py"], None),
    "provider/base.py": (
        [
            "tests/provider/test_check.py",
            "tests/provider/test_base_paths.py",
            "tests/provider/test_base_texts.py",
            "tests/provider/test_providers.py",
            "tests/provider/test_harvester_nad.py",
            "tests/provider/test_harvester_fields.py",
            "tests/provider/test_harvester_transitions.py",
        ],
        None,
    ),
}

COMPARISONS = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}  # fmt: skip


@dataclass(frozen=True)
class Mutant:
    function: str  # qualified name of the function whose body changes
    line: int
    what: str
    tree: ast.Module


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """(qualified name, node) of every top-level function and method (nested ones belong to their outer one)."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield f"{node.name}.{item.name}", item


def _is_docstring(parent: ast.AST, stmt: ast.stmt) -> bool:
    body = getattr(parent, "body", [])
    return bool(body) and body[0] is stmt and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def _edits(function: ast.AST) -> Iterator[tuple[ast.AST, str, tuple[object, ...]]]:
    """(node, description, replacement or the instruction) for each mutation inside `function`'s body.
    Its signature and decorators are left alone: default values live on the function object, not in the code
    object that a mutant swaps in."""
    body = [node for stmt in getattr(function, "body", []) for node in ast.walk(stmt)]
    for node in [function, *body]:
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in COMPARISONS:
                    yield node, f"{type(op).__name__} -> {COMPARISONS[type(op)].__name__}", ("op", i)
        elif isinstance(node, ast.BoolOp):
            yield node, "and <-> or", ("boolop",)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, "drop `not`", ("not",)
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            yield node, f"{node.value} -> {node.value + 1}", ("int", 1)
            yield node, f"{node.value} -> {node.value - 1}", ("int", -1)
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            yield node, f"{node.value} -> {not node.value}", ("bool",)
        elif isinstance(node, ast.Dict):
            for i, key in enumerate(node.keys):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    yield node, f"dict key {key.value!r} renamed", ("key", i)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            yield node, f"subscript [{node.slice.value!r}] renamed", ("subscript",)
        if hasattr(node, "body") and isinstance(node.body, list):
            for field in ("body", "orelse", "finalbody"):
                stmts = getattr(node, field, None) or []
                for j, stmt in enumerate(stmts):
                    if not _is_docstring(node, stmt) and not isinstance(stmt, (ast.Pass, ast.FunctionDef)):
                        yield node, f"drop line {stmt.lineno} ({type(stmt).__name__})", ("drop", field, j)


def _apply(node: ast.AST, how: tuple[object, ...]) -> None:
    kind = how[0]
    if kind == "op":
        assert isinstance(node, ast.Compare) and isinstance(how[1], int)
        node.ops[how[1]] = COMPARISONS[type(node.ops[how[1]])]()
    elif kind == "boolop":
        assert isinstance(node, ast.BoolOp)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "int":
        assert isinstance(node, ast.Constant) and isinstance(node.value, int) and isinstance(how[1], int)
        node.value = node.value + how[1]
    elif kind == "bool":
        assert isinstance(node, ast.Constant)
        node.value = not node.value
    elif kind == "key":
        assert isinstance(node, ast.Dict) and isinstance(how[1], int)
        key = node.keys[how[1]]
        assert isinstance(key, ast.Constant)
        key.value = f"{key.value!s}_mutant"
    elif kind == "subscript":
        assert isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
        node.slice.value = f"{node.slice.value!s}_mutant"
    elif kind == "drop":
        field, index = how[1], how[2]
        assert isinstance(field, str) and isinstance(index, int)
        stmts = getattr(node, field)
        stmts[index] = ast.copy_location(ast.Pass(), stmts[index])


class _DropNot(ast.NodeTransformer):
    def __init__(self, target: ast.AST) -> None:
        self.target = target

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        return node.operand if node is self.target else node


def mutants(source: str, only: set[str] | None) -> list[Mutant]:
    tree = ast.parse(source)
    found = []
    for qualname, function in _functions(tree):
        if only is not None and qualname.split(".")[0] not in only:
            continue
        for position, (_node, what, _how) in enumerate(_edits(function)):
            copied = copy.deepcopy(tree)
            target_function = dict(_functions(copied))[qualname]
            node, _, how = list(_edits(target_function))[position]
            if how[0] == "not":
                copied = _DropNot(node).visit(copied)
            else:
                _apply(node, how)
            found.append(
                Mutant(qualname, getattr(node, "lineno", function.lineno), what, ast.fix_missing_locations(copied))
            )
    return found


def _code_by_qualname(code: types.CodeType) -> dict[str, types.CodeType]:
    found = {code.co_qualname: code}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _code_by_qualname(const)
    return found


def _function_objects(module: types.ModuleType, qualname: str) -> list[types.FunctionType]:
    """The live function objects of `qualname` (unwrapping properties, cached_property, class/staticmethod)."""
    owner_name, _, name = qualname.rpartition(".")
    owner = getattr(module, owner_name) if owner_name else module
    raw = vars(owner).get(name) if owner_name else getattr(module, name, None)
    candidates = [raw, getattr(raw, "fget", None), getattr(raw, "func", None), getattr(raw, "__func__", None)]
    candidates += [getattr(raw, "__wrapped__", None)]
    return [c for c in candidates if isinstance(c, types.FunctionType) and c.__code__.co_qualname == qualname]


class _MutantRunner:
    """A pytest plugin: collect once, then run the tests in one forked child per mutant (and one without)."""

    def __init__(self, swaps: list[tuple[list[types.FunctionType], types.CodeType] | None]) -> None:
        self.swaps = swaps
        self.outcomes: list[str] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        timeout = 600.0
        for position, swap in enumerate(self.swaps):
            started = time.monotonic()
            self.outcomes.append(_in_child(session, timeout, swap))
            if position == 0:  # the baseline, unmutated
                timeout = max(10.0, 10 * (time.monotonic() - started))
        return True


def _run_items(session: pytest.Session) -> bool:
    """Run the collected tests until the first failure; True when all passed."""
    items = session.items
    for i, item in enumerate(items):
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=items[i + 1] if i + 1 < len(items) else None)
        if session.testsfailed:
            return False
    return True


def _in_child(
    session: pytest.Session, timeout: float, swap: tuple[list[types.FunctionType], types.CodeType] | None
) -> str:
    """'passed', 'failed' or 'timeout': the tests run in a forked child (with the mutant's code swapped in)."""
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        if swap is not None:
            for function in swap[0]:
                function.__code__ = swap[1]
        os._exit(0 if _run_items(session) else 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return "passed" if os.waitstatus_to_exitcode(status) == 0 else "failed"
        time.sleep(0.02)
    os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return "timeout"


def run_module(
    relative: str, sample: int | None, seed: int, lines: set[int] | None = None
) -> tuple[int, int, list[Mutant]]:
    tests, only = MODULES[relative]
    name = f"{PACKAGE}.{relative.removesuffix('.py').replace('/', '.')}"
    module = importlib.import_module(name)
    path = REPO / PACKAGE / relative
    found = [m for m in mutants(path.read_text(), only) if lines is None or m.line in lines]
    if sample is not None and sample < len(found):
        found = random.Random(seed).sample(found, sample)
    runnable, swaps, not_run = [], [], []
    for mutant in found:
        code = _code_by_qualname(compile(mutant.tree, str(path), "exec")).get(mutant.function)
        functions = _function_objects(module, mutant.function)
        if code is None or not functions or any(f.__code__.co_freevars != code.co_freevars for f in functions):
            not_run.append(mutant)  # counted as a survivor: the tool could not try it
            continue
        runnable.append(mutant)
        swaps.append((functions, code))
    runner = _MutantRunner([None, *swaps])
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        pytest.main([*tests, *HOST_ONLY], plugins=[runner])
    if runner.outcomes[:1] != ["passed"]:
        raise SystemExit(f"{relative}: the tests fail without any mutant: {' '.join(tests)}")
    survivors = [m for m, outcome in zip(runnable, runner.outcomes[1:], strict=True) if outcome == "passed"]
    for mutant in not_run:
        print(f"  not run: line {mutant.line} in {mutant.function}: {mutant.what} (cannot swap it in)")
    return len(found) - len(survivors) - len(not_run), len(found), survivors + not_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"modules under {PACKAGE}/ (default: all of MODULES)")
    parser.add_argument("--sample", type=int, help="run this many random mutants per module")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--line", type=int, action="append", help="only the mutants on this line (repeatable)")
    args = parser.parse_args()
    os.chdir(REPO)
    sys.path.insert(0, str(REPO))
    chosen = args.modules or list(MODULES)
    unknown = [m for m in chosen if m not in MODULES]
    if unknown:
        raise SystemExit(f"not a mutation module: {', '.join(unknown)} (known: {', '.join(MODULES)})")
    total_killed = total = 0
    for relative in chosen:
        started = time.monotonic()
        killed, count, survivors = run_module(relative, args.sample, args.seed, set(args.line) if args.line else None)
        total_killed, total = total_killed + killed, total + count
        score = 100 * killed / count if count else 100.0
        print(f"{relative}: {killed}/{count} killed, {score:.1f}% ({time.monotonic() - started:.0f} s)", flush=True)
        for mutant in sorted(survivors, key=lambda m: m.line):
            print(f"  survived: line {mutant.line} in {mutant.function}: {mutant.what}", flush=True)
    print(f"all: {total_killed}/{total} killed, {100 * total_killed / max(total, 1):.1f}%")


if __name__ == "__main__":
    main()
