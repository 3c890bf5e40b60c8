"""Import the released Being-H0 post-training data (h0_post_train_db_2508, zarr) as a post-training dataset.

Source layout (zarr v2 format, one flat store; verified against the official
``convert_zarr_to_lerobotzarr.py``)::

    data/camera_0.rgb      (N, H, W, 3) uint8    ego camera, RGB
    data/right_arm_qpos    (N, 7)  float          Franka joint positions (rad)
    data/right_hand_qpos   (N, 6)  float          Inspire hand joint positions
    data/action            (N, 13) float          next absolute targets: arm 7 + hand 6
    meta/episode_ends      (E,)    int            exclusive end frame of each episode

The official pipeline builds ``state = [right_arm_qpos | right_hand_qpos]``
(13) and uses ``action`` as is, at 20 fps (``convert_zarr_to_lerobotzarr(...,
fps=20)``), with no normalisation at inference.

Mapping onto this rig (written into ``meta.json`` under ``source_mapping``):

- dims 0..6 -> ``fr3_joint1..fr3_joint7``: Franka joint angles in radians, same
  order, copied unchanged (state and action).
- dims 7..12 -> the Inspire hand DoFs ``little, ring, middle, index,
  thumb_bend, thumb_rotation`` (the hand's own register order, which is also
  the rig's ``HAND_DOF_NAMES`` order). The rig commands the hand as *closure*
  (0 = open, 1 = closed); the release stores hand positions either as raw
  angle-register units (0..1000, 1000 = open) or already as closure.
  ``hand_units="raw"`` maps ``closure = (raw - open_raw) / (closed_raw -
  open_raw)`` clipped to [0, 1] (default open 1000, closed 0, or the rig's
  hand calibration file); ``"closure"`` copies; ``"open-fraction"`` (0..1,
  1 = open) maps ``1 - x``; ``"auto"`` picks raw when any value exceeds 2,
  closure when all lie in [0, 1], and otherwise copies the values unchanged
  with a warning (recorded as ``unchanged`` in ``meta.json``).
- ``action`` row t = the target commanded after observing frame t (the
  project's convention, same as the official one).
- The instruction is not stored in the zarr; it comes from the store's
  attributes (``instruction`` / ``task``) when present, else ``instruction``
  (default: the official converter's task text).

A folder holding several such stores (one per task) imports them all, in
name order, with each store's name as the episodes' ``task_id``.

Output: the recorder export format (``export.py``: ``episode_NNNNNN.npz`` +
``meta.json``) that ``being_h0_train.posttrain`` loads, written into a
temporary folder next to ``out`` and renamed into place at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..rig import ARM_JOINT_NAMES as ARM_JOINTS
from ..rig import HAND_DOF_NAMES as HAND_JOINTS
from .export import FORMAT, VERSION, _stats

REQUIRED = {  # key -> (ndim, trailing shape or None)
    "data/camera_0.rgb": (4, None),
    "data/right_arm_qpos": (2, (7,)),
    "data/right_hand_qpos": (2, (6,)),
    "data/action": (2, (13,)),
    "meta/episode_ends": (1, None),
}
DEFAULT_INSTRUCTION = "Put the little yellow duck into the cup."  # the official converter's task text
DEFAULT_FPS = 20.0
HandUnits = Literal["auto", "raw", "closure", "open-fraction"]


class ZarrImportError(ValueError):
    """Bad source data; the message names the store/key and the problem."""


@dataclass
class ImportInfo:
    out_dir: Path
    num_episodes: int
    num_frames: int
    hand_units: str
    image_shape: list[int]


def _open(src: Path) -> Any:
    try:
        import zarr
    except ImportError:
        raise ZarrImportError("reading zarr needs the 'zarr' package (pip install 'being-h0[record]')") from None
    if not src.exists():
        raise ZarrImportError(f"{src}: not found")
    try:
        return zarr.open(str(src), mode="r")
    except Exception as e:  # noqa: BLE001 - zarr raises many types for a non-store
        raise ZarrImportError(f"{src}: not a readable zarr store ({type(e).__name__}: {e})") from None


def _check_layout(src: Path, root: Any) -> dict[str, Any]:
    arrays: dict[str, Any] = {}
    for key, (ndim, tail) in REQUIRED.items():
        try:
            arr = root[key]
        except Exception:  # noqa: BLE001 - zarr 2 and 3 raise different lookup errors
            raise ZarrImportError(f"{src}: missing key '{key}' (expected {', '.join(REQUIRED)})") from None
        if not hasattr(arr, "shape") or len(arr.shape) != ndim:
            raise ZarrImportError(f"{src}: '{key}' has shape {getattr(arr, 'shape', '?')}, expected {ndim} dimensions")
        if tail is not None and tuple(arr.shape[1:]) != tail:
            raise ZarrImportError(f"{src}: '{key}' has width {arr.shape[1]}, expected {tail[0]}")
        arrays[key] = arr
    rgb = arrays["data/camera_0.rgb"]
    if rgb.shape[-1] != 3 or np.dtype(rgb.dtype) != np.uint8:
        raise ZarrImportError(f"{src}: 'data/camera_0.rgb' is {rgb.dtype} {tuple(rgb.shape)}, expected uint8 (N, H, W, 3)")
    n = rgb.shape[0]
    for key in ("data/right_arm_qpos", "data/right_hand_qpos", "data/action"):
        if arrays[key].shape[0] != n:
            raise ZarrImportError(f"{src}: '{key}' has {arrays[key].shape[0]} rows but 'data/camera_0.rgb' has {n} frames")
    ends = np.asarray(arrays["meta/episode_ends"][:])
    if ends.size == 0 or not np.issubdtype(ends.dtype, np.integer):
        raise ZarrImportError(f"{src}: 'meta/episode_ends' must be a non-empty integer array, got {ends.dtype} {ends.shape}")
    if (np.diff(np.concatenate([[0], ends])) <= 0).any() or ends[-1] != n:
        raise ZarrImportError(f"{src}: 'meta/episode_ends' must increase strictly and end at {n} (the frame count), "
                           f"got {ends[:5].tolist()}{'...' if ends.size > 5 else ''} ending at {int(ends[-1])}")
    arrays["ends"] = ends
    return arrays


def resolve_hand_units(hand: np.ndarray, units: HandUnits) -> str:
    """``auto``: raw when any value exceeds 2, closure when all lie in [0, 1], else ``unchanged`` (copied, warned)."""
    if units != "auto":
        return units
    lo, hi = float(np.min(hand)), float(np.max(hand))
    if hi > 2.0:
        return "raw"
    if lo >= 0.0 and hi <= 1.0:
        return "closure"
    return "unchanged"


def hand_to_closure(src: Path, key: str, hand: np.ndarray, units: str, open_raw: np.ndarray,
                    closed_raw: np.ndarray) -> np.ndarray:
    if units in ("closure", "unchanged"):
        return hand.astype(np.float32)
    if units == "open-fraction":  # 0 closed .. 1 open
        return (1.0 - hand).astype(np.float32)
    lo, hi = min(open_raw.min(), closed_raw.min()), max(open_raw.max(), closed_raw.max())
    if hand.min() < lo - 50 or hand.max() > hi + 50:
        raise ZarrImportError(f"{src}: '{key}' hand values {hand.min():.4g}..{hand.max():.4g} lie outside the raw "
                              f"range {int(lo)}..{int(hi)}")
    return np.clip((hand - open_raw) / (closed_raw - open_raw), 0.0, 1.0).astype(np.float32)


def _resize(images: np.ndarray, size: int | None) -> np.ndarray:
    if size is None or images.shape[1:3] == (size, size):
        return images
    from being_h0_runtime.policy.preprocess import resize_bilinear

    return np.stack([np.clip(np.rint(resize_bilinear(im, size, size)), 0, 255).astype(np.uint8) for im in images])


def find_stores(src: Path) -> list[Path]:
    """``src`` itself when it is a zarr store, else the stores directly inside it (one per task), sorted."""
    def is_store(p: Path) -> bool:
        return (p / ".zgroup").is_file() or (p / "zarr.json").is_file()

    if not src.is_dir() or is_store(src):
        return [src]
    subs = sorted(p for p in src.iterdir() if p.is_dir() and is_store(p))
    return subs or [src]  # no store anywhere: _open names src in its error


@dataclass
class _Store:
    path: Path
    arrays: dict[str, Any]
    hand: np.ndarray
    units: str
    instruction: str


def _prepare(src: Path, hand_units: HandUnits, instruction: str | None) -> _Store:
    root = _open(src)
    a = _check_layout(src, root)
    hand = np.asarray(a["data/right_hand_qpos"][:], np.float64)
    # one decision for state and action: they share units (a target may overshoot the measured range a little)
    units = resolve_hand_units(np.concatenate([hand, np.asarray(a["data/action"][:, 7:13], np.float64)]), hand_units)
    if units == "unchanged":
        warnings.warn(f"{src}: hand values span {hand.min():.3g}..{hand.max():.3g}, neither raw Inspire units "
                      "(0..1000) nor closure (0..1): copied unchanged; pass --hand-units to choose", stacklevel=2)
    attrs = dict(getattr(root, "attrs", {}) or {})
    instr = instruction or attrs.get("instruction") or attrs.get("task") or DEFAULT_INSTRUCTION
    return _Store(src, a, hand, units, str(instr))


def _hand_raw_range(hand_calibration: Path | str | None) -> tuple[np.ndarray, np.ndarray]:
    """Raw Inspire register values of an open and a closed hand: the rig's calibration, else 1000 / 0."""
    if hand_calibration is None:
        return np.full(6, 1000.0), np.zeros(6)
    from being_h0_runtime.drivers.hand.calibration import load_calibration

    cal = load_calibration(hand_calibration)
    return np.asarray(cal.open_raw, float), np.asarray(cal.closed_raw, float)


def _episode_vectors(st: _Store, start: int, end: int, open_raw: np.ndarray,
                     closed_raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frames [start, end) of a store as proprio and action rows (7 arm joints + 6 hand closures), checked finite."""
    a = st.arrays
    arm = np.asarray(a["data/right_arm_qpos"][start:end], np.float64)
    act = np.asarray(a["data/action"][start:end], np.float64)
    hand = st.hand[start:end]
    for key, v in (("data/right_arm_qpos", arm), ("data/right_hand_qpos", hand), ("data/action", act)):
        if not np.isfinite(v).all():
            bad = start + int(np.argwhere(~np.isfinite(v))[0][0])
            raise ZarrImportError(f"{st.path}: '{key}' has NaN/inf at frame {bad}")
    proprio = np.concatenate([arm, hand_to_closure(st.path, "data/right_hand_qpos", hand, st.units,
                                                   open_raw, closed_raw)], 1).astype(np.float32)
    action = np.concatenate([act[:, :7], hand_to_closure(st.path, "data/action", act[:, 7:], st.units,
                                                         open_raw, closed_raw)], 1).astype(np.float32)
    return proprio, action


def _meta(src: Path, stores: list[_Store], fps: float, image_shape: list[int], entries: list[dict[str, Any]],
          proprios: list[np.ndarray], actions: list[np.ndarray], open_raw: np.ndarray, closed_raw: np.ndarray,
          image_size: int | None, units: list[str]) -> dict[str, Any]:
    """meta.json of the imported dataset, with where every field came from (``source_mapping``)."""
    names = list(ARM_JOINTS) + list(HAND_JOINTS)
    return {
        "format": FORMAT, "version": VERSION, "fps": float(fps), "proprio_names": names, "action_names": names,
        "action_semantics": "absolute joint targets (rad) + hand closures (0..1), commanded for the next "
                            "control period",
        "image_shape": image_shape, "num_frames": int(sum(e["length"] for e in entries)),
        "stats": {"proprio": _stats(proprios), "action": _stats(actions)}, "episodes": entries,
        "source_mapping": {
            "source": str(src.resolve()), "stores": [str(st.path.resolve()) for st in stores],
            "source_format": "h0_post_train_db (zarr v2: data/camera_0.rgb, data/right_arm_qpos, "
                             "data/right_hand_qpos, data/action, meta/episode_ends)",
            "arm": "right_arm_qpos[0:7] / action[0:7] -> fr3_joint1..7, radians, unchanged",
            "hand": f"right_hand_qpos[0:6] / action[7:13] -> {', '.join(HAND_JOINTS)} closure (0 open, 1 closed)",
            "hand_units": {st.path.name: st.units for st in stores},
            "hand_open_raw": open_raw.tolist() if "raw" in units else None,
            "hand_closed_raw": closed_raw.tolist() if "raw" in units else None,
            "instructions": {st.path.name: st.instruction for st in stores}, "image_size": image_size,
        },
    }


def import_zarr(src: Path | str, out: Path | str, *, fps: float = DEFAULT_FPS, instruction: str | None = None,
                hand_units: HandUnits = "auto", hand_calibration: Path | str | None = None,
                image_size: int | None = None, overwrite: bool = False, progress: bool = False) -> ImportInfo:
    """Convert the zarr store ``src`` (or a folder of stores, one per task) into a post-training dataset at ``out``.

    Every store is opened and checked before anything is written (see the module docstring for the mapping).
    """
    src, out = Path(src), Path(out)
    if fps <= 0:
        raise ZarrImportError(f"fps must be > 0, got {fps}")
    if out.exists() and not overwrite:
        raise ZarrImportError(f"{out}: already exists (pass --overwrite to replace it)")
    if not src.exists():
        raise ZarrImportError(f"{src}: not found")
    stores = [_prepare(p, hand_units, instruction) for p in find_stores(src)]
    open_raw, closed_raw = _hand_raw_range(hand_calibration)
    made_parent = not out.parent.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        entries, proprios, actions = [], [], []
        image_shape: list[int] = []
        for st in stores:
            a, start = st.arrays, 0
            for end in (int(e) for e in a["ends"]):
                i = len(entries)
                proprio, action = _episode_vectors(st, start, end, open_raw, closed_raw)
                images = _resize(np.asarray(a["data/camera_0.rgb"][start:end], np.uint8), image_size)
                if image_shape and list(images.shape[1:]) != image_shape:
                    raise ZarrImportError(f"{st.path}: frames are {list(images.shape[1:])}, earlier stores "
                                          f"{image_shape}; pass --image-size N to resize all")
                image_shape = list(images.shape[1:])
                t = np.arange(end - start, dtype=np.float64) / fps
                fname, ep_id = f"episode_{i:06d}.npz", f"{st.path.stem}_{i:06d}"
                np.savez(tmp / fname, timestamps=t, t_abs=t, images=images, proprio=proprio, action=action,
                         intervention=np.zeros(end - start, bool), instruction=np.str_(st.instruction),
                         task_id=np.str_(st.path.stem), episode_id=np.str_(ep_id))
                proprios.append(proprio)
                actions.append(action)
                entries.append({"file": fname, "episode_id": ep_id, "task_id": st.path.stem,
                                "instruction": st.instruction, "outcome": "success", "length": end - start,
                                "interventions": [], "source": f"{st.path.resolve()}[{start}:{end}]"})
                if progress:
                    print(f"  {st.path.name} episode {i}: {end - start} frames", flush=True)
                start = end
        units = sorted({st.units for st in stores})
        meta = _meta(src, stores, fps, image_shape, entries, proprios, actions, open_raw, closed_raw, image_size,
                     units)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if made_parent:
            with contextlib.suppress(OSError):
                out.parent.rmdir()  # only if still empty
        raise
    return ImportInfo(out, len(entries), int(meta["num_frames"]), "+".join(units), image_shape)
