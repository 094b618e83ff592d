"""PlanError keeps what it was built from: a copy or a pickle (a subprocess, a Pulumi provider) says the same."""

from __future__ import annotations

import copy
import pickle

from harvester_network.model import PlanError, PlanIssue


def test_a_plan_error_survives_a_pickle_and_a_copy() -> None:
    warning = PlanIssue("a", "odd", "check", "warning")
    error = PlanError([PlanIssue("b", "wrong", "right"), warning], "plan.yaml")
    for again in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
        assert (again.issues, again.warnings, again.source) == (error.issues, [warning], "plan.yaml")
        assert str(again) == "plan.yaml is invalid (1 error(s)):\n  - b: wrong (fix: right)"
