"""A recorder of the Franka driver's live link (move/state/recover), for tests without a robot.

The only stand-in the Franka tests use: every franky object the driver builds
is real; this class takes the place of ``franky.Robot`` alone, records what the
driver sends and injects libfranka exceptions. Import after
``pytest.importorskip("franky")``.
"""

from __future__ import annotations

from types import SimpleNamespace

import franky
import numpy as np

from being_h0_runtime.drivers.arm.franka_config import DEFAULT_HOME_Q

Q0 = np.array(DEFAULT_HOME_Q)


class RecordingConnection:
    """Records calls on the live link; `fail_move_with` injects a libfranka exception."""

    def __init__(self):
        self.moves: list[tuple[object, bool]] = []
        self.calls: list[tuple] = []
        self.fail_move_with: BaseException | None = None
        self.fail_poll_with: BaseException | None = None
        self.recover_ok = True
        self.mode = franky.RobotMode.Idle

    @property
    def state(self):
        return SimpleNamespace(q=Q0, dq=np.zeros(7), tau_J=np.arange(7.0),
                               O_T_EE=franky.Affine([0.3, 0.0, 0.5], [1.0, 0.0, 0.0, 0.0]),
                               O_F_ext_hat_K=np.array([1.0, 2, 3, 0, 0, 0]), robot_mode=self.mode)

    def move(self, motion, asynchronous=False):
        if self.fail_move_with is not None:
            raise self.fail_move_with
        self.moves.append((motion, asynchronous))

    def poll_motion(self):
        if self.fail_poll_with is not None:
            exc, self.fail_poll_with = self.fail_poll_with, None
            raise exc
        return True

    def join_motion(self, timeout=None):
        return True

    def stop(self):
        self.calls.append(("stop",))

    def recover_from_errors(self):
        self.calls.append(("recover_from_errors",))
        return self.recover_ok

    def set_collision_behavior(self, *args):
        self.calls.append(("set_collision_behavior", args))

    def set_joint_impedance(self, k):
        self.calls.append(("set_joint_impedance", tuple(k)))

    def set_cartesian_impedance(self, k):
        self.calls.append(("set_cartesian_impedance", tuple(k)))
