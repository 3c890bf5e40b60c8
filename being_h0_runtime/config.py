"""Typed, validated configuration files.

Every file a person writes (launch profiles, node parameters, tasks,
calibration, manifests) is loaded through `load_yaml_model`, which turns any
problem into one `ConfigError` naming the file, the field and what is allowed.
"""

from __future__ import annotations

import difflib
import types
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
)

T = TypeVar("T", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file or value is malformed. The message names file and field."""


def run_subcommand(args: Any) -> int:
    """Call a parsed subcommand (``args.func(args)``); bad input (ConfigError) is one line and exit 2.

    The contract of every `being-h0` command's own `main()`; the CLI tree applies the same rule.
    """
    import sys

    try:
        return int(args.func(args) or 0)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


class StrictModel(BaseModel):
    """Base for config models: unknown keys are errors (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def did_you_mean(word: str, choices: Any) -> str:
    """' (did you mean 'ip'?)' for the closest of `choices`, or a list of them when none is close."""
    names = sorted(str(c) for c in choices)
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known: {', '.join(names)})" if names else " (this block takes no keys)"


def model_in_annotation(annotation: Any) -> tuple[type[BaseModel] | None, int]:
    """The pydantic model a field's annotation holds, and how many container keys (dict/list) sit between."""
    t, skip = annotation, 0
    for _ in range(8):
        origin = get_origin(t)
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t, skip
        if origin is Annotated:
            t = get_args(t)[0]
        elif origin in (Union, types.UnionType):
            inner = [a for a in get_args(t) if a is not type(None)]
            models = [a for a in inner if model_in_annotation(a)[0] is not None]
            if len(models) != 1:
                return None, 0
            t = models[0]
        elif origin in (dict, list, tuple) and get_args(t):
            t, skip = get_args(t)[-1 if origin is dict else 0], skip + 1
        else:
            return None, 0
    return None, 0


def model_at(model: type[BaseModel], data: Any, path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping found at `path` of `data` (None if not a model).

    A model whose field holds a model chosen at run time (driver `options`, picked by `backend`)
    names it with a classmethod ``submodel_for(field, data) -> type[BaseModel] | None``.
    """
    cls: type[BaseModel] | None = model
    value, i = data, 0
    while i < len(path):
        key = path[i]
        if cls is None or not isinstance(key, str) or key not in cls.model_fields:
            return None
        hook = getattr(cls, "submodel_for", None)
        chosen = hook(key, value) if hook is not None else None
        sub, skip = (chosen, 0) if chosen is not None else model_in_annotation(cls.model_fields[key].annotation)
        value = value.get(key) if isinstance(value, dict) else None
        i += 1
        for _ in range(skip):  # dict keys / list indices between this field and the model
            if i >= len(path):
                return None
            value = value.get(path[i]) if isinstance(value, dict) else (
                value[path[i]] if isinstance(value, list) and isinstance(path[i], int) and path[i] < len(value)
                else None)
            i += 1
        cls = sub
    return cls


def format_validation_error(source: str, err: ValidationError, model: type[BaseModel] | None = None,
                            data: Any = None, prefix: str = "") -> str:
    """One line per problem: file, dotted key path, what is wrong, what is allowed (a close match for typos)."""
    lines = []
    for e in err.errors():
        loc = ".".join([prefix] * bool(prefix) + [str(p) for p in e["loc"]]) or "<root>"
        allowed = ""
        ctx = e.get("ctx") or {}
        if "expected" in ctx:
            allowed = f" (allowed: {ctx['expected']})"
        got = e.get("input")
        got_s = "" if isinstance(got, dict) else f"; got {got!r}"
        msg = e["msg"]
        if e["type"] == "extra_forbidden" and e["loc"]:
            parent = model_at(model, data, tuple(e["loc"][:-1])) if model is not None else None
            msg = f"unknown key {str(e['loc'][-1])!r}"
            if parent is not None:
                msg += did_you_mean(str(e["loc"][-1]), parent.model_fields)
            got_s = ""
        lines.append(f"{source}: field '{loc}': {msg}{allowed}{got_s}")
    return "\n".join(lines)


def validate_model(model: type[T], data: Any, source: str, context: dict[str, Any] | None = None,
                   prefix: str = "") -> T:
    """`model.model_validate(data)`, any problem raised as one ConfigError naming `source` and the key path.

    `context` reaches every validator (e.g. ``{"base_dir": ...}`` for `FilePath` fields); `prefix` is
    the dotted path of `data` inside its file (``nodes.arm.params``)."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as err:
        raise ConfigError(format_validation_error(source, err, model, data, prefix)) from None


def _resolve_against_base(value: Any, info: ValidationInfo) -> Any:
    base = (info.context or {}).get("base_dir")
    if base is None or value is None or str(value) == "":
        return value
    p = Path(value).expanduser()
    resolved = p if p.is_absolute() else Path(base) / p
    return type(value)(resolved) if isinstance(value, Path) else str(resolved)


#: A path written in a config file: relative paths resolve against the file's folder
#: (validation context ``base_dir``), never against the working directory of whoever runs it.
FilePath = Annotated[str, AfterValidator(_resolve_against_base)]
#: the same for fields typed as `Path`
PathField = Annotated[Path, AfterValidator(_resolve_against_base)]


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
