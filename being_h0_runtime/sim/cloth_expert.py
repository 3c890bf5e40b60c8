"""Scripted expert for unfold_clothes: pinch the flap's free edge, lay it over to the flat side, let go.

Same contract and reasons as the other experts (`task_experts`): every
`act(proprio13, object_poses)` call re-derives the phase from the state alone
(nine cloth landmarks, see `cloth_task`), plans the remaining grasp-site
keyframes and turns them into a min-jerk joint-space chunk.

Reading the fold from the landmarks (no memory needed):
  * the fold is across the axis whose landmark chain (edge midpoint, centre,
    opposite edge midpoint) is bent: its end-to-end distance is well below the
    sum of its two halves;
  * the flap is the straight half (the crease lies in the other one, since the
    flap is longer than half the cloth), so its end is the free edge; once the
    free edge is lifted it is simply the end that is off the table;
  * the cloth's length across the fold is twice the straight half, and the
    direction to lay the flap is perpendicular to the fixed edge (whose
    landmarks never leave the table), into the cloth: the fixed layer is face
    up, so the material axes keep their handedness there.

The pinch: the hand points down with its x axis along that direction, fingers
over the flap and thumb beyond the free edge (on bare table: the flap
overhangs the fixed edge), fingertips grazing the table; closing sweeps the
fingers and thumb together and pinches the edge between them.
"""

from __future__ import annotations

import math

import numpy as np

from .expert import HAND_CLOSED, HAND_OPEN, V_FREE, V_NEAR, _hand_rot, _min_jerk, _wrap
from .expert import ChunkExpertBase as _KeyframeExpert
from .keyframes import Keyframe as TKeyframe

#: grasp-site height (m) at which the fingertips graze the table top
PINCH_Z = 0.024
#: grasp site this far (m) inside the free edge, along the laying direction
PINCH_INSET = 0.012
#: height (m) of the grasp site at which the edge is laid down
PLACE_Z = 0.035
#: the edge is laid this far (m) beyond its flat position, so the cloth ends taut, not wrinkled
OVERSHOOT = 0.0
RETREAT_Z = 0.25
#: the page-turn arc's height as a fraction of its radius (< 1 leaves the flap some slack)
ARC_HEIGHT = 0.85
#: end-to-end / path length of a landmark chain below which that axis counts as folded
FOLDED_STRAIGHTNESS = 0.93
#: a corner further than this (m) from where the rest of the cloth says it belongs gets put back
CORNER_OFF = 0.03
#: straightness above which a held-down flap counts as laid out
LAID_STRAIGHTNESS = 0.97
#: a landmark higher than this (m) is off the table
LIFTED_Z = 0.015
#: mean finger closure above which the hand counts as closed
CLOSED = 0.35
#: hand yaws the FR3's joint 7 reaches with the rest of the arm near home: (-2.3, 3.9) rad
YAW_MIN = -2.3
PINCH_HOLD_S = 0.8


def _unwrap_yaw(yaw: float) -> float:
    """The representative of `yaw` in the reachable window (length < 2 pi, so it is unique)."""
    y = _wrap(yaw)
    return y + 2 * math.pi if y < YAW_MIN else y


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else v


def _straightness(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray) -> float:
    return float(np.linalg.norm(p2 - p0) / max(np.linalg.norm(p1 - p0) + np.linalg.norm(p2 - p1), 1e-9))


def read_fold(object_poses: dict) -> dict | None:
    """The fold to undo next, from the landmarks: None when the cloth lies flat, else a dict with the free
    point to pick up (3,), the fixed point it is measured from, the flat distance between them (`length`),
    the laying direction (`into`, unit, horizontal) and the chain's straightness."""
    L = {k: np.asarray(v[0], float) for k, v in object_poses.items() if k.startswith("cloth_pt")}
    mid = {0: [L["cloth_pt01"], L["cloth_pt11"], L["cloth_pt21"]], 1: [L["cloth_pt10"], L["cloth_pt11"], L["cloth_pt12"]]}
    straight = {axis: _straightness(*ch) for axis, ch in mid.items()}
    top = {axis: max(ch[0][2], ch[2][2]) for axis, ch in mid.items()}
    lifted = max(top.values()) > LIFTED_Z
    axis = max(top, key=top.get) if lifted else min(straight, key=straight.get)
    if lifted or straight[axis] < FOLDED_STRAIGHTNESS:
        return _main_fold(L, axis, mid[axis], lifted, straight[axis])
    return _corner_fold(L)


def _main_fold(L: dict, axis: int, chain: list, lifted: bool, straightness: float) -> dict:
    """The start fold (or its flap held up): its flap is the straight half of the midline chain."""
    p0, p1, p2 = chain
    seg0, seg1 = np.linalg.norm(p1 - p0), np.linalg.norm(p2 - p1)
    if lifted:
        free_end = 2 if p2[2] > p0[2] else 0
    else:
        free_end = 2 if seg1 > seg0 else 0
    fixed_end = 2 - free_end
    # the fixed edge's corners give the material axis along the crease; into the cloth is perpendicular
    if axis == 0:
        c0, c1 = L[f"cloth_pt{fixed_end}0"], L[f"cloth_pt{fixed_end}2"]
        along = _unit(np.r_[(c1 - c0)[:2], 0.0])  # material +v
        into = np.cross(along, [0.0, 0.0, 1.0])  # material +u (u x v = z: the fixed layer is face up)
    else:
        c0, c1 = L[f"cloth_pt0{fixed_end}"], L[f"cloth_pt2{fixed_end}"]
        along = _unit(np.r_[(c1 - c0)[:2], 0.0])  # material +u
        into = np.cross([0.0, 0.0, 1.0], along)  # material +v
    if fixed_end == 2:
        into = -into
    return {"free": chain[free_end], "fixed": chain[fixed_end], "length": 2 * max(seg0, seg1), "into": into,
            "straightness": straightness}


def _corner_fold(L: dict) -> dict | None:
    """A corner out of place after laying out (turned under, or its edge bunched up): each corner belongs
    at twice its edge's straight half from the far corner, along whichever of its two edges is longer
    (less bunched). The corner furthest from where it belongs, if more than `CORNER_OFF` away, is next."""
    best = None
    for a in (0, 2):
        for b in (0, 2):
            corner = L[f"cloth_pt{a}{b}"]
            chains = [(L[f"cloth_pt{2 - a}{b}"], L[f"cloth_pt1{b}"]), (L[f"cloth_pt{a}{2 - b}"], L[f"cloth_pt{a}1"])]
            far, mid = max(chains, key=lambda c: np.linalg.norm(c[1] - c[0]))
            half = float(np.linalg.norm((mid - far)[:2]))
            into = _unit(np.r_[(mid - far)[:2], 0.0])
            off = float(np.linalg.norm((far + 2 * half * into - corner)[:2]))
            if off > CORNER_OFF and (best is None or off > best[0]):
                best = (off, corner, far, 2 * half, into)
    if best is None:
        return None
    off, corner, far, length, into = best
    return {"free": corner, "fixed": far, "length": length, "into": into, "straightness": 1.0 - off}


class ScriptedClothExpert(_KeyframeExpert):
    """Unfold a once-folded cloth (unfold_clothes). See module docstring."""

    name = "cloth"

    def plan(self, proprio: np.ndarray, object_poses: dict) -> tuple[str, list[TKeyframe]]:
        q, closure = proprio[:7], proprio[7:13]
        g_pos, _, g_yaw = self._current(q)
        g_yaw = _unwrap_yaw(g_yaw)
        closed = float(np.mean(closure[:4])) > CLOSED
        fold = read_fold(object_poses)
        up = np.r_[g_pos[:2], RETREAT_Z]
        if fold is None:
            if closed:  # laid out while still pinched: let go, then leave
                return "release", [TKeyframe(g_pos, g_yaw, HAND_OPEN, V_NEAR, hold=PINCH_HOLD_S),
                                   TKeyframe(up, g_yaw, HAND_OPEN, V_NEAR)]
            return "done", [TKeyframe(up, g_yaw, HAND_OPEN, V_FREE)]
        into, free = fold["into"], fold["free"]
        yaw = _unwrap_yaw(math.atan2(into[1], into[0]))
        held = closed and np.linalg.norm(free - g_pos) < 0.05
        if held:
            return self._lay_over(g_pos, g_yaw, fold)
        grasp = np.r_[(free + PINCH_INSET * into)[:2], PINCH_Z]
        pre = np.r_[grasp[:2], grasp[2] + 0.10]
        kfs = []
        dxy = np.linalg.norm(g_pos[:2] - grasp[:2])
        yaw_ok = abs(g_yaw - yaw) < 0.1
        if closed:  # missed pinch: open and back off first
            phase = "regrasp"
            kfs.append(TKeyframe(np.r_[g_pos[:2], pre[2]], g_yaw, HAND_OPEN, V_NEAR, hold=0.3))
            kfs += [TKeyframe(pre, yaw, HAND_OPEN, V_FREE), TKeyframe(grasp, yaw, HAND_OPEN, V_NEAR)]
        elif dxy < 0.01 and abs(g_pos[2] - grasp[2]) < 0.01 and yaw_ok:
            phase = "pinch"
        elif dxy < 0.015 and g_pos[2] < pre[2] + 0.02 and yaw_ok:
            phase = "descend"
            kfs.append(TKeyframe(grasp, yaw, HAND_OPEN, V_NEAR))
        else:
            phase = "reach"
            kfs += [TKeyframe(pre, yaw, HAND_OPEN, V_FREE), TKeyframe(grasp, yaw, HAND_OPEN, V_NEAR)]
        kfs.append(TKeyframe(grasp, yaw, HAND_CLOSED, V_NEAR, hold=PINCH_HOLD_S))
        kfs.append(TKeyframe(grasp + np.array([0.0, 0.0, 0.02]), yaw, HAND_CLOSED, V_NEAR))
        return phase, kfs

    def _lay_over(self, g_pos: np.ndarray, g_yaw: float, fold: dict) -> tuple[str, list[TKeyframe]]:
        """Turn the flap over like a page: the held edge follows a circle in the vertical plane across the
        crease, ending at its flat position. Recomputed from where the hand is now, so a fresh call continues."""
        into, fixed = fold["into"], fold["fixed"]
        offset = g_pos - fold["free"]  # grasp site relative to the held edge
        target = fixed + (fold["length"] + OVERSHOOT) * into + np.r_[offset[:2], 0.0]
        u_h = float((g_pos - fixed) @ into)
        u_t = float((target - fixed) @ into)
        z_h = max(float(g_pos[2]) - PLACE_Z, 0.0)
        side = np.r_[(target - fixed)[:2], 0.0] - u_t * into  # the target's offset along the crease
        side_h = np.r_[(g_pos - fixed)[:2], 0.0] - u_h * into
        open_kf = [TKeyframe(np.r_[target[:2], PLACE_Z], g_yaw, HAND_OPEN, V_NEAR, hold=PINCH_HOLD_S),
                   TKeyframe(np.r_[target[:2], RETREAT_Z], g_yaw, HAND_OPEN, V_FREE)]
        # laid: at the target, or low and past the fixed edge's flat-out distance with the cloth already straight
        # (pulling further would only drag the whole cloth along, and the target with it)
        if z_h < 0.02 and (abs(u_t - u_h) < 0.02 or (u_h > u_t - 0.05 and fold["straightness"] > LAID_STRAIGHTNESS)):
            return "place", open_kf
        # circle through the hand and the target, centred on the table line: the crease when it starts flat
        u_c = (u_t**2 - u_h**2 - z_h**2) / (2 * (u_t - u_h)) if abs(u_t - u_h) > 1e-6 else u_t
        r = abs(u_t - u_c)
        phi_h = math.atan2(z_h, u_h - u_c)
        n = max(1, math.ceil(abs(phi_h) / 0.35))
        kfs = []
        for k in range(1, n + 1):
            phi = phi_h * (1 - k / n)
            s = k / n
            lateral = side_h * (1 - s) + side * s
            pos = fixed + (u_c + r * math.cos(phi)) * into + lateral + np.r_[0.0, 0.0, PLACE_Z + ARC_HEIGHT * r * math.sin(phi)]
            kfs.append(TKeyframe(pos, g_yaw, HAND_CLOSED, V_NEAR))
        return "lay_over", kfs + open_kf

    def act(self, proprio: np.ndarray, object_poses: dict) -> np.ndarray:
        """Next chunk (chunk_len, 13) of absolute targets from proprio (13,) and the cloth landmarks."""
        needed = tuple(f"cloth_pt{a}{b}" for a in range(3) for b in range(3))
        proprio = self._check(proprio, object_poses, needed)
        phase, kfs = self.plan(proprio, object_poses)
        self.last_phase = phase
        return self._chunk(proprio, kfs)

    def _chunk(self, proprio: np.ndarray, kfs: list[TKeyframe], start_tilt: float = 0.0) -> np.ndarray:
        """As the base class, but yaw is interpolated inside the reachable window, not the short way round."""
        q0, c0 = proprio[:7], np.clip(proprio[7:13], 0, 1)
        g_pos, _, g_yaw = self._current(q0)
        start = TKeyframe(g_pos, _unwrap_yaw(g_yaw), c0)
        segs, prev = [], start
        for kf in kfs:
            dur = max(float(np.linalg.norm(kf.pos - prev.pos)) / kf.speed, abs(kf.yaw - prev.yaw) / 1.0)
            segs.append((prev, kf, max(dur, 0.3) if dur > 0 else 0.0, kf.hold))
            prev = kf
        out = np.zeros((self.chunk_len, 13))
        q = q0.copy()
        for i in range(self.chunk_len):
            pos, yaw, hand = _sample(segs, (i + 1) * self.dt, start)
            q = self.ik.solve(q, pos, _hand_rot(yaw))
            out[i, :7] = q
            out[i, 7:] = hand
        return out


def _sample(segs, t: float, start: TKeyframe) -> tuple[np.ndarray, float, np.ndarray]:
    last = start
    for a, b, dur, hold in segs:
        if t < dur:
            s = _min_jerk(t / dur)
            return a.pos + (b.pos - a.pos) * s, a.yaw + (b.yaw - a.yaw) * s, b.hand
        t -= dur
        if t < hold:
            return b.pos, b.yaw, b.hand
        t -= hold
        last = b
    return last.pos, last.yaw, last.hand
