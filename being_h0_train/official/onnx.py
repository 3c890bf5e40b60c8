"""``being-h0 engine build --backend onnx|tensorrt`` for converted official engines.

A separate step from ``convert`` because it needs the whole model in memory (fp32 trace): run it where
the model fits (the tiny and 1B shapes on a CPU box; 8B/14B on the rig's GPU machine).

- onnx: ``torch.onnx.export`` (legacy TorchScript exporter, opset 17) of ``OfficialAlignModel`` in fp32
  with dynamic tile count and prompt length, weights in ``model.onnx.data`` beyond 1.5 GB; parity against
  the PyTorch backend on the engine's own pre-processing (atol 1e-4); manifest updated atomically.
- tensorrt: builds ``model.plan`` from ``model.onnx`` with the TensorRT 10 Python API
  (``being_h0_train.export.tensorrt_build``); where ``import tensorrt`` fails (no GPU / not installed)
  the build is skipped and the reason is printed and recorded in ``parity_report.json``.

`being-h0 engine build` parses its arguments and runs ``python -m being_h0_train.official.onnx
--engine DIR --backend onnx|tensorrt --opset N --atol X`` (``main`` below) in a child process: the
runtime does not import the training package.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from being_h0_runtime.config import ConfigError, run_subcommand
from being_h0_runtime.policy.engine_format import (
    MANIFEST_FILE,
    PARITY_FILE,
    read_manifest,
    sha256_file,
    verify_engine_dir,
)

from .convert import ARCHITECTURE

EXTERNAL_DATA_BYTES = 1_500_000_000


def _cases(policy: Any, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Inputs through the engine's own pre-processing: camera-like images, short and long tasks, random states."""
    from being_h0_runtime.policy.spec import Observation

    rng = np.random.default_rng(seed)
    names = list(policy.manifest.proprio.names)
    out = []
    for (h, w), task in (((480, 640), "pick"), ((360, 480), "put the little white duck into the cup, then push it")):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        obs = Observation(stamp=0.0, proprio=rng.standard_normal(len(names)), proprio_names=names, instruction=task,
                          image=img)
        out.append(tuple(np.asarray(a) for a in policy.prepare(obs)))
    return out


def _parity(ref_runner: Any, runner: Any, cases: list[Any], atol: float) -> dict[str, Any]:
    rows = []
    for pv, ids, pr in cases:
        ref = np.asarray(ref_runner.run(pv, ids, pr), np.float64)
        got = np.asarray(runner.run(pv, ids, pr), np.float64)
        rows.append({"text_len": int(ids.shape[1]), "max_abs_err": float(np.abs(ref - got).max()),
                     "ref_abs_max": float(np.abs(ref).max()),
                     "cosine": float((ref.ravel() @ got.ravel()) / max(np.linalg.norm(ref) * np.linalg.norm(got), 1e-30))})
    worst = max(r["max_abs_err"] for r in rows)
    cos = min(r["cosine"] for r in rows)
    return {"passed": bool(np.isfinite(worst) and worst <= atol), "max_abs_err": worst, "min_cosine": cos,
            "atol": atol, "cases": rows}


def export_onnx(engine_dir: Path, work: Path, opset: int) -> list[str]:
    """Trace the engine's torch model (fp32) to ``work/model.onnx`` (+ external data); returns extra files."""
    import onnx
    import torch

    from being_h0_runtime.policy.models.official import OfficialAlignModel

    m = read_manifest(engine_dir)
    assert m.backends.torch is not None
    model = OfficialAlignModel.from_pretrained(engine_dir / m.backends.torch.dir, dtype=torch.float32,
                                               attn_implementation="eager")

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: torch.Tensor, input_ids: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
            return self.model(pixel_values.unsqueeze(0), input_ids, proprio)

    s = m.image.size
    ids = torch.tensor([[int(model.img_context_id)] * model.spec.num_image_tokens * 2 + [int(model.prop_context_id)]
                        + [int(a) for a in model.action_token_ids]], dtype=torch.long)
    args = (torch.randn(2, 3, s, s), ids, torch.randn(1, model.spec.proprio_dim))  # 2 tiles: nothing specialised to 1
    nbytes = sum(p.numel() * 4 for p in model.parameters())
    with tempfile.TemporaryDirectory(prefix="being_h0_onnx_", dir=work) as tmp:
        raw = Path(tmp) / "model.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(Graph().eval(), args, str(raw), dynamo=False, opset_version=opset,
                              input_names=["pixel_values", "input_ids", "proprio"], output_names=["actions"],
                              dynamic_axes={"pixel_values": {0: "tiles"}, "input_ids": {1: "text_len"}},
                              do_constant_folding=True)
        if nbytes > EXTERNAL_DATA_BYTES or any(p.name != "model.onnx" for p in Path(tmp).iterdir()):
            proto = onnx.load(str(raw), load_external_data=True)
            onnx.save_model(proto, str(work / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                            location="model.onnx.data", size_threshold=1024)
            extra = ["model.onnx.data"]
        else:
            shutil.copyfile(raw, work / "model.onnx")
            extra = []
    onnx.checker.check_model(str(work / "model.onnx"))
    return extra


def _commit(engine_dir: Path, work: Path, backends_update: dict[str, Any], report: dict[str, Any]) -> None:
    """Move new files in, then replace manifest.json atomically (the engine is valid before and after)."""
    raw = json.loads((engine_dir / MANIFEST_FILE).read_text())
    for p in sorted(work.iterdir()):
        if p.is_file():
            os.replace(p, engine_dir / p.name)
            raw["files"][p.name] = sha256_file(engine_dir / p.name)
    (engine_dir / PARITY_FILE).write_text(json.dumps(report, indent=2))
    raw["backends"].update(backends_update)
    first = [v for v in report["backends"].values()]
    if first:
        raw["parity"] = {"file": PARITY_FILE, "passed": all(v["passed"] for v in first),
                         "max_abs_err": max(v["max_abs_err"] for v in first),
                         "min_cosine": min(v["min_cosine"] for v in first), "atol": first[0]["atol"]}
    tmp = engine_dir / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps(raw, indent=2))
    os.replace(tmp, engine_dir / MANIFEST_FILE)
    verify_engine_dir(engine_dir)


def build_backend(engine: str | Path, backend: str, opset: int = 17, atol: float = 1e-4, trt_atol: float = 5e-2,
                  trt_precision: str = "fp16", log: Callable[[str], None] = print) -> int:
    """Add an ONNX model / TensorRT plan to a converted engine; 0 ok (or TensorRT skipped), 1 parity failure."""
    from being_h0_runtime.policy.engine import load_engine_policy

    d = Path(engine)
    m = verify_engine_dir(d)
    if (m.model or {}).get("architecture") != ARCHITECTURE:
        raise ConfigError(f"{d / MANIFEST_FILE}: field 'model.architecture' is {(m.model or {}).get('architecture')!r}; "
                          "engine build handles engines from 'being-h0 convert vla' (this project's own engines are "
                          "built by python -m being_h0_train.export)")
    policy = load_engine_policy(d, backend="torch", device="cpu", dtype="float32")
    cases = _cases(policy)
    report: dict[str, Any] = json.loads((d / PARITY_FILE).read_text()) if (d / PARITY_FILE).is_file() else {}
    report.setdefault("backends", {})
    report["reference"] = "PyTorch backend, float32 (OfficialAlignModel)"
    work = d / f".build-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        if backend == "onnx":
            return _add_onnx(d, work, policy, cases, report, opset, atol, log)
        if backend == "tensorrt":
            return _add_tensorrt(d, m, work, policy, cases, report, trt_precision, trt_atol, log)
        raise ConfigError(f"--backend: {backend!r} is not one of onnx, tensorrt")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _add_onnx(d: Path, work: Path, policy: Any, cases: list, report: dict[str, Any], opset: int, atol: float,
              log: Callable[[str], None]) -> int:
    """Export the ONNX graph into ``work``, check it against PyTorch, and commit it to the engine if it passes."""
    log(f"exporting ONNX (opset {opset}) ...")
    extra = export_onnx(d, work, opset)
    from ..export.onnx_export import OrtCpuRunner

    rep = _parity(policy.backend, OrtCpuRunner(work / "model.onnx"), cases, atol)
    report["backends"]["onnxruntime_cpu"] = rep
    log(f"  parity onnxruntime: max_abs_err={rep['max_abs_err']:.3g} {'PASS' if rep['passed'] else 'FAIL'}")
    if not rep["passed"]:
        log(f"parity failed (atol {atol}); engine left unchanged")
        return 1
    _commit(d, work, {"onnxruntime": {"file": "model.onnx", "opset": opset, "external_data": extra}}, report)
    log(f"added model.onnx to {d}")
    return 0


def _add_tensorrt(d: Path, m: Any, work: Path, policy: Any, cases: list, report: dict[str, Any], trt_precision: str,
                  trt_atol: float, log: Callable[[str], None]) -> int:
    """Build a TensorRT plan from the engine's ONNX graph (skipped, with the reason, where TensorRT is missing)."""
    from being_h0_runtime.policy.backends import tensorrt_import_error

    if m.backends.onnxruntime is None:
        raise ConfigError(f"{d / MANIFEST_FILE}: no ONNX model yet; run 'being-h0 engine build --engine {d} "
                          "--backend onnx' first (the plan is built from it)")
    err = tensorrt_import_error()
    if err:
        report["tensorrt_skipped"] = err
        (d / PARITY_FILE).write_text(json.dumps(report, indent=2))
        log(f"tensorrt: skipped ({err})")
        return 0
    from being_h0_runtime.policy.backends.tensorrt import TensorRTRunner

    from ..export.tensorrt_build import (
        build_tensorrt_engine,
        info_dict,
        make_profile,
    )

    n_ids = max(int(c[1].shape[1]) for c in cases)
    prof = make_profile(m.image.size, 1, False, len(m.proprio.names), 1, max_text_len=n_ids + 256,
                        opt_text_len=n_ids)
    prof["input_ids"][0] = [1, m.image.num_image_tokens + m.action_spec.chunk_len + 1]
    info = build_tensorrt_engine(d / "model.onnx", work / "model.plan", prof, trt_precision, None)
    rep = _parity(policy.backend, TensorRTRunner(work / "model.plan", "actions"), cases, trt_atol)
    report["backends"]["tensorrt"] = {**rep, "precision": trt_precision}
    log(f"  parity tensorrt: max_abs_err={rep['max_abs_err']:.3g} {'PASS' if rep['passed'] else 'FAIL'}")
    if not rep["passed"]:
        return 1
    _commit(d, work, {"tensorrt": info_dict(info)}, report)
    return 0


def main(argv: list[str] | None = None) -> int:
    """The program `being-h0 engine build` runs; every option is given by it (its help has the defaults)."""
    ap = argparse.ArgumentParser(prog="python -m being_h0_train.official.onnx",
                                 description="add an ONNX model or TensorRT plan to a converted engine "
                                             "(what `being-h0 engine build` runs)")
    ap.add_argument("--engine", required=True, help="engine folder (from being-h0 convert vla)")
    ap.add_argument("--backend", required=True, choices=["onnx", "tensorrt"])
    ap.add_argument("--opset", type=int, required=True)
    ap.add_argument("--atol", type=float, required=True, help="max abs error vs PyTorch fp32 (ONNX)")
    ap.set_defaults(func=lambda a: build_backend(a.engine, a.backend, opset=a.opset, atol=a.atol, log=print))
    return run_subcommand(ap.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
