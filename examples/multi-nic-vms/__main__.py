"""plan.yaml on the cluster of the current kubeconfig context; choose another with
`pulumi config set harvester-network:context <ctx>` or
`pulumi config set --secret harvester-network:kubeconfig "$(cat kubeconfig)"`."""

from pathlib import Path

from harvester_network.components.stack import build_plan_file

build_plan_file(Path(__file__).parent / "plan.yaml")
