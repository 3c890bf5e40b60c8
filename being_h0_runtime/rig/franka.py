"""Franka Research 3 (FR3): joint names, limits, ready pose and kinematics, as published by Franka Robotics.

Sources: Franka's "Robot and interface specifications" (limits for FR3; the
same maxima franky reports as `joint_*_limit.max`), franka_description (joint
names, ready pose) and the Craig (modified) Denavit-Hartenberg table shared by
Panda and FR3:

    joint  a (m)     d (m)   alpha (rad)
    1      0         0.333   0
    2      0         0       -pi/2
    3      0         0.316   pi/2
    4      0.0825    0       pi/2
    5      -0.0825   0.384   -pi/2
    6      0         0       pi/2
    7      0.088     0       pi/2
    flange 0         0.107   0

These are facts about the real robot: the driver, the safety supervisor,
teleop retargeting, calibration and the simulator's MJCF builder all read
them from here. Vectors are read-only float64 arrays (use `.copy()` for a
mutable one); READY_Q is a tuple of Python floats because it is a config
default (pydantic fields, YAML files).
"""

from __future__ import annotations

import math

import numpy as np

#: Joint names as in franka_description, base to flange.
JOINT_NAMES: tuple[str, ...] = tuple(f"fr3_joint{i}" for i in range(1, 8))
NUM_JOINTS = len(JOINT_NAMES)

#: Modified-DH rows (a, d, alpha) for joints 1..7; the flange adds d = FLANGE_D with theta = 0.
DH_A: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0825, -0.0825, 0.0, 0.088)
DH_D: tuple[float, ...] = (0.333, 0.0, 0.316, 0.0, 0.384, 0.0, 0.0)
DH_ALPHA: tuple[float, ...] = (0.0, -math.pi / 2, math.pi / 2, math.pi / 2, -math.pi / 2, math.pi / 2, math.pi / 2)
FLANGE_D: float = 0.107


def _frozen(values: list[float]) -> np.ndarray:
    """A read-only float64 vector: a published limit must not be edited in place by one of its users."""
    arr = np.array(values, dtype=np.float64)
    arr.setflags(write=False)
    return arr


#: Joint position limits (rad).
Q_MIN = _frozen([-2.7437, -1.7837, -2.9007, -3.0421, -2.8065, 0.5445, -3.0159])
Q_MAX = _frozen([2.7437, 1.7837, 2.9007, -0.1518, 2.8065, 4.5169, 3.0159])
#: Joint velocity limits (rad/s).
DQ_MAX = _frozen([2.62, 2.62, 2.62, 2.62, 5.26, 4.18, 5.26])
#: Joint acceleration limits (rad/s^2).
DDQ_MAX = _frozen([10.0] * 7)
#: Joint jerk limits (rad/s^3).
DDDQ_MAX = _frozen([5000.0] * 7)
#: Joint torque limits (Nm).
TAU_MAX = _frozen([87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0])

#: Franka's "ready" pose (rad), franka_description / franka_ros / libfranka examples: the default home.
READY_Q: tuple[float, ...] = (0.0, -math.pi / 4, 0.0, -3 * math.pi / 4, 0.0, math.pi / 2, math.pi / 4)


def dh_fk(q: np.ndarray) -> np.ndarray:
    """Flange pose (4x4, base frame) for joint angles `q` (7,), from the published DH table.

    Independent of MuJoCo, so the simulator's MJCF can be checked against it.
    """
    T = np.eye(4)
    for i in range(8):
        a = DH_A[i] if i < 7 else 0.0
        d = DH_D[i] if i < 7 else FLANGE_D
        al = DH_ALPHA[i] if i < 7 else 0.0
        th = float(q[i]) if i < 7 else 0.0
        ca, sa, ct, st = math.cos(al), math.sin(al), math.cos(th), math.sin(th)
        A = np.array(
            [
                [ct, -st, 0, a],
                [st * ca, ct * ca, -sa, -d * sa],
                [st * sa, ct * sa, ca, d * ca],
                [0, 0, 0, 1],
            ]
        )
        T = T @ A
    return T
