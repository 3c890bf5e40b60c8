"""Canonical hand-motion clip: ``<name>.npz`` arrays + ``<name>.json`` sidecar.

Why: every source (HaMeR on videos, motion capture, the synthetic generator)
is converted once into one format that the tokenizer and instruction-tuning
datasets read. Arrays live in the npz (fast, binary); everything a person may
want to read or edit lives in the JSON sidecar.

npz keys (T frames): ``global_orient`` (T,3), ``hand_pose`` (T,45),
``betas`` (T,10), ``transl`` (T,3) — MANO params in the CAMERA frame, metres;
optional ``joints`` (T,21,3), ``keypoints_2d`` (T,21,2) pixels,
``frames`` (T,H,W,3) uint8 (small synthetic clips only), ``valid`` (T,) bool.

JSON sidecar (validated, one error names file + field)::

    {"version": 1, "hand": "right", "fps": 30.0, "num_frames": T,
     "intrinsics": {"fx":..,"fy":..,"cx":..,"cy":..,"width":..,"height":..},
     "extrinsics": [[4x4 world->camera]],
     "frame_refs": {"video": "path.mp4", "indices": [..]} | {"images": [...]} | null,
     "instructions": ["pick up the cup", ...], "source": "synthetic|hamer|...",
     "objects": [{"name": "red ball", "center_3d": [..], "radius": ..}]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .features import ManoParams
from .rotations import matrix_to_axis_angle

CLIP_VERSION = 1


class Intrinsics(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fx: float = Field(gt=0)
    fy: float = Field(gt=0)
    cx: float
    cy: float
    width: int = Field(gt=0)
    height: int = Field(gt=0)

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])


class FrameRefs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    video: str | None = None
    indices: list[int] | None = None
    images: list[str] | None = None


class ClipObject(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    center_3d: list[float] | None = None
    radius: float | None = None


class ClipMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = CLIP_VERSION
    hand: Literal["right", "left"]
    fps: float = Field(gt=0)
    num_frames: int = Field(ge=1)
    intrinsics: Intrinsics
    extrinsics: list[list[float]] = Field(default_factory=lambda: np.eye(4).tolist())
    frame_refs: FrameRefs | None = None
    instructions: list[str] = Field(default_factory=list)
    source: str = "unknown"
    objects: list[ClipObject] = Field(default_factory=list)

    @field_validator("extrinsics")
    @classmethod
    def _ext(cls, v: list[list[float]]) -> list[list[float]]:
        if np.asarray(v).shape != (4, 4):
            raise ValueError("extrinsics must be a 4x4 matrix (world -> camera)")
        return v


@dataclass
class Clip:
    params: ManoParams
    meta: ClipMeta
    joints: np.ndarray | None = None
    keypoints_2d: np.ndarray | None = None
    frames: np.ndarray | None = None
    valid: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.params)

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write ``path.npz`` and ``path.json`` (suffix of ``path`` is ignored)."""
        base = Path(path).with_suffix("")
        base.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "global_orient": self.params.global_orient.astype(np.float32),
            "hand_pose": self.params.hand_pose.astype(np.float32),
            "betas": self.params.betas.astype(np.float32),
            "transl": self.params.transl.astype(np.float32),
        }
        for k in ("joints", "keypoints_2d", "frames", "valid"):
            v = getattr(self, k)
            if v is not None:
                arrays[k] = v
        np.savez_compressed(base.with_suffix(".npz"), **arrays)
        meta = self.meta.model_copy(update={"num_frames": len(self)})
        base.with_suffix(".json").write_text(meta.model_dump_json(indent=2))
        return base.with_suffix(".npz"), base.with_suffix(".json")


def load_clip(path: str | Path, load_frames: bool = True) -> Clip:
    """Load a clip from ``x.npz`` / ``x.json`` / ``x`` with clear errors."""
    base = Path(path).with_suffix("")
    npz, js = base.with_suffix(".npz"), base.with_suffix(".json")
    for p in (npz, js):
        if not p.exists():
            raise FileNotFoundError(f"clip file missing: {p}")
    try:
        meta = ClipMeta.model_validate_json(js.read_text())
    except ValidationError as e:
        err = e.errors()[0]
        raise ValueError(f"{js}: field {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    with np.load(npz, allow_pickle=False) as z:
        missing = [k for k in ("global_orient", "hand_pose", "betas", "transl") if k not in z.files]
        if missing:
            raise ValueError(f"{npz}: missing array(s) {missing}")
        try:
            params = ManoParams(z["global_orient"], z["hand_pose"], z["betas"], z["transl"])
        except ValueError as e:
            raise ValueError(f"{npz}: {e}") from None
        get = lambda k: z[k] if k in z.files else None  # noqa: E731
        clip = Clip(params, meta, get("joints"), get("keypoints_2d"), get("frames") if load_frames else None, get("valid"))
    if meta.num_frames != len(params):
        raise ValueError(f"{js}: num_frames={meta.num_frames} but {npz} has {len(params)} frames")
    return clip


def list_clips(directory: str | Path) -> list[Path]:
    """All clip bases (``*.json`` with a sibling ``.npz``) under a directory, sorted."""
    d = Path(directory)
    if not d.is_dir():
        raise FileNotFoundError(f"clip directory not found: {d}")
    return sorted(p.with_suffix("") for p in d.rglob("*.json") if p.with_suffix(".npz").exists())


# --------------------------------------------------------------------------
# HaMeR-style per-frame outputs -> canonical clip
# --------------------------------------------------------------------------

def cam_crop_to_full(pred_cam: np.ndarray, box_center: np.ndarray, box_size: np.ndarray,
                     img_size: np.ndarray, focal_length: float) -> np.ndarray:
    """Weak-perspective crop camera (s, tx, ty) -> full-image translation (tx, ty, tz).

    HaMeR predicts ``s, tx, ty`` for a square crop of side ``box_size`` centred
    at ``box_center``; the equivalent perspective translation for a camera
    with ``focal_length`` and principal point at the image centre is
    ``tz = 2 f / (b s)``, ``tx + 2 (cx - W/2) / (b s)``, ``ty + 2 (cy - H/2) / (b s)``.
    """
    s, tx, ty = pred_cam[..., 0], pred_cam[..., 1], pred_cam[..., 2]
    bs = box_size * s + 1e-9
    w, h = img_size[..., 0], img_size[..., 1]
    tz = 2 * focal_length / bs
    return np.stack([tx + 2 * (box_center[..., 0] - w / 2) / bs, ty + 2 * (box_center[..., 1] - h / 2) / bs, tz], -1)


def mirror_params(p: ManoParams) -> ManoParams:
    """Mirror a hand about the camera's y-z plane (x -> -x): left <-> right.

    Axis-angle (x, y, z) -> (x, -y, -z); translation x -> -x.
    """
    flip = np.array([1.0, -1.0, -1.0])
    return ManoParams(p.global_orient * flip, (p.hand_pose.reshape(-1, 15, 3) * flip).reshape(-1, 45),
                      p.betas.copy(), p.transl * np.array([-1.0, 1.0, 1.0]))


def hamer_frames_to_clip(frames: Sequence[dict[str, Any]], fps: float, image_size: tuple[int, int],
                         focal_length: float | None = None, instructions: Sequence[str] = (),
                         frame_refs: FrameRefs | None = None) -> Clip:
    """Convert per-frame HaMeR-style dicts into one canonical clip.

    Each frame dict has ``global_orient`` (1,3,3) or (3,3) rotation matrix,
    ``hand_pose`` (15,3,3) rotation matrices, ``betas`` (10,), ``pred_cam``
    (3,) = (s, tx, ty) for the crop, ``box_center`` (2,), ``box_size`` scalar,
    ``is_right`` (bool/0-1). Missing frames may be ``None`` (marked invalid and
    filled by the nearest valid frame). HaMeR predicts a right hand for every
    crop (left crops are flipped), so left-hand frames are mirrored back; the
    clip's hand side is the majority over frames. Default focal length is
    HaMeR's ``5000 / 256 * max(W, H)``.
    """
    w, h = image_size
    f = focal_length if focal_length is not None else 5000.0 / 256.0 * max(w, h)
    n = len(frames)
    if n == 0:
        raise ValueError("hamer_frames_to_clip: no frames")
    valid = np.array([fr is not None for fr in frames])
    if not valid.any():
        raise ValueError("hamer_frames_to_clip: all frames are None")
    rights = {bool(fr["is_right"]) for fr in frames if fr is not None}
    if len(rights) != 1:
        raise ValueError("hamer_frames_to_clip: frames mix left and right hands; split the track per hand")
    is_right = rights.pop()
    go, hp, be, tr = (np.zeros((n, 3)), np.zeros((n, 45)), np.zeros((n, 10)), np.zeros((n, 3)))
    for i, fr in enumerate(frames):
        if fr is None:
            continue
        for key in ("global_orient", "hand_pose", "betas", "pred_cam", "box_center", "box_size", "is_right"):
            if key not in fr:
                raise ValueError(f"hamer frame {i}: missing key {key!r}")
        go[i] = matrix_to_axis_angle(np.asarray(fr["global_orient"], np.float64).reshape(3, 3))
        hp[i] = matrix_to_axis_angle(np.asarray(fr["hand_pose"], np.float64).reshape(15, 3, 3)).reshape(45)
        be[i] = np.asarray(fr["betas"], np.float64).reshape(10)
        cam = np.asarray(fr["pred_cam"], np.float64).copy()
        if not is_right:  # HaMeR flips left crops: un-flip rotations (left MANO) and the crop's tx
            cam[1] = -cam[1]
            go[i] *= (1.0, -1.0, -1.0)
            hp[i] = (hp[i].reshape(15, 3) * (1.0, -1.0, -1.0)).reshape(45)
        tr[i] = cam_crop_to_full(cam, np.asarray(fr["box_center"], np.float64), np.float64(fr["box_size"]),
                                 np.array([w, h], np.float64), f)
    idx = np.where(valid)[0]
    for i in np.where(~valid)[0]:  # nearest valid frame
        j = idx[np.argmin(np.abs(idx - i))]
        go[i], hp[i], be[i], tr[i] = go[j], hp[j], be[j], tr[j]
    meta = ClipMeta(hand="right" if is_right else "left", fps=fps, num_frames=n,
                    intrinsics=Intrinsics(fx=f, fy=f, cx=w / 2, cy=h / 2, width=w, height=h),
                    frame_refs=frame_refs, instructions=list(instructions), source="hamer")
    return Clip(ManoParams(go, hp, be, tr), meta, valid=valid)


def project(points: np.ndarray, intr: Intrinsics) -> np.ndarray:
    """Pinhole projection of camera-frame points (..., 3) -> pixels (..., 2)."""
    z = points[..., 2:3]
    return np.concatenate([intr.fx * points[..., :1] / z + intr.cx, intr.fy * points[..., 1:2] / z + intr.cy], -1)
