"""Contact sheet of `train` variation scenes: the head camera's view of several seeds in one PNG.

So a person can see what the randomisation does (toy shapes, colours, distractors, light, table,
camera jitter) without running anything. docs/training_variations.md shows the committed sheet.

    python -m being_h0_runtime.sim.train_sheet --task pick_place_toy --seeds 8 --out docs/train_variation_pick_place_toy.png
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np


def render_sheet(task: str, seeds: list[int], image_size: tuple[int, int] = (320, 240), columns: int = 4,
                 variation: str = "train") -> np.ndarray:
    """(rows*H, columns*W, 3) uint8: one head-camera frame per seed at the rig's home pose, row-major."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    from .world import VirtualRig

    rig = VirtualRig(task, variation, seed=seeds[0], image_size=image_size)
    w, h = image_size
    rows = -(-len(seeds) // columns)
    sheet = np.full((rows * h, columns * w, 3), 255, np.uint8)
    try:
        for i, seed in enumerate(seeds):
            rig.reset(seed)
            r, c = divmod(i, columns)
            sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = rig.render_rgb()
    finally:
        rig.close()
    return sheet


def main(argv: list[str] | None = None) -> int:
    from .world import TASK_VARIATIONS, TASKS

    ap = argparse.ArgumentParser(prog="python -m being_h0_runtime.sim.train_sheet", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=TASKS, default="pick_place_toy", help="virtual-rig task (default pick_place_toy)")
    ap.add_argument("--variation", default="train", help="scene variation (default train)")
    ap.add_argument("--seeds", type=int, default=8, help="how many seeds, from --first-seed (default 8)")
    ap.add_argument("--first-seed", type=int, default=0, help="first scene seed (default 0)")
    ap.add_argument("--columns", type=int, default=4, help="frames per row (default 4)")
    ap.add_argument("--size", default="320x240", help="frame size WxH (default 320x240)")
    ap.add_argument("--out", required=True, help="PNG to write")
    a = ap.parse_args(argv)
    if a.variation not in TASK_VARIATIONS[a.task]:
        ap.error(f"--variation {a.variation} does not exist for --task {a.task} "
                 f"(allowed: {', '.join(TASK_VARIATIONS[a.task])})")
    try:
        w, h = (int(x) for x in a.size.lower().split("x"))
    except ValueError:
        ap.error(f"--size {a.size!r}: expected WxH, e.g. 320x240")
    if a.seeds < 1 or a.columns < 1:
        ap.error("--seeds and --columns must be >= 1")
    sheet = render_sheet(a.task, list(range(a.first_seed, a.first_seed + a.seeds)), (w, h), a.columns, a.variation)
    from PIL import Image

    out = Path(a.out)
    tmp = out.with_name(out.name + ".tmp")
    # 256-colour palette: the table's speckle texture makes a true-colour sheet ~0.5 MB
    Image.fromarray(sheet).quantize(256, dither=Image.Dither.NONE).save(tmp, format="PNG", optimize=True)
    tmp.replace(out)  # nothing half-written
    print(f"{out}: {a.seeds} seeds of {a.task}/{a.variation}, {out.stat().st_size // 1024} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
