"""MANO feature layouts D51 / D99 / D109 / D114 / D162 (Being-H0, Sec. 3).

Why several layouts: the paper ablates the per-frame motion representation fed
to the motion tokenizer. Each layout is a concatenation of blocks, in this
exact order (dims in brackets):

=====  ==========================================================  =====
name   blocks                                                      dim
=====  ==========================================================  =====
D51    rot_aa[48] (16 joints axis-angle: wrist + 15 finger joints)   51
       + transl[3]
D99    rot_6d[96] (16 joints 6D) + transl[3]                         99
D109   rot_6d[96] + transl[3] + betas[10]                           109
D114   rot_aa[48] + transl[3] + joints[63] (21 joints x 3, camera    114
       frame, metres, i.e. MANO joints incl. transl)
D162   rot_6d[96] + transl[3] + joints[63]                          162
=====  ==========================================================  =====

Within ``rot_*`` joint 0 is the global (wrist) orientation, joints 1..15 the
MANO ``hand_pose`` in MANO order. The 6D block per joint is the first two
rotation-matrix columns (see ``rotations``).

Parts (for the part-level tokenizer): **wrist** = joint-0 rotation + transl
(+ joint-0 position in D114/D162); **fingers** = joints 1..15 rotations
(+ betas in D109, + joints 1..20 positions in D114/D162).

Round trips ``features -> params -> features`` are exact (float64 ~1e-12);
``params -> features -> params`` is exact up to the axis-angle 2*pi ambiguity
for D51/D114 and exact to float precision through 6D for the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .rotations import axis_angle_to_rot6d, rot6d_to_axis_angle

NUM_BETAS = 10
NUM_KEYPOINTS = 21
Block = Literal["rot_aa", "rot_6d", "transl", "betas", "joints"]
_BLOCK_DIMS = {"rot_aa": 48, "rot_6d": 96, "transl": 3, "betas": NUM_BETAS, "joints": NUM_KEYPOINTS * 3}


@dataclass(frozen=True)
class FeatureLayout:
    name: str
    blocks: tuple[Block, ...]
    dim: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dim", sum(_BLOCK_DIMS[b] for b in self.blocks))

    @property
    def rotation(self) -> str:
        return "6d" if "rot_6d" in self.blocks else "aa"

    def block_slice(self, block: Block) -> slice:
        start = 0
        for b in self.blocks:
            if b == block:
                return slice(start, start + _BLOCK_DIMS[b])
            start += _BLOCK_DIMS[b]
        raise KeyError(f"layout {self.name} has no block {block!r}")

    def part_indices(self, part: Literal["wrist", "fingers"]) -> np.ndarray:
        """Feature indices belonging to the wrist or the finger part (disjoint, covering)."""
        wrist, fingers = [], []
        start = 0
        for b in self.blocks:
            n = _BLOCK_DIMS[b]
            idx = np.arange(start, start + n)
            if b in ("rot_aa", "rot_6d", "joints"):
                per = n // (16 if b != "joints" else NUM_KEYPOINTS)
                wrist.extend(idx[:per]); fingers.extend(idx[per:])
            elif b == "transl":
                wrist.extend(idx)
            else:
                fingers.extend(idx)
            start += n
        return np.asarray(wrist if part == "wrist" else fingers, dtype=np.int64)


LAYOUTS: dict[str, FeatureLayout] = {
    "D51": FeatureLayout("D51", ("rot_aa", "transl")),
    "D99": FeatureLayout("D99", ("rot_6d", "transl")),
    "D109": FeatureLayout("D109", ("rot_6d", "transl", "betas")),
    "D114": FeatureLayout("D114", ("rot_aa", "transl", "joints")),
    "D162": FeatureLayout("D162", ("rot_6d", "transl", "joints")),
}


def get_layout(name: str) -> FeatureLayout:
    key = name.upper()
    if key not in LAYOUTS:
        raise ValueError(f"unknown feature layout {name!r}; choose one of {sorted(LAYOUTS)}")
    return LAYOUTS[key]


@dataclass
class ManoParams:
    """Per-frame MANO parameters, numpy float arrays with a leading time axis T."""

    global_orient: np.ndarray  # (T, 3) axis-angle
    hand_pose: np.ndarray  # (T, 45) axis-angle, 15 joints
    betas: np.ndarray  # (T, 10) (constant over a clip in practice)
    transl: np.ndarray  # (T, 3) metres, camera frame

    def __post_init__(self) -> None:
        t = self.global_orient.shape[0]
        for name, dim in (("global_orient", 3), ("hand_pose", 45), ("betas", NUM_BETAS), ("transl", 3)):
            a = np.array(getattr(self, name), dtype=np.float64)
            if name == "betas" and a.ndim == 1:
                a = np.broadcast_to(a, (t, a.shape[0])).copy()
            if a.shape != (t, dim):
                raise ValueError(f"ManoParams.{name} must have shape ({t}, {dim}), got {a.shape}")
            setattr(self, name, a)

    def __len__(self) -> int:
        return self.global_orient.shape[0]

    def slice(self, s: slice) -> "ManoParams":
        return ManoParams(self.global_orient[s], self.hand_pose[s], self.betas[s], self.transl[s])

    @property
    def rot_aa(self) -> np.ndarray:
        return np.concatenate([self.global_orient, self.hand_pose], -1)


def params_to_features(p: ManoParams, layout: FeatureLayout | str, joints: np.ndarray | None = None) -> np.ndarray:
    """(T, layout.dim) float64 features. ``joints`` (T, 21, 3) needed for D114/D162."""
    layout = get_layout(layout) if isinstance(layout, str) else layout
    t = len(p)
    out = []
    for b in layout.blocks:
        if b == "rot_aa":
            out.append(p.rot_aa)
        elif b == "rot_6d":
            out.append(axis_angle_to_rot6d(p.rot_aa.reshape(t, 16, 3)).reshape(t, 96))
        elif b == "transl":
            out.append(p.transl)
        elif b == "betas":
            out.append(p.betas)
        elif b == "joints":
            if joints is None:
                raise ValueError(f"layout {layout.name} needs joints (T, 21, 3); compute them with ManoLayer")
            j = np.asarray(joints, dtype=np.float64)
            if j.shape != (t, NUM_KEYPOINTS, 3):
                raise ValueError(f"joints must be ({t}, {NUM_KEYPOINTS}, 3), got {j.shape}")
            out.append(j.reshape(t, -1))
    return np.concatenate(out, -1)


def features_to_params(x: np.ndarray, layout: FeatureLayout | str,
                       betas: np.ndarray | None = None) -> tuple[ManoParams, np.ndarray | None]:
    """Inverse of ``params_to_features``: returns (params, joints or None).

    Layouts without a betas block take ``betas`` from the argument (default
    zeros), since they do not encode shape.
    """
    layout = get_layout(layout) if isinstance(layout, str) else layout
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != layout.dim:
        raise ValueError(f"features for {layout.name} must be (T, {layout.dim}), got {x.shape}")
    t = x.shape[0]
    if layout.rotation == "6d":
        rot = rot6d_to_axis_angle(x[:, layout.block_slice("rot_6d")].reshape(t, 16, 6)).reshape(t, 48)
    else:
        rot = x[:, layout.block_slice("rot_aa")]
    transl = x[:, layout.block_slice("transl")]
    if "betas" in layout.blocks:
        b = x[:, layout.block_slice("betas")]
    else:
        b = np.zeros((t, NUM_BETAS)) if betas is None else np.broadcast_to(np.asarray(betas, np.float64), (t, NUM_BETAS))
    joints = x[:, layout.block_slice("joints")].reshape(t, NUM_KEYPOINTS, 3) if "joints" in layout.blocks else None
    return ManoParams(rot[:, :3], rot[:, 3:], b, transl), joints
