"""Typed, validated configuration files.

Every file a person writes (launch profiles, node parameters, tasks,
calibration, manifests) is loaded through `load_yaml_model`, which turns any
problem into one `ConfigError` naming the file, the field and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

T = TypeVar("T", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file or value is malformed. The message names file and field."""


class StrictModel(BaseModel):
    """Base for config models: unknown keys are errors (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def format_validation_error(source: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "<root>"
        allowed = ""
        ctx = e.get("ctx") or {}
        if "expected" in ctx:
            allowed = f" (allowed: {ctx['expected']})"
        got = e.get("input")
        got_s = "" if isinstance(got, dict) else f"; got {got!r}"
        lines.append(f"{source}: field '{loc}': {e['msg']}{allowed}{got_s}")
    return "\n".join(lines)


def validate_model(model: type[T], data: Any, source: str) -> T:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(source, err)) from None


def read_yaml(path: str | Path) -> Any:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read ({err.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{path}:{where}: not valid YAML: {problem}") from None


def load_yaml_model(model: type[T], path: str | Path) -> T:
    data = read_yaml(path)
    if data is None:
        raise ConfigError(f"{path}: file is empty")
    return validate_model(model, data, str(path))
