"""cloud-init user data: which kind it is, and a `#cloud-config` read safely with the keys we add to checked.

We add qemu-guest-agent to `packages` and its `systemctl enable` to `runcmd`, so those two keys are checked
against cloud-init 22.4's schema (cloudinit/config/schemas/schema-cloud-config-v1.json: `packages` in
cc_package_update_upgrade_install, `runcmd` in cc_runcmd). The rest of the document is the guest's business.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml

from harvester_network.model.yaml_problem import yaml_problem

CLOUD_CONFIG_HEADER = "#cloud-config"
JINJA_HEADER = "## template: jinja"  # cloud-init renders the rest with instance data first

# Kubernetes' MaxSecretSize (pkg/apis/core/validation): the Secret holding user data and network data.
SECRET_DATA_MAX_BYTES = 1024 * 1024

UserDataKind = Literal["cloud-config", "script", "jinja", "other"]


class UserDataError(ValueError):
    """A `#cloud-config` that cloud-init would reject, or that we cannot add the guest agent to."""


def user_data_kind(text: str) -> UserDataKind:
    first_line = text.partition("\n")[0].rstrip()
    if first_line == CLOUD_CONFIG_HEADER:
        return "cloud-config"
    if first_line.startswith("#!"):
        return "script"
    if first_line.lower() == JINJA_HEADER:
        return "jinja"
    return "other"


def parse_cloud_config(text: str) -> dict[str, Any]:
    """The mapping of a `#cloud-config` document; an empty one is `{}`. Raises UserDataError."""
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # includes tags safe_load refuses, such as !!python/object
        raise UserDataError(f"is not valid YAML: {yaml_problem(exc)}") from None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise UserDataError(f"is a {type(config).__name__}, not a mapping of keys")
    for key, check in (("packages", _check_packages), ("runcmd", _check_runcmd)):
        if key in config:
            check(config[key])
    return config


def _check_packages(packages: object) -> None:
    if not isinstance(packages, list) or not packages:
        raise UserDataError("packages must be a non-empty list of package names, like [htop]")
    for item in packages:
        pinned = isinstance(item, list) and len(item) == 2 and all(isinstance(part, str) for part in item)
        if not isinstance(item, str) and not pinned:
            raise UserDataError(f"packages item {item!r} is neither a package name nor a [name, version] pair")


def _check_runcmd(commands: object) -> None:
    if not isinstance(commands, list) or not commands:
        raise UserDataError("runcmd must be a non-empty list of commands (strings or lists of strings)")
    for item in commands:
        argv = isinstance(item, list) and all(isinstance(part, str) for part in item)
        if not (item is None or isinstance(item, str) or argv):
            raise UserDataError(f"runcmd item {item!r} is neither a shell string nor a list of strings")
