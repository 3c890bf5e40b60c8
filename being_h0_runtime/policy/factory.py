"""Build a Policy from a launch-profile / CLI description."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

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

    @model_validator(mode="after")
    def _engine_dir_exists(self) -> "PolicyConfig":
        # Checked when the profile is validated, i.e. before any node process starts: a mistyped
        # `--engine` is one line here, not four node processes dying on a rig (the manifest itself
        # is verified when the inference node loads it).
        if self.kind != "engine":
            return self
        if not self.engine_dir:
            raise ValueError("policy.kind 'engine' needs policy.engine_dir")
        d = Path(self.engine_dir)
        if not d.is_absolute():
            return self  # validated without the profile's folder (no base_dir context): cannot tell yet
        if not d.is_dir():
            raise ValueError(f"engine_dir {str(d)!r}: engine directory not found "
                             "(make one with `being-h0 convert vla` or `python -m being_h0_train.export`)")
        if not (d / "manifest.json").is_file():
            raise ValueError(f"engine_dir {str(d)!r}: no manifest.json (not an engine directory)")
        return self


def make_policy(cfg: PolicyConfig) -> Policy:
    if cfg.kind == "expert":
        from .expert import ScriptedExpertPolicy

        return ScriptedExpertPolicy(cfg.chunk_len, cfg.control_rate_hz)
    if not cfg.engine_dir:
        raise ValueError("policy.kind 'engine' needs policy.engine_dir")
    from .engine import load_engine_policy

    return load_engine_policy(cfg.engine_dir, backend=cfg.backend, device=cfg.device)
