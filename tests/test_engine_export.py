"""Engine path: ONNX export + parity, engine dir -> load_engine_policy -> infer, manifest refusals, TensorRT skip."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from being_h0_runtime.config import ConfigError
from being_h0_runtime.policy.base import PolicyError
from being_h0_runtime.policy.engine import (
    MANIFEST_FILE,
    load_engine_policy,
    verify_engine_dir,
)
from being_h0_runtime.policy.factory import PolicyConfig, make_policy
from being_h0_runtime.policy.models.posttrain import NormStats, build_posttrain_model
from being_h0_runtime.policy.models.posttrain_config import PostTrainConfig
from being_h0_runtime.policy.preprocess import TilePreprocessor, resize_bilinear
from being_h0_runtime.policy.spec import Observation, default_action_spec
from being_h0_train.export import ExportOptions, build_engine
from being_h0_train.export.__main__ import main as export_main

SPEC = default_action_spec(chunk_len=4)
NAMES = list(SPEC.names)


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Path:
    cfg = PostTrainConfig(backbone="tiny", action_names=tuple(NAMES), proprio_names=tuple(NAMES), chunk_len=4,
                          head_hidden=32, proprio_hidden=32, max_tiles=2, action_units=tuple(SPEC.units))
    rng = np.random.default_rng(0)
    stats = NormStats(rng.normal(size=13).astype(np.float32), rng.uniform(0.5, 2, 13).astype(np.float32),
                      rng.normal(size=13).astype(np.float32), rng.uniform(0.5, 2, 13).astype(np.float32))
    model = build_posttrain_model(cfg, stats, seed=1)
    out = tmp_path_factory.mktemp("eng") / "engine"
    build_engine(model, out, ExportOptions(warmup_hw=(48, 96)), log=lambda *_: None)
    return out


def obs(names=NAMES, image=(48, 96), instruction="pick up the toy") -> Observation:
    img = None if image is None else np.random.default_rng(1).integers(0, 256, (*image, 3), dtype=np.uint8)
    q = np.linspace(-1, 1, len(names))
    return Observation(stamp=0.0, proprio=q, proprio_names=list(names), instruction=instruction, image=img)


def test_parity_report_within_tolerance(engine):
    rep = json.loads((engine / "parity_report.json").read_text())
    r = rep["backends"]["onnxruntime_cpu"]
    assert rep["passed"] and r["passed"]
    assert r["max_abs_err"] < 1e-4 and r["min_cosine"] > 0.9999
    assert {c["tiles"] for c in r["cases"]} == {1, 3}  # one tile and 2 tiles + thumbnail
    assert len({c["text_len"] for c in r["cases"]}) == 2
    m = json.loads((engine / MANIFEST_FILE).read_text())
    assert m["outputs"][0]["shape"] == [1, 4, 13] and m["action_spec"]["names"] == NAMES
    assert m["parity"]["passed"] and set(m["versions"]) >= {"torch", "onnx", "onnxruntime", "transformers"}
    assert all(len(h) == 64 for h in m["files"].values()) and "model.onnx" in m["files"]


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_load_and_infer(engine, backend):
    pol = load_engine_policy(engine, backend=backend, device="cpu", expected_names=NAMES[:7])
    pol.warmup(iterations=1)
    a = pol.infer(obs())
    assert a.shape == (4, 13) and a.dtype == np.float32 and np.isfinite(a).all()
    assert pol.engine_id.startswith("being-h0-tiny-c4-") and pol.spec.names == NAMES
    # proprio is matched by name, not position
    rev = obs(names=NAMES[::-1])
    rev.proprio = obs().proprio[::-1].copy()
    np.testing.assert_allclose(pol.infer(rev), a, atol=1e-6)
    with pytest.raises(PolicyError, match="needs proprio"):
        pol.infer(obs(names=NAMES[:-1]))
    with pytest.raises(PolicyError, match="camera image"):
        pol.infer(obs(image=None))


def test_backends_agree_and_factory(engine):
    a = load_engine_policy(engine, backend="onnxruntime", device="cpu").infer(obs(image=(30, 200)))
    b = make_policy(PolicyConfig(kind="engine", engine_dir=str(engine), backend="torch", device="cpu")).infer(
        obs(image=(30, 200)))
    np.testing.assert_allclose(a, b, atol=2e-4)
    auto = load_engine_policy(engine)  # no GPU / TensorRT here -> ONNX Runtime on CPU
    assert auto.backend_name == "onnxruntime"


def _copy(engine: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "e"
    shutil.copytree(engine, dst)
    return dst


def _edit_manifest(d: Path, fn) -> None:
    m = json.loads((d / MANIFEST_FILE).read_text())
    fn(m)
    (d / MANIFEST_FILE).write_text(json.dumps(m))


def test_rejects_edited_manifest_field(engine, tmp_path):
    d = _copy(engine, tmp_path)
    _edit_manifest(d, lambda m: m["action_spec"].__setitem__("chunk_len", 8))
    with pytest.raises(ConfigError, match=r"manifest.json.*outputs\[0\].shape"):
        load_engine_policy(d)
    _edit_manifest(d, lambda m: (m["action_spec"].__setitem__("chunk_len", 4), m["image"].__setitem__("sise", 1)))
    with pytest.raises(ConfigError, match=r"manifest.json: field 'image.sise'"):
        verify_engine_dir(d)


def test_rejects_unsupported_format_version(engine, tmp_path):
    d = _copy(engine, tmp_path)
    _edit_manifest(d, lambda m: m.__setitem__("format_version", 99))
    with pytest.raises(ConfigError, match="format_version.*unsupported value 99"):
        load_engine_policy(d)


def test_rejects_flipped_byte_in_model(engine, tmp_path):
    d = _copy(engine, tmp_path)
    raw = bytearray((d / "model.onnx").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (d / "model.onnx").write_bytes(bytes(raw))
    with pytest.raises(ConfigError, match=r"model.onnx: sha256 mismatch"):
        load_engine_policy(d, backend="onnxruntime")


def test_rejects_corrupt_model_even_with_matching_checksum(engine, tmp_path):
    from being_h0_runtime.policy.engine import sha256_file

    d = _copy(engine, tmp_path)
    (d / "model.onnx").write_bytes(b"not an onnx model")
    _edit_manifest(d, lambda m: m["files"].__setitem__("model.onnx", sha256_file(d / "model.onnx")))
    with pytest.raises(ConfigError, match="ONNX Runtime cannot load"):
        load_engine_policy(d, backend="onnxruntime")


def test_rejects_wrong_action_names(engine, tmp_path):
    with pytest.raises(ConfigError, match="action_spec.names.*missing \\['fr3_joint8'\\]"):
        load_engine_policy(engine, expected_names=NAMES + ["fr3_joint8"])


def test_rejects_missing_file(engine, tmp_path):
    d = _copy(engine, tmp_path)
    (d / "tokenizer" / "tokenizer.json").unlink()
    with pytest.raises(ConfigError, match=r"tokenizer.json: missing"):
        load_engine_policy(d)
    d2 = tmp_path / "e2"
    shutil.copytree(engine, d2)
    _edit_manifest(d2, lambda m: m["files"].pop("model.onnx"))
    with pytest.raises(ConfigError, match="backends.onnxruntime.file.*not listed"):
        load_engine_policy(d2)


def test_rejects_backend_not_in_engine(engine, tmp_path):
    d = _copy(engine, tmp_path)
    _edit_manifest(d, lambda m: m["backends"].__setitem__("torch", None))
    with pytest.raises(ConfigError, match="no torch model"):
        load_engine_policy(d, backend="torch")


def test_tensorrt_build_or_skip(engine, tmp_path):
    from being_h0_runtime.policy.backends import tensorrt_import_error
    from being_h0_train.export import (
        TensorRTUnavailable,
        build_tensorrt_engine,
        make_profile,
    )

    reason = tensorrt_import_error()
    if reason is None:
        import torch

        if not torch.cuda.is_available():
            pytest.skip("tensorrt imports but no CUDA GPU is visible")
    else:
        with pytest.raises(TensorRTUnavailable):
            build_tensorrt_engine(engine / "model.onnx", tmp_path / "m.plan", make_profile(112, 2, True, 13, 3))
        pytest.skip(f"TensorRT not available: {reason}")
    plan = build_tensorrt_engine(engine / "model.onnx", tmp_path / "m.plan", make_profile(112, 2, True, 13, 3), "fp16")
    assert plan.plan.stat().st_size > 0


def test_tiling_matches_internvl_layout():
    tp = TilePreprocessor(16, max_tiles=6, use_thumbnail=True)
    img = np.random.default_rng(0).integers(0, 256, (20, 60, 3), dtype=np.uint8)
    tiles = tp(img)
    assert tp.grid(60, 20) == (3, 1) and tiles.shape == (4, 3, 16, 16)
    big = resize_bilinear(img, 48, 16)
    norm = (big[:, 16:32] / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(tiles[1], norm.transpose(2, 0, 1), atol=1e-4)  # second tile, row-major
    thumb = (resize_bilinear(img, 16, 16) / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(tiles[3], thumb.transpose(2, 0, 1), atol=1e-4)
    assert TilePreprocessor(16, max_tiles=1)(img).shape == (1, 3, 16, 16)


def test_export_cli_help(capsys):
    with pytest.raises(SystemExit) as e:
        export_main(["--help"])
    assert e.value.code == 0 and "--tensorrt" in capsys.readouterr().out


def test_latency_bench_rows_and_help(engine, capsys):
    from being_h0_runtime.bench.latency import (
        _ratios,
        bench_engine_dir,
        format_table,
        main,
    )

    rows = bench_engine_dir(engine, "tiny", ["onnxruntime"], (48, 96), iters=3, warmup=1, threads=1)
    assert rows[0].backend == "onnxruntime" and rows[0].n == 3 and rows[0].p99_ms >= rows[0].p50_ms > 0
    _ratios(rows)
    assert "onnxruntime" in format_table(rows)
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0 and "--gpu-presets" in capsys.readouterr().out
