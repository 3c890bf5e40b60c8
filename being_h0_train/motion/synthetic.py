"""Synthetic hand-motion clips: grasp-like finger synergies, smooth wrist paths, rendered frames.

Why: no human-video dataset can be downloaded here, yet every stage (motion
tokenizer, instruction tuning, evaluation) needs clips whose motion depends on
the instruction and on what the image shows. Each clip:

- places one coloured object (ball or cube) in front of a canonical camera;
- picks an action (``grasp``, ``release``, ``point``, ``move left``, ``move
  right``, ``lift``) and writes an instruction such as "grasp the red ball";
- moves the wrist along a minimum-jerk path from a start pose to the object
  (and onward for move/lift actions), slerping a small orientation change;
- drives the 15 finger joints with two synergies (power-grasp flexion and
  index extension) whose amplitudes follow the action;
- renders (optionally) frames: background, object disc/square, and the hand
  skeleton projected with the clip intrinsics; ``keypoints_2d`` holds the
  projected 21 joints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .clip import Clip, ClipMeta, ClipObject, Intrinsics, project
from .features import ManoParams
from .mano import ManoLayer, default_mano
from .rotations import axis_angle_to_matrix, matrix_to_axis_angle

ACTIONS = ("grasp", "release", "point", "move left", "move right", "lift")
COLORS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 80, 220), "yellow": (230, 210, 40)}
SHAPES = ("ball", "cube")
BONES = [(0, 1), (1, 2), (2, 3), (3, 17), (0, 4), (4, 5), (5, 6), (6, 18), (0, 10), (10, 11), (11, 12), (12, 19),
         (0, 7), (7, 8), (8, 9), (9, 20), (0, 13), (13, 14), (14, 15), (15, 16)]


@dataclass(frozen=True)
class SyntheticConfig:
    num_frames: int = 64
    fps: float = 30.0
    width: int = 112
    height: int = 112
    focal: float = 120.0
    render: bool = True


def canonical_intrinsics(cfg: SyntheticConfig) -> Intrinsics:
    return Intrinsics(fx=cfg.focal, fy=cfg.focal, cx=cfg.width / 2, cy=cfg.height / 2, width=cfg.width, height=cfg.height)


def _synergies() -> tuple[np.ndarray, np.ndarray]:
    """(flex, point) 45-D axis-angle directions (radians at amplitude 1)."""
    flex = np.zeros((15, 3))
    point = np.zeros((15, 3))
    for chain, gain in ((0, 1.0), (1, 1.1), (2, 1.2), (3, 1.15)):  # index, middle, little, ring
        for k, g in enumerate((0.9, 1.2, 0.8)):
            flex[chain * 3 + k] = (0, 0, -gain * g)
    for k, g in enumerate((0.4, 0.5, 0.6)):  # thumb opposes
        flex[12 + k] = (0.0, -g, -0.3 * g)
    point[:] = flex
    point[0:3] = 0.0  # index stays straight
    return flex.reshape(45), point.reshape(45)


def _min_jerk(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0, 1)
    return 10 * t**3 - 15 * t**4 + 6 * t**5


def _path(points: list[np.ndarray], n: int) -> np.ndarray:
    """Piecewise minimum-jerk path through ``points`` over ``n`` frames."""
    segs = len(points) - 1
    out = np.zeros((n, points[0].shape[0]))
    bounds = np.linspace(0, n, segs + 1).astype(int)
    for s in range(segs):
        a, b = bounds[s], bounds[s + 1]
        tt = _min_jerk(np.linspace(0, 1, b - a))[:, None]
        out[a:b] = points[s] + tt * (points[s + 1] - points[s])
    return out


def _slerp_aa(a0: np.ndarray, a1: np.ndarray, t: np.ndarray) -> np.ndarray:
    r0, r1 = axis_angle_to_matrix(a0), axis_angle_to_matrix(a1)
    rel = matrix_to_axis_angle(r0.T @ r1)
    return matrix_to_axis_angle(r0[None] @ axis_angle_to_matrix(t[:, None] * rel[None]))


def generate_clip(rng: np.random.Generator, cfg: SyntheticConfig = SyntheticConfig(), mano: ManoLayer | None = None,
                  action: str | None = None) -> Clip:
    mano = mano or default_mano()
    n = cfg.num_frames
    intr = canonical_intrinsics(cfg)
    action = action or str(rng.choice(ACTIONS))
    color = str(rng.choice(list(COLORS)))
    shape = str(rng.choice(SHAPES))
    obj_z = rng.uniform(0.45, 0.6)
    obj = np.array([rng.uniform(-0.08, 0.08), rng.uniform(-0.02, 0.08), obj_z])
    radius = rng.uniform(0.025, 0.04)
    betas = np.concatenate([[rng.normal(scale=0.5)], rng.normal(scale=0.3, size=9)])
    j0 = mano.rest_joints(torch.as_tensor(betas, dtype=mano.v_template.dtype))[0].double().numpy()
    # wrist approaches from below-right, palm toward the object
    start = obj + np.array([rng.uniform(0.05, 0.12), rng.uniform(0.05, 0.10), rng.uniform(-0.05, 0.05)])
    near = obj + np.array([0.0, 0.03, -0.06])
    shift = {"move left": np.array([-0.10, 0, 0]), "move right": np.array([0.10, 0, 0]),
             "lift": np.array([0, -0.10, 0])}.get(action, np.zeros(3))
    wrist = _path([start, near, near + shift], n) if np.any(shift) else _path([start, near], n)
    wrist += rng.normal(scale=0.0005, size=wrist.shape)  # small tremor
    o0 = np.array([np.pi / 2, 0, 0]) + rng.normal(scale=0.15, size=3)
    o1 = o0 + rng.normal(scale=0.25, size=3)
    go = _slerp_aa(o0, o1, _min_jerk(np.linspace(0, 1, n)))
    flex, point = _synergies()
    ramp = _min_jerk(np.linspace(-0.3, 1.3, n))
    amp_flex = {"grasp": 0.2 + 0.8 * ramp, "release": 1.0 - 0.9 * ramp, "point": 0.1 + 0.8 * ramp}.get(action, np.full(n, 0.6))
    hand_pose = amp_flex[:, None] * (point if action == "point" else flex)[None]
    hand_pose += rng.normal(scale=0.03, size=45)[None] + rng.normal(scale=0.005, size=(n, 45))
    params = ManoParams(go, hand_pose, np.broadcast_to(betas, (n, 10)), wrist - j0)
    with torch.no_grad():
        dt = mano.v_template.dtype
        out = mano(torch.as_tensor(go, dtype=dt), torch.as_tensor(hand_pose, dtype=dt),
                   torch.as_tensor(params.betas, dtype=dt), torch.as_tensor(params.transl, dtype=dt))
    joints = out.joints.double().numpy()
    kp = project(joints, intr)
    name = f"{color} {shape}"
    meta = ClipMeta(hand="right", fps=cfg.fps, num_frames=n, intrinsics=intr,
                    instructions=[f"{action} the {name}" if not action.startswith("move") else f"{action} the {name}"],
                    source="synthetic", objects=[ClipObject(name=name, center_3d=obj.tolist(), radius=float(radius))])
    frames = render_frames(kp, obj, radius, COLORS[color], shape, intr) if cfg.render else None
    clip = Clip(params, meta, joints.astype(np.float32), kp.astype(np.float32), frames)
    clip.extra["action"] = action
    return clip


def render_frames(kp: np.ndarray, obj: np.ndarray, radius: float, color: tuple[int, int, int], shape: str,
                  intr: Intrinsics) -> np.ndarray:
    """(T, H, W, 3) uint8: gradient background, the object, the projected hand skeleton."""
    import cv2

    h, w = intr.height, intr.width
    bg = np.zeros((h, w, 3), np.uint8)
    bg[:] = np.linspace(90, 150, h, dtype=np.uint8)[:, None, None]
    c = project(obj, intr)
    r = max(2, int(round(intr.fx * radius / obj[2])))
    cv2.rectangle(bg, (0, int(h * 0.75)), (w, h), (110, 90, 70), -1)  # table
    if shape == "ball":
        cv2.circle(bg, (int(c[0]), int(c[1])), r, color, -1, lineType=cv2.LINE_AA)
    else:
        cv2.rectangle(bg, (int(c[0] - r), int(c[1] - r)), (int(c[0] + r), int(c[1] + r)), color, -1)
    frames = np.repeat(bg[None], kp.shape[0], 0)
    for t in range(kp.shape[0]):
        p = kp[t]
        for a, b in BONES:
            cv2.line(frames[t], tuple(int(v) for v in p[a]), tuple(int(v) for v in p[b]), (235, 190, 160), 2, cv2.LINE_AA)
        cv2.circle(frames[t], tuple(int(v) for v in p[0]), 3, (200, 150, 120), -1)
    return frames


def generate_dataset(out_dir: str | Path, num_clips: int, seed: int = 0, cfg: SyntheticConfig = SyntheticConfig()) -> list[Path]:
    """Write ``num_clips`` clips as ``clip_00000.{npz,json}`` and return their bases."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(num_clips):
        clip = generate_clip(rng, cfg)
        out.append(clip.save(Path(out_dir) / f"clip_{i:05d}")[0].with_suffix(""))
    return out

