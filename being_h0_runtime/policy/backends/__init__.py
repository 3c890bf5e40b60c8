"""Inference backends for engine directories: TensorRT, ONNX Runtime, PyTorch.

Every backend has ``name``, ``device`` and ``run(pixel_values (T,3,S,S) f32,
input_ids (1,L) i64, proprio (1,P) f32) -> (1, chunk_len, dims)`` normalised
actions as numpy. Backends are imported lazily: the runtime must import
without torch, onnxruntime or tensorrt installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...config import ConfigError
from .base import Backend, BackendUnavailable, cuda_available, tensorrt_import_error

if TYPE_CHECKING:  # pragma: no cover
    from ..engine_format import EngineManifest

__all__ = [
    "Backend",
    "BackendUnavailable",
    "create_backend",
    "cuda_available",
    "pick_backend",
    "tensorrt_import_error",
]


def pick_backend(m: EngineManifest, backend: str, device: str, engine_dir: Path) -> str:
    """Resolve "auto" (TensorRT > ONNX Runtime > PyTorch) and check an explicit choice is possible."""
    src = engine_dir / "manifest.json"
    if backend not in ("auto", "tensorrt", "onnxruntime", "torch"):
        raise ConfigError(f"backend: {backend!r} is not one of auto, tensorrt, onnxruntime, torch")
    if backend != "auto":
        if getattr(m.backends, backend) is None:
            have = [b for b in ("tensorrt", "onnxruntime", "torch") if getattr(m.backends, b)]
            raise BackendUnavailable(f"{src}: field 'backends.{backend}': engine has no {backend} model (has {have})")
        return backend
    if m.backends.tensorrt and device == "cuda" and tensorrt_import_error() is None:
        return "tensorrt"
    if m.backends.onnxruntime and importlib.util.find_spec("onnxruntime") is not None:
        return "onnxruntime"
    if m.backends.torch and importlib.util.find_spec("torch") is not None:
        return "torch"
    raise BackendUnavailable(f"{src}: no usable backend on device {device!r} "
                             "(install onnxruntime or torch, or export the engine with another backend)")


def create_backend(name: str, m: EngineManifest, engine_dir: Path, device: str, **options: Any) -> Backend:
    if name == "onnxruntime":
        from .onnxruntime import OnnxRuntimeBackend

        return OnnxRuntimeBackend(m, engine_dir, device, **options)
    if name == "torch":
        from .torch import TorchBackend

        return TorchBackend(m, engine_dir, device, **options)
    if name == "tensorrt":
        from .tensorrt import TensorRTBackend

        return TensorRTBackend(m, engine_dir, device, **options)
    raise ConfigError(f"backend: unknown backend {name!r}")
