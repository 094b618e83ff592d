"""Harvester-style VLAN networking as code, plus the node agent that makes it real.

Layers (dependencies point down only):
model -> render -> kube -> provider/components -> agent -> lab; the `hvnet` CLI sits on top.
`facts.py` (plain kernel and Harvester values, no imports) sits below them all.
"""

__version__ = "0.1.0"
