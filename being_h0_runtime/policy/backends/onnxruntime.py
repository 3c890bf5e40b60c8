"""ONNX Runtime backend (CUDA or CPU execution provider)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...config import ConfigError
from .base import BackendUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from ..engine_format import EngineManifest


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(self, m: EngineManifest, engine_dir: Path, device: str = "cpu",
                 intra_op_threads: int = 0, optimization: str = "all") -> None:
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise BackendUnavailable(f"backend onnxruntime: {e}") from None
        entry = m.backends.onnxruntime
        assert entry is not None
        path = engine_dir / entry.file
        avail = ort.get_available_providers()
        if device == "cuda":
            if "CUDAExecutionProvider" not in avail:
                raise BackendUnavailable(f"backend onnxruntime on cuda: CUDAExecutionProvider not available "
                                         f"(have {avail}; install onnxruntime-gpu)")
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        else:
            providers = ["CPUExecutionProvider"]
        so = ort.SessionOptions()
        so.graph_optimization_level = {
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        }[optimization]
        if intra_op_threads:
            so.intra_op_num_threads = intra_op_threads
        try:
            self.session = ort.InferenceSession(str(path), sess_options=so, providers=providers)
        except Exception as e:  # noqa: BLE001 - ORT raises its own exception types for corrupt/invalid models
            raise ConfigError(f"{path}: ONNX Runtime cannot load the model "
                              f"(manifest field 'backends.onnxruntime.file'): {str(e).splitlines()[0][:300]}") from None
        got = {i.name for i in self.session.get_inputs()}
        want = {t.name for t in m.inputs}
        if got != want:
            raise ConfigError(f"{path}: model inputs {sorted(got)} != manifest 'inputs' {sorted(want)}")
        self.output_name = m.outputs[0].name
        self.device = device
        self.providers = self.session.get_providers()

    def run(self, pixel_values: np.ndarray, input_ids: np.ndarray, proprio: np.ndarray) -> np.ndarray:
        feeds = {"pixel_values": np.ascontiguousarray(pixel_values, np.float32),
                 "input_ids": np.ascontiguousarray(input_ids, np.int64),
                 "proprio": np.ascontiguousarray(proprio, np.float32)}
        return self.session.run([self.output_name], feeds)[0]
