"""The rows of the GPU check, in order: fp32 reference, bf16 eager, torch.compile, CUDA graph, ONNX Runtime, TensorRT.

Every row after the reference runs through ``Check.attempt``: skipped when not
selected or when the time budget is short, written as failed with its traceback
when it raises (the others still run), and the JSON report is rewritten after
each one so a run stopped by the time limit keeps what it measured.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from being_h0_runtime.bench.timing import time_calls

from .report import Budget, Row, environment, fill, import_error, sim_episode
from .runners import (
    ACTION_NAMES,
    build_model,
    cuda_graph_runner,
    engine_runner,
    make_inputs,
    parity,
    torch_runner,
)


class Check:
    """One run: the report being written, its rows, the reference chunk and the settings."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.budget = Budget(args.budget_s)
        self.out_path = Path(args.out)
        self.device: str = args.device
        self.rows: list[Row] = []
        self.report: dict[str, Any] = {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "mode": "cpu-smoke" if args.cpu_smoke else "gpu", "environment": environment(), "rows": [], "sim": None}
        self.model: Any = None
        self.inputs: dict[str, Any] = {}
        self.ref: Any = None

    def save(self) -> None:
        self.report["rows"] = [asdict(r) for r in self.rows]
        self.report["elapsed_s"] = round(time.monotonic() - self.budget.t0, 1)
        tmp = self.out_path.with_name(self.out_path.name + ".tmp")
        tmp.write_text(json.dumps(self.report, indent=1))
        os.replace(tmp, self.out_path)

    def time_row(self, row: Row, run: Callable[[], Any], precision: str) -> None:
        """Parity of one call against the fp32 reference, then the timed calls."""
        row.parity, row.parity_ok = parity(self.ref, run(), precision)
        fill(row, time_calls(run, self.args.iters, self.args.warmup))

    def attempt(self, row: Row, body: Callable[[Row], None], need_s: float = 0.0, key: str = "") -> None:
        self.rows.append(row)
        if key and key not in self.args.rows:
            row.status, row.reason = "skipped", f"not selected (--rows {','.join(self.args.rows)})"
        elif self.budget.left() < need_s:
            row.status = "skipped"
            row.reason = f"time budget: {self.budget.left():.0f} s left, this row needs ~{need_s:.0f} s"
        else:
            try:
                body(row)
            except Exception as e:  # noqa: BLE001 - one failing path must not hide the others
                row.status = "failed"
                row.reason = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
                self.report.setdefault("tracebacks", {})[row.name] = traceback.format_exc()[-3000:]
        self.save()


def run_check(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    c = Check(args)
    if c.device == "cuda" and not torch.cuda.is_available():
        c.report["error"] = ("no CUDA GPU visible (torch.cuda.is_available() is False); "
                             "use --cpu-smoke on a CPU machine")
        c.save()
        return c.report
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    _build(c)
    _reference_row(c)
    _bf16_rows(c)
    with tempfile.TemporaryDirectory(prefix="being_h0_gpu_check_") as tmpdir:
        _engine_rows(c, Path(tmpdir))
    if args.sim:
        c.report["sim"] = sim_episode(min(180.0, max(0.0, c.budget.left())))
    c.save()
    return c.report


def _build(c: Check) -> None:
    t0 = time.monotonic()
    c.model = build_model(c.args.preset, c.device, c.args.chunk_len)
    cfg = c.model.backbone.config
    c.report["model"] = {
        "preset": c.args.preset, "parameters": int(sum(p.numel() for p in c.model.parameters())),
        "image_size": c.model.image_size, "image_tokens": int(cfg.num_image_tokens),
        "action_queries": c.args.chunk_len, "action_dims": len(ACTION_NAMES),
        "vision_hidden": cfg.vision.hidden_size, "vision_layers": cfg.vision.num_hidden_layers,
        "llm_hidden": cfg.text.hidden_size, "llm_layers": cfg.text.num_hidden_layers,
        "build_s": round(time.monotonic() - t0, 1), "device": c.device}
    c.inputs = make_inputs(c.model)
    c.report["model"]["prompt_tokens"] = int(c.inputs["input_ids"].shape[1])


def _reference_row(c: Check) -> None:
    """torch eager fp32: the reference every other row is compared with."""
    import torch

    row = Row("torch eager fp32", precision="fp32")
    c.rows.append(row)
    fp32 = torch_runner(c.model, c.inputs, c.device, torch.float32)
    c.ref = fp32()
    fill(row, time_calls(fp32, c.args.iters, c.args.warmup))
    row.parity, row.parity_ok = parity(c.ref, c.ref, "fp32")
    c.save()


def _bf16_rows(c: Check) -> None:
    import torch

    bf16 = {"model": copy.deepcopy(c.model).to(torch.bfloat16)}  # dropped after these rows (GPU memory)

    def eager(row: Row) -> None:
        c.time_row(row, torch_runner(bf16["model"], c.inputs, c.device, torch.bfloat16), "bf16")

    def compiled(row: Row) -> None:
        t = time.monotonic()
        run = torch_runner(torch.compile(bf16["model"], dynamic=False), c.inputs, c.device, torch.bfloat16)
        got = run()  # compiles
        row.setup_s = round(time.monotonic() - t, 1)
        row.parity, row.parity_ok = parity(c.ref, got, "bf16")
        fill(row, time_calls(run, c.args.iters, c.args.warmup))

    def graphed(row: Row) -> None:
        if c.device != "cuda":
            row.status, row.reason = "skipped", "CUDA graphs need a CUDA device (this run is on CPU)"
            return
        t = time.monotonic()
        run = cuda_graph_runner(bf16["model"], c.inputs, torch.bfloat16)
        row.setup_s = round(time.monotonic() - t, 1)
        c.time_row(row, run, "bf16")

    c.attempt(Row("torch eager bf16", precision="bf16"), eager, key="bf16")
    c.attempt(Row("torch.compile bf16", precision="bf16"), compiled, need_s=0 if c.args.cpu_smoke else 150,
              key="compile")
    c.attempt(Row("CUDA graph replay bf16", precision="bf16"), graphed, key="cudagraph")
    bf16.clear()
    if c.device == "cuda":
        torch.cuda.empty_cache()


def _engine_rows(c: Check, tmp: Path) -> None:
    """The exported engine folder loaded by the runtime's ONNX Runtime and TensorRT backends."""

    def timed_engine(row: Row, backend: str, precision: str, opts: dict[str, Any]) -> None:
        t = time.monotonic()
        _pol, run = engine_runner(c.model, backend, c.device, tmp, opts)
        row.setup_s = round(time.monotonic() - t, 1)
        c.time_row(row, lambda: run(c.inputs), precision)

    def ort(row: Row) -> None:
        try:
            import onnxruntime as rt
        except ImportError as e:
            row.status, row.reason = "skipped", f"onnxruntime does not import: {e}"
            return
        providers = rt.get_available_providers()
        if c.device == "cuda" and "CUDAExecutionProvider" not in providers:
            row.status = "skipped"
            row.reason = f"onnxruntime has no CUDAExecutionProvider here (providers: {providers})"
            return
        err = import_error("onnx") or import_error("pydantic")  # the export / the engine loader
        if err:
            row.status, row.reason = "skipped", err
            return
        timed_engine(row, "onnxruntime", "fp32", {"backends": ("onnxruntime",)})

    def trt(row: Row) -> None:
        err = trt_missing or import_error("onnx") or import_error("pydantic")
        if err:
            row.status, row.reason = "skipped", err
            return
        if c.device != "cuda":
            row.status, row.reason = "skipped", "TensorRT needs a CUDA device"
            return
        timed_engine(row, "tensorrt", "fp16",
                     {"backends": ("onnxruntime",), "tensorrt": True, "trt_precision": "fp16"})

    ort_name = "onnxruntime CUDA" if c.device == "cuda" else "onnxruntime CPU (smoke: export + parity path)"
    c.attempt(Row(ort_name, precision="fp32"), ort, need_s=0 if c.args.cpu_smoke else 180, key="onnxruntime")
    trt_missing = import_error("tensorrt")
    c.attempt(Row("tensorrt fp16", precision="fp16"), trt, need_s=0 if trt_missing else 240, key="tensorrt")
