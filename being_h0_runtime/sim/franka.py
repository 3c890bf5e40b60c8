"""The Franka FR3 as the simulator models it.

The robot's own facts (DH table, joint limits, ready pose, forward kinematics)
live in `being_h0_runtime.rig.franka`; they are imported here so the MJCF
builder, the world and the experts can keep reading them as `franka.*`. What
is added here is only what the simulation needs and the real robot does not
publish as a fact: approximate link masses for the MJCF inertials.
"""

from __future__ import annotations

import numpy as np

from ..rig.franka import (  # noqa: F401 - read by the sim modules as franka.*
    DH_A,
    DH_ALPHA,
    DH_D,
    DQ_MAX,
    FLANGE_D,
    JOINT_NAMES,
    Q_MAX,
    Q_MIN,
    READY_Q,
    TAU_MAX,
    dh_fk,
)

#: The ready pose as an array (the sim resets to it and the experts' IK pulls towards it).
HOME_Q = np.array(READY_Q)
HOME_Q.setflags(write=False)

#: Approximate link masses (kg) from franka_description's inertial data.
LINK_MASS: tuple[float, ...] = (4.97, 0.646, 3.23, 3.59, 1.23, 1.67, 0.735)
