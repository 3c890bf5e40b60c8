"""What every inference backend shares: its error, its interface, and the probes for CUDA and TensorRT.

Kept apart from the package's ``__init__`` (which picks and creates backends and
imports each backend module lazily) so that the backend modules import this and
nothing above them: no import cycle between the package and its members.
"""

from __future__ import annotations

import importlib.util
from typing import Protocol

import numpy as np

from ...config import ConfigError


class BackendUnavailable(ConfigError):
    """The requested backend cannot run here (library missing, no GPU, not in the manifest)."""


class Backend(Protocol):
    name: str
    device: str

    def run(self, pixel_values: np.ndarray, input_ids: np.ndarray, proprio: np.ndarray) -> np.ndarray: ...


def cuda_available() -> bool:
    """CUDA usable by torch or by ONNX Runtime (checked without importing either eagerly when absent)."""
    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            return True
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime as ort

        return "CUDAExecutionProvider" in ort.get_available_providers()
    return False


def tensorrt_import_error() -> str | None:
    """None when ``import tensorrt`` works, else the reason."""
    try:
        import tensorrt  # noqa: F401
    except Exception as e:  # noqa: BLE001 - ImportError, or a broken CUDA install raising OSError
        return f"import tensorrt failed: {type(e).__name__}: {e}"
    return None
