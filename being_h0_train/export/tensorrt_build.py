"""TensorRT engine builder (TensorRT 10 Python API) for the exported ONNX graph.

Why on the target machine: a TensorRT plan is specific to the GPU model and
TensorRT version, so the export CLI builds it where it will run (``--tensorrt``),
or later with ``build_tensorrt_engine`` on the rig. Where ``import tensorrt``
fails, ``TensorRTUnavailable`` carries the import error; callers print it and
skip, nothing is faked.

Optimisation profile: ``pixel_values`` tiles from 1 to max_tiles(+thumbnail),
``input_ids`` length from 1 to ``max_text_len``, opt at the camera's tile
count and a typical instruction length. A timing cache file makes rebuilds
fast and reproducible.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from being_h0_runtime.policy.backends import tensorrt_import_error


class TensorRTUnavailable(RuntimeError):
    """``import tensorrt`` failed (the message says why)."""


@dataclass
class TensorRTBuildInfo:
    plan: Path
    precision: str
    tensorrt_version: str
    device_name: str
    profile: dict[str, list[list[int]]]
    seconds: float
    timing_cache: str | None = None
    notes: list[str] = field(default_factory=list)


def make_profile(image_size: int, max_tiles: int, use_thumbnail: bool, proprio_dim: int, opt_tiles: int,
                 max_text_len: int = 256, opt_text_len: int = 32) -> dict[str, list[list[int]]]:
    """input name -> [min, opt, max] shapes."""
    s = image_size
    most = max_tiles + (1 if use_thumbnail and max_tiles > 1 else 0)
    opt_tiles = max(1, min(opt_tiles, most))
    opt_text_len = max(1, min(opt_text_len, max_text_len))
    return {
        "pixel_values": [[1, 3, s, s], [opt_tiles, 3, s, s], [most, 3, s, s]],
        "input_ids": [[1, 1], [1, opt_text_len], [1, max_text_len]],
        "proprio": [[1, proprio_dim]] * 3,
    }


def build_tensorrt_engine(
    onnx_path: str | Path,
    plan_path: str | Path,
    profile: dict[str, list[list[int]]],
    precision: str = "fp16",
    timing_cache: str | Path | None = None,
    workspace_gib: float = 8.0,
    builder_optimization_level: int = 3,
) -> TensorRTBuildInfo:
    """Parse ``onnx_path`` with ``trt.OnnxParser`` and serialise a plan to ``plan_path``."""
    err = tensorrt_import_error()
    if err:
        raise TensorRTUnavailable(err)
    import tensorrt as trt

    if precision not in ("fp32", "fp16", "bf16"):
        raise ValueError(f"precision must be fp32, fp16 or bf16, got {precision!r}")
    t0 = time.monotonic()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):  # implicit in TensorRT >= 10
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise RuntimeError(f"{onnx_path}: TensorRT ONNX parser failed: " + "; ".join(errors[:5]))
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    config.builder_optimization_level = builder_optimization_level
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    elif precision == "bf16":
        config.set_flag(trt.BuilderFlag.BF16)
    cache_bytes = b""
    if timing_cache is not None and Path(timing_cache).is_file():
        cache_bytes = Path(timing_cache).read_bytes()
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, ignore_mismatch=False)
    prof = builder.create_optimization_profile()
    for name, (mn, opt, mx) in profile.items():
        prof.set_shape(name, tuple(mn), tuple(opt), tuple(mx))
    config.add_optimization_profile(prof)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RuntimeError(f"{onnx_path}: TensorRT build failed (see the TensorRT log above)")
    plan_path = Path(plan_path)
    plan_path.write_bytes(bytes(plan))
    if timing_cache is not None:
        Path(timing_cache).write_bytes(bytes(config.get_timing_cache().serialize()))
    device_name = ""
    try:
        import torch

        device_name = torch.cuda.get_device_name(0)
    except Exception:  # noqa: BLE001, S110  # pragma: no cover - informational only
        pass
    return TensorRTBuildInfo(plan_path, precision, trt.__version__, device_name, profile,
                             time.monotonic() - t0, str(timing_cache) if timing_cache else None)


def info_dict(info: TensorRTBuildInfo) -> dict[str, Any]:
    return {"file": info.plan.name, "precision": info.precision, "tensorrt_version": info.tensorrt_version,
            "device_name": info.device_name, "profile": info.profile}
