"""Typed `options:` blocks of the driver backends, checked when a profile is validated.

Each backend kind has one pydantic model (unknown keys are errors), chosen by the
node's `backend` parameter: a typo such as ``ipp:`` under the Franka arm's options
fails before any process starts, with the key path and the closest real key.
The real backends' models live beside their drivers and are imported only when a
profile names that backend, so the virtual rig never loads franky or librealsense.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel, ValidationInfo

from ..config import StrictModel


class NoOptions(StrictModel):
    """The backend takes no options (the virtual rig's arm and camera)."""


#: backend name -> "module:Class" of its options model, per node kind
ARM_OPTIONS: dict[str, str] = {
    "sim": "being_h0_runtime.drivers.options:NoOptions",
    "franka": "being_h0_runtime.drivers.arm.franka_config:FrankaConfig",
}
HAND_OPTIONS: dict[str, str] = {
    "inspire": "being_h0_runtime.drivers.hand.inspire_config:InspireHandConfig",
}
CAMERA_OPTIONS: dict[str, str] = {
    "sim": "being_h0_runtime.drivers.options:NoOptions",
    "realsense": "being_h0_runtime.drivers.camera.realsense_config:RealSenseConfig",
}


def options_model(table: dict[str, str], backend: Any) -> type[BaseModel] | None:
    target = table.get(backend) if isinstance(backend, str) else None
    if target is None:
        return None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def validate_options(table: dict[str, str], value: Any, info: ValidationInfo) -> Any:
    """Field validator body: `value` (a dict) validated by the model of the already-validated `backend`."""
    model = options_model(table, info.data.get("backend"))
    if model is None or isinstance(value, model):
        return value  # an unknown backend is reported on `backend` itself
    # a ValidationError raised here is reported under `options.<key>` by pydantic
    return model.model_validate(value if value is not None else {}, context=info.context)
