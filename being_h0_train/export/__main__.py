"""CLI: ``python -m being_h0_train.export``; see ``--help``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EPILOG = """\
examples:
  # a post-trained model -> ONNX + PyTorch engine, parity checked on CPU
  python -m being_h0_train.export --model runs/pick_toy/final --out models/pick_toy_engine

  # on the rig's GPU: also build a TensorRT fp16 plan (timing cache speeds up rebuilds)
  python -m being_h0_train.export --model runs/pick_toy/final --out models/pick_toy_trt \\
      --tensorrt --precision fp16 --timing-cache trt_timing.cache --warmup-hw 480 640

  # a random-weight engine (tiny backbone, identity normalisation) for the virtual rig / benchmarks
  python -m being_h0_train.export --random-preset tiny --out models/tiny_random

the engine directory holds model.onnx, model.plan (TensorRT), torch/ (post-training
checkpoint), tokenizer/, parity_report.json and manifest.json (shapes, dtypes,
action spec, normalisation, versions, sha256 of every file). Load it with
being_h0_runtime.policy.engine.load_engine_policy(dir, backend=..., device=...).
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m being_h0_train.export",
        description="Export a post-trained Being-H0 model (vision + projector + LLM prefill over image, instruction, "
        "proprio and action-query tokens + action head) to an engine directory, check ONNX Runtime (and TensorRT) "
        "parity against PyTorch, and write a checksummed manifest.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="post-training output directory (runs/<name>/final)")
    src.add_argument("--random-preset", metavar="PRESET",
                     help="export a random-weight model of this backbone preset (tiny, internvl3-1b, ...)")
    p.add_argument("--out", required=True, help="engine directory to create")
    p.add_argument("--backends", nargs="+", default=["onnxruntime", "torch"], choices=["onnxruntime", "torch"],
                   help="model formats to include (default: both)")
    p.add_argument("--tensorrt", action="store_true",
                   help="also build a TensorRT plan (needs `import tensorrt` and a GPU; skipped with the reason otherwise)")
    p.add_argument("--precision", choices=["fp32", "fp16", "bf16"], default="fp16", help="TensorRT precision")
    p.add_argument("--timing-cache", help="TensorRT timing cache file (read if present, written after the build)")
    p.add_argument("--max-text-len", type=int, default=256, help="TensorRT profile: longest prompt in tokens")
    p.add_argument("--warmup-hw", type=int, nargs=2, metavar=("H", "W"),
                   help="camera image height/width: warm-up input and TensorRT opt profile tile count")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset")
    p.add_argument("--atol", type=float, default=1e-4, help="ONNX Runtime parity: max abs error on normalised actions")
    p.add_argument("--no-require-parity", action="store_true", help="write the engine even if parity fails")
    p.add_argument("--name", help="engine name (engine id = name + ONNX sha256 prefix)")
    p.add_argument("--chunk-len", type=int, default=16, help="--random-preset only: chunk length")
    p.add_argument("--control-rate-hz", type=float, default=10.0, help="--random-preset only: control rate")
    p.add_argument("--max-tiles", type=int, help="--random-preset only: InternVL tiles per frame")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    from .engine_dir import ExportOptions, build_engine

    opts = ExportOptions(backends=a.backends, opset=a.opset, parity_atol=a.atol, require_parity=not a.no_require_parity,
                         tensorrt=a.tensorrt, trt_precision=a.precision, timing_cache=a.timing_cache,
                         max_text_len=a.max_text_len, warmup_hw=tuple(a.warmup_hw) if a.warmup_hw else None,
                         engine_name=a.name, force=a.force)
    if a.model:
        src = a.model
    else:
        from being_h0_runtime.policy.models.posttrain import build_posttrain_model
        from being_h0_runtime.policy.models.posttrain_config import PostTrainConfig
        from being_h0_runtime.policy.spec import default_action_spec

        spec = default_action_spec(a.chunk_len, a.control_rate_hz)
        cfg = PostTrainConfig(backbone=a.random_preset, action_names=tuple(spec.names),
                              proprio_names=tuple(spec.names), action_units=tuple(spec.units), chunk_len=a.chunk_len,
                              control_rate_hz=a.control_rate_hz, max_tiles=a.max_tiles)
        src = build_posttrain_model(cfg)
        if opts.engine_name is None:
            opts.engine_name = f"being-h0-{a.random_preset}-random-c{a.chunk_len}"
    build_engine(src, a.out, opts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
