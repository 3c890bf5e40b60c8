"""Options shared by `run` and `launch`: which policy drives, and node parameter overrides."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_policy_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--engine", help="engine directory (default: the profile's policy)")
    g.add_argument("--expert", action="store_true", help="use the scripted virtual-rig expert")
    p.add_argument("--backend", default="auto", choices=["auto", "tensorrt", "onnxruntime", "torch"],
                   help="inference backend for --engine")
    p.add_argument("--set", action="append", metavar="NODE.PARAM=VALUE",
                   help="override a node parameter, e.g. --set arm.rate_hz=200 (repeatable)")


def overrides_for_policy(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Profile overrides from --engine/--expert and every --set NODE.PARAM=VALUE (VALUE: JSON, else a string)."""
    from ..config import ConfigError

    over: dict[str, dict[str, Any]] = {}
    if getattr(args, "engine", None):
        # a path typed on the command line is relative to the working directory (profile paths: to the profile)
        over["inference"] = {"policy": {"kind": "engine", "engine_dir": str(Path(args.engine).absolute()),
                                        "backend": args.backend}}
    elif getattr(args, "expert", False):
        from ..policy.expert import with_expert

        over = with_expert()
    for item in getattr(args, "set", None) or []:
        key, _, value = item.partition("=")
        node, _, param = key.partition(".")
        if not node or not param or not _:
            raise ConfigError(f"--set {item!r}: expected NODE.PARAM=VALUE (VALUE is JSON or a plain string)")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        over.setdefault(node, {})[param] = parsed
    return over
