"""Released GRVQ tokenizer: conversion, token-id and decode parity with the official code, bad input.

Fixtures (tests/fixtures/official/) were written by the official Being-H code
itself: scripts/fixtures/build_official_tokenizer_fixture.py (see VERSIONS.json).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.pickle_payload import ShellPayload

from being_h0_runtime.cli import main as cli_main
from being_h0_train.tokenizer.convert import ConversionError, convert_tokenizer
from being_h0_train.tokenizer.grvq import (
    OfficialMotionTokenizer,
    project_d162_to_official,
)
from being_h0_train.tokenizer.protocol import TokenizerLike, load_tokenizer

FIX = Path(__file__).parent / "fixtures" / "official"
SRC = FIX / "grvq_tiny"
REF = np.load(FIX / "grvq_tiny_reference.npz")


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tok") / "grvq"
    convert_tokenizer(SRC, out)
    return out


def test_token_ids_identical_to_official(converted):
    tok = load_tokenizer(converted)
    assert isinstance(tok, OfficialMotionTokenizer) and isinstance(tok, TokenizerLike)
    ids = tok.features_to_ids(torch.from_numpy(REF["motion"])[None]).reshape(-1, 128).numpy()
    assert ids.shape == REF["tokens"].shape == (3, 128)
    np.testing.assert_array_equal(ids, REF["tokens"])
    assert len(np.unique(REF["tokens"])) > 100  # the fixture exercises many codes, not one


def test_decode_matches_official_within_1e5(converted):
    tok = load_tokenizer(converted)
    frames = tok.decode_windows(torch.from_numpy(REF["tokens"])).numpy()
    assert frames.shape == REF["decoded"].shape == (3, 15, 159)
    assert np.abs(frames - REF["decoded"]).max() < 1e-5
    flat = tok.ids_to_features(torch.from_numpy(REF["tokens"]).reshape(1, -1))
    assert flat.shape == (1, 45, 159)


def test_variant_architecture_parity(tmp_path):
    """Shared codebook, SiLU, two stem convs, depth 2, dilation rate 2: every option the converter maps."""
    ref = np.load(FIX / "grvq_variant_reference.npz")
    tok = convert_tokenizer(FIX / "grvq_variant", tmp_path / "v")
    ids = tok.features_to_ids(torch.from_numpy(ref["motion"])[None]).reshape(-1, 128).numpy()
    np.testing.assert_array_equal(ids, ref["tokens"])
    assert ref["tokens"].max() < 64  # shared codebook: no per-stage offsets (2 parts x 32 codes)
    assert np.abs(tok.decode_windows(torch.from_numpy(ref["tokens"])).numpy() - ref["decoded"]).max() < 1e-5


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = cli_main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_encode_decode_json(converted, capsys, tmp_path):
    motion = FIX / "grvq_tiny_motion.npy"
    rc, out, _ = _run(capsys, "tokenizer", "encode", "--tokenizer", str(converted), "--motion", str(motion), "--json")
    assert rc == 0
    np.testing.assert_array_equal(np.asarray(json.loads(out)["tokens"]), REF["tokens"])
    rc, out, _ = _run(capsys, "tokenizer", "decode", "--tokenizer", str(converted), "--motion", str(motion), "--json")
    assert rc == 0
    d = json.loads(out)
    assert np.abs(np.asarray(d["motion"]) - REF["decoded"]).max() < 1e-5
    assert np.asarray(d["frames"]).shape == (45, 159) and d["layout"] == {"wrist": [0, 9], "finger": [9, 159]}
    np.save(tmp_path / "ids.npy", REF["tokens"])
    rc, _, _ = _run(capsys, "tokenizer", "decode", "--tokenizer", str(converted), "--tokens", str(tmp_path / "ids.npy"),
                    "--out", str(tmp_path / "r.npy"))
    assert rc == 0 and np.abs(np.load(tmp_path / "r.npy") - REF["decoded"].reshape(45, 159)).max() < 1e-5


def test_cli_encode_float64_motion(converted, capsys, tmp_path):
    np.save(tmp_path / "m64.npy", REF["motion"].astype(np.float64))
    rc, out, _ = _run(capsys, "tokenizer", "encode", "--tokenizer", str(converted), "--motion", str(tmp_path / "m64.npy"),
                      "--json")
    assert rc == 0
    np.testing.assert_array_equal(np.asarray(json.loads(out)["tokens"]), REF["tokens_f64"])


def test_cli_convert_and_bad_motion(capsys, tmp_path):
    out = tmp_path / "tk"
    rc, text, _ = _run(capsys, "convert", "tokenizer", str(SRC), "--out", str(out))
    assert rc == 0 and "128 tokens" in text and (out / "tokenizer.safetensors").exists()
    np.save(tmp_path / "short.npy", REF["motion"][:20])
    rc, _, err = _run(capsys, "tokenizer", "encode", "--tokenizer", str(out), "--motion", str(tmp_path / "short.npy"))
    assert rc == 2 and "short.npy" in err and "15-frame window" in err
    np.save(tmp_path / "wide.npy", np.zeros((15, 99), np.float32))
    rc, _, err = _run(capsys, "tokenizer", "encode", "--tokenizer", str(out), "--motion", str(tmp_path / "wide.npy"))
    assert rc == 2 and "(T, 162)" in err


def test_project_d162_maps_to_official_layout():
    from being_h0_train.motion.rotations import axis_angle_to_matrix, matrix_to_rot6d

    rng = np.random.default_rng(0)
    rot = axis_angle_to_matrix(torch.from_numpy(rng.normal(0, 1, (4, 16, 3))))  # (T, 16, 3, 3), joint 0 = wrist
    ours = np.concatenate([matrix_to_rot6d(rot).reshape(4, 96).numpy(), rng.normal(size=(4, 66))], -1)
    off = project_d162_to_official(ours)
    six = rot[..., :, :2].reshape(4, 16, 6).numpy()  # official: first two columns, row-interleaved
    np.testing.assert_allclose(off[:, :90], six[:, 1:].reshape(4, 90))
    np.testing.assert_allclose(off[:, 90:96], six[:, 0])
    np.testing.assert_allclose(off[:, 96:], ours[:, 96:])


# ----------------------------------------------------------------------------- bad input
def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "release"
    shutil.copytree(SRC, dst)
    return dst


def _edit_net(src: Path, part: str, fn) -> None:
    p = src / part / "net_best_mpjpe.pth"
    ck = torch.load(p, weights_only=True)
    fn(ck["net"])
    torch.save(ck, p)


def _bad_cases():
    def truncated(src, tmp):
        p = src / "finger" / "net_best_mpjpe.pth"
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
        return "finger/net_best_mpjpe.pth", "truncated or corrupt"

    def corrupt(src, tmp):
        (src / "wrist" / "net_best_mpjpe.pth").write_bytes(b"this is not a checkpoint" * 10)
        return "wrist/net_best_mpjpe.pth", "truncated or corrupt"

    def missing_tensor(src, tmp):
        _edit_net(src, "wrist", lambda n: n.pop("model.decoder.model.6.weight"))
        return "wrist/net_best_mpjpe.pth", "missing tensor 'model.decoder.model.6.weight'"

    def shape_mismatch(src, tmp):
        _edit_net(src, "finger", lambda n: n.__setitem__("model.encoder.model.0.weight", torch.zeros(32, 149, 3)))
        return "finger/net_best_mpjpe.pth", "has shape (32, 149, 3), expected (32, 150, 3)"

    def config_mismatch(src, tmp):
        a = json.loads((src / "finger" / "motion_args.json").read_text())
        a["width"] = 64
        (src / "finger" / "motion_args.json").write_text(json.dumps(a))
        return "finger/net_best_mpjpe.pth", "expected (64,"

    def payload(src, tmp):
        torch.save({"net": ShellPayload(tmp / "PWNED")}, src / "wrist" / "net_best_mpjpe.pth")
        return "wrist/net_best_mpjpe.pth", "refused to unpickle"

    def no_net(src, tmp):
        torch.save({"state_dict": {}}, src / "wrist" / "net_best_mpjpe.pth")
        return "wrist/net_best_mpjpe.pth", "no ['net'] state dict"

    def wrong_part(src, tmp):
        a = json.loads((src / "wrist" / "motion_args.json").read_text())
        a["use_part"] = "finger"
        (src / "wrist" / "motion_args.json").write_text(json.dumps(a))
        return "wrist/motion_args.json", "use_part is 'finger'"

    def missing_folder(src, tmp):
        shutil.rmtree(src / "finger")
        return "finger", "missing"

    return [truncated, corrupt, missing_tensor, shape_mismatch, config_mismatch, payload, no_net, wrong_part,
            missing_folder]


@pytest.mark.parametrize("case", _bad_cases(), ids=lambda f: f.__name__)
def test_bad_release_fails_cleanly(case, tmp_path, capsys):
    src = _copy(tmp_path)
    where, problem = case(src, tmp_path)
    out_parent = tmp_path / "models"
    out_parent.mkdir()
    rc, _, err = _run(capsys, "convert", "tokenizer", str(src), "--out", str(out_parent / "grvq"))
    assert rc == 2, err
    assert where in err and problem in err, err
    assert err.count("\n") == 1  # one line, no traceback
    assert list(out_parent.iterdir()) == []  # nothing half-written, no temporary folder left
    assert not (tmp_path / "PWNED").exists()


def test_converter_api_raises_conversion_error(tmp_path):
    with pytest.raises(ConversionError, match="not a directory"):
        convert_tokenizer(tmp_path / "nope", tmp_path / "out")
