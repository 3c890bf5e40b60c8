"""Official Being-H0 checkpoints: ``being-h0 convert vla`` + ``engine infer`` + ``engine build`` vs the official code.

The fixtures under tests/fixtures/official were built by scripts/fixtures/build_official_vla_fixture.py
with the official BeingBeyond code (transformers 4.43), including the reference action chunk of the
official Align inference path for one image / task / state.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers.pickle_payload import ShellPayload

torch = pytest.importorskip("torch")
from safetensors.torch import load_file, save_file

from being_h0_runtime.cli import main as cli_main

FIX = Path(__file__).parent / "fixtures" / "official"
ALIGN = FIX / "vla_align_tiny"
PRETRAINED = FIX / "vla_pretrained_tiny"
REF = json.loads((FIX / "vla_align_tiny_reference" / "reference.json").read_text())
PNG = FIX / "vla_align_tiny_reference" / "observation.png"
ATOL = 1e-4


def _convert(src: Path, out: Path, capsys: pytest.CaptureFixture[str] | None = None) -> int:
    return cli_main(["convert", "vla", str(src), "--out", str(out), "--no-progress"])


def _infer_json(engine: Path, capsys: pytest.CaptureFixture[str], *extra: str, state: list[float] | None = None,
                task: str | None = None) -> dict:
    st = ",".join(repr(float(v)) for v in (state or REF["state"]))
    rc = cli_main(["engine", "infer", "--engine", str(engine), "--image", str(PNG), "--task", task or REF["task"],
                   f"--state={st}", "--json", *extra])
    out = capsys.readouterr().out
    assert rc == 0, out
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("official") / "engine"
    assert _convert(ALIGN, out) == 0
    return out


def test_torch_engine_reproduces_the_official_action_chunk(engine: Path, capsys: pytest.CaptureFixture[str]) -> None:
    got = _infer_json(engine, capsys, "--backend", "torch")
    ref = np.asarray(REF["actions"], np.float64)
    acts = np.asarray(got["actions"], np.float64)
    assert acts.shape == (16, 13) == ref.shape
    assert np.abs(acts - ref).max() < ATOL, np.abs(acts - ref).max()
    assert got["backend"] == "torch"


def test_vit6b_style_checkpoint_reproduces_the_official_action_chunk(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """InternVisionConfig defaults (RMSNorm, QK-norm, no qkv bias), as a checkpoint built without overrides has."""
    ref = json.loads((FIX / "vla_align_tiny_reference" / "reference_vit6b.json").read_text())
    out = tmp_path / "engine"
    assert _convert(FIX / "vla_align_tiny_vit6b", out) == 0
    capsys.readouterr()
    got = _infer_json(out, capsys, "--backend", "torch")
    err = np.abs(np.asarray(got["actions"]) - np.asarray(ref["actions"])).max()
    assert err < ATOL, err


def test_engine_prompt_and_pixels_match_the_official_preprocessing(engine: Path) -> None:
    from being_h0_runtime.engine_cli import load_image
    from being_h0_runtime.policy.engine import load_engine_policy
    from being_h0_runtime.policy.spec import Observation

    pol = load_engine_policy(engine, backend="torch", device="cpu")
    names = list(pol.manifest.proprio.names)
    obs = Observation(0.0, np.asarray(REF["state"]), names, REF["task"], load_image(str(PNG)))
    pv, ids, pr = pol.prepare(obs)
    assert ids[0].tolist() == REF["prompt_token_ids"]  # the official prompt, token for token
    assert pv.shape == (1, 3, 448, 448)
    assert abs(float(pv.astype(np.float64).sum()) - REF["pixel_values_sum"]) < 1e-6 * pv.size  # float rounding only
    assert np.allclose(pr[0], REF["state"])  # no normalisation


def test_manifest_declares_source_layout_and_mapping(engine: Path) -> None:
    m = json.loads((engine / "manifest.json").read_text())
    model = m["model"]
    assert model["architecture"] == "being-h0-official-align"
    assert model["weights_dtype"] == "bfloat16" and model["rope_table_dtype"] == "bfloat16"
    assert set(model["source"]["sha256"]) >= {"config.json", "model.safetensors"}
    assert model["token_ids"]["action_chunk"] == REF["prompt_token_ids"][-31::2]
    assert model["normalisation"].startswith("none")
    assert m["output_normalized"] is False
    assert m["action_spec"]["names"][:7] == [f"fr3_joint{i}" for i in range(1, 8)]
    assert len(m["action_spec"]["names"]) == 13 and m["action_spec"]["absolute"] is True
    assert m["prompt"]["suffix"].startswith("<img>" + "<IMG_CONTEXT>" * 256 + "</img> {instruction} <PROP_CONTEXT>")
    assert m["image"]["resize"] == "pil_bicubic"
    assert not any(p.suffix in (".bin", ".pt", ".pth", ".pkl") for p in engine.rglob("*"))  # no pickles


def test_negative_state_parses(engine: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = [-0.1] + REF["state"][1:]
    a = _infer_json(engine, capsys, "--backend", "torch", state=state)
    rc = cli_main(["engine", "infer", "--engine", str(engine), "--image", str(PNG), "--task", REF["task"],
                   "--state", ",".join(str(v) for v in state), "--json", "--backend", "torch"])
    b = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 0 and np.allclose(a["actions"], b["actions"])
    assert not np.allclose(a["actions"], REF["actions"], atol=1e-6)  # the state reaches the model


def test_engine_infer_bad_state_is_exit_2(engine: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli_main(["engine", "infer", "--engine", str(engine), "--image", str(PNG), "--task", "x", "--state=1,2,3"])
    assert rc == 2
    assert "3 values given, the engine needs 13" in capsys.readouterr().err


def test_onnx_build_reproduces_the_official_action_chunk(engine: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime")
    eng = tmp_path / "engine"
    shutil.copytree(engine, eng)
    assert cli_main(["engine", "build", "--engine", str(eng), "--backend", "onnx"]) == 0
    m = json.loads((eng / "manifest.json").read_text())
    assert m["backends"]["onnxruntime"]["file"] == "model.onnx" and m["parity"]["passed"]
    capsys.readouterr()
    got = _infer_json(eng, capsys, "--backend", "onnxruntime")
    assert got["backend"] == "onnxruntime"
    err = np.abs(np.asarray(got["actions"]) - np.asarray(REF["actions"])).max()
    assert err < ATOL, err
    rc = cli_main(["engine", "build", "--engine", str(eng), "--backend", "tensorrt"])
    out = capsys.readouterr().out
    try:
        import tensorrt  # noqa: F401
    except Exception:  # noqa: BLE001
        assert rc == 0 and "tensorrt: skipped" in out


def test_sharded_and_bin_checkpoints_convert_to_the_same_engine(tmp_path: Path, engine: Path) -> None:
    sd = load_file(str(ALIGN / "model.safetensors"))
    keys = sorted(sd)
    # sharded safetensors + index, as the 8B/14B releases ship
    sh = tmp_path / "sharded"
    shutil.copytree(ALIGN, sh, ignore=shutil.ignore_patterns("model.safetensors"))
    half = len(keys) // 2
    wm = {}
    for i, part in enumerate((keys[:half], keys[half:]), 1):
        name = f"model-0000{i}-of-00002.safetensors"
        save_file({k: sd[k] for k in part}, str(sh / name), metadata={"format": "pt"})
        wm.update({k: name for k in part})
    (sh / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": wm}))
    # a plain tensor state dict in pytorch_model.bin (read with weights_only=True)
    bn = tmp_path / "bin"
    shutil.copytree(ALIGN, bn, ignore=shutil.ignore_patterns("model.safetensors"))
    torch.save(sd, bn / "pytorch_model.bin")
    ref = {}
    for f in sorted((engine / "torch").glob("*.safetensors")):
        ref.update(load_file(str(f)))
    for src in (sh, bn):
        out = tmp_path / f"eng-{src.name}"
        assert _convert(src, out) == 0
        got = {}
        for f in sorted((out / "torch").glob("*.safetensors")):
            got.update(load_file(str(f)))
        assert sorted(got) == sorted(ref)
        assert all(torch.equal(got[k], ref[k]) for k in ref)


def test_pretrained_checkpoint_converts_to_a_posttraining_backbone(tmp_path: Path) -> None:
    from transformers import InternVLForConditionalGeneration

    from being_h0_runtime.policy.models.official import OfficialAlignModel
    from being_h0_train.official.layout import read_official_config

    out = tmp_path / "backbone"
    assert _convert(PRETRAINED, out) == 0
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()
    hf = InternVLForConditionalGeneration.from_pretrained(str(out), local_files_only=True).eval()
    src = load_file(str(PRETRAINED / "model.safetensors"))
    assert torch.equal(hf.lm_head.weight, src["vlm_adapter._language_model.lm_head.weight"])
    qkv = src["vlm_adapter._vision_model.encoder.layers.1.attn.qkv.weight"]
    assert torch.equal(hf.model.vision_tower.encoder.layer[1].attention.k_proj.weight, qkv.chunk(3)[1])
    assert torch.equal(hf.model.vision_tower.encoder.layer[1].lambda_2,
                       src["vlm_adapter._vision_model.encoder.layers.1.ls2"])
    spec = read_official_config(PRETRAINED)
    assert not spec.align
    # image features of the HF backbone are the official extract_feature (same modules the engine runs)
    hf = hf.float()
    m = OfficialAlignModel(spec)
    m.vlm.load_state_dict(hf.model.state_dict())
    pv = torch.randn(1, 3, 448, 448)
    with torch.no_grad():
        assert torch.allclose(m.image_features(pv), hf.model.get_image_features(pixel_values=pv).pooler_output, atol=1e-5)
    # post-training starts from it (--init-from DIR): the project's backbone class loads it with the official tokenizer
    from being_h0_train.vla import BeingH0Model

    bb = BeingH0Model.from_pretrained(out)
    assert bb.token_map.num_motion_tokens == 64 and bb.token_map.img_context_id == REF["prompt_token_ids"][1]
    assert torch.equal(bb.get_input_embeddings().weight[:512].float(),
                       src["vlm_adapter._language_model.model.embed_tokens.weight"].float())


# ----------------------------------------------------------------------------- bad input: exit 2, nothing left
def _bad(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(ALIGN, src)
    return src


def _assert_refused(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], *needles: str) -> None:
    out = tmp_path / "out" / "engine"
    rc = _convert(src, out)
    err = capsys.readouterr().err
    assert rc == 2, err
    for n in needles:
        assert n in err, err
    assert not out.exists()
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_truncated_shard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _bad(tmp_path)
    p = src / "model.safetensors"
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    _assert_refused(src, tmp_path, capsys, str(p), "truncated or corrupt")


def test_missing_tensor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _bad(tmp_path)
    sd = load_file(str(src / "model.safetensors"))
    del sd["vlm_adapter.mlp1.1.weight"]
    save_file(sd, str(src / "model.safetensors"), metadata={"format": "pt"})
    _assert_refused(src, tmp_path, capsys, str(src), "missing from the checkpoint",
                    "vlm.multi_modal_projector.linear_1.weight")


def test_shape_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _bad(tmp_path)
    sd = load_file(str(src / "model.safetensors"))
    sd["action_decoder.2.weight"] = torch.zeros(12, 32)
    save_file(sd, str(src / "model.safetensors"), metadata={"format": "pt"})
    _assert_refused(src, tmp_path, capsys, "model.safetensors", "'action_decoder.2.weight' has shape (12, 32)",
                    "config.json implies (13, 32)")


def test_config_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _bad(tmp_path)
    cfg = json.loads((src / "config.json").read_text())
    cfg["vlm_config"]["vision_config"]["hidden_size"] = 64
    (src / "config.json").write_text(json.dumps(cfg))
    _assert_refused(src, tmp_path, capsys, "model.safetensors", "config.json implies", "config and weights do not match")


def test_wrong_model_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _bad(tmp_path)
    cfg = json.loads((src / "config.json").read_text())
    cfg["model_type"] = "internvl_chat"
    (src / "config.json").write_text(json.dumps(cfg))
    _assert_refused(src, tmp_path, capsys, str(src / "config.json"), "'model_type' is 'internvl_chat'", "'beingvla'")


def test_pickle_with_code_executing_payload_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _bad(tmp_path)
    sd = load_file(str(src / "model.safetensors"))
    (src / "model.safetensors").unlink()
    marker = tmp_path / "pwned"
    sd["vlm_adapter.mlp1.0.weight"] = ShellPayload(marker)  # type: ignore[assignment]
    torch.save(sd, src / "pytorch_model.bin")
    _assert_refused(src, tmp_path, capsys, str(src / "pytorch_model.bin"), "refused to unpickle")
    assert not marker.exists()


def test_weights_keep_the_declared_dtype(tmp_path: Path) -> None:
    """A checkpoint saved after .float() declares float32: weights stay fp32, RoPE tables keep bf16 precision."""
    src = tmp_path / "fp32"
    shutil.copytree(ALIGN, src)
    cfg = json.loads((src / "config.json").read_text())
    cfg["torch_dtype"] = "float32"
    (src / "config.json").write_text(json.dumps(cfg))
    out = tmp_path / "engine"
    assert _convert(src, out) == 0
    m = json.loads((out / "manifest.json").read_text())["model"]
    assert m["weights_dtype"] == "float32" and m["rope_table_dtype"] == "bfloat16"
    sd = {}
    for f in (out / "torch").glob("*.safetensors"):
        sd.update(load_file(str(f)))
    heads = load_file(str(ALIGN / "model.safetensors"))["action_decoder.2.weight"]
    assert sd["action_decoder.2.weight"].dtype == torch.float32 and torch.equal(sd["action_decoder.2.weight"], heads)


def test_slow_tokenizer_files_and_an_existing_empty_out_folder(tmp_path: Path) -> None:
    """No tokenizer.json (vocab.json + merges.txt + tokenizer_config.json only): same prompt ids as the official."""
    from being_h0_runtime.engine_cli import load_image
    from being_h0_runtime.policy.engine import load_engine_policy
    from being_h0_runtime.policy.spec import Observation

    src = tmp_path / "slow"
    shutil.copytree(ALIGN, src, ignore=shutil.ignore_patterns("tokenizer.json"))
    out = tmp_path / "engine"
    out.mkdir()  # e.g. a freshly made temporary folder
    assert _convert(src, out) == 0
    pol = load_engine_policy(out, backend="torch", device="cpu")
    obs = Observation(0.0, np.asarray(REF["state"]), list(pol.manifest.proprio.names), REF["task"], load_image(str(PNG)))
    assert pol.prepare(obs)[1][0].tolist() == REF["prompt_token_ids"]
