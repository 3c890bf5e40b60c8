"""`being-h0 calibrate ...`: camera intrinsics, hand-eye (fixed camera), Inspire hand ranges, checks.

Every subcommand writes one validated file and prints where: into --out, else
into --rig-dir when you name one, else into your data folder
(~/.local/share/being-h0/calibration/virtual, or $XDG_DATA_HOME/being-h0/...),
never into the checkout by accident (its calibration/virtual is the shipped
virtual rig's).  Existing files are read from --rig-dir (default: the shipped
calibration/virtual).  `check` tells whether a task may start.  See
calibration/README.md for the file formats.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

import numpy as np

from ..paths import SHIPPED_DIR, user_data_dir

EPILOG = """\
typical order on a new rig:
  being-h0 calibrate intrinsics --rig-dir calibration/rig1 --serial 123456789012 --resolution 640x480
  being-h0 calibrate hand-eye   --rig-dir calibration/rig1 --from captures/handeye   (views saved by a capture)
  being-h0 calibrate hand-range --rig-dir calibration/rig1 --port /dev/ttyUSB0
  being-h0 calibrate check      --rig-dir calibration/rig1 --needs hand_eye intrinsics

on the virtual rig (no hardware), the whole hand-eye procedure end to end, compared with ground truth
(writes ~/.local/share/being-h0/calibration/virtual/hand_eye.yaml; --out DIR to choose):
  being-h0 calibrate hand-eye --sim
"""


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT, e.g. 640x480") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"{text!r}: width/height out of range")
    return w, h


def _board(text: str):
    from .schema import BoardSpec

    try:
        grid, sq, mk, *rest = text.split(",")
        sx, sy = (int(x) for x in grid.lower().split("x"))
        return BoardSpec(squares_x=sx, squares_y=sy, square_m=float(sq), marker_m=float(mk),
                         dictionary=rest[0] if rest else "DICT_4X4_50")
    except Exception as e:  # noqa: BLE001 - one clear message for any malformed spec
        raise argparse.ArgumentTypeError(f"--board {text!r}: expected SXxSY,SQUARE_M,MARKER_M[,DICT] "
                                         f"e.g. 5x4,0.04,0.03,DICT_4X4_50 ({e})") from None


def build_parser() -> argparse.ArgumentParser:
    # Longer than 60 lines because it is an argparse builder: every subcommand's options with its help, in order.
    ap = argparse.ArgumentParser(
        prog="being-h0 calibrate", description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="{intrinsics,hand-eye,hand-range,check}")

    def common(p: argparse.ArgumentParser, writes: bool = True) -> None:
        p.add_argument("--rig-dir", default=None,
                       help="folder of this rig's calibration files, read (default: the shipped calibration/virtual)"
                            + ("; results go here too when you name it and give no --out" if writes else ""))
        if writes:
            p.add_argument("--out", default=None, metavar="DIR",
                           help="folder to write the result into (default: --rig-dir if given, else "
                                f"{user_data_dir('calibration', 'virtual')})")

    it = sub.add_parser("intrinsics", help="store camera intrinsics (RealSense factory values, or ChArUco refinement)",
                        description="Read each requested resolution's colour intrinsics from the RealSense (or a "
                                    ".db3 playback) and store them in intrinsics.yaml; with --refine-from, run "
                                    "OpenCV calibrateCamera on ChArUco images instead (start from the factory "
                                    "values when present). Entries for other resolutions are kept.")
    common(it)
    src = it.add_mutually_exclusive_group()
    src.add_argument("--serial", help="RealSense serial number (default: the only camera)")
    src.add_argument("--playback", help="read intrinsics from a .db3/.bag recording instead of a device")
    src.add_argument("--sim", action="store_true", help="the virtual rig's exact pinhole model")
    it.add_argument("--resolution", type=_size, action="append", help="WxH, repeatable (default 640x480)")
    it.add_argument("--refine-from", metavar="DIR", help="folder of board images (png/jpg) for a ChArUco refinement")
    it.add_argument("--board", type=_board, default=None, help="SXxSY,SQUARE_M,MARKER_M[,DICT] (default: 5x4,0.04,0.03)")
    it.add_argument("--fix-distortion", action="store_true", help="keep distortion at zero in the refinement")
    it.set_defaults(func=cmd_intrinsics)

    he = sub.add_parser("hand-eye", help="solve T_base_camera from board views; prints the solver comparison",
                        description="Eye-to-hand calibration with a ChArUco board held by the arm. --sim runs the "
                                    "guided capture on the virtual rig (board rendered on the flange) and compares "
                                    "with ground truth; --from re-solves views saved by a capture (poses.yaml + "
                                    "images). Prints OpenCV's closed forms (Tsai/Park/Horaud/Andreff/Daniilidis, "
                                    "robot-world Shah/Li) and the reprojection "
                                    "refinement side by side and writes the refined result to hand_eye.yaml.",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        epilog="columns: rot/trans res = spread of the board mount implied by each view "
                               "(0 for a perfect solution);\n reproj px = corner reprojection RMS through the robot "
                               "chain; err = distance to ground truth (--sim only)")
    common(he)
    mode = he.add_mutually_exclusive_group(required=True)
    mode.add_argument("--sim", action="store_true", help="capture on the virtual rig")
    mode.add_argument("--from", dest="from_dir", metavar="DIR", help="saved views (poses.yaml + images)")
    he.add_argument("--views", type=int, default=20, help="number of planned views (--sim; default 20, min 6)")
    he.add_argument("--image-size", type=_size, default=(640, 480), help="render size for --sim (default 640x480)")
    he.add_argument("--seed", type=int, default=0, help="view planning seed")
    he.add_argument("--save-views", metavar="DIR", help="keep the captured images and poses here (--sim)")
    he.add_argument("--sim-intrinsics", action="store_true",
                    help="with --from: use the virtual rig's intrinsics instead of intrinsics.yaml")
    he.add_argument("--board", type=_board, default=None, help="board spec if the views folder does not name one")
    he.add_argument("--dry-run", action="store_true", help="print the comparison, write nothing")
    he.set_defaults(func=cmd_hand_eye)

    hr = sub.add_parser("hand-range", help="measure each Inspire DoF's open/closed raw values (force-limited)",
                        description="Guided, force-limited range routine (one DoF at a time, low speed). "
                                    "Writes hand_ranges.yaml, which the hand driver uses for closure<->raw.")
    common(hr)
    hp = hr.add_mutually_exclusive_group(required=True)
    hp.add_argument("--port", help="serial device of the hand, e.g. /dev/ttyUSB0")
    hp.add_argument("--sim", action="store_true", help="run against the protocol emulator (no hardware)")
    hr.add_argument("--hand-id", type=int, default=1)
    hr.add_argument("--force-limit", type=float, default=0.2, help="FORCE_SET fraction while closing (default 0.2)")
    hr.add_argument("--yes", action="store_true", help="do not ask for confirmation before moving")
    hr.set_defaults(func=cmd_hand_range)

    ck = sub.add_parser("check", help="validate the rig's calibration files; exit 1 if a needed one is unusable",
                        description="Malformed files are always errors; missing or stale ones are errors only for "
                                    "the kinds listed in --needs (a Cartesian policy needs hand_eye, a joint one "
                                    "does not) and warnings otherwise.")
    common(ck, writes=False)
    ck.add_argument("--needs", nargs="*", default=[], choices=["intrinsics", "hand_eye", "hand_ranges"],
                    help="calibrations the task cannot run without")
    ck.add_argument("--max-age-days", type=float, default=30.0, help="older files are stale (default 30)")
    ck.set_defaults(func=cmd_check)
    return ap


def _read_dir(a: argparse.Namespace) -> Path:
    return Path(a.rig_dir) if a.rig_dir else SHIPPED_DIR / "calibration" / "virtual"


def _write_dir(a: argparse.Namespace) -> Path:
    """--out, else an explicitly named --rig-dir, else the user data folder: never the checkout by default."""
    if getattr(a, "out", None):
        return Path(a.out)
    return Path(a.rig_dir) if a.rig_dir else user_data_dir("calibration", "virtual")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("being-h0-runtime")
    except Exception:  # noqa: BLE001
        return "unknown"


# ----------------------------------------------------------------------------- commands
def cmd_intrinsics(a: argparse.Namespace) -> int:
    from . import intrinsics as intr
    from .handeye import make_board
    from .schema import load_intrinsics, save
    from .sim_verify import SIM_BOARD

    res = a.resolution or [(640, 480)]
    # entries for other resolutions are kept: from the file being replaced, else from the rig folder read
    src = next((d for d in (_write_dir(a), _read_dir(a)) if (d / "intrinsics.yaml").exists()), None)
    existing = load_intrinsics(src) if src is not None else None
    if a.sim:
        camera, entries = "virtual rig head camera", [intr.from_sim(r) for r in res]
    elif a.refine_from:
        camera, entries = (existing.camera if existing else "camera"), []
    else:
        cam_cfg = {"playback_file": a.playback} if a.playback else {"serial": a.serial}
        camera, entries = intr.from_realsense(cam_cfg, res)
    if a.refine_from:
        images = intr.load_images(a.refine_from)
        if not images:
            print(f"error: no images in {a.refine_from}", file=sys.stderr)
            return 2
        h, w = images[0].shape[:2]
        init = next((e for e in entries if (e.width, e.height) == (w, h)), None)
        if init is None and existing is not None:
            init = next((e for e in existing.streams if (e.stream, e.width, e.height) == ("color", w, h)), None)
        entries = [e for e in entries if (e.width, e.height) != (w, h)] + [
            intr.refine_charuco(images, make_board(a.board or SIM_BOARD), init, a.fix_distortion)]
    out = intr.merge(existing, entries, camera)
    path = save(out, _write_dir(a))
    for e in entries:
        extra = f" rms {e.rms_px:.3f} px over {e.n_images} images" if e.rms_px is not None else ""
        print(f"{e.key}: fx {e.fx:.2f} fy {e.fy:.2f} cx {e.cx:.2f} cy {e.cy:.2f} ({e.source}){extra}")
    print(f"wrote {path}")
    return 0


def _sim_camera_truth(image_size: tuple[int, int]) -> np.ndarray:
    """The virtual rig's true T_base_camera (views rendered by the simulator: the answer is known)."""
    from .handeye import pose_to_T
    from .sim_verify import BoardRig

    rig = BoardRig(image_size=image_size)
    truth = pose_to_T(*rig.camera_pose())
    rig.close()
    return truth


def cmd_hand_eye(a: argparse.Namespace) -> int:
    import cv2
    import yaml

    from .capture import load_views
    from .handeye import format_table, make_board, solve_eye_to_hand
    from .schema import BoardSpec, HandEyeFile, Provenance, load_intrinsics, save
    from .sim_verify import SIM_BOARD, run_sim_handeye

    truth = None
    if a.sim:
        if a.views < 6:
            print("error: --views must be at least 6", file=sys.stderr)
            return 2
        rep = run_sim_handeye(n_views=a.views, image_size=a.image_size, seed=a.seed, out_dir=a.save_views)
        sols, truth, board_spec = rep.solutions, rep.truth, SIM_BOARD
        n_used = rep.n_used
        intr_key = f"color_{a.image_size[0]}x{a.image_size[1]} (simulator)"
        print(f"virtual rig: {rep.n_used}/{rep.n_views} views with the board detected, {rep.seconds:.1f} s")
    else:
        meta = yaml.safe_load((Path(a.from_dir) / "poses.yaml").read_text()) if (Path(a.from_dir) / "poses.yaml").exists() else {}
        board_spec = a.board or (BoardSpec.model_validate(meta["board"]) if isinstance(meta, dict) and meta.get("board") else SIM_BOARD)
        first = next(iter(sorted(Path(a.from_dir).glob("*.png"))), None)
        if first is None:
            print(f"error: no images in {a.from_dir}", file=sys.stderr)
            return 2
        h, w = cv2.imread(str(first)).shape[:2]
        if a.sim_intrinsics:
            from .intrinsics import from_sim

            si = from_sim((w, h))
        else:
            si = load_intrinsics(_read_dir(a)).find("color", w, h)
        samples = load_views(a.from_dir, make_board(board_spec), si.matrix(), si.dist_coeffs())
        try:
            sols = solve_eye_to_hand(samples, si.matrix(), si.dist_coeffs())
        except ValueError as e:  # too few views, or poses that cannot determine the camera (see check_pose_pairs)
            print(f"error: {a.from_dir}: {e}", file=sys.stderr)
            return 2
        n_used, intr_key = len(samples), f"{si.key} ({si.source})"
        if a.sim_intrinsics:
            truth = _sim_camera_truth((w, h))
    print(format_table(sols, truth))
    best = sols[-1]
    p, q = best.as_result().translation, best.as_result().quaternion_xyzw
    print(f"\nT_base_camera ({best.method}): translation {np.round(p, 5).tolist()} m, "
          f"quaternion_xyzw {np.round(q, 6).tolist()}")
    if a.dry_run:
        return 0
    out = HandEyeFile(date=_dt.date.today(), translation=p, quaternion_xyzw=q, method=best.method, n_samples=n_used,
                      residuals=best.as_result(), alternatives=[s.as_result() for s in sols[:-1]
                                                                if np.all(np.isfinite(s.T_base_cam))],
                      provenance=Provenance(software=_version(), opencv=cv2.__version__, board=board_spec,
                                            intrinsics=intr_key,
                                            notes="virtual rig (sim_verify)" if a.sim else f"views: {a.from_dir}"))
    print(f"wrote {save(out, _write_dir(a))}")
    return 0


def cmd_hand_range(a: argparse.Namespace) -> int:
    from ..drivers.hand.inspire_config import InspireHandConfig
    from .hand_range import calibrate_hand
    from .schema import save

    def confirm(msg: str) -> bool:
        return a.yes or input(f"{msg} [y/N] ").strip().lower() in ("y", "yes")

    if a.sim:
        from ..drivers.hand.emulator import InspireEmulator
        from ..drivers.hand.plants import FirstOrderHandPlant

        plant = FirstOrderHandPlant(max_rate=20000.0)
        plant.obstacle[:] = [40, 40, 40, 40, 120, np.nan]  # fingers meet the palm / thumb before raw 0
        with InspireEmulator(plant, hand_id=a.hand_id) as emu:
            cfg = InspireHandConfig(port=emu.port, hand_id=a.hand_id, timeout_s=0.1)
            res = calibrate_hand(cfg, force_limit=a.force_limit, speed=1.0, settle_s=0.05, timeout_s=2.0,
                                 confirm=confirm, hand_name="emulator")
    else:
        cfg = InspireHandConfig(port=a.port, hand_id=a.hand_id)
        res = calibrate_hand(cfg, force_limit=a.force_limit, confirm=confirm)
    print(f"wrote {save(res, _write_dir(a))}")
    return 0


def cmd_check(a: argparse.Namespace) -> int:
    from .schema import check_calibration

    findings = check_calibration(_read_dir(a), a.needs, a.max_age_days)
    for f in findings:
        print(f)
    return 1 if any(f.level == "error" for f in findings) else 0


def main(argv: list[str] | None = None) -> int:
    from ..config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
