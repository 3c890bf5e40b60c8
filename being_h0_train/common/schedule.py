"""The one learning-rate schedule of the training package: linear warm-up and cosine decay.

Every stage (tokenizer, VLA pretraining, post-training, the perception warm-up)
decays the rate along half a cosine; they differ only in the warm-up length, the
floor the cosine ends on and how the warm-up meets the cosine:

* ``sequential=False`` (tokenizer, VLA, perception): the warm-up ramp multiplies
  the cosine, which runs over all ``total_steps`` from step 0;
* ``sequential=True`` (post-training): the ramp comes first, then the cosine runs
  over the remaining ``total_steps - warmup_steps``.

The arithmetic is written so each stage gets bit-for-bit the values it had when
it carried its own copy (``tests/test_train_common.py`` checks that).
"""

from __future__ import annotations

import math


def cosine_lr(
    step: int,
    base_lr: float,
    total_steps: int,
    warmup_steps: int = 0,
    floor: float = 0.0,
    sequential: bool = False,
) -> float:
    """Learning rate at 0-based ``step``: ramp over ``warmup_steps``, cosine down to ``floor * base_lr``.

    Past ``total_steps`` the rate stays at the floor.
    """
    # the angle is rounded as each stage's own copy rounded it: pi * (done / span) after a
    # warm-up that comes first, (pi * done) / span when the ramp scales the cosine
    if sequential:
        if warmup_steps and step < warmup_steps:
            return base_lr * (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return base_lr * _cosine(math.pi * progress, floor)
    warm = min(1.0, (step + 1) / max(1, warmup_steps))
    return base_lr * warm * _cosine(math.pi * min(step, total_steps) / max(1, total_steps), floor)


def _cosine(angle: float, floor: float) -> float:
    """1 at angle 0, ``floor`` at angle pi, half a cosine between."""
    return floor + (1 - floor) * 0.5 * (1 + math.cos(angle))
