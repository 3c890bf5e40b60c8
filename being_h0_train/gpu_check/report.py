"""Rows, the time budget, the environment record, the closed-loop sim episode and the text report."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from being_h0_runtime.bench.timing import summarize

#: rows after the fp32 reference, as --rows names them
ROW_KEYS = ("bf16", "compile", "cudagraph", "onnxruntime", "tensorrt")

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


def fill(row: Row, ms: np.ndarray) -> None:
    """Write a ``time_calls`` result into ``row`` and mark it ok."""
    for key, value in summarize(ms).items():
        setattr(row, key, value)
    row.status = "ok"


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
