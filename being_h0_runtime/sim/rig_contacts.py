"""Contacts of the virtual rig's hand: per-finger forces, which fingers touch the toy, toy in the box.

Split from ``world.py``: these read MuJoCo's contact list through the body ids ``VirtualRig`` resolves
once per model (``RigIds``); they change nothing in the simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from . import scene

#: gram-force per newton, for finger forces in the Inspire's unit.
GF_PER_N = 1000.0 / 9.80665


@dataclass
class RigIds:
    """Indices into the MuJoCo model that the rig reads every step (resolved when the model is built)."""

    arm_qpos: np.ndarray
    arm_dof: np.ndarray
    hand_qpos: np.ndarray  # driven joints, HAND_DOF order
    finger_bodies: list[list[int]]  # per hand DoF: bodies whose contacts count as that DoF's force
    hand_bodies: set[int]
    flange: int
    grasp: int
    camera: int

    def body_to_dof(self) -> dict[int, int]:
        return {b: i for i, bs in enumerate(self.finger_bodies) for b in bs}


def finger_forces(model: mujoco.MjModel, data: mujoco.MjData, ids: RigIds) -> np.ndarray:
    """Per-DoF contact normal force on each finger (gf); thumb_rotation reports the thumb base's."""
    out = np.zeros(6)
    body_to_dof = ids.body_to_dof()
    f6 = np.zeros(6)
    for k in range(data.ncon):
        c = data.contact[k]
        b1, b2 = model.geom_bodyid[c.geom1], model.geom_bodyid[c.geom2]
        i = body_to_dof.get(b1, body_to_dof.get(b2))
        if i is None or (b1 in ids.hand_bodies and b2 in ids.hand_bodies):
            continue
        mujoco.mj_contactForce(model, data, k, f6)
        out[i] += abs(f6[0])
    return out * GF_PER_N


def fingers_touching(model: mujoco.MjModel, data: mujoco.MjData, ids: RigIds, body: int) -> int:
    """Number of distinct hand DoFs (fingers/thumb) touching `body`."""
    body_to_dof = ids.body_to_dof()
    touching = set()
    for k in range(data.ncon):
        c = data.contact[k]
        b1, b2 = model.geom_bodyid[c.geom1], model.geom_bodyid[c.geom2]
        if b1 == body and b2 in body_to_dof:
            touching.add(body_to_dof[b2])
        elif b2 == body and b1 in body_to_dof:
            touching.add(body_to_dof[b1])
    return len(touching)


def touches_hand(model: mujoco.MjModel, data: mujoco.MjData, ids: RigIds, body: int) -> bool:
    """Is any part of the hand in contact with `body`?"""
    for k in range(data.ncon):
        c = data.contact[k]
        b1, b2 = model.geom_bodyid[c.geom1], model.geom_bodyid[c.geom2]
        if (b1 == body and b2 in ids.hand_bodies) or (b2 == body and b1 in ids.hand_bodies):
            return True
    return False


def inside_box(data: mujoco.MjData, box_body: int, body: int) -> bool:
    """`body`'s centre inside the box's inner footprint and below its rim (box frame)."""
    box_p, box_R = data.xpos[box_body], data.xmat[box_body].reshape(3, 3)
    local = box_R.T @ (data.xpos[body] - box_p)
    return bool(
        abs(local[0]) < scene.BOX_INNER_HALF
        and abs(local[1]) < scene.BOX_INNER_HALF
        and -0.01 < local[2] < scene.BOX_HEIGHT
    )
