"""The plan model: pydantic specs and every validation rule. No I/O beyond reading the plan file."""

from harvester_network.model.issues import PlanError, PlanIssue
from harvester_network.model.load import load_plan, load_plan_file
from harvester_network.model.plan import Plan

__all__ = ["Plan", "PlanError", "PlanIssue", "load_plan", "load_plan_file"]
