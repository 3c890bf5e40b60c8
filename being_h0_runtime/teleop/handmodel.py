"""21-keypoint hand (MediaPipe order): joint-angle features, and a synthetic hand for scripted operators.

Features are angles between consecutive bones, so they do not depend on the
frame the keypoints are given in, nor on the operator's bone lengths:

- little/ring/middle/index: the sum of the MCP, PIP and DIP flexion angles;
- thumb_bend: the sum of the thumb MCP and IP flexion angles;
- thumb_rotation: the azimuth of the thumb metacarpal around the palm's
  long axis, from the palm plane (0, thumb beside the hand) toward the palm
  side (opposition), using a palm frame built from wrist, index MCP, middle
  MCP and little MCP.

The synthetic hand produces keypoints whose features are *linear* in the
requested Inspire closures (0 open .. 1 closed), so retargeting a
synthesised hand with a calibration from the same hand gives the closures back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# Inspire DoF order, as published on /hand/command and in the 13-d action
from ..rig import HAND_DOF_NAMES as INSPIRE_DOFS

FINGER_CHAINS = {  # name -> keypoint indices MCP, PIP, DIP, TIP
    "index": (5, 6, 7, 8),
    "middle": (9, 10, 11, 12),
    "ring": (13, 14, 15, 16),
    "little": (17, 18, 19, 20),
}
THUMB_CHAIN = (1, 2, 3, 4)  # CMC, MCP, IP, TIP


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    c = float(np.dot(_unit(a), _unit(b)))
    return math.acos(max(-1.0, min(1.0, c)))


def palm_frame(kp: np.ndarray) -> np.ndarray:
    """3x3, columns x (wrist -> middle MCP), y (toward the thumb side), z (palm side: fingers flex toward +z)."""
    # z from the palm plane (wrist, index MCP, little MCP), then x toward the middle MCP within it:
    # the frame is independent of where along x each knuckle sits
    z = _unit(np.cross(kp[5] - kp[0], kp[17] - kp[0]))
    if np.dot(z, np.cross(kp[9] - kp[0], kp[5] - kp[17])) < 0:
        z = -z
    m = kp[9] - kp[0]
    x = _unit(m - np.dot(m, z) * z)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def hand_features(kp: np.ndarray) -> np.ndarray:
    """Raw angle features (radians) in INSPIRE_DOFS order from (21, 3) keypoints."""
    kp = np.asarray(kp, dtype=np.float64)
    out = np.empty(6)
    for i, name in enumerate(INSPIRE_DOFS[:4]):
        m, p, d, t = FINGER_CHAINS[name]
        b0, b1, b2, b3 = kp[m] - kp[0], kp[p] - kp[m], kp[d] - kp[p], kp[t] - kp[d]
        out[i] = _angle(b0, b1) + _angle(b1, b2) + _angle(b2, b3)
    c, m, ip, t = THUMB_CHAIN
    d0, d1, d2 = kp[m] - kp[c], kp[ip] - kp[m], kp[t] - kp[ip]
    out[4] = _angle(d0, d1) + _angle(d1, d2)
    R = palm_frame(kp)
    local = R.T @ d0
    out[5] = math.atan2(local[2], local[1])
    return out


@dataclass
class SyntheticHand:
    """A kinematic hand in the wrist frame (x forward, y toward thumb, z palm side), metres/radians.

    `scale` sizes the bones and `reach` scales the flexion range (an operator
    whose fist is looser than nominal has reach < 1), so tests can model
    different operators.
    """

    scale: float = 1.0
    reach: float = 1.0
    #: flexion at closure 1 (MCP, PIP, DIP) and thumb (MCP, IP), radians
    finger_max: tuple[float, float, float] = (math.radians(80), math.radians(95), math.radians(65))
    thumb_max: tuple[float, float] = (math.radians(50), math.radians(70))
    thumb_rot_max: float = math.radians(80)
    thumb_splay: float = math.radians(40)
    mcp: dict[str, tuple[float, float]] = field(default_factory=lambda: {
        "index": (0.090, 0.025), "middle": (0.092, 0.0), "ring": (0.088, -0.018), "little": (0.082, -0.035)})
    bones: dict[str, tuple[float, float, float]] = field(default_factory=lambda: {
        "index": (0.040, 0.025, 0.020), "middle": (0.045, 0.028, 0.022),
        "ring": (0.042, 0.026, 0.020), "little": (0.032, 0.020, 0.018)})
    thumb_bones: tuple[float, float, float] = (0.040, 0.032, 0.028)
    thumb_cmc: tuple[float, float] = (0.025, 0.030)

    def keypoints(self, closures: np.ndarray | list[float]) -> np.ndarray:
        """(21, 3) keypoints for closures in INSPIRE_DOFS order (0 open .. 1 closed)."""
        c = np.clip(np.asarray(closures, dtype=np.float64), 0.0, 1.0)
        s, k = self.scale, self.reach
        kp = np.zeros((21, 3))
        z = np.array([0.0, 0.0, 1.0])
        for i, name in enumerate(INSPIRE_DOFS[:4]):
            chain = FINGER_CHAINS[name]
            base = np.array([*self.mcp[name], 0.0]) * s
            kp[chain[0]] = base
            u = _unit(base)
            theta, pos = 0.0, base
            for j, length in enumerate(self.bones[name]):
                theta += k * c[i] * self.finger_max[j]
                d = math.cos(theta) * u + math.sin(theta) * z
                pos = pos + length * s * d
                kp[chain[j + 1]] = pos
        # thumb: built in the palm plane, bent about its own axis, then rotated about x (opposition)
        cmc = np.array([*self.thumb_cmc, 0.0]) * s
        d0 = np.array([math.cos(self.thumb_splay), math.sin(self.thumb_splay), 0.0])
        bend_axis_dir = z  # bending within the plane spanned by d0 and z
        pts = [np.zeros(3)]
        theta, pos = 0.0, np.zeros(3)
        for j, length in enumerate(self.thumb_bones):
            if j > 0:
                theta += k * c[4] * self.thumb_max[j - 1]
            d = math.cos(theta) * d0 + math.sin(theta) * bend_axis_dir
            pos = pos + length * s * d
            pts.append(pos)
        r = k * c[5] * self.thumb_rot_max
        rot = np.array([[1, 0, 0], [0, math.cos(r), -math.sin(r)], [0, math.sin(r), math.cos(r)]])
        for idx, p in zip(THUMB_CHAIN, pts):
            kp[idx] = cmc + rot @ p
        return kp


#: reference poses an operator holds during calibration (closures in INSPIRE_DOFS order)
OPEN_POSE = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
FIST_POSE = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.3])
PINCH_POSE = np.array([0.1, 0.1, 0.2, 0.55, 0.5, 1.0])
