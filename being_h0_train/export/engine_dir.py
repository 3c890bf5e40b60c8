"""Write an engine directory (model files + manifest.json + parity_report.json).

The directory is assembled under ``<out>.partial`` and renamed into place
only after the ONNX export, the parity check and the checksums succeeded,
so a half-written engine never carries the final name. The manifest is
validated with the runtime's own ``EngineManifest`` before it is written,
and the finished directory is re-verified with ``verify_engine_dir``.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from being_h0_runtime.policy.engine_format import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    PARITY_FILE,
    EngineManifest,
    sha256_file,
    verify_engine_dir,
)
from being_h0_runtime.policy.models.posttrain import PostTrainModel
from being_h0_runtime.policy.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    PROMPT_PREFIX,
    num_tiles_for,
)

from .onnx_export import (
    INPUT_NAMES,
    OUTPUT_NAME,
    OrtCpuRunner,
    check_parity,
    export_onnx,
)

TORCH_DIR = "torch"
TOKENIZER_DIR = "tokenizer"


@dataclass
class ExportOptions:
    backends: Sequence[str] = ("onnxruntime", "torch")
    opset: int = 17
    parity_atol: float = 1e-4
    parity_min_cosine: float = 0.9999
    require_parity: bool = True
    tensorrt: bool = False
    trt_precision: str = "fp16"
    trt_atol: float = 5e-2
    trt_min_cosine: float = 0.99
    timing_cache: str | None = None
    max_text_len: int = 256
    warmup_hw: tuple[int, int] | None = None
    engine_name: str | None = None
    force: bool = False
    notes: list[str] = field(default_factory=list)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("torch", "onnx", "onnxruntime", "transformers", "safetensors", "tokenizers"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - optional package
            out[mod] = "absent"
    try:
        from importlib.metadata import version

        out["being-h0-runtime"] = version("being-h0-runtime")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        out["being-h0-runtime"] = "source"
    return out


def _copy_model_dir(model_dir: Path, dst: Path) -> None:
    shutil.copytree(model_dir, dst, ignore=shutil.ignore_patterns("*.tmp", "__pycache__"))


def build_engine(model: PostTrainModel | str | Path, out_dir: str | Path, opts: ExportOptions | None = None,
                 log: Any = print) -> Path:
    """Export ``model`` (a ``PostTrainModel`` or a post-training ``final/`` dir) to ``out_dir``.

    Everything is written under ``<out_dir>.partial`` and renamed into place only after the
    manifest validates and every checksum verifies: a failed export never leaves half an engine.
    """
    opts = opts or ExportOptions()
    out = Path(out_dir)
    if out.exists() and not opts.force:
        raise FileExistsError(f"{out}: already exists (pass force=True / --force to replace it)")
    work = out.with_name(out.name + ".partial")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    model_dir: Path | None = None
    if not isinstance(model, PostTrainModel):
        model_dir = Path(model)
        model = PostTrainModel.from_pretrained(model_dir)
    model = model.float().cpu().eval()
    model.merge_lora()
    unknown = set(opts.backends) - {"onnxruntime", "torch"}
    if unknown:
        raise ValueError(f"backends: unknown {sorted(unknown)} (TensorRT is requested with tensorrt=True)")
    if "onnxruntime" not in opts.backends and opts.tensorrt:
        raise ValueError("TensorRT is built from the ONNX model: include 'onnxruntime' in backends")

    backends, runners = _write_model_files(model, model_dir, work, opts, log)
    tok_files = _write_tokenizer(model, work / TOKENIZER_DIR)
    trt_skip = _build_tensorrt(model, work, opts, backends, runners, log) if opts.tensorrt else None
    report = _check_and_write_parity(model, runners, opts, trt_skip, work, log)
    manifest = _manifest(model, model_dir, work, opts, backends, report, tok_files)
    EngineManifest.model_validate(manifest)  # same schema the runtime enforces
    (work / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    verify_engine_dir(work)
    if out.exists():
        shutil.rmtree(out)
    work.rename(out)
    log(f"engine {manifest['engine_id']} -> {out}")
    return out


def _write_model_files(model: PostTrainModel, model_dir: Path | None, work: Path, opts: ExportOptions,
                       log: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ONNX graph and/or the PyTorch checkpoint; returns (manifest backends, parity runners)."""
    backends: dict[str, Any] = {}
    runners: dict[str, Any] = {}
    if "onnxruntime" in opts.backends:
        log(f"exporting ONNX (opset {opts.opset}) ...")
        info = export_onnx(model, work / "model.onnx", opts.opset)
        backends["onnxruntime"] = {"file": "model.onnx", "opset": opts.opset, "external_data": info.external_data}
        runners["onnxruntime_cpu"] = OrtCpuRunner(work / "model.onnx")
    if "torch" in opts.backends:
        if model_dir is not None:
            _copy_model_dir(model_dir, work / TORCH_DIR)
        else:
            model.save_pretrained(work / TORCH_DIR)
        backends["torch"] = {"dir": TORCH_DIR, "dtype": "float32"}
    return backends, runners


def _write_tokenizer(model: PostTrainModel, tok_dir: Path) -> list[str]:
    model.backbone.tokenizer.save_pretrained(str(tok_dir))
    tok_files = sorted(p.name for p in tok_dir.iterdir() if p.is_file())
    if "tokenizer.json" not in tok_files:
        raise RuntimeError(f"{tok_dir}: the backbone tokenizer did not write tokenizer.json (need a fast tokenizer)")
    return tok_files


def _build_tensorrt(model: PostTrainModel, work: Path, opts: ExportOptions, backends: dict[str, Any],
                    runners: dict[str, Any], log: Any) -> str | None:
    """The TensorRT plan, only where it can be built; returns why it was skipped, or None."""
    from .tensorrt_build import (
        TensorRTUnavailable,
        build_tensorrt_engine,
        info_dict,
        make_profile,
    )

    s, mt, thumb = model.image_size, model.max_tiles, model.use_thumbnail
    warm_hw = opts.warmup_hw
    opt_tiles = num_tiles_for(warm_hw[1], warm_hw[0], s, mt, thumb) if warm_hw else 1
    prof = make_profile(s, mt, thumb, model.cfg.proprio_dim, opt_tiles, opts.max_text_len)
    try:
        log(f"building TensorRT plan ({opts.trt_precision}) ...")
        tinfo = build_tensorrt_engine(work / "model.onnx", work / "model.plan", prof, opts.trt_precision,
                                      opts.timing_cache)
        backends["tensorrt"] = info_dict(tinfo)
        from being_h0_runtime.policy.backends.tensorrt import TensorRTRunner

        runners["tensorrt"] = TensorRTRunner(work / "model.plan", OUTPUT_NAME)
    except TensorRTUnavailable as e:
        log(f"TensorRT skipped: {e}")
        return f"TensorRT skipped: {e}"
    return None


def _check_and_write_parity(model: PostTrainModel, runners: dict[str, Any], opts: ExportOptions,
                            trt_skip: str | None, work: Path, log: Any) -> dict[str, Any]:
    """ONNX Runtime (and TensorRT) against PyTorch; the report goes to ``parity_report.json``."""
    report: dict[str, Any] = {"backends": {}, "passed": True}
    if runners:
        log("checking parity against PyTorch ...")
        onnx_r = {k: v for k, v in runners.items() if k != "tensorrt"}
        if onnx_r:
            report = check_parity(model, onnx_r, opts.parity_atol, opts.parity_min_cosine)
        if "tensorrt" in runners:
            trep = check_parity(model, {"tensorrt": runners["tensorrt"]}, opts.trt_atol, opts.trt_min_cosine)
            report["backends"]["tensorrt"] = {**trep["backends"]["tensorrt"], "atol": opts.trt_atol,
                                              "precision": opts.trt_precision}
            report["passed"] = bool(report.get("passed", True) and trep["passed"])
    if trt_skip:
        report["tensorrt_skipped"] = trt_skip
    report["created_utc"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    (work / PARITY_FILE).write_text(json.dumps(report, indent=2))
    for name, r in report["backends"].items():
        log(f"  parity {name}: max_abs_err={r['max_abs_err']:.3g} min_cosine={r['min_cosine']:.6f} "
            f"{'PASS' if r['passed'] else 'FAIL'}")
    if opts.require_parity and not report["passed"]:
        raise RuntimeError(f"parity check failed; see {work / PARITY_FILE} (engine left in {work})")
    return report


def _training_summary(model_dir: Path | None) -> dict[str, Any]:
    """The trainer's ``training.json`` with episode lists replaced by their counts (a readable manifest)."""
    tpath = (model_dir / "training.json") if model_dir else None
    if not (tpath and tpath.exists()):
        return {}
    training = json.loads(tpath.read_text())
    for k in ("train_episodes", "val_episodes"):
        if isinstance(training.get(k), list):
            training[k] = len(training[k])
    return training


def _manifest(model: PostTrainModel, model_dir: Path | None, work: Path, opts: ExportOptions,
              backends: dict[str, Any], report: dict[str, Any], tok_files: list[str]) -> dict[str, Any]:
    """``manifest.json``: checksums of every file written so far, the I/O contract, the statistics, the versions.

    Longer than 60 lines because it is one literal: the manifest's fields side by side with where each comes from.
    """
    files = {p.relative_to(work).as_posix(): sha256_file(p) for p in sorted(work.rglob("*")) if p.is_file()}
    cfg, stats = model.cfg, model.stats
    s, mt, thumb = model.image_size, model.max_tiles, model.use_thumbnail
    onnx_digest = files.get("model.onnx") or files[next(iter(sorted(files)))]
    name = opts.engine_name or f"being-h0-{model.backbone.config.name}-c{cfg.chunk_len}"
    versions = _versions()
    if "tensorrt" in backends:
        versions["tensorrt"] = backends["tensorrt"]["tensorrt_version"]
    first = next(iter(report["backends"].values()), None)
    return {
        "format_version": FORMAT_VERSION,
        "engine_id": f"{name}-{onnx_digest[:12]}",
        "created_utc": report["created_utc"],
        "model": {"backbone": model.backbone.config.name, "backbone_config": model.backbone.config.to_dict(),
                  "hidden_size": model.backbone.hidden_size, "train_mode": cfg.train_mode, "loss": cfg.loss,
                  "parameters": int(sum(p.numel() for p in model.parameters()))},
        "action_spec": {"names": list(cfg.action_names), "units": list(cfg.action_units),
                        "chunk_len": cfg.chunk_len, "control_rate_hz": cfg.control_rate_hz, "arm_mode": cfg.arm_mode,
                        "absolute": cfg.absolute, "mean": stats.action_mean.tolist(), "std": stats.action_std.tolist()},
        "proprio": {"names": list(cfg.proprio_names), "mean": stats.proprio_mean.tolist(),
                    "std": stats.proprio_std.tolist()},
        "image": {"size": s, "max_tiles": mt, "use_thumbnail": thumb, "num_image_tokens": model.backbone.num_image_tokens,
                  "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
                  "warmup_hw": list(opts.warmup_hw) if opts.warmup_hw else None},
        "prompt": {"prefix": PROMPT_PREFIX, "suffix": model.prompt_suffix,
                   "tokenizer_file": f"{TOKENIZER_DIR}/tokenizer.json",
                   "tokenizer_files": [f"{TOKENIZER_DIR}/{f}" for f in tok_files]},
        "inputs": [
            {"name": INPUT_NAMES[0], "shape": ["tiles", 3, s, s], "dtype": "float32"},
            {"name": INPUT_NAMES[1], "shape": [1, "text_len"], "dtype": "int64"},
            {"name": INPUT_NAMES[2], "shape": [1, cfg.proprio_dim], "dtype": "float32"},
        ],
        "outputs": [{"name": OUTPUT_NAME, "shape": [1, cfg.chunk_len, cfg.action_dim], "dtype": "float32"}],
        "output_normalized": True,
        "backends": backends,
        "files": files,
        "versions": versions,
        "training": _training_summary(model_dir),
        "parity": None if first is None else {
            "file": PARITY_FILE, "passed": bool(report["passed"]),
            "max_abs_err": max(r["max_abs_err"] for r in report["backends"].values()),
            "min_cosine": min(r["min_cosine"] for r in report["backends"].values()), "atol": opts.parity_atol},
    }
