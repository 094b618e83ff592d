"""Pure functions from a validated plan to Kubernetes objects (plain dicts). The one place manifests are shaped."""

from harvester_network.render.objects import object_file_name, object_key, render_plan

__all__ = ["object_file_name", "object_key", "render_plan"]
