"""Franka Research 3 kinematic and limit constants, as published by Franka Robotics.

Source: Franka "Robot and interface specifications" (FR3), the Craig (modified)
Denavit-Hartenberg table shared by Panda and FR3:

    joint  a (m)     d (m)   alpha (rad)
    1      0         0.333   0
    2      0         0       -pi/2
    3      0         0.316   pi/2
    4      0.0825    0       pi/2
    5      -0.0825   0.384   -pi/2
    6      0         0       pi/2
    7      0.088     0       pi/2
    flange 0         0.107   0

Kept in one module so the MJCF builder, the expert's IK and the tests all read
the same numbers (one source of truth per fact).
"""

from __future__ import annotations

import math

import numpy as np

#: Modified-DH rows (a, d, alpha) for joints 1..7, then the flange (theta = 0).
DH_A: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0825, -0.0825, 0.0, 0.088)
DH_D: tuple[float, ...] = (0.333, 0.0, 0.316, 0.0, 0.384, 0.0, 0.0)
DH_ALPHA: tuple[float, ...] = (0.0, -math.pi / 2, math.pi / 2, math.pi / 2, -math.pi / 2, math.pi / 2, math.pi / 2)
FLANGE_D: float = 0.107

#: FR3 joint position limits (rad).
Q_MIN = np.array([-2.7437, -1.7837, -2.9007, -3.0421, -2.8065, 0.5445, -3.0159])
Q_MAX = np.array([2.7437, 1.7837, 2.9007, -0.1518, 2.8065, 4.5169, 3.0159])
#: FR3 joint velocity limits (rad/s).
DQ_MAX = np.array([2.62, 2.62, 2.62, 2.62, 5.26, 4.18, 5.26])
#: FR3 joint torque limits (Nm).
TAU_MAX = np.array([87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0])

#: Franka's "ready" pose (franka_ros / libfranka examples).
HOME_Q = np.array([0.0, -math.pi / 4, 0.0, -3 * math.pi / 4, 0.0, math.pi / 2, math.pi / 4])

#: Approximate link masses (kg) from franka_description's inertial data.
LINK_MASS: tuple[float, ...] = (4.97, 0.646, 3.23, 3.59, 1.23, 1.67, 0.735)


def dh_fk(q: np.ndarray) -> np.ndarray:
    """Flange pose (4x4, base frame) from the published DH table.

    Independent of MuJoCo, so tests can check the generated MJCF against it.
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
