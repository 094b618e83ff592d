"""The harvester-network Pulumi program: one HarvesterNetworking per cluster of the stack config.

Stack config: `harvester-network:plan` (one cluster) or `harvester-network:clusters` with shared
`harvester-network:defaults` (see Pulumi.dev.yaml, examples/multi-cluster and docs/pulumi.md).
"""

from harvester_network.components.stack import build_stack

build_stack()
