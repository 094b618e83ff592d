"""One HarvesterNetworking per cluster of `harvester-network:clusters`, with `harvester-network:defaults`
deep-merged into each cluster's plan (see Pulumi.sites.yaml)."""

from harvester_network.components.stack import build_stack

build_stack()
