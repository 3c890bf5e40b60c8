"""Virtual rig world: kinematics, limits, determinism, sensors and the success judge."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from being_h0_runtime.rig import HAND_DOF_NAMES, franka
from being_h0_runtime.sim import scene
from being_h0_runtime.sim.world import VirtualRig


@pytest.fixture(scope="module")
def rig() -> VirtualRig:
    r = VirtualRig(seed=3)
    yield r
    r.close()


def test_joint_limits_match_fr3_spec(rig: VirtualRig) -> None:
    m = rig.model
    for i in range(7):
        j = m.joint(f"fr3_joint{i + 1}")
        assert j.limited[0] if hasattr(j.limited, "__len__") else j.limited
        np.testing.assert_allclose(j.range, [franka.Q_MIN[i], franka.Q_MAX[i]])
        a = m.actuator(f"fr3_joint{i + 1}")
        np.testing.assert_allclose(a.ctrlrange, [franka.Q_MIN[i], franka.Q_MAX[i]])
        np.testing.assert_allclose(a.forcerange, [-franka.TAU_MAX[i], franka.TAU_MAX[i]])
    # the hand's actuators are in Inspire order
    assert tuple(m.actuator(7 + k).name for k in range(6)) == HAND_DOF_NAMES


def test_home_fk_matches_franka_published_ready_pose(rig: VirtualRig) -> None:
    rig.reset(3)
    pos, quat = rig.ee_pose()
    # Franka "ready" pose: flange at (0.307, 0, 0.590), z axis pointing down
    np.testing.assert_allclose(pos, [0.3069, 0.0, 0.5903], atol=2e-3)
    R = np.zeros(9)
    mujoco.mju_quat2Mat(R, np.r_[quat[3], quat[:3]])
    assert R.reshape(3, 3)[2, 2] == pytest.approx(-1.0, abs=1e-6)


def test_mjcf_kinematics_equal_dh_table() -> None:
    m = mujoco.MjModel.from_xml_string(scene.build_mjcf(scene.SceneSpec(with_objects=False)))
    d = mujoco.MjData(m)
    rng = np.random.default_rng(0)
    for _ in range(5):
        q = rng.uniform(franka.Q_MIN, franka.Q_MAX)
        d.qpos[:7] = q
        mujoco.mj_kinematics(m, d)
        T = franka.dh_fk(q)
        np.testing.assert_allclose(d.site("flange").xpos, T[:3, 3], atol=1e-9)
        np.testing.assert_allclose(d.site("flange").xmat.reshape(3, 3), T[:3, :3], atol=1e-9)


def _drive(rig: VirtualRig, seed: int) -> np.ndarray:
    rig.reset(seed)
    rng = np.random.default_rng(123)
    for _ in range(10):
        rig.set_arm_target(rig.home_q + rng.uniform(-0.2, 0.2, 7))
        rig.set_hand_target(rng.uniform(0, 1, 6))
        rig.step(25)
    return rig.get_state()


def test_same_seed_and_commands_give_identical_state() -> None:
    a, b = VirtualRig(seed=5), VirtualRig(seed=99)
    sa, sb = _drive(a, 5), _drive(b, 5)
    np.testing.assert_array_equal(sa, sb)
    assert not np.array_equal(_drive(b, 6), sa)


def test_reset_poses_depend_on_seed_only(rig: VirtualRig) -> None:
    rig.reset(11)
    p11 = rig.object_poses()
    rig.step(50)
    rig.reset(12)
    assert np.linalg.norm(rig.object_poses()["toy"][0] - p11["toy"][0]) > 1e-3
    rig.reset(11)
    for k, (pos, quat) in rig.object_poses().items():
        np.testing.assert_array_equal(pos, p11[k][0])
        np.testing.assert_array_equal(quat, p11[k][1])
    assert rig.time == 0.0


def test_arm_tracks_target_and_reports_gravity_torque(rig: VirtualRig) -> None:
    rig.reset(0)
    target = rig.home_q + np.array([0.3, 0.2, -0.2, 0.3, 0.2, -0.3, 0.4])
    rig.set_arm_target(target)
    rig.step(int(1.5 / rig.physics_dt))
    np.testing.assert_allclose(rig.arm_q(), target, atol=5e-3)
    assert np.all(np.abs(rig.arm_dq()) < 0.02)
    tau = rig.arm_tau()
    assert abs(tau[1]) > 1.0  # shoulder holds the arm against gravity
    assert np.all(np.abs(tau) <= franka.TAU_MAX + 1e-9)


def test_arm_target_is_rate_limited_and_clipped(rig: VirtualRig) -> None:
    rig.reset(0)
    far = rig.home_q.copy()
    far[0] += 2.0
    rig.set_arm_target(far)
    rig.step(int(0.1 / rig.physics_dt))
    # the servo setpoint may not move faster than the FR3 velocity limit
    assert rig.arm_q()[0] - rig.home_q[0] < franka.DQ_MAX[0] * 0.1 + 1e-6
    rig.set_arm_target(np.full(7, 10.0))
    np.testing.assert_array_equal(rig.arm_target(), franka.Q_MAX)
    with pytest.raises(ValueError, match="7 finite"):
        rig.set_arm_target(np.zeros(6))


def test_hand_closes_and_opens_in_inspire_convention(rig: VirtualRig) -> None:
    rig.reset(0)  # hand high above the table: nothing to touch
    assert np.all(rig.hand_closure() < 0.01)
    rig.set_hand_target(np.ones(6))
    rig.step(int(1.2 / rig.physics_dt))
    assert np.all(rig.hand_closure() > 0.9)
    assert np.all(rig.hand_force() == 0.0)
    rig.set_hand_target(np.array([0, np.nan, 0, 0, 0, 0]))
    rig.step(int(1.2 / rig.physics_dt))
    c = rig.hand_closure()
    assert c[1] > 0.9 and np.all(np.delete(c, 1) < 0.05)
    with pytest.raises(ValueError, match="6 closures"):
        rig.set_hand_target(np.zeros(5))


def _place_toy(rig: VirtualRig, pos: np.ndarray, vel: np.ndarray | None = None) -> None:
    adr = rig.model.body("toy").jntadr[0]
    q, v = rig.model.jnt_qposadr[adr], rig.model.jnt_dofadr[adr]
    rig.data.qpos[q : q + 3] = pos
    rig.data.qpos[q + 3 : q + 7] = [1, 0, 0, 0]
    rig.data.qvel[v : v + 6] = 0 if vel is None else vel
    mujoco.mj_forward(rig.model, rig.data)


def test_success_judge(rig: VirtualRig) -> None:
    rig.reset(4)
    rig.step(100)
    assert not rig.success()  # toy on the table
    box = rig.object_poses()["box"][0]
    _place_toy(rig, box + np.array([0.0, 0.0, 0.04]))
    rig.step(400)
    assert rig.toy_in_box() and rig.success()
    _place_toy(rig, box + np.array([0.0, 0.0, 0.04]), vel=np.array([0.3, 0, 0, 0, 0, 0]))  # free joint: linear first
    assert not rig.success()  # moving: not resting
    _place_toy(rig, box + np.array([scene.BOX_INNER_HALF + 0.05, 0.0, 0.03]))
    rig.step(200)
    assert not rig.toy_in_box() and not rig.success()


def test_success_requires_release(rig: VirtualRig) -> None:
    """A toy held in the hand above the box is not a success."""
    rig.reset(4)
    box = rig.object_poses()["box"][0]
    grasp, _ = rig.grasp_pose()
    # move the box under the resting hand and put the toy between the fingers, touching them
    bj = rig.model.jnt_qposadr[rig.model.body("box").jntadr[0]]
    rig.data.qpos[bj : bj + 3] = [grasp[0], grasp[1], 0.0]
    _place_toy(rig, grasp + np.array([0.0, 0.0, 0.0]))
    rig.set_hand_target(np.ones(6))
    for _ in range(40):
        rig.step(10)
        if rig.toy_in_hand_contacts() > 0:
            break
    assert rig.toy_in_hand_contacts() > 0
    assert not rig.success()
    del box


def test_model_xml_rebuilds_the_same_model(rig: VirtualRig) -> None:
    m2 = mujoco.MjModel.from_xml_string(rig.model_xml())
    assert (m2.nq, m2.nv, m2.nu, m2.nbody, m2.ngeom) == (
        rig.model.nq, rig.model.nv, rig.model.nu, rig.model.nbody, rig.model.ngeom)


def test_variations_change_the_scene() -> None:
    shapes = {VirtualRig(variation="unseen", seed=s).model.geom("toy").type[0] for s in range(8)}
    assert len(shapes) >= 2
    clutter = VirtualRig(variation="clutter", seed=0)
    assert {"distractor0", "distractor1", "distractor2"} <= set(clutter.object_poses())
    with pytest.raises(ValueError, match="variation"):
        VirtualRig(variation="nope")
    with pytest.raises(ValueError, match="task"):
        VirtualRig(task="stack_cups")


def test_render_shapes_and_depth_matches_geometry() -> None:
    rig = VirtualRig(seed=2, image_size=(320, 240))
    rig.set_arm_target(rig.home_q + np.array([1.2, 0, 0, 0, 0, 0, 0]))  # swing the arm out of view
    rig.step(int(1.5 / rig.physics_dt))
    try:
        rgb, depth = rig.render()
    except mujoco.FatalError as e:  # pragma: no cover - machine without any GL
        pytest.skip(f"no offscreen GL context: {e}")
    assert rgb.shape == (240, 320, 3) and rgb.dtype == np.uint8
    assert depth.shape == (240, 320) and depth.dtype == np.uint16
    assert rgb.std() > 5  # not a blank frame
    k = rig.camera_intrinsics()
    assert (k["width"], k["height"]) == (320, 240)
    # project the toy's top centre with intrinsics + optical-frame pose; the depth there must agree
    cam_p, cam_q = rig.camera_pose()
    R = np.zeros(9)
    mujoco.mju_quat2Mat(R, np.r_[cam_q[3], cam_q[:3]])
    R = R.reshape(3, 3)
    toy = rig.object_poses()["toy"][0] + np.array([0, 0, scene.SEEN_TOY.half_height()])
    pc = R.T @ (toy - cam_p)
    assert pc[2] > 0
    u = k["fx"] * pc[0] / pc[2] + k["cx"]
    v = k["fy"] * pc[1] / pc[2] + k["cy"]
    assert 0 <= u < 320 and 0 <= v < 240
    d_mm = float(depth[round(v), round(u)])
    assert d_mm == pytest.approx(pc[2] * 1000.0, abs=15.0)
    # the toy is yellow in the colour image at that pixel
    r, g, b = rgb[round(v), round(u)].astype(int)
    assert r > 100 and g > 80 and b < 80
    # table depth is plausible (0.8 .. 2 m away) over most of the image
    valid = depth[depth > 0]
    assert 800 < np.median(valid) < 2000
    rig.close()


def test_intrinsics_follow_image_size() -> None:
    rig = VirtualRig(image_size=(640, 480))
    k = rig.camera_intrinsics()
    assert k["fy"] == pytest.approx(240 / math.tan(math.radians(scene.CAMERA_FOVY_DEG) / 2))
    assert k["cx"] == pytest.approx(319.5)
    with pytest.raises(ValueError, match="image_size"):
        VirtualRig(image_size=(4, 4))
