"""Scripted experts for close_lid, close_toolbox and pour_cup, and `make_expert(task)`.

Same contract and the same reasons as `expert.ScriptedPickPlaceExpert`: each
`act(proprio13, object_poses)` call re-derives the phase from the state alone
(the node graph calls it from another process once per half chunk), plans the
remaining grasp-site keyframes and hands them to the shared planner
(`keyframes.follow`). Keyframes here also use their `tilt` (rotation about the
hand's x axis) so the pour expert can tip the cup.

Hinged lids (close_lid, close_toolbox): the hand makes a fist and pushes the
open lid's outer face with the front (+x) edge of its palm, moving horizontally
at a fixed height above the hinge until the lid is well past vertical; gravity
(and the hinge damping) then closes it while the hand backs off. The hinge
angle is read from the lid's pose relative to its container.

pour_cup: the pick-and-place expert's reach/descend/grasp plan (the cup is
graspable like the toy), then carry the cup over the bowl and tilt it about the
hand's x axis so the mouth points away from the robot, and hold it there.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

from .expert import (
    CARRY_Z,
    GRASPED_FINGERS,
    GRASPED_THUMB,
    HAND_CLOSED,
    LIFTED_Z,
    LOW_Z,
    ChunkExpertBase,
    ScriptedPickPlaceExpert,
)
from .keyframes import V_FREE, V_NEAR, Keyframe, wrap

#: fist for pushing: fingers curled (their joint stop makes the palm edge rigid), thumb folded back
HAND_FIST = np.array([1.0, 1.0, 1.0, 1.0, 0.3, 0.0])
#: the push point (front-bottom edge of the fist) relative to the grasp site: along hand +x and world up
PUSH_DX = 0.05
PUSH_DZ = 0.065
#: push height above the hinge, and where the push ends (lid angle, rad) before gravity takes over
PUSH_H = 0.07
PUSH_END_RAD = 1.0
#: lid angle below which the expert stops pushing and backs off
GRAVITY_RAD = 1.25
APPROACH_Z = 0.20  # push point height above the hinge while moving into position
V_PUSH = 0.06


# Former names, kept for experts written against them (another branch's): keyframes carry the tilt now,
# and the expert base class does the chunking.
TKeyframe = Keyframe
_KeyframeExpert = ChunkExpertBase


# ---------------------------------------------------------------------------------------------- hinged lids
def lid_names(object_poses: dict) -> tuple[str, str]:
    """(container, lid) body names: the lid is the pose named '<container>_lid'."""
    for k in object_poses:
        if k.endswith("_lid") and k[: -len("_lid")] in object_poses:
            return k[: -len("_lid")], k
    raise ValueError(f"object_poses: no '<container>' + '<container>_lid' pair (have {sorted(object_poses)})")


def lid_frame(object_poses: dict) -> tuple[np.ndarray, np.ndarray, float]:
    """Hinge origin (base frame), container rotation (columns: push dir, hinge axis, up) and the hinge angle."""
    body, lid = lid_names(object_poses)
    R_c = Rotation.from_quat(object_poses[body][1]).as_matrix()
    R_l = Rotation.from_quat(object_poses[lid][1]).as_matrix()
    rel = R_c.T @ R_l  # rotation about container -y by the hinge angle
    angle = math.atan2(rel[2, 0], rel[0, 0])
    return np.asarray(object_poses[lid][0], float), R_c, angle


class ScriptedLidExpert(ChunkExpertBase):
    """Push an open hinged lid closed (close_lid, close_toolbox). See module docstring."""

    name = "lid"

    def plan(self, proprio: np.ndarray, object_poses: dict) -> tuple[str, list[Keyframe]]:
        hinge, R_c, angle = lid_frame(object_poses)
        u = R_c[:, 0]
        yaw = math.atan2(u[1], u[0])
        up = np.array([0.0, 0.0, 1.0])
        g_pos, _, g_yaw = self._current(proprio[:7])
        push = g_pos + PUSH_DX * np.r_[math.cos(g_yaw), math.sin(g_yaw), 0.0] + PUSH_DZ * up
        local = R_c.T @ (push - hinge)

        def kf(x: float, z: float, hand=HAND_FIST, speed=V_FREE, hold=0.0) -> Keyframe:
            """Keyframe for the push point at (x, 0, z) in the hinge frame."""
            p = hinge + R_c @ np.array([x, 0.0, z])
            return Keyframe(p - PUSH_DX * u - PUSH_DZ * up, yaw, hand, speed, hold)

        def surface_x(a: float, h: float) -> float:
            return h / math.tan(a) - 0.01 / math.sin(a)  # outer face of the lid at height h

        retreat = kf(-0.14, APPROACH_Z, HAND_FIST, V_FREE)
        if angle < GRAVITY_RAD:
            if local[2] > APPROACH_Z - 0.03 and local[0] < -0.1:
                return ("done" if angle < 0.1 else "wait"), [retreat]
            back = kf(min(local[0], 0.0) - 0.05, max(local[2], PUSH_H) + 0.05, HAND_FIST, V_NEAR)
            return "retreat", [back, retreat]
        x_end = surface_x(PUSH_END_RAD, PUSH_H)
        x_start = min(surface_x(angle, PUSH_H), -math.cos(math.pi - angle) * 0.13 - 0.01) - 0.045
        yaw_ok = abs(wrap(g_yaw - yaw)) < 0.15
        end = [kf(x_end, PUSH_H, speed=V_PUSH, hold=0.3), kf(x_end - 0.06, PUSH_H + 0.06, speed=V_NEAR), retreat]
        if yaw_ok and abs(local[1]) < 0.025 and abs(local[2] - PUSH_H) < 0.02 and local[0] < surface_x(angle, PUSH_H) + 0.02:
            return "push", end
        if yaw_ok and abs(local[1]) < 0.02 and abs(local[0] - x_start) < 0.02 and local[2] > PUSH_H - 0.02:
            return "descend", [kf(x_start, PUSH_H, speed=V_NEAR), *end]
        return "approach", [kf(x_start, APPROACH_Z), kf(x_start, PUSH_H, speed=V_NEAR), *end]

    def act(self, proprio: np.ndarray, object_poses: dict) -> np.ndarray:
        """Next chunk (chunk_len, 13) of absolute targets from proprio (13,) and privileged object poses."""
        proprio = self._check(proprio, object_poses, ())
        lid_names(object_poses)
        phase, kfs = self.plan(proprio, object_poses)
        self.last_phase = phase
        return self._chunk(proprio, kfs)


# ---------------------------------------------------------------------------------------------- pour_cup
#: pour pose: grasp-site height above the bowl floor, the tilt (rad) and how long to hold it
POUR_Z = 0.22
POUR_TILT = 2.3
POUR_HOLD_S = 3.0
POUR_YAW = 0.0  # hand heading while pouring (the mouth then points along the hand's +y axis)
RIM_OFFSET = 0.04  # grasp site -> cup mouth distance used to put the mouth over the bowl centre
#: grasp the cup this far above its centre (keeps the mouth away from the palm when tipped)
CUP_GRASP_DZ = 0.012


def tilt_of(g_rot: np.ndarray) -> float:
    """Tilt about the hand x axis of a grasp-site rotation `hand_rot(yaw) @ rot_x(tilt)` (see `keyframes`)."""
    z = g_rot[:, 2]  # hand z (fingers) in the base frame: (-sin t * y_h, -cos t)
    y_h = np.cross(np.array([0.0, 0.0, -1.0]), g_rot[:, 0])  # the untilted hand y axis
    return math.atan2(-float(z @ y_h), -float(z[2]))


class ScriptedPourExpert(ChunkExpertBase):
    """Grasp the cup, carry it over the bowl, tilt it and hold (pour_cup). See module docstring."""

    name = "pour"

    def __init__(self, chunk_len: int = 16, control_rate_hz: float = 10.0) -> None:
        super().__init__(chunk_len, control_rate_hz)
        self._pick = ScriptedPickPlaceExpert(chunk_len, control_rate_hz)
        self._pick.ik = self.ik

    def plan(self, proprio: np.ndarray, object_poses: dict) -> tuple[str, list[Keyframe]]:
        q, closure = proprio[:7], proprio[7:13]
        g_pos, g_rot, g_yaw = self._current(q)
        tilt = tilt_of(g_rot)
        cup = np.asarray(object_poses["cup"][0], float)
        bowl = np.asarray(object_poses["bowl"][0], float)
        fingers = float(np.mean(closure[:4]))
        near = np.linalg.norm(cup - g_pos) < 0.04
        grasped = near and ((fingers > GRASPED_FINGERS and closure[4] > GRASPED_THUMB) or cup[2] > LIFTED_Z)
        if not grasped:
            cup_pose = (cup + np.array([0.0, 0.0, CUP_GRASP_DZ]), object_poses["cup"][1])
            return self._pick.plan(proprio, {"toy": cup_pose, "box": object_poses["bowl"]})
        mouth = np.array([math.sin(POUR_YAW), -math.cos(POUR_YAW)]) * math.sin(POUR_TILT)
        pour = np.r_[bowl[:2] - RIM_OFFSET * mouth, bowl[2] + POUR_Z]
        above = np.r_[pour[:2], max(CARRY_Z, pour[2])]
        tilt_kf = Keyframe(pour, POUR_YAW, HAND_CLOSED, V_NEAR, hold=POUR_HOLD_S, tilt=POUR_TILT)
        # once tipping, IK at large tilts may lag the position a little: do not go back to carrying
        tol = 0.06 if tilt > 0.3 else 0.02
        at_pour = np.linalg.norm(g_pos[:2] - pour[:2]) < tol and abs(g_pos[2] - pour[2]) < tol + 0.01
        if at_pour and tilt > 0.05:
            return ("pour" if tilt > POUR_TILT - 0.1 else "tilt"), [tilt_kf]
        if at_pour:
            return "tilt", [tilt_kf]
        kfs: list[Keyframe] = []
        if g_pos[2] < LOW_Z:  # still at table height: let the grip build up, then a short slow lift
            kfs.append(Keyframe(g_pos, g_yaw, HAND_CLOSED, V_NEAR, hold=0.4))
            kfs.append(Keyframe(g_pos + np.array([0, 0, 0.03]), g_yaw, HAND_CLOSED, V_NEAR))
        if np.linalg.norm(g_pos[:2] - pour[:2]) > 0.03 and g_pos[2] < CARRY_Z - 0.03:
            kfs.append(Keyframe(np.r_[g_pos[:2], CARRY_Z], g_yaw, HAND_CLOSED, V_NEAR))
        kfs.append(Keyframe(above, POUR_YAW, HAND_CLOSED, V_FREE))
        kfs.append(Keyframe(pour, POUR_YAW, HAND_CLOSED, V_NEAR))
        kfs.append(tilt_kf)
        return "carry", kfs

    def act(self, proprio: np.ndarray, object_poses: dict) -> np.ndarray:
        """Next chunk (chunk_len, 13) of absolute targets from proprio (13,) and privileged object poses."""
        proprio = self._check(proprio, object_poses, ("cup", "bowl"))
        phase, kfs = self.plan(proprio, object_poses)
        self.last_phase = phase
        return self._chunk(proprio, kfs, start_tilt=tilt_of(self._current(proprio[:7])[1]))


# ---------------------------------------------------------------------------------------------- factory
def expert_class(task: str) -> type:
    """The scripted expert class for a VirtualRig task name."""
    classes = {"pick_place_toy": ScriptedPickPlaceExpert, "close_lid": ScriptedLidExpert,
               "close_toolbox": ScriptedLidExpert, "pour_cup": ScriptedPourExpert}
    from .cloth_expert import ScriptedClothExpert  # the cloth task's module is loaded only when asked for

    classes["unfold_clothes"] = ScriptedClothExpert
    if task not in classes:
        raise ValueError(f"make_expert task: unknown {task!r}; allowed: {', '.join(classes)}")
    return classes[task]


def make_expert(task: str = "pick_place_toy", chunk_len: int = 16, control_rate_hz: float = 10.0):
    """A scripted expert for `task` with the `act(proprio13, object_poses) -> (chunk_len, 13)` contract."""
    return expert_class(task)(chunk_len=chunk_len, control_rate_hz=control_rate_hz)


def task_from_poses(object_poses: dict) -> str:
    """Which task a privileged-state dict belongs to (for a policy built without a task name)."""
    if "toy" in object_poses and "box" in object_poses:
        return "pick_place_toy"
    if "cup" in object_poses and "bowl" in object_poses:
        return "pour_cup"
    if "toolbox_lid" in object_poses:
        return "close_toolbox"
    if "lidbox_lid" in object_poses:
        return "close_lid"
    if "cloth_pt11" in object_poses:
        return "unfold_clothes"
    raise ValueError(f"object_poses: no known task's objects (have {sorted(object_poses)})")
