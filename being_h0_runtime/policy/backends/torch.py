"""PyTorch backend: the post-training checkpoint shipped in the engine (eager, or compiled).

On CUDA, ``compile=True`` (default there) uses ``torch.compile`` with
``mode="reduce-overhead"``, i.e. CUDA graphs per input shape (the tile count
and instruction length are constant during a task, so one capture serves the
whole episode). On CPU the default is eager; ``compile=True`` uses inductor.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...config import ConfigError
from .base import BackendUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from ..engine_format import EngineManifest


class TorchBackend:
    name = "torch"

    def __init__(self, m: EngineManifest, engine_dir: Path, device: str = "cpu", compile: bool | None = None,
                 compile_mode: str | None = None, dtype: str | None = None) -> None:
        try:
            import torch

            from ..models.posttrain import PostTrainModel
        except ImportError as e:
            raise BackendUnavailable(f"backend torch: {e}") from None
        entry = m.backends.torch
        assert entry is not None
        if device == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailable("backend torch on cuda: torch.cuda.is_available() is False")
        d = engine_dir / entry.dir
        tdtype = getattr(torch, dtype or entry.dtype)
        try:
            if (m.model or {}).get("architecture") == "being-h0-official-align":  # converted official checkpoint
                from ..models.official import OfficialAlignModel

                model = OfficialAlignModel.from_pretrained(d, dtype=tdtype)
            else:
                model = PostTrainModel.from_pretrained(d, dtype=tdtype if tdtype != torch.float32 else None)
        except Exception as e:  # noqa: BLE001 - any load failure is a bad engine file
            raise ConfigError(f"{d}: cannot load the PyTorch model (manifest field 'backends.torch.dir'): "
                              f"{type(e).__name__}: {str(e)[:300]}") from None
        self.torch = torch
        self.device = device
        self.model = model.to(device).eval()
        if compile is None:
            compile = device == "cuda"
        self.compiled = bool(compile)
        self._fn = self.model
        if compile:
            mode = compile_mode or ("reduce-overhead" if device == "cuda" else None)
            self._fn = torch.compile(self.model, mode=mode, dynamic=False)
        self.name = "torch-compiled" if compile else "torch"

    def run(self, pixel_values: np.ndarray, input_ids: np.ndarray, proprio: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            pv = torch.from_numpy(np.ascontiguousarray(pixel_values)).to(self.device, non_blocking=True).unsqueeze(0)
            ids = torch.from_numpy(np.array(input_ids, dtype=np.int64)).to(self.device, non_blocking=True)
            pr = torch.from_numpy(np.ascontiguousarray(proprio)).to(self.device, non_blocking=True)
            out = self._fn(pv, ids, pr)
            return out.float().cpu().numpy()
