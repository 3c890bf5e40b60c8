"""Build a Policy from a launch-profile / CLI description."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..config import FilePath, StrictModel
from .base import Policy


class PolicyConfig(StrictModel):
    #: "expert" = scripted virtual-rig expert; "engine" = an engine directory (models/...)
    kind: Literal["expert", "engine"] = "expert"
    #: relative: to the profile file's folder
    engine_dir: FilePath | None = None
    #: engine backend: auto picks TensorRT > ONNX Runtime > PyTorch as the manifest allows
    backend: Literal["auto", "tensorrt", "onnxruntime", "torch"] = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    chunk_len: int = Field(16, ge=1)
    control_rate_hz: float = Field(10.0, gt=0)


def make_policy(cfg: PolicyConfig) -> Policy:
    if cfg.kind == "expert":
        from .expert import ScriptedExpertPolicy

        return ScriptedExpertPolicy(cfg.chunk_len, cfg.control_rate_hz)
    if not cfg.engine_dir:
        raise ValueError("policy.kind 'engine' needs policy.engine_dir")
    from .engine import load_engine_policy

    return load_engine_policy(cfg.engine_dir, backend=cfg.backend, device=cfg.device)
