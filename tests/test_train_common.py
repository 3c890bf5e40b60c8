"""being_h0_train.common: the one LR schedule gives each stage the values its old copy gave; replace_dir swaps whole.

Compared with ==: the shared function rounds each stage's angle the way its old copy did.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from being_h0_train.common import cosine_lr, replace_dir

STEPS = [0, 1, 2, 9, 10, 49, 50, 51, 99, 100, 101, 250, 499, 500, 999, 1000, 1001, 5000]


# The four copies as they stood before they were merged (kept verbatim as the reference).
def _old_tokenizer(s: int, lr: float, steps: int) -> float:
    return lr * min(1.0, (s + 1) / 50) * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(s, steps) / max(steps, 1))))


def _old_vla(s: int, lr: float, steps: int, warmup: int) -> float:
    warm = min(1.0, (s + 1) / max(1, warmup))
    return lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / max(1, steps))))


def _old_perception(step: int, lr: float, steps: int) -> float:
    return lr * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * step / steps))


def _old_posttrain(step: int, lr: float, steps: int, warmup_steps: int) -> float:
    if warmup_steps and step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    t = (step - warmup_steps) / max(1, steps - warmup_steps)
    return lr * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


@pytest.mark.parametrize("lr,total", [(3e-4, 1000), (1e-3, 1), (2e-5, 37)])
def test_each_stage_gets_its_old_values_exactly(lr: float, total: int) -> None:
    for s in STEPS:
        assert cosine_lr(s, lr, total, warmup_steps=50, floor=0.1) == _old_tokenizer(s, lr, total), s
        for warmup in (0, 1, 10, 200):
            assert cosine_lr(s, lr, total, warmup_steps=warmup, floor=0.1) == _old_vla(s, lr, total, warmup), s
            assert cosine_lr(s, lr, total, warmup_steps=warmup, sequential=True) == _old_posttrain(
                s, lr, total, warmup
            ), (s, warmup)
        if s < total:  # the perception loop never goes past its last step
            assert cosine_lr(s, lr, total, warmup_steps=100) == _old_perception(s, lr, total), s


def test_shape() -> None:
    lrs = [cosine_lr(s, 1.0, 100, warmup_steps=10, sequential=True) for s in range(120)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == 1.0 and lrs[10] == 1.0
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))  # non-increasing after warm-up
    assert lrs[100] == lrs[119] == pytest.approx(0.0, abs=1e-12)
    assert cosine_lr(10_000, 2.0, 100, floor=0.1) == pytest.approx(0.2)


def test_replace_dir_swaps_whole(tmp_path: Path) -> None:
    final = tmp_path / "checkpoint"
    final.mkdir()
    (final / "old.bin").write_text("old")
    (tmp_path / "checkpoint.tmp").mkdir()
    (tmp_path / "checkpoint.tmp" / "stale").write_text("from a crash")
    with replace_dir(final) as tmp:
        assert list(tmp.iterdir()) == []  # the stale half-write is gone
        (tmp / "new.bin").write_text("new")
        assert (final / "old.bin").exists()  # the old checkpoint stays until the new one is whole
    assert [p.name for p in final.iterdir()] == ["new.bin"]
    assert not (tmp_path / "checkpoint.tmp").exists()


def test_replace_dir_leaves_final_alone_on_error(tmp_path: Path) -> None:
    final = tmp_path / "step_0000010"
    final.mkdir()
    (final / "trainable.safetensors").write_text("good")
    with pytest.raises(RuntimeError), replace_dir(final) as tmp:
        (tmp / "trainable.safetensors").write_text("half")
        raise RuntimeError("disk full")
    assert (final / "trainable.safetensors").read_text() == "good"
