"""FrankaArm with the real franky package: motion building, fault latching, connect errors.

No robot is attached. Motions are built by the real franky classes and checked
field by field; the only stand-in is `RecordingConnection`, a recorder of the
live link (move/state/recover) used to inject libfranka exceptions.
"""

from __future__ import annotations

import socket
import threading
import time
from functools import partial

import numpy as np
import pytest
from helpers.waiting import wait_until

franky = pytest.importorskip("franky")

from being_h0_runtime.drivers.arm.franka import FrankaArm  # noqa: E402
from being_h0_runtime.drivers.arm.franka_config import DEFAULT_HOME_Q, FR3_JOINT_VELOCITY_LIMITS, FrankaConfig  # noqa: E402
from being_h0_runtime.drivers.arm.franka_link import connect_franky  # noqa: E402
from being_h0_runtime.drivers.arm.franka_motion import (  # noqa: E402
    build_cartesian_motion,
    build_home_motion,
    build_joint_waypoint_motion,
    collision_behavior_args,
    dynamics,
)
from being_h0_runtime.drivers.base import ArmCommand, Diagnostic, DriverError  # noqa: E402
from franka_recorder import Q0, RecordingConnection  # noqa: E402

# ------------------------------------------------------------------ pure builders (real franky)


def test_joint_waypoint_motion_carries_targets_velocities_and_dynamics():
    targets = np.stack([Q0, Q0 + 0.05, Q0 + 0.1])
    vels = np.full((3, 7), 0.2)
    vels[-1] = 0.0
    m = build_joint_waypoint_motion(targets, vels, dynamics(0.3, acceleration=0.1, jerk=0.05))
    assert isinstance(m, franky.JointWaypointMotion)
    assert len(m.waypoints) == 3
    for i, wp in enumerate(m.waypoints):
        np.testing.assert_allclose(wp.target.position, targets[i])
        np.testing.assert_allclose(wp.target.velocity, vels[i])
        assert wp.reference_type == franky.ReferenceType.Absolute
    rdf = m.relative_dynamics_factor
    assert (rdf.velocity, rdf.acceleration, rdf.jerk) == pytest.approx((0.3, 0.1, 0.05))
    assert m.return_when_finished is False  # keeps holding; the next motion preempts it


def test_joint_motion_without_velocity_arrives_at_rest_and_relative_reference():
    m = build_joint_waypoint_motion(np.zeros(7) + 0.01, None, 0.5, relative=True, return_when_finished=True)
    wp = m.waypoints[0]
    np.testing.assert_array_equal(wp.target.velocity, np.zeros(7))
    assert wp.reference_type == franky.ReferenceType.Relative
    assert m.return_when_finished is True
    assert m.relative_dynamics_factor.velocity == pytest.approx(0.5)


def test_velocities_clipped_to_scaled_limits():
    m = build_joint_waypoint_motion(Q0, np.full(7, 100.0), 0.5)
    np.testing.assert_allclose(m.waypoints[0].target.velocity, np.asarray(FR3_JOINT_VELOCITY_LIMITS) * 0.5)


@pytest.mark.parametrize("bad", [np.zeros(6), np.zeros((2, 8)), np.array([np.nan] * 7)])
def test_bad_joint_targets_are_rejected(bad):
    with pytest.raises(ValueError):
        build_joint_waypoint_motion(bad)


def test_dynamics_factor_validation():
    assert dynamics(0.2).jerk == pytest.approx(0.2)
    with pytest.raises(ValueError, match="velocity"):
        dynamics(1.5)
    with pytest.raises(ValueError, match="jerk"):
        dynamics(0.5, jerk=0.0)


def test_cartesian_motion_targets_are_affines_with_twists():
    pos = [0.4, 0.1, 0.3]
    quat = [1.0, 0.0, 0.0, 0.0]  # x, y, z, w: 180 deg about x (gripper down)
    m = build_cartesian_motion(pos, quat, linear_velocities=[0.05, 0, 0], dynamics_factor=0.1)
    assert isinstance(m, franky.CartesianWaypointMotion)
    wp = m.waypoints[0]
    aff = wp.target.pose.end_effector_pose
    np.testing.assert_allclose(aff.translation, pos)
    np.testing.assert_allclose(np.abs(aff.quaternion), np.abs(quat), atol=1e-12)
    np.testing.assert_allclose(wp.target.velocity.end_effector_twist.linear, [0.05, 0, 0])
    assert wp.reference_type == franky.ReferenceType.Absolute
    assert m.relative_dynamics_factor.velocity == pytest.approx(0.1)
    with pytest.raises(ValueError, match="zero length"):
        build_cartesian_motion(pos, [0, 0, 0, 0])


def test_home_motion_is_slow_and_ends_at_rest():
    m = build_home_motion(DEFAULT_HOME_Q, 0.1)
    assert isinstance(m, franky.JointMotion)
    np.testing.assert_allclose(m.target.position, DEFAULT_HOME_Q)
    np.testing.assert_array_equal(m.target.velocity, np.zeros(7))
    assert m.relative_dynamics_factor.velocity == pytest.approx(0.1)
    assert m.return_when_finished is True


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="control_rate_hz"):
        FrankaConfig(ip="1.2.3.4", control_rate_hz=10)
    with pytest.raises(ValueError, match="joint_impedance"):
        FrankaConfig(ip="1.2.3.4", joint_impedance=[1.0] * 6)
    with pytest.raises(ValueError, match="lower_torque"):
        FrankaConfig(ip="1.2.3.4", lower_torque_thresholds=[50.0] * 7)
    cfg = FrankaConfig(ip="1.2.3.4", lower_force_thresholds=[5.0] * 6)
    lo_t, hi_t, lo_f, hi_f = collision_behavior_args(cfg)
    assert lo_f == [5.0] * 6 and len(lo_t) == len(hi_t) == 7 and len(hi_f) == 6


# ------------------------------------------------------------------ the driver over a recorded link


def _arm(rate=100.0, **kw):
    conn = RecordingConnection()
    arm = FrankaArm(FrankaConfig(ip="172.16.0.2", control_rate_hz=rate, **kw), connection_factory=lambda c: conn)
    arm.configure()
    arm.activate()
    return arm, conn


_wait = partial(wait_until, timeout=2.0, poll_s=0.005)


def test_configure_applies_collision_and_impedance_from_config():
    arm, conn = _arm(cartesian_impedance=[1000, 1000, 1000, 100, 100, 100])
    names = [c[0] for c in conn.calls]
    assert names == ["set_collision_behavior", "set_joint_impedance", "set_cartesian_impedance"]
    assert conn.calls[0][1] == collision_behavior_args(arm.config)
    arm.close()


def test_read_maps_franky_state():
    arm, conn = _arm()
    st = arm.read()
    np.testing.assert_allclose(st.q, Q0)
    np.testing.assert_allclose(st.tau, np.arange(7.0))
    np.testing.assert_allclose(st.ee_position, [0.3, 0, 0.5])
    np.testing.assert_allclose(np.abs(st.ee_orientation), [1, 0, 0, 0])
    np.testing.assert_allclose(st.wrench, [1, 2, 3, 0, 0, 0])
    assert st.mode == "idle" and st.fault is None
    arm.close()


def test_write_streams_async_waypoint_with_velocity_and_coalesces():
    arm, conn = _arm(rate=50.0)
    for i in range(20):  # a burst much faster than 50 Hz
        arm.write(ArmCommand(q=Q0 + 0.001 * i, velocity=np.full(7, 0.01 * i)))
    assert _wait(lambda: conn.moves and np.allclose(conn.moves[-1][0].waypoints[0].target.position, Q0 + 0.019))
    assert len(conn.moves) < 20  # coalesced to the control rate, newest wins
    motion, asynchronous = conn.moves[-1]
    assert asynchronous is True
    assert isinstance(motion, franky.JointWaypointMotion)
    np.testing.assert_allclose(motion.waypoints[0].target.velocity, np.full(7, 0.19))
    assert motion.relative_dynamics_factor.velocity == pytest.approx(0.2)
    arm.close()


def test_infer_velocity_from_consecutive_targets():
    arm, conn = _arm(rate=50.0, infer_velocity=True)
    arm.write(ArmCommand(q=Q0))
    assert _wait(lambda: len(conn.moves) == 1)
    arm.write(ArmCommand(q=Q0 + 0.002))
    assert _wait(lambda: len(conn.moves) == 2)
    np.testing.assert_allclose(conn.moves[-1][0].waypoints[0].target.velocity, np.full(7, 0.1))
    arm.close()


def test_cartesian_write_uses_cartesian_waypoints():
    arm, conn = _arm()
    arm.write_cartesian([0.4, 0, 0.3], [1, 0, 0, 0])
    assert _wait(lambda: len(conn.moves) >= 1)
    assert isinstance(conn.moves[-1][0], franky.CartesianWaypointMotion)
    arm.close()


@pytest.mark.parametrize("message,kind", [
    ('libfranka: Move command aborted: motion aborted by reflex! ["communication_constraints_violation"]',
     "communication_constraints_violation"),
    ('libfranka: Move command aborted: motion aborted by reflex! ["cartesian_reflex"]', "reflex"),
])
def test_reflex_from_move_latches_fault_and_never_resumes(message, kind):
    arm, conn = _arm()
    conn.fail_move_with = franky.ControlException(message)
    arm.write(ArmCommand(q=Q0 + 0.01))
    assert _wait(lambda: arm.fault is not None)
    diag = arm.diagnostics()[0]
    assert diag.level == Diagnostic.ERROR
    assert diag.values["fault_kind"] == kind and diag.values["fix"]
    assert arm.read().fault == message
    # the link heals, but the driver must not move until an operator recovers
    conn.fail_move_with = None
    arm.write(ArmCommand(q=Q0 + 0.02))
    time.sleep(0.05)
    assert conn.moves == []
    arm.recover()
    assert ("recover_from_errors",) in conn.calls
    assert arm.fault is None and arm.diagnostics()[0].level == Diagnostic.OK
    time.sleep(0.05)
    assert conn.moves == []  # recovery itself sends nothing: no resume of the pre-fault target
    arm.write(ArmCommand(q=Q0 + 0.03))
    assert _wait(lambda: len(conn.moves) == 1)
    arm.close()


def test_async_motion_error_surfaces_on_read_and_robot_mode_reflex():
    arm, conn = _arm()
    conn.fail_poll_with = franky.ControlException("libfranka: motion aborted by reflex! [\"joint_reflex\"]")
    st = arm.read()
    assert st.fault and "joint_reflex" in st.fault
    arm.recover()
    conn.mode = franky.RobotMode.UserStopped
    st = arm.read()
    assert st.mode == "user_stopped" and st.fault == "robot mode user_stopped"
    conn.recover_ok = False
    with pytest.raises(DriverError, match="recovery failed"):
        arm.recover()
    assert arm.fault is not None
    arm.close()


def test_hold_sends_stop_motion_and_drops_pending():
    arm, conn = _arm()
    arm.hold()
    assert isinstance(conn.moves[-1][0], franky.JointStopMotion)
    arm.close()


def test_move_home_refused_while_faulted():
    arm, conn = _arm()
    assert arm.move_home() is True
    assert isinstance(conn.moves[-1][0], franky.JointMotion)
    conn.fail_poll_with = franky.ControlException("reflex")
    arm.read()
    with pytest.raises(DriverError, match="recover"):
        arm.move_home()
    arm.close()


# ------------------------------------------------------------------ real connect errors


def test_unreachable_robot_raises_driver_error_quickly_via_franky():
    # probe disabled so the error comes from libfranka itself (NetworkException: connection refused)
    cfg = FrankaConfig(ip="127.0.0.1", realtime=False, probe_before_connect=False, connect_timeout_s=5)
    t0 = time.monotonic()
    with pytest.raises(DriverError, match="unreachable") as ei:
        connect_franky(cfg)
    assert time.monotonic() - t0 < 3.0
    assert isinstance(ei.value.__cause__, franky.NetworkException)
    with pytest.raises(DriverError, match="127.0.0.1"):
        FrankaArm(FrankaConfig(ip="127.0.0.1", realtime=False)).configure()


def test_silent_host_hits_the_connect_deadline():
    """A host that accepts TCP on the FCI port but never answers: DriverError at the deadline."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        srv.bind(("127.0.0.3", 1337))
    except OSError:
        pytest.skip("cannot bind 127.0.0.3:1337")
    srv.listen(1)
    accepted = []
    t = threading.Thread(target=lambda: accepted.append(srv.accept()), daemon=True)
    t.start()
    try:
        t0 = time.monotonic()
        with pytest.raises(DriverError, match="did not answer"):
            connect_franky(FrankaConfig(ip="127.0.0.3", realtime=False, connect_timeout_s=0.5))
        assert time.monotonic() - t0 < 10.0  # the 0.5 s deadline held: no minute-long libfranka wait
    finally:
        for conn, _ in accepted:
            conn.close()  # lets libfranka's helper thread end instead of waiting a minute
        srv.close()
