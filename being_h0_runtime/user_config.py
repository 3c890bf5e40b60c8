"""The user's own settings: ``$XDG_CONFIG_HOME/being-h0/config.yaml`` (or ``$BEING_H0_CONFIG``).

Today it holds one key, ``profile``: the launch profile that commands which touch hardware
(``being-h0 doctor``) use when none is given.  Nothing defaults to the real rig: a command that would
contact a robot's address must be told which profile -- and so which address -- it is for.

    being-h0 config set profile rig
    being-h0 config show
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import yaml

from .config import ConfigError

#: the keys this file may hold, with what they mean
KEYS = {"profile": "launch profile used by `being-h0 doctor` when --profile is not given (name or YAML path)"}


def config_path() -> Path:
    explicit = os.environ.get("BEING_H0_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "being-h0" / "config.yaml"


def load_user_config() -> dict[str, Any]:
    path = config_path()
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {unknown}; known: {sorted(KEYS)}")
    return data


def default_profile() -> str | None:
    value = load_user_config().get("profile")
    return str(value) if value else None


def set_value(key: str, value: str) -> Path:
    if key not in KEYS:
        raise ConfigError(f"unknown setting {key!r}; known: {sorted(KEYS)}")
    data = load_user_config()
    data[key] = value
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=True))
    tmp.replace(path)  # write-then-rename: a crash never leaves half a file
    return path


def cmd_config(args: argparse.Namespace) -> int:
    if args.action == "set":
        if args.key is None or args.value is None:
            raise ConfigError("usage: being-h0 config set KEY VALUE")
        path = set_value(args.key, args.value)
        print(f"{args.key} = {args.value}  ({path})")
        return 0
    data = load_user_config()
    print(f"# {config_path()}{'' if config_path().exists() else ' (not created yet)'}")
    for key, meaning in KEYS.items():
        print(f"{key}: {data.get(key, '')}    # {meaning}")
    return 0

