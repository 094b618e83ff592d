"""Lab fixtures: a running lab per test module, torn down afterwards (namespaces hvt-* only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harvester_network.lab.lab import Lab, teardown
from harvester_network.lab.workdir import Workdir
from harvester_network.model import load_plan_file

ROOT = Path(__file__).resolve().parents[2]

LabFactory = Callable[..., Lab]


def require_vlan_kernel() -> None:
    from harvester_network.lab.uml import needs_lab_kernel

    if needs_lab_kernel():
        pytest.skip("needs a kernel with bridge VLAN filtering; `make test-lab` runs these inside the lab kernel")


@pytest.fixture(scope="module")
def make_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabFactory]:
    """make_lab(plan path relative to the repo, up=True): a fresh lab; everything is removed after the module."""
    require_vlan_kernel()
    labs: list[Lab] = []

    def factory(plan_path: str, up: bool = True) -> Lab:
        plan, _ = load_plan_file(ROOT / plan_path)
        lab = Lab(plan, Workdir(tmp_path_factory.mktemp("lab")))
        teardown(also=lab.topology.namespaces())
        labs.append(lab)
        if up:
            lab.up()
        return lab

    yield factory
    for lab in labs:
        lab.down()
    teardown()
