"""Export a post-trained Being-H0 model to an engine directory (ONNX, TensorRT, PyTorch).

``build_engine(model_or_dir, out_dir, ExportOptions(...))`` is the API;
``python -m being_h0_train.export --help`` the CLI.
"""

from .engine_dir import ExportOptions, build_engine
from .onnx_export import InferenceGraph, check_parity, export_onnx
from .tensorrt_build import TensorRTUnavailable, build_tensorrt_engine, make_profile

__all__ = [
           "ExportOptions",
           "InferenceGraph",
           "TensorRTUnavailable",
           "build_engine",
           "build_tensorrt_engine",
           "check_parity",
           "export_onnx",
           "make_profile",
]
