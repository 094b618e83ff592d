"""The complete program in docs/pulumi.md makes exactly what `hvnet render examples/quickstart/plan.yaml` makes."""

from __future__ import annotations

import re
from pathlib import Path

from harvester_network.model import load_plan_file
from tests.pulumi.harness import rendered, run_program

ROOT = Path(__file__).resolve().parents[2]


def docs_program() -> str:
    text = (ROOT / "docs/pulumi.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    assert len(blocks) == 1, "docs/pulumi.md has one complete program"
    return blocks[0]


def test_docs_program_makes_the_quickstart_objects() -> None:
    source = docs_program()
    recording = run_program(lambda: exec(compile(source, "docs/pulumi.md", "exec"), {"__name__": "__main__"}))
    plan, _ = load_plan_file(ROOT / "examples/quickstart/plan.yaml")
    assert recording.objects() == rendered(plan)
    # One shared `kubernetes` provider for the workload objects.
    providers = recording.of_type("pulumi:providers:kubernetes")
    assert [p.name for p in providers] == ["kubernetes"]
    assert all(
        r.provider.startswith(providers[0].urn) for r in recording.registrations if r.type.startswith("kubernetes:")
    )
