"""DAgger labels end to end: a recorded takeover -> dataset `intervention` column -> weighted post-training loss."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from being_h0_runtime.msgs import Bool
from being_h0_runtime.policy.models.posttrain import build_posttrain_model
from being_h0_runtime.policy.models.posttrain_config import PostTrainConfig
from being_h0_train.posttrain.data import (
    Episode,
    EpisodeSet,
    WindowDataset,
    load_episodes,
    save_episodes,
)
from being_h0_train.posttrain.train import main

NAMES = tuple(f"j{i}" for i in range(5))


def _recorded_dataset(tmp_path: Path) -> Path:
    from being_h0_runtime.nodes.recorder import RecorderNode, RecorderParams
    from being_h0_runtime.recording.export import export_dataset
    from being_h0_runtime.recording.synthetic import SyntheticRig
    from being_h0_runtime.transport.inproc import InprocContext

    ctx = InprocContext(start_time=10.0)
    rig = SyntheticRig(ctx)
    rec = RecorderNode(ctx.create_node("recorder"), RecorderParams(output_dir=tmp_path / "raw", min_free_bytes=0)).bring_up()
    ctx.run_for(0.3)
    ep = rec.start("pick", "pick up the toy")
    ctx.run_for(0.5)
    rig.intervention.publish(Bool(True))  # the operator takes over for 0.4 s
    ctx.run_for(0.4)
    rig.intervention.publish(Bool(False))
    ctx.run_for(0.6)
    rec.mark(True)
    rec.end()
    export_dataset([ep], tmp_path / "ds", control_rate_hz=10.0)
    return tmp_path / "ds"


def test_takeover_labels_reach_the_training_windows(tmp_path: Path) -> None:
    eset = load_episodes(_recorded_dataset(tmp_path))
    inter = eset.episodes[0].intervention
    assert inter is not None and 3 <= inter.sum() <= 5 and not inter[:3].any() and not inter[-3:].any()
    ds = WindowDataset(eset.episodes, 4, None, None, None, intervention_weight=4.0)  # type: ignore[arg-type]
    first = int(np.flatnonzero(inter)[0])
    t = first - 2  # a window whose last two targets are human-corrected
    w = ds.weights(eset.episodes[0], t, np.ones(4, bool))
    assert w.tolist() == [1.0, 1.0, 4.0, 4.0]
    end = len(inter) - 2  # past the episode's end the weight stays 0
    assert ds.weights(eset.episodes[0], end, np.array([1, 1, 0, 0], bool)).tolist() == [1.0, 1.0, 0.0, 0.0]
    plain = WindowDataset(eset.episodes, 4, None, None, None)  # type: ignore[arg-type]
    assert plain.weights(eset.episodes[0], t, np.ones(4, bool)).tolist() == [1.0] * 4
    with pytest.raises(ValueError, match="intervention_weight"):
        WindowDataset(eset.episodes, 4, None, None, None, intervention_weight=0)  # type: ignore[arg-type]
    # the labels survive the post-training npz format, and a wrong length is refused
    back = load_episodes(save_episodes(eset, tmp_path / "npz"))
    np.testing.assert_array_equal(back.episodes[0].intervention, inter)
    e = eset.episodes[0]
    with pytest.raises(ValueError, match="intervention must be"):
        Episode(e.images, e.proprio, e.actions, "x", intervention=np.zeros(3, bool))


def test_weighted_loss_is_a_weighted_mean() -> None:
    cfg = PostTrainConfig(backbone="tiny", action_names=NAMES, proprio_names=NAMES, chunk_len=4, head_hidden=32,
                          proprio_hidden=32, max_tiles=1)
    m = build_posttrain_model(cfg)
    pred, tgt = torch.zeros(1, 4, 5), torch.ones(1, 4, 5)
    tgt[:, 2] = 10.0  # the corrected step is where the policy was most wrong
    assert m.loss(pred, tgt, torch.tensor([[1.0, 1.0, 1.0, 0.0]])).item() == pytest.approx(12 / 3)
    assert m.loss(pred, tgt, torch.tensor([[1.0, 1.0, 4.0, 0.0]])).item() == pytest.approx(42 / 6)


def test_cli_trains_with_intervention_weight(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    eps = []
    for i in range(2):
        n = 8
        inter = np.zeros(n, bool)
        inter[3:6] = True
        eps.append(Episode(rng.integers(0, 255, (n, 24, 32, 3), dtype=np.uint8), rng.normal(size=(n, 5)).astype(np.float32),
                           rng.normal(size=(n, 5)).astype(np.float32), "pick", f"e{i}", inter))
    save_episodes(EpisodeSet(eps, list(NAMES), list(NAMES)), tmp_path / "ds")
    rc = main(["--data", str(tmp_path / "ds"), "--out", str(tmp_path / "out"), "--steps", "2", "--batch-size", "2",
               "--chunk-len", "4", "--head-hidden", "16", "--proprio-hidden", "16", "--max-tiles", "1",
               "--intervention-weight", "3", "--val-fraction", "0", "--quiet", "--no-augment"])
    assert rc == 0
    # the setting is kept with the checkpoint (trainer settings)
    saved = list((tmp_path / "out").rglob("*.json"))
    assert any(json.loads(p.read_text()).get("settings", {}).get("intervention_weight") == 3.0
               for p in saved if p.read_text().lstrip().startswith("{")), [str(p) for p in saved]
    with pytest.raises(SystemExit):
        main(["--synthetic", "2", "--out", str(tmp_path / "o2"), "--intervention-weight", "0"])
