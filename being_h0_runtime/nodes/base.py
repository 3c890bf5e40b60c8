"""Shared plumbing for nodes: parameter models, the node registry, diagnostics.

A node is a class with a nested pydantic `Params` model and a constructor
`(handle: NodeHandle, params: Params)`.  `build_node` validates a parameter
dict (from a launch profile) and constructs the node; the same call is used
by the in-process graph, the per-process launcher and the ROS 2 launch file.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

from ..config import StrictModel, validate_model
from ..drivers.base import Diagnostic
from ..msgs import DiagnosticArray, DiagnosticStatus, KeyValue
from ..msgs.convert import header
from ..transport.api import NodeHandle, QoS

#: node type name (as written in launch profiles) -> "module:Class"
NODE_TYPES: dict[str, str] = {
    "virtual_rig": "being_h0_runtime.nodes.virtual_rig:VirtualRigNode",
    "camera": "being_h0_runtime.nodes.camera:CameraNode",
    "arm": "being_h0_runtime.nodes.arm:ArmNode",
    "hand": "being_h0_runtime.nodes.hand:HandNode",
    "inference": "being_h0_runtime.nodes.inference:InferenceNode",
    "task": "being_h0_runtime.nodes.task:TaskNode",
    "recorder": "being_h0_runtime.recording.recorder:RecorderNode",
    "teleop": "being_h0_runtime.nodes.teleop:TeleopNode",
}


class RuntimeNode:
    """Base class: holds the handle, validated params and a diagnostics publisher."""

    Params: ClassVar[type[StrictModel]]

    def __init__(self, handle: NodeHandle, params: StrictModel) -> None:
        self.handle = handle
        self.params = params
        self.log = handle.logger
        self._diag_pub = handle.create_publisher(DiagnosticArray, "/diagnostics", QoS(depth=50))

    def publish_diagnostics(self, diags: list[Diagnostic]) -> None:
        if not diags:
            return
        status = [
            DiagnosticStatus(
                level=d.level,
                name=f"{self.handle.name}: {d.name}",
                message=d.message,
                hardware_id=self.handle.name,
                values=[KeyValue(k, str(v)) for k, v in d.values.items()],
            )
            for d in diags
        ]
        self._diag_pub.publish(DiagnosticArray(header=header(self.handle.now()), status=status))

    def close(self) -> None:
        """Release hardware. Called on shutdown, also after errors."""


def node_class(type_name: str) -> type[RuntimeNode]:
    try:
        target = NODE_TYPES[type_name]
    except KeyError:
        raise ValueError(f"unknown node type {type_name!r}; known: {sorted(NODE_TYPES)}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def validate_params(type_name: str, params: dict[str, Any] | None, source: str, base_dir: str | None = None,
                    prefix: str = "") -> StrictModel:
    """A node's parameters, validated by its Params model; relative paths resolve against `base_dir`
    (the profile file's folder), errors name `source` and the key path under `prefix`."""
    context = {"base_dir": base_dir} if base_dir is not None else None
    return validate_model(node_class(type_name).Params, params or {}, source, context=context, prefix=prefix)


def build_node(type_name: str, handle: NodeHandle, params: dict[str, Any] | None, source: str,
               base_dir: str | None = None) -> RuntimeNode:
    validated = validate_params(type_name, params, source, base_dir)
    return node_class(type_name)(handle, validated)
