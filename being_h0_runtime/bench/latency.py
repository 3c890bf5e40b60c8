"""Policy latency benchmark: p50/p99 per backend, with the speed-up over PyTorch eager measured in the same run.

What is timed: one control-cycle inference, end to end as the inference node
calls it - pre-processing (InternVL tiling, normalisation, cached prompt ids,
proprio normalisation) + the model forward + de-normalisation - for a
(H, W) RGB camera frame. Every row of one model uses the same weights, the
same observation and the same thread count, so the ratio column compares
backends, not machines.

Models:
- ``tiny`` on CPU (default): a random-weight engine is exported to a temp
  directory (``python -m being_h0_train.export --random-preset tiny`` in a
  child process: this bench reads engine folders, it does not import the
  training package) and loaded through ``load_engine_policy`` (rows: torch
  eager, torch compiled (inductor), onnxruntime CPU).
- InternVL3-1B/8B-shaped random-weight models (``--gpu-presets``) on CUDA
  when a GPU is visible: torch eager / torch compiled (CUDA graphs) in bf16,
  plus onnxruntime CUDA and TensorRT for presets listed in ``--gpu-onnx``
  (the ONNX export of those is slow and large), timed by
  ``being_h0_train.gpu_check.latency_presets`` in a child process. Without a
  GPU these rows are printed as skipped with the reason.

Examples::

    python -m being_h0_runtime.bench.latency                      # tiny, CPU
    python -m being_h0_runtime.bench.latency --iters 200 --json out.json
    python -m being_h0_runtime.bench.latency --gpu-presets internvl3-1b internvl3-8b --gpu-onnx internvl3-1b
    python -m being_h0_runtime.bench.latency --engine models/pick_toy_engine --backends onnxruntime torch
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .timing import summarize, time_calls


@dataclass
class Row:
    model: str
    backend: str
    device: str
    p50_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    n: int = 0
    speedup_vs_eager: float | None = None
    note: str = ""


def _fill(row: Row, ms: np.ndarray) -> Row:
    for key, value in summarize(ms).items():
        setattr(row, key, value)
    return row


def _observation(names: Sequence[str], hw: tuple[int, int], seed: int = 0) -> Any:
    from ..policy.spec import Observation

    rng = np.random.default_rng(seed)
    return Observation(stamp=0.0, proprio=rng.normal(size=len(names)) * 0.1, proprio_names=list(names),
                       instruction="pick up the toy and put it in the box",
                       image=rng.integers(0, 256, (hw[0], hw[1], 3), dtype=np.uint8))


def _ratios(rows: list[Row]) -> None:
    by_model: dict[str, float] = {}
    for r in rows:
        if r.backend == "torch eager" and r.p50_ms:
            by_model[r.model + r.device] = r.p50_ms
    for r in rows:
        base = by_model.get(r.model + r.device)
        if base and r.p50_ms:
            r.speedup_vs_eager = base / r.p50_ms


# ----------------------------------------------------------------------------- engine dirs (CPU)
def bench_engine_dir(engine: Path, label: str, backends: Sequence[str], hw: tuple[int, int], iters: int,
                     warmup: int, threads: int) -> list[Row]:
    from ..policy.engine import load_engine_policy

    rows: list[Row] = []
    variants = []
    for b in backends:
        if b == "torch":
            variants += [("torch eager", "torch", {"compile": False}), ("torch compiled", "torch", {"compile": True})]
        elif b == "onnxruntime":
            variants.append(("onnxruntime", "onnxruntime", {"intra_op_threads": threads}))
        else:
            variants.append((b, b, {}))
    for title, backend, kw in variants:
        row = Row(label, title, "cpu")
        try:
            pol = load_engine_policy(engine, backend=backend, device="cpu", **kw)
            ob = _observation(pol.manifest.proprio.names, hw)
            rows.append(_fill(row, time_calls(lambda pol=pol, ob=ob: pol.infer(ob), iters, warmup)))
        except Exception as e:  # noqa: BLE001 - a row that cannot run is reported, not hidden
            row.note = f"skipped: {type(e).__name__}: {str(e).splitlines()[0][:120]}"
            rows.append(row)
    return rows


def export_tiny_engine(out: Path, chunk_len: int, max_tiles: int, image_hw: Sequence[int]) -> None:
    """A random-weight ``tiny`` engine folder written by the training package's exporter, in a child process.

    The runtime reads engine folders; it does not import the training package that writes them.
    """
    cmd = [sys.executable, "-m", "being_h0_train.export", "--random-preset", "tiny", "--out", str(out),
           "--chunk-len", str(chunk_len), "--max-tiles", str(max_tiles),
           "--warmup-hw", str(image_hw[0]), str(image_hw[1])]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        tail = "\n".join((p.stdout + p.stderr).strip().splitlines()[-10:])
        raise RuntimeError(f"exporting the tiny engine failed ({' '.join(cmd[1:])}, exit {p.returncode}):\n{tail}")


def bench_tiny_cpu(args: argparse.Namespace) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="being_h0_bench_") as tmp:
        eng = Path(tmp) / "engine"
        export_tiny_engine(eng, args.chunk_len, args.max_tiles, args.image_hw)
        return bench_engine_dir(eng, "tiny", args.backends, tuple(args.image_hw), args.iters, args.warmup, args.threads)


# ----------------------------------------------------------------------------- shaped models (GPU)
GPU_BACKENDS = ("torch eager", "torch compiled", "onnxruntime", "tensorrt")


def bench_gpu_presets(args: argparse.Namespace) -> list[Row]:
    """InternVL3-shaped random-weight models on CUDA, timed by the training package in a child process.

    Those rows build training models (``being_h0_train.gpu_check.latency_presets``); without a GPU
    they are skipped here, with the reason, and no child process is started.
    """
    import torch

    if not args.gpu_presets:
        return []
    if not torch.cuda.is_available():
        return [Row(preset, b, "cuda", note="skipped: no CUDA GPU visible (torch.cuda.is_available() is False)")
                for preset in args.gpu_presets for b in GPU_BACKENDS]
    with tempfile.TemporaryDirectory(prefix="being_h0_bench_") as tmp:
        out = Path(tmp) / "rows.json"
        cmd = [sys.executable, "-m", "being_h0_train.gpu_check.latency_presets", "--presets", *args.gpu_presets,
               "--gpu-onnx", *args.gpu_onnx, "--iters", str(args.iters), "--warmup", str(args.warmup),
               "--image-hw", *map(str, args.image_hw), "--chunk-len", str(args.chunk_len),
               "--gpu-max-tiles", str(args.gpu_max_tiles), "--json", str(out)]
        p = subprocess.run(cmd, text=True, check=False)
        if p.returncode != 0 or not out.exists():
            return [Row(preset, b, "cuda", note=f"failed: {' '.join(cmd[1:3])} exited {p.returncode}")
                    for preset in args.gpu_presets for b in GPU_BACKENDS]
        return [Row(**r) for r in json.loads(out.read_text())]


# ----------------------------------------------------------------------------- pre-processing
def _internvl_reference(image: np.ndarray, size: int, max_tiles: int, use_thumbnail: bool) -> Any:
    """InternVL's published recipe: PIL resize, crop tile by tile, ToTensor + Normalize per tile."""
    import torch
    from PIL import Image

    from ..policy.preprocess import IMAGENET_MEAN, IMAGENET_STD, closest_grid

    img = Image.fromarray(image)
    cols, rows = closest_grid(img.width, img.height, size, max_tiles)
    big = img.resize((cols * size, rows * size), Image.BILINEAR)
    tiles = [big.crop(((i % cols) * size, (i // cols) * size, (i % cols + 1) * size, (i // cols + 1) * size))
             for i in range(cols * rows)]
    if use_thumbnail and len(tiles) > 1:
        tiles.append(img.resize((size, size), Image.BILINEAR))
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    out = [((torch.from_numpy(np.asarray(t, np.float32) / 255.0).permute(2, 0, 1)) - mean) / std for t in tiles]
    return torch.stack(out)


def bench_preprocess(args: argparse.Namespace) -> list[Row]:
    """InternVL3 tiling at 448 px (max 6 tiles + thumbnail) of one camera frame; baseline = reference recipe."""
    from ..policy import preprocess as pp

    hw = tuple(args.image_hw)
    img = np.random.default_rng(0).integers(0, 256, (*hw, 3), dtype=np.uint8)
    label = f"tiling 448x{args.pre_max_tiles}"
    rows = []
    try:
        ms = time_calls(lambda: _internvl_reference(img, 448, args.pre_max_tiles, True), args.iters, args.warmup)
        rows.append(_fill(Row(label, "reference", "cpu", note="PIL resize + per-tile ToTensor/Normalize"), ms))
    except ImportError as e:
        rows.append(Row(label, "reference", "cpu", note=f"skipped: {e}"))
    fast = pp.TilePreprocessor(448, args.pre_max_tiles, True)
    n = fast(img).shape[0]
    rows.append(_fill(Row(label, "fast path", "cpu", note=f"{n} tiles, {'OpenCV' if pp.cv2 is not None else 'numpy'} resize"),
                      time_calls(lambda: fast(img), args.iters, args.warmup)))
    saved, pp.cv2 = pp.cv2, None
    try:
        rows.append(_fill(Row(label, "fast path numpy", "cpu", note="no OpenCV"),
                          time_calls(lambda: fast(img), args.iters, args.warmup)))
    finally:
        pp.cv2 = saved
    base = rows[0].p50_ms
    for r in rows:
        if base and r.p50_ms:
            r.speedup_vs_eager = base / r.p50_ms
    return rows


# ----------------------------------------------------------------------------- output
def format_table(rows: list[Row]) -> str:
    head = f"{'model':<14} {'backend':<16} {'device':<6} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9} {'n':>5} {'x base':>8}  note"
    lines = [head, "-" * len(head)]
    for r in rows:
        f = (lambda v: f"{v:9.2f}" if v is not None else f"{'-':>9}")
        sp = f"{r.speedup_vs_eager:8.2f}" if r.speedup_vs_eager else f"{'-':>8}"
        lines.append(f"{r.model:<14} {r.backend:<16} {r.device:<6} {f(r.p50_ms)} {f(r.p99_ms)} {f(r.mean_ms)} "
                     f"{r.n:>5} {sp}  {r.note}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="being-h0 bench latency", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engine", help="benchmark an existing engine directory instead of a random tiny engine")
    p.add_argument("--backends", nargs="+", default=["torch", "onnxruntime"], choices=["torch", "onnxruntime", "tensorrt"],
                   help="CPU backends ('torch' gives eager and compiled rows)")
    p.add_argument("--iters", type=int, default=100, help="timed calls per row")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls per row first (compile, allocations)")
    p.add_argument("--image-hw", type=int, nargs=2, default=[480, 640], metavar=("H", "W"), help="camera frame size")
    p.add_argument("--max-tiles", type=int, default=2, help="tiny model: InternVL tiles per frame")
    p.add_argument("--chunk-len", type=int, default=16)
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads for torch and ORT alike (default 1: stable on shared machines; 0: library default)")
    p.add_argument("--gpu-presets", nargs="*", default=["internvl3-1b", "internvl3-8b"],
                   help="shaped random-weight presets to time on CUDA (skipped without a GPU)")
    p.add_argument("--gpu-max-tiles", type=int, default=1, help="tiles per frame for the GPU presets")
    p.add_argument("--gpu-onnx", nargs="*", default=[], help="GPU presets to also export for onnxruntime/TensorRT rows")
    p.add_argument("--no-cpu", action="store_true", help="skip the CPU rows")
    p.add_argument("--no-preprocess", action="store_true",
                   help="skip the pre-processing rows (ratio column there = speed-up over the InternVL reference recipe)")
    p.add_argument("--pre-max-tiles", type=int, default=6, help="pre-processing rows: InternVL max tiles")
    p.add_argument("--json", help="also write the rows as JSON here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    ap = build_parser()
    return run_parsed(ap.parse_args(argv), ap)


def run_parsed(args: argparse.Namespace, ap: argparse.ArgumentParser) -> int:
    """Run with parsed options (`being-h0 bench` parses them in its own tree)."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    rows: list[Row] = []
    if not args.no_cpu:
        if args.engine:
            rows += bench_engine_dir(Path(args.engine), Path(args.engine).name, args.backends, tuple(args.image_hw),
                                     args.iters, args.warmup, args.threads)
        else:
            rows += bench_tiny_cpu(args)
    rows += bench_gpu_presets(args)
    _ratios(rows)
    if not args.no_preprocess:
        rows += bench_preprocess(args)
    print(f"policy.infer latency, image {args.image_hw[0]}x{args.image_hw[1]}, chunk {args.chunk_len}, "
          f"{args.iters} iters after {args.warmup} warm-up, torch threads {torch.get_num_threads()}, "
          f"cpu count {os.cpu_count()}")
    print(format_table(rows))
    print("x base = p50 speed-up over 'torch eager' of the same model and device (model rows), "
          "over the InternVL reference recipe (tiling rows); all measured in this run")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
