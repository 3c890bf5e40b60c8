"""Scripted pick-and-place expert that emits absolute joint-space action chunks.

Why it is built this way: the expert must run as a stand-in policy in another
process, called once per chunk with nothing but proprio and object poses. So
it keeps no episode memory that matters: every call re-derives where in the
task we are (reach, grasp, carry, release, retreat) from the state, plans the
*remaining* Cartesian keyframes for the grasp site, and hands them to the
shared keyframe planner (`keyframes.follow`: minimum-jerk segments, IK at each
control tick of the chunk; the IK is damped least squares on the expert's own
MuJoCo model instance).

Action rows: 7 FR3 joint targets (rad) + 6 Inspire closures (0 open, 1 closed)
in DoF order little, ring, middle, index, thumb_bend, thumb_rotation.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from . import franka, scene
from .keyframes import V_FREE, V_NEAR, Keyframe, follow, hand_rot, min_jerk, wrap

#: Hand pre-shape while reaching: fingers open, thumb rotated into opposition.
HAND_OPEN = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
HAND_CLOSED = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])

TABLE_Z = 0.0
#: Heights of the grasp site (m, base frame).
PRE_GRASP_DZ = 0.12  # above the grasp point while aligning
CARRY_Z = 0.22
MIN_GRASP_Z = 0.028  # keeps fingertips off the table
RELEASE_Z = scene.BOX_HEIGHT + 0.06
RETREAT_Z = 0.32
HAND_SECONDS = 0.8  # time allotted to close or open the hand (the rig's stroke is 0.7 s)
GRASP_SETTLE_S = 0.4
LOW_Z = 0.045  # grasp site below this: the toy is still near the table
#: Measured closures that, with the toy at the grasp site, mean "holding it".
GRASPED_FINGERS = 0.04
GRASPED_THUMB = 0.06
LIFTED_Z = 0.05  # toy centre above this (and at the grasp site): it is off the table


def _yaw_of(quat_xyzw: np.ndarray) -> float:
    x, y, z, w = quat_xyzw
    return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


class ArmIK:
    """Damped-least-squares IK on the `grasp` site of an arm+hand-only model."""

    def __init__(self) -> None:
        self.model = mujoco.MjModel.from_xml_string(scene.build_mjcf(scene.SceneSpec(with_objects=False)))
        self.data = mujoco.MjData(self.model)
        self.site = self.model.site("grasp").id
        self._jp = np.zeros((3, self.model.nv))
        self._jr = np.zeros((3, self.model.nv))

    def fk(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grasp-site (position, rotation matrix) for arm joints `q`."""
        self.data.qpos[:7] = q
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self.site].copy(), self.data.site_xmat[self.site].reshape(3, 3).copy()

    def solve(self, q0: np.ndarray, pos: np.ndarray, rot: np.ndarray, iters: int = 60, damping: float = 0.03) -> np.ndarray:
        """Joint angles near `q0` putting the grasp site at (pos, rot); best effort within joint limits."""
        m, d = self.model, self.data
        q = np.array(q0, dtype=float)
        target_quat = np.zeros(4)
        mujoco.mju_mat2Quat(target_quat, rot.reshape(-1))
        cur_quat, err_rot = np.zeros(4), np.zeros(3)
        for _ in range(iters):
            d.qpos[:7] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            err_pos = pos - d.site_xpos[self.site]
            mujoco.mju_mat2Quat(cur_quat, d.site_xmat[self.site])
            mujoco.mju_subQuat(err_rot, target_quat, cur_quat)  # in the current site frame
            err_rot = d.site_xmat[self.site].reshape(3, 3) @ err_rot  # -> base frame, like the Jacobian
            err = np.r_[err_pos, 0.5 * err_rot]
            if np.linalg.norm(err_pos) < 2e-4 and np.linalg.norm(err_rot) < 2e-3:
                break
            mujoco.mj_jacSite(m, d, self._jp, self._jr, self.site)
            J = np.vstack([self._jp[:, :7], 0.5 * self._jr[:, :7]])
            JJt = J @ J.T + damping**2 * np.eye(6)
            dq = J.T @ np.linalg.solve(JJt, err)
            # null-space pull towards home keeps the elbow in a familiar configuration
            N = np.eye(7) - J.T @ np.linalg.solve(JJt, J)
            dq += N @ (0.05 * (franka.HOME_Q - q))
            step = np.linalg.norm(dq)
            if step > 0.3:
                dq *= 0.3 / step
            q = np.clip(q + dq, franka.Q_MIN + 1e-3, franka.Q_MAX - 1e-3)
        return q


class ChunkExpertBase:
    """What every scripted expert shares: chunk length, step, its own IK model, the phase it last planned,
    input checks and turning keyframes into a chunk (`keyframes.follow`)."""

    #: Whether the IK target includes the keyframes' tilt about the hand x axis (see `keyframes.follow`).
    tilted = True

    def __init__(self, chunk_len: int = 16, control_rate_hz: float = 10.0) -> None:
        if chunk_len < 1:
            raise ValueError(f"{type(self).__name__} chunk_len: must be >= 1, got {chunk_len}")
        if not control_rate_hz > 0:
            raise ValueError(f"{type(self).__name__} control_rate_hz: must be > 0, got {control_rate_hz}")
        self.chunk_len = int(chunk_len)
        self.dt = 1.0 / float(control_rate_hz)
        self.ik = ArmIK()
        self.last_phase = "reset"

    def reset(self) -> None:
        """Nothing to forget (decisions come from the state); kept for the policy interface."""
        self.last_phase = "reset"

    def _check(self, proprio: np.ndarray, object_poses: dict, needed: tuple[str, ...]) -> np.ndarray:
        """`proprio` as a flat float array; ValueError naming the problem if it or `object_poses` is unusable."""
        proprio = np.asarray(proprio, dtype=float).reshape(-1)
        if proprio.shape != (13,) or not np.all(np.isfinite(proprio)):
            raise ValueError(f"{type(self).__name__}.act proprio: need 13 finite values (7 arm rad + 6 closure), "
                             f"got shape {proprio.shape}")
        for k in needed:
            if k not in object_poses:
                raise ValueError(f"{type(self).__name__}.act object_poses: missing {k!r} (have {sorted(object_poses)})")
        return proprio

    def _current(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Grasp-site position, rotation and heading (yaw) for arm joints `q`."""
        g_pos, g_rot = self.ik.fk(q)
        return g_pos, g_rot, math.atan2(g_rot[1, 0], g_rot[0, 0])

    def _chunk(self, proprio: np.ndarray, kfs: list[Keyframe], start_tilt: float = 0.0) -> np.ndarray:
        """The chunk (chunk_len, 13) that follows `kfs` from the current state."""
        q0, c0 = proprio[:7], np.clip(proprio[7:13], 0, 1)
        g_pos, _, g_yaw = self._current(q0)
        start = Keyframe(g_pos, g_yaw, c0, tilt=start_tilt)
        return follow(self.ik, q0, start, kfs, self.chunk_len, self.dt, tilted=self.tilted)


class ScriptedPickPlaceExpert(ChunkExpertBase):
    """Pick the toy, put it in the box, retreat. See module docstring."""

    tilted = False  # never tilts; its chunks stay those its demos and benchmarks were made with

    # ---------------------------------------------------------------- planning
    def _grasp_yaw(self, toy_pos: np.ndarray, toy_quat: np.ndarray) -> float:
        """Heading across a face of the toy, closest to pointing away from the base."""
        nominal = math.atan2(toy_pos[1], toy_pos[0])
        toy_yaw = _yaw_of(toy_quat)
        off = min((wrap(toy_yaw + k * math.pi / 2 - nominal) for k in range(4)), key=abs)
        return nominal + off

    def plan(self, proprio: np.ndarray, object_poses: dict) -> tuple[str, list[Keyframe]]:
        """Phase name and remaining keyframes from the current state."""
        q, closure = proprio[:7], proprio[7:13]
        g_pos, g_rot = self.ik.fk(q)
        g_yaw = math.atan2(g_rot[1, 0], g_rot[0, 0])
        toy_pos, toy_quat = (np.asarray(v, dtype=float) for v in object_poses["toy"])
        box_pos, box_quat = (np.asarray(v, dtype=float) for v in object_poses["box"])
        fingers = float(np.mean(closure[:4]))

        # is the toy over the box footprint (box frame)?
        by = _yaw_of(box_quat)
        rel = toy_pos[:2] - box_pos[:2]
        local = np.array([math.cos(by) * rel[0] + math.sin(by) * rel[1], -math.sin(by) * rel[0] + math.cos(by) * rel[1]])
        toy_over_box = bool(np.all(np.abs(local) < scene.BOX_INNER_HALF + 0.01)) and toy_pos[2] < 0.25
        # Fingers stall on the toy, so a firm grasp shows as small but non-zero closures.
        # A toy in the air next to the grasp site is held whatever the closures read.
        near = np.linalg.norm(toy_pos - g_pos) < 0.035
        grasped = near and ((fingers > GRASPED_FINGERS and closure[4] > GRASPED_THUMB) or toy_pos[2] > LIFTED_Z)

        release = np.r_[box_pos[:2], RELEASE_Z]
        retreat = np.r_[g_pos[:2], RETREAT_Z]
        carry_yaw = g_yaw
        if toy_over_box and not grasped:
            return "retreat", [Keyframe(retreat, g_yaw, HAND_OPEN, V_FREE)]

        if grasped:
            return self._plan_carry(g_pos, release, carry_yaw)
        return self._plan_pick(g_pos, g_yaw, toy_pos, toy_quat, fingers)

    def _plan_carry(self, g_pos: np.ndarray, release: np.ndarray, carry_yaw: float) -> tuple[str, list[Keyframe]]:
        """The toy is in the hand: lift, carry over the box, lower, open, retreat (from wherever it is now)."""
        kfs: list[Keyframe] = []
        near_box = np.linalg.norm(g_pos[:2] - release[:2]) < 0.02
        at_release = near_box and abs(g_pos[2] - RELEASE_Z) < 0.02
        if at_release:
            phase = "release"
        elif near_box:
            phase = "lower"
            kfs.append(Keyframe(release, carry_yaw, HAND_CLOSED, V_NEAR))
        else:
            phase = "carry"
            if g_pos[2] < LOW_Z:
                # still at table height: let the grip build up, then a short slow lift
                kfs.append(Keyframe(g_pos, carry_yaw, HAND_CLOSED, V_NEAR, hold=GRASP_SETTLE_S))
                kfs.append(Keyframe(g_pos + np.array([0, 0, 0.03]), carry_yaw, HAND_CLOSED, V_NEAR))
            if g_pos[2] < CARRY_Z - 0.03:
                kfs.append(Keyframe(np.r_[g_pos[:2], CARRY_Z], carry_yaw, HAND_CLOSED, V_NEAR))
            kfs.append(Keyframe(np.r_[release[:2], CARRY_Z], carry_yaw, HAND_CLOSED, V_FREE))
            kfs.append(Keyframe(release, carry_yaw, HAND_CLOSED, V_NEAR))
        kfs.append(Keyframe(release, carry_yaw, HAND_OPEN, V_NEAR, hold=HAND_SECONDS))
        kfs.append(Keyframe(np.r_[release[:2], RETREAT_Z], carry_yaw, HAND_OPEN, V_FREE))
        return phase, kfs

    def _plan_pick(self, g_pos: np.ndarray, g_yaw: float, toy_pos: np.ndarray, toy_quat: np.ndarray,
                   fingers: float) -> tuple[str, list[Keyframe]]:
        """The hand is empty: reach above the toy, descend, close, lift (backing off first after a failed grasp)."""
        yaw = self._grasp_yaw(toy_pos, toy_quat)
        grasp = np.r_[toy_pos[:2], max(toy_pos[2], MIN_GRASP_Z)]
        pre = grasp + np.array([0, 0, PRE_GRASP_DZ])
        dxy = np.linalg.norm(g_pos[:2] - grasp[:2])
        yaw_ok = abs(wrap(g_yaw - yaw)) < 0.1
        kfs: list[Keyframe] = []
        if dxy < 0.012 and abs(g_pos[2] - grasp[2]) < 0.012 and yaw_ok:
            phase = "grasp"
        elif dxy < 0.015 and g_pos[2] < pre[2] + 0.02 and yaw_ok and fingers < 0.2:
            phase = "descend"
            kfs.append(Keyframe(grasp, yaw, HAND_OPEN, V_NEAR))
        else:
            phase = "reach"
            if fingers > 0.2 and g_pos[2] < pre[2]:  # failed grasp: open and back off first
                kfs.append(Keyframe(np.r_[g_pos[:2], pre[2]], g_yaw, HAND_OPEN, V_NEAR, hold=0.3))
            kfs.append(Keyframe(pre, yaw, HAND_OPEN, V_FREE))
            kfs.append(Keyframe(grasp, yaw, HAND_OPEN, V_NEAR))
        kfs.append(Keyframe(grasp, yaw, HAND_CLOSED, V_NEAR, hold=HAND_SECONDS))
        kfs.append(Keyframe(np.r_[grasp[:2], CARRY_Z], yaw, HAND_CLOSED, V_NEAR))
        return phase, kfs

    # ------------------------------------------------------------------- acting
    def act(self, proprio: np.ndarray, object_poses: dict) -> np.ndarray:
        """Next chunk (chunk_len, 13) of absolute targets from proprio (13,) and privileged object poses."""
        proprio = self._check(proprio, object_poses, ("toy", "box"))
        phase, kfs = self.plan(proprio, object_poses)
        self.last_phase = phase
        return self._chunk(proprio, kfs)


# Former private names of the planner helpers, kept for experts written against them (another branch's).
_hand_rot, _min_jerk, _wrap = hand_rot, min_jerk, wrap
