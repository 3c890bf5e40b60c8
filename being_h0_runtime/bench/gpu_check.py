"""GPU readiness check: chunk latency of a 1B-shaped Being-H0 per execution path, each with parity against fp32.

Run by ``scripts/gpu_check.sh`` on a Linux machine with an NVIDIA GPU (CUDA
PyTorch, transformers 5.x, CPU onnxruntime; no TensorRT and no network are
fine). It builds the official Being-H0 1B shapes with random weights -
InternViT-300M + MLP projector + Qwen2.5-0.5B-shaped language model
(``internvl3-1b`` preset), one 448 px tile = 256 image tokens, 16 action
queries, 13 action dims - and times one action chunk (inputs host -> GPU,
forward, chunk GPU -> host) for:

    torch eager fp32        the reference every other row is compared with
    torch eager bf16
    torch.compile bf16      inductor, default mode
    CUDA graph replay bf16  the bf16 eager forward captured once, replayed
    onnxruntime CUDA        only when onnxruntime has CUDAExecutionProvider and onnx imports
    tensorrt                only when tensorrt imports (fp16 plan)

Rows that cannot run here are written as skipped with the reason; a row that
fails is written with the error, and the others still run. ``--sim`` adds one
closed-loop episode on the virtual rig (MuJoCo with MUJOCO_GL=egl) when its
packages import. The JSON is rewritten after every row, so a run stopped by the
8-minute limit still leaves what it measured; ``--budget-s`` makes the
expensive steps (compile, ONNX export) skip themselves when time runs short.

``--cpu-smoke`` runs every part that works without a GPU on the ``tiny``
shape (CPU, a few iterations; onnxruntime on its CPU provider so the export and
parity path runs too): the test suite uses it.

    python -m being_h0_runtime.bench.gpu_check --out gpu_check.json
    python -m being_h0_runtime.bench.gpu_check --cpu-smoke --out /tmp/smoke.json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# the rig's action/proprio layout (Franka 7 joints + Inspire 6 DoF); the rig package needs no pydantic
from ..rig import JOINT_NAMES as ACTION_NAMES

#: rows after the fp32 reference, as --rows names them
ROW_KEYS = ("bf16", "compile", "cudagraph", "onnxruntime", "tensorrt")
#: minimum cosine similarity against fp32 for a row to count as "parity ok"
PARITY_MIN_COSINE = {"fp32": 0.9999, "bf16": 0.99, "fp16": 0.99}


@dataclass
class Row:
    name: str
    status: str = "pending"  # ok | skipped | failed
    reason: str = ""
    precision: str = ""
    p50_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    n: int = 0
    setup_s: float | None = None
    parity: dict[str, float] = field(default_factory=dict)
    parity_ok: bool | None = None


class Budget:
    def __init__(self, seconds: float) -> None:
        self.t0 = time.monotonic()
        self.seconds = seconds

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.t0)


# --------------------------------------------------------------------------- environment
def import_error(module: str) -> str | None:
    """None when ``module`` imports, else why not (a broken CUDA install raises OSError, not ImportError)."""
    try:
        __import__(module)
    except Exception as e:  # noqa: BLE001
        return f"import {module} failed: {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
    return None


def environment() -> dict[str, Any]:
    env: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                           "cpus": os.cpu_count()}
    try:
        import torch

        env["torch"] = torch.__version__
        env["cuda_available"] = bool(torch.cuda.is_available())
        env["torch_cuda"] = torch.version.cuda
        if torch.cuda.is_available():
            env["gpu"] = torch.cuda.get_device_name(0)
            env["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    except ImportError as e:
        env["torch"] = f"missing: {e}"
    for mod in ("transformers", "onnxruntime", "onnx", "tensorrt", "mujoco", "pydantic"):
        try:
            m = __import__(mod)
            env[mod] = getattr(m, "__version__", "present")
        except Exception as e:  # noqa: BLE001 - an import that fails for any reason is reported
            env[mod] = f"missing: {type(e).__name__}: {str(e).splitlines()[0][:100] if str(e) else ''}"
    try:
        import onnxruntime as ort

        env["onnxruntime_providers"] = ort.get_available_providers()
    except Exception:  # noqa: BLE001
        env["onnxruntime_providers"] = []
    return env


# --------------------------------------------------------------------------- model and inputs
def build_model(preset: str, device: str, chunk_len: int) -> Any:
    """The post-training model (backbone + 16 action queries + heads), random weights, fp32 on ``device``."""
    import torch

    from being_h0_train.posttrain.config import PostTrainConfig
    from being_h0_train.posttrain.model import build_posttrain_model

    cfg = PostTrainConfig(backbone=preset, action_names=ACTION_NAMES, proprio_names=ACTION_NAMES,
                          chunk_len=chunk_len, max_tiles=1, use_thumbnail=False)
    with torch.device(device):  # initialise on the GPU: a 1B model on CPU first costs a minute
        model = build_posttrain_model(cfg)
    return model.float().eval()


def make_inputs(model: Any, seed: int = 0) -> dict[str, np.ndarray]:
    """One camera tile (normalised), the instruction's prompt ids and a proprio vector, as the engine takes them."""
    from being_h0_runtime.policy.preprocess import PromptEncoder, TilePreprocessor

    rng = np.random.default_rng(seed)
    s = model.image_size
    tiles = TilePreprocessor(s, 1, False)
    prompt = PromptEncoder(model.backbone.tokenizer.backend_tokenizer, model.prompt_suffix)
    image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    return {"pixel_values": tiles(image), "input_ids": np.array(prompt("pick up the toy and put it in the box")),
            "proprio": rng.standard_normal((1, model.cfg.proprio_dim)).astype(np.float32)}


def parity(ref: np.ndarray, got: np.ndarray, precision: str) -> tuple[dict[str, float], bool]:
    a, b = ref.astype(np.float64).ravel(), got.astype(np.float64).ravel()
    d = np.abs(a - b)
    cos = float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))
    ref_max = float(np.abs(a).max())
    out = {"max_abs_err": float(d.max()), "mean_abs_err": float(d.mean()), "rel_max_err": float(d.max() / max(ref_max, 1e-12)),
           "cosine": cos, "ref_abs_max": ref_max}
    return out, bool(np.all(np.isfinite(b)) and cos >= PARITY_MIN_COSINE[precision])


def time_calls(fn: Callable[[], np.ndarray], iters: int, warmup: int) -> np.ndarray:
    """Wall time of ``fn`` (which returns the chunk on the host, so the GPU work is finished) in ms."""
    for _ in range(warmup):
        fn()
    out = np.empty(iters)
    for i in range(iters):
        t0 = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - t0
    return out * 1e3


def _fill(row: Row, ms: np.ndarray) -> None:
    row.p50_ms, row.p99_ms = float(np.percentile(ms, 50)), float(np.percentile(ms, 99))
    row.mean_ms, row.n = float(ms.mean()), int(ms.size)
    row.status = "ok"


# --------------------------------------------------------------------------- the rows
def torch_runner(model: Any, inputs: dict[str, np.ndarray], device: str, dtype: Any) -> Callable[[], np.ndarray]:
    import torch

    pv = torch.from_numpy(inputs["pixel_values"]).unsqueeze(0)
    ids = torch.from_numpy(inputs["input_ids"])
    pr = torch.from_numpy(inputs["proprio"])
    if device == "cuda":
        pv, ids, pr = pv.pin_memory(), ids.pin_memory(), pr.pin_memory()

    def call() -> np.ndarray:
        with torch.inference_mode():
            out = model(pv.to(device, non_blocking=True).to(dtype), ids.to(device, non_blocking=True),
                        pr.to(device, non_blocking=True))
            return out.float().cpu().numpy()

    return call


def cuda_graph_runner(model: Any, inputs: dict[str, np.ndarray], dtype: Any) -> Callable[[], np.ndarray]:
    """Capture the forward once on static buffers; each call copies the inputs in and replays."""
    import torch

    host = {"pv": torch.from_numpy(inputs["pixel_values"]).unsqueeze(0).to(dtype).pin_memory(),
            "ids": torch.from_numpy(inputs["input_ids"]).pin_memory(),
            "pr": torch.from_numpy(inputs["proprio"]).pin_memory()}
    static = {k: v.cuda() for k, v in host.items()}
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side), torch.inference_mode():
        for _ in range(3):  # warm-up outside the graph (allocator, cuBLAS handles)
            model(static["pv"], static["ids"], static["pr"])
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.inference_mode(), torch.cuda.graph(graph):
        static_out = model(static["pv"], static["ids"], static["pr"])

    def call() -> np.ndarray:
        for k, buf in static.items():
            buf.copy_(host[k], non_blocking=True)
        graph.replay()
        return static_out.float().cpu().numpy()

    return call


def engine_runner(model: Any, backend: str, device: str, tmp: Path, opts: dict[str, Any]) -> tuple[Any, Callable]:
    """Export ``model`` to an engine directory and load it with ``backend``; returns (policy, run(inputs))."""
    from being_h0_runtime.policy.engine import load_engine_policy
    from being_h0_train.export import ExportOptions, build_engine

    eng = tmp / f"engine-{backend}"
    build_engine(model, eng, ExportOptions(require_parity=False, force=True, **opts), log=lambda *_: None)
    pol = load_engine_policy(eng, backend=backend, device=device, check_checksums=False)
    return pol, lambda x: np.asarray(pol.backend.run(x["pixel_values"], x["input_ids"], x["proprio"]))


# --------------------------------------------------------------------------- orchestration
def run_check(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    budget = Budget(args.budget_s)
    out_path = Path(args.out)
    report: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "mode": "cpu-smoke" if args.cpu_smoke else "gpu", "environment": environment(),
                              "rows": [], "sim": None}
    rows: list[Row] = []

    def save() -> None:
        report["rows"] = [asdict(r) for r in rows]
        report["elapsed_s"] = round(time.monotonic() - budget.t0, 1)
        tmp = out_path.with_name(out_path.name + ".tmp")
        tmp.write_text(json.dumps(report, indent=1))
        os.replace(tmp, out_path)

    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        report["error"] = "no CUDA GPU visible (torch.cuda.is_available() is False); use --cpu-smoke on a CPU machine"
        save()
        return report
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t0 = time.monotonic()
    model = build_model(args.preset, device, args.chunk_len)
    cfg = model.backbone.config
    report["model"] = {"preset": args.preset, "parameters": int(sum(p.numel() for p in model.parameters())),
                       "image_size": model.image_size, "image_tokens": int(cfg.num_image_tokens),
                       "action_queries": args.chunk_len, "action_dims": len(ACTION_NAMES),
                       "vision_hidden": cfg.vision.hidden_size, "vision_layers": cfg.vision.num_hidden_layers,
                       "llm_hidden": cfg.text.hidden_size, "llm_layers": cfg.text.num_hidden_layers,
                       "build_s": round(time.monotonic() - t0, 1), "device": device}
    inputs = make_inputs(model)
    report["model"]["prompt_tokens"] = int(inputs["input_ids"].shape[1])
    iters, warmup = args.iters, args.warmup

    # fp32 eager: the reference
    ref_row = Row("torch eager fp32", precision="fp32")
    rows.append(ref_row)
    fp32 = torch_runner(model, inputs, device, torch.float32)
    ref = fp32()
    _fill(ref_row, time_calls(fp32, iters, warmup))
    ref_row.parity, ref_row.parity_ok = parity(ref, ref, "fp32")
    save()

    def attempt(row: Row, body: Callable[[Row], None], need_s: float = 0.0, key: str = "") -> None:
        rows.append(row)
        if key and key not in args.rows:
            row.status, row.reason = "skipped", f"not selected (--rows {','.join(args.rows)})"
        elif budget.left() < need_s:
            row.status, row.reason = "skipped", f"time budget: {budget.left():.0f} s left, this row needs ~{need_s:.0f} s"
        else:
            try:
                body(row)
            except Exception as e:  # noqa: BLE001 - one failing path must not hide the others
                row.status = "failed"
                row.reason = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
                report.setdefault("tracebacks", {})[row.name] = traceback.format_exc()[-3000:]
        save()

    bf16 = {"model": copy.deepcopy(model).to(torch.bfloat16)}  # dropped after the bf16 rows (GPU memory)

    def bf16_eager(row: Row) -> None:
        run = torch_runner(bf16["model"], inputs, device, torch.bfloat16)
        row.parity, row.parity_ok = parity(ref, run(), "bf16")
        _fill(row, time_calls(run, iters, warmup))

    attempt(Row("torch eager bf16", precision="bf16"), bf16_eager, key="bf16")

    def compiled(row: Row) -> None:
        t = time.monotonic()
        comp = torch.compile(bf16["model"], dynamic=False)
        run = torch_runner(comp, inputs, device, torch.bfloat16)
        got = run()  # compiles
        row.setup_s = round(time.monotonic() - t, 1)
        row.parity, row.parity_ok = parity(ref, got, "bf16")
        _fill(row, time_calls(run, iters, warmup))

    attempt(Row("torch.compile bf16", precision="bf16"), compiled, need_s=0 if args.cpu_smoke else 150, key="compile")

    def graphed(row: Row) -> None:
        if device != "cuda":
            row.status, row.reason = "skipped", "CUDA graphs need a CUDA device (this run is on CPU)"
            return
        t = time.monotonic()
        run = cuda_graph_runner(bf16["model"], inputs, torch.bfloat16)
        row.setup_s = round(time.monotonic() - t, 1)
        row.parity, row.parity_ok = parity(ref, run(), "bf16")
        _fill(row, time_calls(run, iters, warmup))

    attempt(Row("CUDA graph replay bf16", precision="bf16"), graphed, key="cudagraph")
    bf16.clear()
    if device == "cuda":
        torch.cuda.empty_cache()

    with tempfile.TemporaryDirectory(prefix="being_h0_gpu_check_") as tmpdir:
        tmp = Path(tmpdir)

        def ort(row: Row) -> None:
            try:
                import onnxruntime as rt
            except ImportError as e:
                row.status, row.reason = "skipped", f"onnxruntime does not import: {e}"
                return
            providers = rt.get_available_providers()
            if device == "cuda" and "CUDAExecutionProvider" not in providers:
                row.status, row.reason = "skipped", f"onnxruntime has no CUDAExecutionProvider here (providers: {providers})"
                return
            err = import_error("onnx") or import_error("pydantic")  # the export / the engine loader
            if err:
                row.status, row.reason = "skipped", err
                return
            t = time.monotonic()
            _pol, run = engine_runner(model, "onnxruntime", device, tmp, {"backends": ("onnxruntime",)})
            row.setup_s = round(time.monotonic() - t, 1)
            row.parity, row.parity_ok = parity(ref, run(inputs), "fp32")
            _fill(row, time_calls(lambda: run(inputs), iters, warmup))

        ort_name = "onnxruntime CUDA" if device == "cuda" else "onnxruntime CPU (smoke: export + parity path)"
        attempt(Row(ort_name, precision="fp32"), ort, need_s=0 if args.cpu_smoke else 180, key="onnxruntime")

        def trt(row: Row) -> None:
            err = trt_missing or import_error("onnx") or import_error("pydantic")
            if err:
                row.status, row.reason = "skipped", err
                return
            if device != "cuda":
                row.status, row.reason = "skipped", "TensorRT needs a CUDA device"
                return
            t = time.monotonic()
            _pol, run = engine_runner(model, "tensorrt", device, tmp,
                                      {"backends": ("onnxruntime",), "tensorrt": True, "trt_precision": "fp16"})
            row.setup_s = round(time.monotonic() - t, 1)
            row.parity, row.parity_ok = parity(ref, run(inputs), "fp16")
            _fill(row, time_calls(lambda: run(inputs), iters, warmup))

        trt_missing = import_error("tensorrt")
        attempt(Row("tensorrt fp16", precision="fp16"), trt, need_s=0 if trt_missing else 240, key="tensorrt")

    if args.sim:
        report["sim"] = sim_episode(min(180.0, max(0.0, budget.left())))
    save()
    return report


def sim_episode(timeout_s: float) -> dict[str, Any]:
    """One closed-loop episode of the default engine on the virtual rig (one process), if its packages import."""
    missing = []
    for mod in ("mujoco", "pydantic", "yaml", "onnxruntime"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        return {"status": "skipped", "reason": f"missing packages: {missing} (ship their wheels in scripts/wheels/)"}
    if timeout_s < 30:
        return {"status": "skipped", "reason": f"time budget: {timeout_s:.0f} s left"}
    env = dict(os.environ, MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"))
    cmd = [sys.executable, "-m", "being_h0_runtime.cli", "run", "--transport", "inproc", "--seed", "1"]
    t = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "reason": f"no outcome within {timeout_s:.0f} s", "command": " ".join(cmd)}
    tail = (p.stdout + p.stderr).strip().splitlines()[-6:]
    return {"status": "ok" if p.returncode == 0 else "failed", "returncode": p.returncode,
            "wall_s": round(time.monotonic() - t, 1), "command": " ".join(cmd[1:]), "tail": tail}


def format_report(report: dict[str, Any]) -> str:
    lines = []
    env = report["environment"]
    lines.append(f"mode {report['mode']}: torch {env.get('torch')}, GPU {env.get('gpu', 'none')}, "
                 f"transformers {env.get('transformers')}, onnxruntime {env.get('onnxruntime')}")
    if "error" in report:
        return "\n".join(lines + [f"error: {report['error']}"])
    m = report["model"]
    lines.append(f"model {m['preset']}: {m['parameters'] / 1e6:.0f} M parameters, {m['image_tokens']} image tokens, "
                 f"{m['prompt_tokens']} prompt tokens, {m['action_queries']} action queries; built in {m['build_s']} s")
    lines.append(f"{'path':<46} {'status':<8} {'p50 ms':>8} {'p99 ms':>8} {'x fp32':>7} {'cosine':>9} {'max err':>9}")
    base = report["rows"][0]["p50_ms"] if report["rows"] else None
    for r in report["rows"]:
        if r["status"] == "ok":
            sp = base / r["p50_ms"] if base and r["p50_ms"] else float("nan")
            lines.append(f"{r['name']:<46} {r['status']:<8} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {sp:7.2f} "
                         f"{r['parity']['cosine']:9.6f} {r['parity']['max_abs_err']:9.2e}"
                         + ("" if r["parity_ok"] else "  PARITY NOT OK"))
        else:
            lines.append(f"{r['name']:<46} {r['status']:<8} {r['reason']}")
    if report.get("sim"):
        lines.append(f"sim closed loop: {report['sim']}")
    lines.append(f"elapsed {report.get('elapsed_s')} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m being_h0_runtime.bench.gpu_check", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="gpu_check.json", help="JSON report (rewritten after every row)")
    ap.add_argument("--cpu-smoke", action="store_true",
                    help="tiny shape on CPU, few iterations: every part that runs without a GPU (tests use it)")
    ap.add_argument("--preset", default=None, help="backbone preset (default internvl3-1b; tiny with --cpu-smoke)")
    ap.add_argument("--device", choices=("cuda", "cpu"), default=None, help="default cuda (cpu with --cpu-smoke)")
    ap.add_argument("--iters", type=int, default=None, help="timed chunks per row (default 100; 5 with --cpu-smoke)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed chunks per row first (default 10; 2 smoke)")
    ap.add_argument("--chunk-len", type=int, default=16, help="action queries = chunk steps (default 16)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: library's; 1 with --cpu-smoke)")
    ap.add_argument("--rows", default=",".join(ROW_KEYS),
                    help=f"comma list of rows after the fp32 reference (default all: {','.join(ROW_KEYS)})")
    ap.add_argument("--budget-s", type=float, default=420.0,
                    help="expensive rows skip themselves when less time than they need is left (default 420 s)")
    ap.add_argument("--sim", action=argparse.BooleanOptionalAction, default=None,
                    help="also run one closed-loop virtual-rig episode (default: on for GPU runs, off for --cpu-smoke)")
    args = ap.parse_args(argv)
    smoke = args.cpu_smoke
    args.preset = args.preset or ("tiny" if smoke else "internvl3-1b")
    args.device = args.device or ("cpu" if smoke else "cuda")
    args.iters = args.iters if args.iters is not None else (5 if smoke else 100)
    args.warmup = args.warmup if args.warmup is not None else (2 if smoke else 10)
    args.sim = (not smoke) if args.sim is None else args.sim
    args.threads = args.threads if args.threads is not None else (1 if smoke else 0)
    args.rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in args.rows if r not in ROW_KEYS]
    if unknown:
        ap.error(f"--rows: unknown {unknown}; choose from {','.join(ROW_KEYS)}")
    if args.iters < 1 or args.warmup < 0 or args.chunk_len < 1:
        ap.error("--iters and --chunk-len must be >= 1, --warmup >= 0")
    report = run_check(args)
    print(format_report(report))
    print(f"wrote {args.out}")
    if "error" in report:
        return 2
    failed = [r["name"] for r in report["rows"] if r["status"] == "failed" or r["parity_ok"] is False]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
