"""The rig description: facts about the robot hardware, in one place.

`franka` (FR3 arm: joint names, limits, ready pose, DH kinematics) and
`inspire` (RH56 hand: DoF names, ranges, register map). Everything that needs
such a fact imports it from here: drivers, nodes, safety, teleop,
calibration, recording, the simulator and training. This package imports
nothing else from the project (numpy and the standard library only), so any
layer may depend on it and it never pulls in MuJoCo, pydantic or a driver.

The combined vector that proprio, actions, datasets and engines use by
default is 13-D: the 7 arm joints (rad) followed by the 6 hand DoF (closure,
0 open .. 1 closed), in the order of JOINT_NAMES.
"""

from __future__ import annotations

from .franka import JOINT_NAMES as ARM_JOINT_NAMES
from .franka import READY_Q
from .inspire import DOF_NAMES as HAND_DOF_NAMES

#: The default proprio / action order: arm joints then hand DoF.
JOINT_NAMES: tuple[str, ...] = ARM_JOINT_NAMES + HAND_DOF_NAMES

__all__ = ["ARM_JOINT_NAMES", "HAND_DOF_NAMES", "JOINT_NAMES", "READY_Q"]
