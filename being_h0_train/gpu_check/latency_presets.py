"""Latency of InternVL3-shaped random-weight models on CUDA: the GPU rows of ``being-h0 bench latency``.

    python -m being_h0_train.gpu_check.latency_presets --presets internvl3-1b --gpu-onnx internvl3-1b --json rows.json

Rows per preset: torch eager and torch compiled (CUDA graphs) in bf16, then - for
presets listed in ``--gpu-onnx`` - the exported engine folder on ONNX Runtime CUDA
and TensorRT, loaded by the runtime's engine loader. The runtime's latency bench
runs this module in a child process when a GPU is visible (it builds training
models, which the runtime does not import) and merges the rows it writes: a list
of objects with the fields of ``being_h0_runtime.bench.latency.Row``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from being_h0_runtime.bench.timing import summarize, time_calls

INSTRUCTION = "pick up the toy and put it in the box"


def row(model: str, backend: str, note: str = "", ms: np.ndarray | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"model": model, "backend": backend, "device": "cuda", "note": note}
    return out | summarize(ms) if ms is not None else out


def _observation(names: Sequence[str], hw: tuple[int, int], seed: int = 0) -> Any:
    from being_h0_runtime.policy.spec import Observation

    rng = np.random.default_rng(seed)
    return Observation(stamp=0.0, proprio=rng.normal(size=len(names)) * 0.1, proprio_names=list(names),
                       instruction=INSTRUCTION, image=rng.integers(0, 256, (hw[0], hw[1], 3), dtype=np.uint8))


def _config(preset: str, args: argparse.Namespace) -> Any:
    from being_h0_runtime.policy.models.posttrain_config import PostTrainConfig
    from being_h0_runtime.policy.spec import default_action_spec

    spec = default_action_spec(args.chunk_len)
    return PostTrainConfig(backbone=preset, action_names=tuple(spec.names), proprio_names=tuple(spec.names),
                           chunk_len=args.chunk_len, max_tiles=args.gpu_max_tiles)


def torch_rows(preset: str, args: argparse.Namespace, ob: Any) -> list[dict[str, Any]]:
    """torch eager and torch.compile (CUDA graphs) of the bf16 model, pre-processing included."""
    import torch

    from being_h0_runtime.policy.models.posttrain import build_posttrain_model
    from being_h0_runtime.policy.preprocess import PromptEncoder, TilePreprocessor

    prev = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device("cuda"):
            model = build_posttrain_model(_config(preset, args)).eval()
    finally:
        torch.set_default_dtype(prev)
    tiles = TilePreprocessor(model.image_size, model.max_tiles, model.use_thumbnail)
    prompt = PromptEncoder(model.backbone.tokenizer.backend_tokenizer, model.prompt_suffix)
    mean, std = model.stats.proprio_mean, model.stats.proprio_std

    def runner(fn: Callable) -> Callable[[], np.ndarray]:
        def call() -> np.ndarray:
            pv, ids = tiles(ob.image), prompt(ob.instruction)
            pr = ((ob.proprio - mean) / std)[None].astype(np.float32)
            with torch.inference_mode():
                out = fn(torch.from_numpy(pv).cuda().to(torch.bfloat16).unsqueeze(0),
                         torch.from_numpy(np.array(ids)).cuda(), torch.from_numpy(pr).cuda())
                return out.float().cpu().numpy()
        return call

    rows = [row(preset, "torch eager", "bf16", time_calls(runner(model), args.iters, args.warmup))]
    comp = None
    try:
        comp = torch.compile(model, mode="reduce-overhead", dynamic=False)
        rows.append(row(preset, "torch compiled", "bf16, CUDA graphs",
                        time_calls(runner(comp), args.iters, max(args.warmup, 3))))
    except Exception as e:  # noqa: BLE001 - reported as a skipped row
        rows.append(row(preset, "torch compiled", f"skipped: {type(e).__name__}: {str(e)[:120]}"))
    del model, comp
    torch.cuda.empty_cache()
    return rows


def engine_rows(preset: str, args: argparse.Namespace, ob: Any) -> list[dict[str, Any]]:
    """The preset exported to an engine folder, on ONNX Runtime CUDA and TensorRT."""
    from being_h0_runtime.policy.engine import load_engine_policy
    from being_h0_runtime.policy.models.posttrain import build_posttrain_model

    from ..export import ExportOptions, build_engine

    rows = []
    with tempfile.TemporaryDirectory(prefix="being_h0_bench_") as tmp:
        eng = Path(tmp) / "engine"
        build_engine(build_posttrain_model(_config(preset, args)), eng,
                     ExportOptions(backends=("onnxruntime",), tensorrt=True, warmup_hw=tuple(args.image_hw),
                                   parity_atol=5e-2, parity_min_cosine=0.99, require_parity=False))
        for backend in ("onnxruntime", "tensorrt"):
            try:
                pol = load_engine_policy(eng, backend=backend, device="cuda")
                rows.append(row(preset, backend, ms=time_calls(lambda pol=pol: pol.infer(ob), args.iters, args.warmup)))
            except Exception as e:  # noqa: BLE001 - reported as a skipped row
                rows.append(row(preset, backend, f"skipped: {type(e).__name__}: {str(e).splitlines()[0][:120]}"))
    return rows


def bench_preset(preset: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    ob = _observation(_config(preset, args).action_names, tuple(args.image_hw))
    rows = torch_rows(preset, args, ob)
    if preset not in args.gpu_onnx:
        return rows + [row(preset, b, "skipped: not in --gpu-onnx (ONNX export of this size is slow)")
                       for b in ("onnxruntime", "tensorrt")]
    return rows + engine_rows(preset, args, ob)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m being_h0_train.gpu_check.latency_presets",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", nargs="+", required=True, help="backbone presets to time on CUDA")
    p.add_argument("--gpu-onnx", nargs="*", default=[], help="presets to also export for onnxruntime/TensorRT rows")
    p.add_argument("--iters", type=int, default=100, help="timed calls per row")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls per row first")
    p.add_argument("--image-hw", type=int, nargs=2, default=[480, 640], metavar=("H", "W"))
    p.add_argument("--chunk-len", type=int, default=16)
    p.add_argument("--gpu-max-tiles", type=int, default=1, help="tiles per frame")
    p.add_argument("--json", required=True, help="write the rows here (a JSON list)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("no CUDA GPU visible (torch.cuda.is_available() is False)", file=sys.stderr)
        return 2
    rows = [r for preset in args.presets for r in bench_preset(preset, args)]
    Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
