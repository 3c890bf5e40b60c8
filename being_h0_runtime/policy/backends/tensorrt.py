"""TensorRT backend: deserialises the engine's ``model.plan`` and runs it with the TensorRT 10 API.

Buffers live in torch CUDA tensors (torch is already a dependency of the
training side and gives us a CUDA allocator and stream without pycuda).
Input shapes are set per call (``set_input_shape``) inside the optimisation
profile recorded in the manifest; outputs are allocated once per shape.
Raises ``BackendUnavailable`` with the import error when ``tensorrt`` is not
importable or there is no GPU, so callers can fall back or skip.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...config import ConfigError
from .base import BackendUnavailable, tensorrt_import_error

if TYPE_CHECKING:  # pragma: no cover
    from ..engine_format import EngineManifest

class TensorRTRunner:
    """Runs one serialised TensorRT plan (inputs pixel_values, input_ids, proprio)."""

    name = "tensorrt"

    def __init__(self, plan_path: Path, output_name: str = "actions", field: str = "backends.tensorrt.file") -> None:
        err = tensorrt_import_error()
        if err:
            raise BackendUnavailable(f"backend tensorrt: {err}")
        import tensorrt as trt
        import torch

        if not torch.cuda.is_available():
            raise BackendUnavailable("backend tensorrt needs a visible CUDA GPU (torch.cuda.is_available() is False)")
        self.trt, self.torch = trt, torch
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(Path(plan_path).read_bytes())
        if self.engine is None:
            raise ConfigError(f"{plan_path}: TensorRT could not deserialise the plan (manifest field '{field}'); "
                              "it is corrupt or was built for another GPU / TensorRT version")
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream()
        self.device = "cuda"
        self.output_name = output_name
        self._out: dict[tuple[int, ...], Any] = {}

    def _torch_dtype(self, name: str) -> Any:
        t = self.engine.get_tensor_dtype(name)
        torch, trt = self.torch, self.trt
        return {trt.float32: torch.float32, trt.float16: torch.float16, trt.int64: torch.int64,
                trt.int32: torch.int32, trt.bfloat16: torch.bfloat16}[t]

    def run(self, pixel_values: np.ndarray, input_ids: np.ndarray, proprio: np.ndarray) -> np.ndarray:
        torch = self.torch
        feeds = {"pixel_values": pixel_values, "input_ids": input_ids, "proprio": proprio}
        keep = []
        with torch.cuda.stream(self.stream):
            for name, arr in feeds.items():
                t = torch.from_numpy(np.ascontiguousarray(arr)).to("cuda", non_blocking=True).to(self._torch_dtype(name))
                keep.append(t)
                self.context.set_input_shape(name, tuple(t.shape))
                self.context.set_tensor_address(name, t.data_ptr())
            shape = tuple(self.context.get_tensor_shape(self.output_name))
            out = self._out.get(shape)
            if out is None:
                out = self._out[shape] = torch.empty(shape, dtype=self._torch_dtype(self.output_name), device="cuda")
            self.context.set_tensor_address(self.output_name, out.data_ptr())
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError("TensorRT execute_async_v3 failed")
        self.stream.synchronize()
        return out.float().cpu().numpy()


class TensorRTBackend(TensorRTRunner):
    """The engine directory's ``model.plan``; checks the TensorRT major version first."""

    def __init__(self, m: EngineManifest, engine_dir: Path, device: str = "cuda") -> None:
        err = tensorrt_import_error()
        if err:
            raise BackendUnavailable(f"backend tensorrt: {err}")
        import tensorrt as trt

        if device != "cuda":
            raise BackendUnavailable("backend tensorrt needs device 'cuda'")
        entry = m.backends.tensorrt
        assert entry is not None
        path = engine_dir / entry.file
        if entry.tensorrt_version.split(".")[0] != trt.__version__.split(".")[0]:
            raise ConfigError(f"{path}: built with TensorRT {entry.tensorrt_version}, runtime has {trt.__version__} "
                              "(manifest field 'backends.tensorrt.tensorrt_version'); rebuild the plan on this machine")
        super().__init__(path, m.outputs[0].name)
