"""`being-h0 dataset import`: the released zarr post-training data -> a post-training dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HELP = """\
SRC is a zarr store in the layout of BeingBeyond's h0_post_train_db_2508
(data/camera_0.rgb, data/right_arm_qpos (7), data/right_hand_qpos (6),
data/action (13), meta/episode_ends). The 13 dims map onto the rig as
fr3_joint1..7 (rad, unchanged) + Inspire little, ring, middle, index,
thumb_bend, thumb_rotation as closure 0 (open) .. 1 (closed); raw Inspire
register units (0..1000, 1000 = open) are converted, see --hand-units.
The result is what `python -m being_h0_train.posttrain.train --data DIR` reads.

example:
  being-h0 dataset import ~/data/h0_post_train_db_2508 --out datasets/h0_post_train
"""


def add_import_parser(sub: Any) -> None:
    s = sub.add_parser("import", help="released Being-H0 zarr post-training data -> post-training dataset",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("src", type=Path, metavar="SRC", help="zarr store (folder)")
    s.add_argument("--out", type=Path, required=True, help="output dataset folder (written atomically)")
    s.add_argument("--fps", type=float, default=20.0, help="control rate of the data (official: 20)")
    s.add_argument("--instruction", default=None,
                   help="task text for every episode (default: the store's 'instruction' attribute, else the "
                        "official converter's 'Put the little yellow duck into the cup.')")
    s.add_argument("--hand-units", choices=["auto", "raw", "closure", "open-fraction"], default="auto",
                   help="units of the 6 hand dims: raw Inspire registers (0..1000, 1000 = open), closure (0..1, "
                        "1 = closed) or open-fraction (0..1, 1 = open); auto: raw above 2, closure within 0..1, "
                        "else copied unchanged with a warning")
    s.add_argument("--hand-calibration", type=Path, default=None,
                   help="rig hand range file (open_raw / closed_raw) for raw units (default open 1000, closed 0)")
    s.add_argument("--image-size", type=int, default=None, help="resize frames to N x N (default: keep)")
    s.add_argument("--overwrite", action="store_true", help="replace --out if it exists")


def run_import(args: argparse.Namespace) -> int:
    import warnings

    from being_h0_runtime.drivers.hand.calibration import CalibrationError

    from .zarr_import import ZarrImportError, import_zarr

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            info = import_zarr(args.src, args.out, fps=args.fps, instruction=args.instruction,
                               hand_units=args.hand_units, hand_calibration=args.hand_calibration,
                               image_size=args.image_size, overwrite=args.overwrite, progress=False)
        except (ZarrImportError, CalibrationError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        finally:
            for w in caught:
                print(f"warning: {w.message}", file=sys.stderr)
    print(f"{info.num_episodes} episode(s), {info.num_frames} frames, images {info.image_shape}, "
          f"hand units {info.hand_units} -> {info.out_dir}")
    return 0
