"""Post-training: model shapes/masking, a few real training steps (loss falls), resume, eval outputs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from being_h0_runtime.policy.models.posttrain import (
    PostTrainModel,
    build_posttrain_model,
)
from being_h0_runtime.policy.models.posttrain_config import PostTrainConfig
from being_h0_runtime.policy.preprocess import (
    PromptEncoder,
    TilePreprocessor,
    resize_bilinear,
)
from being_h0_train.posttrain.data import (
    EpisodeSet,
    ImageAugment,
    WindowDataset,
    compute_stats,
    load_episodes,
    save_episodes,
    split_by_episode,
    synthetic_episodes,
)
from being_h0_train.posttrain.train import TrainSettings, main, train

NAMES = tuple(f"j{i}" for i in range(5))


def small_cfg(**kw) -> PostTrainConfig:
    base = {"backbone": "tiny", "action_names": NAMES, "proprio_names": NAMES, "chunk_len": 4, "head_hidden": 32,
                "proprio_hidden": 32, "max_tiles": 1}
    base.update(kw)
    return PostTrainConfig(**base)


@pytest.fixture(scope="module")
def eset() -> EpisodeSet:
    return synthetic_episodes(n_episodes=4, length=10, names=NAMES, image_hw=(24, 32), seed=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, eset):
    out = tmp_path_factory.mktemp("post")
    s = TrainSettings(steps=30, batch_size=4, lr=5e-3, seed=3, val_fraction=0.25, save_every=15, augment=True)
    summary = train(small_cfg(), eset, out, s, progress=False)
    return out, summary


def test_padding_does_not_change_prediction():
    torch.manual_seed(0)
    m = build_posttrain_model(small_cfg()).eval()
    pv = torch.randn(2, 1, 3, 112, 112)
    ids = torch.randint(0, 250, (2, 7))
    pr = torch.randn(2, len(NAMES))
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, 5:] = 0
    with torch.no_grad():
        both = m(pv, ids, pr, mask)
        alone = m(pv[1:], ids[1:, :5], pr[1:])
    assert both.shape == (2, 4, len(NAMES))
    assert torch.allclose(both[1:], alone, atol=1e-5)


def test_only_heads_train_when_frozen_and_lora_adds_adapters():
    m = build_posttrain_model(small_cfg())
    trainable = {n for n, p in m.named_parameters() if p.requires_grad}
    assert trainable and all(not n.startswith("backbone.") for n in trainable)
    assert "action_queries" in trainable
    ml = build_posttrain_model(small_cfg(train_mode="lora", lora_r=2))
    lora = [n for n, p in ml.named_parameters() if p.requires_grad and "lora_" in n]
    assert lora and all(".vision_tower." not in n for n in lora)


def test_loss_kinds_and_valid_mask():
    m = build_posttrain_model(small_cfg())
    pred, tgt = torch.zeros(1, 4, 5), torch.ones(1, 4, 5)
    tgt[:, 2:] = 10.0
    valid = torch.tensor([[1, 1, 0, 0]])
    assert m.loss(pred, tgt, valid).item() == pytest.approx(1.0)
    m.cfg = m.cfg.replace(loss="l2")
    assert m.loss(pred, tgt).item() == pytest.approx((1 + 100) / 2)
    m.cfg = m.cfg.replace(loss="smooth_l1")
    assert 0.9 < m.loss(pred, tgt, valid).item() < 1.0


def test_windows_split_stats_and_augment(eset, tmp_path):
    train_eps, val_eps = split_by_episode(eset, 0.25, seed=0)
    assert len(val_eps) == 1 and not {e.episode_id for e in train_eps} & {e.episode_id for e in val_eps}
    stats = compute_stats(train_eps)
    tiles = TilePreprocessor(112, 1, True)
    m = build_posttrain_model(small_cfg())
    prompt = PromptEncoder(m.backbone.tokenizer.backend_tokenizer)
    ds = WindowDataset(train_eps, 4, tiles, prompt, stats)
    last = ds.get(len(train_eps[0]) - 1)  # last step of the first episode: 3 padded steps
    assert last["valid"].tolist() == [True, False, False, False]
    assert last["pixel_values"].shape == (1, 3, 112, 112)
    img = eset.episodes[0].images[3]
    aug = ImageAugment()(img, np.random.default_rng(0))
    assert aug.shape == img.shape and aug.dtype == np.uint8 and not np.array_equal(aug, img)
    # the dataset round-trips through the on-disk format
    back = load_episodes(save_episodes(eset, tmp_path / "ds"))
    assert back.action_names == list(NAMES) and len(back.episodes) == 4
    np.testing.assert_array_equal(back.episodes[2].images, eset.episodes[2].images)


def test_numpy_resize_matches_opencv_convention():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (30, 41, 3), dtype=np.uint8)
    cv2 = pytest.importorskip("cv2")
    ref = cv2.resize(img.astype(np.float32), (57, 22), interpolation=cv2.INTER_LINEAR)
    import being_h0_runtime.policy.preprocess as pp

    saved, pp.cv2 = pp.cv2, None
    try:
        ours = resize_bilinear(img, 57, 22)
    finally:
        pp.cv2 = saved
    assert np.abs(ours - ref).max() < 1e-2


def test_training_loss_falls_and_outputs_exist(trained):
    out, summary = trained
    losses = summary["losses"]
    assert len(losses) == 30
    assert np.mean(losses[-6:]) < 0.7 * np.mean(losses[:6])
    metrics = json.loads((out / "eval" / "metrics.json").read_text())["final"]
    assert set(metrics["l1_per_dim"]) == set(NAMES) and metrics["episodes"] == 1
    assert (out / "eval" / "open_loop.png").stat().st_size > 1000
    m = PostTrainModel.from_pretrained(out / "final")
    assert m.cfg.action_names == NAMES and m.stats.action_std.shape == (5,)
    training = json.loads((out / "final" / "training.json").read_text())
    assert training["settings"]["seed"] == 3


def test_resume_reproduces_uninterrupted_run(trained, eset, tmp_path):
    out, _ = trained
    # resume from the step-15 checkpoint into a fresh directory: must land on the same weights
    (tmp_path / "checkpoints").mkdir()
    shutil.copytree(out / "checkpoints" / "step_0000015", tmp_path / "checkpoints" / "step_0000015")
    s = TrainSettings(steps=30, batch_size=4, lr=5e-3, seed=3, val_fraction=0.25, augment=True)
    summary = train(small_cfg(), eset, tmp_path, s, resume=True, progress=False)
    assert summary["start_step"] == 15 and len(summary["losses"]) == 15
    a = load_file(str(out / "checkpoints" / "step_0000030" / "trainable.safetensors"))
    b = load_file(str(tmp_path / "checkpoints" / "step_0000030" / "trainable.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    assert "--train-mode" in capsys.readouterr().out


def test_recorder_export_feeds_training(tmp_path):
    """rosbag2/MCAP episodes from the recorder -> export_dataset -> load_episodes -> a training batch."""
    from being_h0_runtime.nodes.recorder import RecorderNode, RecorderParams
    from being_h0_runtime.recording.export import export_dataset
    from being_h0_runtime.recording.synthetic import SyntheticRig
    from being_h0_runtime.transport.inproc import InprocContext

    ctx = InprocContext(start_time=10.0)
    SyntheticRig(ctx)
    rec = RecorderNode(ctx.create_node("recorder"), RecorderParams(output_dir=tmp_path / "raw", min_free_bytes=0)).bring_up()
    ctx.run_for(0.3)
    paths = []
    for i in range(2):
        paths.append(rec.start("pick", f"pick up toy {i}"))
        ctx.run_for(1.0)
        rec.mark(True)
        rec.end()
    export_dataset(paths, tmp_path / "ds", control_rate_hz=10.0)
    eset = load_episodes(tmp_path / "ds")
    assert len(eset.episodes) == 2 and len(eset.action_names) == 13 and eset.control_rate_hz == 10.0
    assert eset.episodes[1].instruction == "pick up toy 1"
    m = build_posttrain_model(small_cfg(action_names=tuple(eset.action_names),
                                        proprio_names=tuple(eset.proprio_names)))
    tiles, prompt = TilePreprocessor(m.image_size, 1), PromptEncoder(m.backbone.tokenizer.backend_tokenizer)
    ds = WindowDataset(eset.episodes, 4, tiles, prompt, compute_stats(eset.episodes))
    b = ds.batch([0, len(ds) - 1], pad_id=m.backbone.token_map.pad_id)
    out = m(b["pixel_values"], b["input_ids"], b["proprio"], b["text_mask"])
    assert out.shape == (2, 4, 13) and torch.isfinite(m.loss(out, b["actions"], b["valid"]))


def test_lora_merges_into_saved_backbone(tmp_path):
    m = build_posttrain_model(small_cfg(train_mode="lora", lora_r=2)).eval()
    with torch.no_grad():
        for k, p in m.named_parameters():
            if "lora_B" in k:
                p.normal_(0, 0.5)  # B starts at zero; make the adapters matter
    pv, ids, pr = torch.randn(1, 1, 3, 112, 112), torch.randint(0, 250, (1, 6)), torch.randn(1, 5)
    with torch.no_grad():
        before = m(pv, ids, pr)
        base = build_posttrain_model(small_cfg()).eval()
        base.load_state_dict({k: v for k, v in m.state_dict().items() if "lora_" not in k}
                             | {k.replace(".base_layer", ""): v for k, v in m.state_dict().items() if ".base_layer" in k},
                             strict=False)
        assert (base(pv, ids, pr) - before).abs().max() > 1e-3  # adapters changed the output
    m.save_pretrained(tmp_path / "m")
    loaded = PostTrainModel.from_pretrained(tmp_path / "m")
    assert not any("lora_" in k for k in loaded.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(loaded(pv, ids, pr), before, atol=1e-5, rtol=1e-4)
