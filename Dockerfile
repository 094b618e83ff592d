# The node agent image (`hvnet agent`); see harvester_network/render/agent_install.py for the DaemonSet.
FROM python:3.11-slim
# iproute2 for operators debugging on the node (`bridge vlan`), iputils-ping for the gateway probe.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 iputils-ping \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY harvester_network ./harvester_network
RUN pip install --no-cache-dir . && rm -rf /src
ENTRYPOINT ["hvnet"]
CMD ["agent", "--help"]
