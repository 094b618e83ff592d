"""PlanError keeps what it was built from: a copy or a pickle (a subprocess, a Pulumi provider) says the same."""

from __future__ import annotations

import copy
import pickle

import pytest

from harvester_network.model import PlanError, PlanIssue, load_plan
from harvester_network.model.load import parse_yaml


def test_a_plan_error_survives_a_pickle_and_a_copy() -> None:
    warning = PlanIssue("a", "odd", "check", "warning")
    error = PlanError([PlanIssue("b", "wrong", "right"), warning], "plan.yaml")
    for again in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
        assert (again.issues, again.warnings, again.source) == (error.issues, [warning], "plan.yaml")
        assert str(again) == "plan.yaml is invalid (1 error(s)):\n  - b: wrong (fix: right)"


def test_the_source_is_plan_unless_named() -> None:
    assert str(PlanError([PlanIssue("b", "wrong")])) == "plan is invalid (1 error(s)):\n  - b: wrong"
    two = PlanError([PlanIssue("a", "x"), PlanIssue("b", "y")])
    assert str(two) == "plan is invalid (2 error(s)):\n  - a: x\n  - b: y"
    for read in (lambda: load_plan(None), lambda: parse_yaml("a: [")):
        with pytest.raises(PlanError) as caught:
            read()
        assert caught.value.source == "plan"
