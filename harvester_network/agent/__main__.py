"""`python -m harvester_network.agent`: the node agent (agent/main.py)."""

from harvester_network.agent.main import main

raise SystemExit(main(prog="python -m harvester_network.agent"))
