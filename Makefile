# The two commands for a fresh machine: `make demo` and `make test`. See README.md.
SHELL := /bin/bash
VENV := .venv
PY := $(abspath $(VENV))/bin/python
STAMP := $(VENV)/.installed
# Debian packages the real-kernel lab needs (User-Mode Linux, the bridge CNI plugin, dnsmasq, udhcpc).
LAB_PACKAGES := user-mode-linux busybox-static kmod iproute2 iputils-ping containernetworking-plugins dnsmasq-base

.PHONY: setup system-deps test test-unit test-lab lint demo mutation clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Installs the lab's Debian packages when any is missing (needs root, as on CI).
system-deps:
	@missing=$$(for p in $(LAB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing lab packages:" $$missing; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root for apt-get; run: sudo make system-deps" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

lint: setup
	$(VENV)/bin/ruff check harvester_network tests benchmarks tools
	$(VENV)/bin/mypy

test-unit: setup
	$(VENV)/bin/pytest -m "not lab and not netlink"

# One pytest session inside one boot of the lab kernel (User-Mode Linux): netlink and lab tests.
test-lab: setup system-deps
	$(PY) -m harvester_network.lab.uml -- $(PY) -m pytest -m "netlink or lab" -p no:cacheprovider

test: lint test-unit test-lab

# The main job: the quickstart plan in the real-kernel lab (boot, agents converge, VMs attach, DHCP, matrix, picture, down).
demo: setup system-deps
	$(VENV)/bin/hvnet plan examples/quickstart/plan.yaml
	$(VENV)/bin/hvnet lab demo examples/quickstart/plan.yaml

# How many small changes to the core pure modules the host-side tests catch (docs/testing.md). A few minutes per
# module; pick modules or a sample with ARGS, e.g. make mutation ARGS="render/dhcp.py --sample 40 --seed 1".
mutation: setup
	nice -n 19 $(PY) tools/mutation.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
