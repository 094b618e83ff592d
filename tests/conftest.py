"""Shared pytest wiring. The Kubernetes API test server's fixtures live in tests/k8s_api/fixtures.py."""

pytest_plugins = ["tests.k8s_api.fixtures"]
