"""The virtual rig: a MuJoCo world with an FR3 arm, an Inspire-like hand, a table, a toy, a box and a head camera.

`VirtualRig` is the one object the sim driver backends (SimArm/SimHand/SimCamera)
wrap. It owns the physics; it never sleeps and never reads wall time, so a run
is reproducible: the same seed and the same command sequence give bit-identical
states on the same machine.

Control model (what the "hardware" does between commands):
  * arm: joint position servo (stiff PD + gravity compensation). The commanded
    target is approached at no more than the FR3 joint velocity limits, like
    Franka's own motion generator, so a policy jumping targets does not produce
    impossible motions.
  * hand: per-DoF position servo with the Inspire's finite speed (full stroke in
    about `HAND_STROKE_S` seconds) and a force limit; fingers stall on contact.

Rendering is lazy: no GL context is created until `render()` is called.

The head camera (`rig_camera.py`) and the hand's contact checks (`rig_contacts.py`) are their own
modules; this one holds the world: building, reset, stepping, arm and hand state, task success.
"""

from __future__ import annotations

import ctypes.util
import os

if "MUJOCO_GL" not in os.environ:  # must be decided before mujoco is imported
    os.environ["MUJOCO_GL"] = "egl" if ctypes.util.find_library("EGL") else "osmesa"

import math

import mujoco
import numpy as np

from . import franka, scene, task_scenes, train_variation
from .rig_camera import (
    CameraRenderers,
    camera_intrinsics,
    camera_optical_pose,
    quat_wxyz_to_xyzw,
)
from .rig_contacts import (
    RigIds,
    finger_forces,
    fingers_touching,
    inside_box,
    touches_hand,
)

TASKS: tuple[str, ...] = ("pick_place_toy", "close_lid", "close_toolbox", "pour_cup", "unfold_clothes")
#: the bench's variations, and `train`: randomised training scenes clear of unseen/clutter (sim/train_variation.py)
VARIATIONS: tuple[str, ...] = ("seen", "unseen", "clutter", train_variation.TRAIN)
#: tasks that have the train variation (the cloth has none yet)
TRAIN_TASKS: tuple[str, ...] = ("pick_place_toy", "close_lid", "close_toolbox", "pour_cup")
#: the variations each task's scene exists in (pick_place_toy: all of VARIATIONS)
TASK_VARIATIONS: dict[str, tuple[str, ...]] = {
    "pick_place_toy": VARIATIONS,
    **{t: tuple(v) + ((train_variation.TRAIN,) if t in TRAIN_TASKS else ())
       for t, v in task_scenes.TASK_SPECS.items()},
}

#: Seconds for the hand to traverse its full stroke (Inspire RH56: roughly 0.6-1 s).
HAND_STROKE_S = 0.7

#: Spawn regions (base frame, metres): toy and box centres are drawn uniformly inside.
TOY_REGION = ((0.40, 0.60), (-0.22, -0.02))
BOX_REGION = ((0.42, 0.58), (0.14, 0.26))
DISTRACTOR_REGION = ((0.32, 0.68), (-0.30, 0.08))


class VirtualRig:
    """Simulated Franka FR3 + Inspire hand + head camera for the benchmark tasks in `TASKS`.

    Units: metres, radians, seconds; quaternions are (x, y, z, w) like ROS.
    Hand vectors follow `HAND_DOF_NAMES` (little, ring, middle, index,
    thumb_bend, thumb_rotation); closure 0 = open, 1 = closed.
    """

    def __init__(
        self,
        task: str = "pick_place_toy",
        variation: str = "seen",
        seed: int = 0,
        image_size: tuple[int, int] = (320, 240),
    ) -> None:
        if task not in TASKS:
            raise ValueError(f"VirtualRig task: unknown {task!r}; allowed: {', '.join(TASKS)}")
        if variation not in TASK_VARIATIONS[task]:
            raise ValueError(f"VirtualRig variation: {variation!r} does not exist for task {task!r}; "
                             f"allowed: {', '.join(TASK_VARIATIONS[task])}")
        w, h = int(image_size[0]), int(image_size[1])
        if not (16 <= w <= 1280 and 16 <= h <= 960):
            raise ValueError(f"VirtualRig image_size: {image_size!r} must be (width, height) within 16..1280 x 16..960")
        self.task = task
        self.variation = variation
        self.image_size = (w, h)
        self.home_q: np.ndarray = franka.HOME_Q.copy()
        self._camera = CameraRenderers(self.image_size)
        self._spec: scene.SceneSpec | None = None
        self.seed = int(seed)
        self.reset(seed)

    # ------------------------------------------------------------------ model
    def _scene_spec(self, rng: np.random.Generator) -> scene.SceneSpec:
        if self.variation == train_variation.TRAIN:  # a new model per seed: toy shape, colours, camera, ...
            return train_variation.draw_scene_spec(self.task, rng)
        if self.task != "pick_place_toy":
            return scene.SceneSpec(task_spec=task_scenes.TASK_SPECS[self.task][self.variation])
        if self.variation == "unseen":
            toy = scene.UNSEEN_TOYS[int(rng.integers(len(scene.UNSEEN_TOYS)))]
            return scene.SceneSpec(toy=toy)
        if self.variation == "clutter":
            return scene.SceneSpec(distractors=scene.DISTRACTORS)
        return scene.SceneSpec()

    def _build(self, spec: scene.SceneSpec) -> None:
        self._xml = scene.build_mjcf(spec)
        self.model = mujoco.MjModel.from_xml_string(self._xml)
        self.data = mujoco.MjData(self.model)
        self._spec = spec
        if self.variation == train_variation.TRAIN:
            self._camera.rebind(self.model)  # a new model every reset: keep the GL contexts
        else:
            self._camera.close()
        m = self.model
        jid = lambda n: m.joint(n).id
        arm_j = [jid(n) for n in franka.JOINT_NAMES]
        hand_j = [jid(f"{n}_proximal") for n in scene.HAND_DOF_NAMES[:4]] + [jid("thumb_bend"), jid("thumb_rotation")]
        bid = lambda n: m.body(n).id
        fingers = [[bid(f"{n}_proximal"), bid(f"{n}_distal")] for n in scene.HAND_DOF_NAMES[:4]]
        fingers += [[bid("thumb_proximal"), bid("thumb_distal")], [bid("thumb_base")]]
        hand_bodies = {bid("hand")} | {b for f in fingers for b in f}
        self._ids = RigIds(
            arm_qpos=m.jnt_qposadr[arm_j].copy(),
            arm_dof=m.jnt_dofadr[arm_j].copy(),
            hand_qpos=m.jnt_qposadr[hand_j].copy(),
            finger_bodies=fingers,
            hand_bodies=hand_bodies,
            flange=m.site("flange").id,
            grasp=m.site("grasp").id,
            camera=m.camera("head").id,
        )
        dt = m.opt.timestep
        self._arm_rate = franka.DQ_MAX * dt  # max target change per physics step
        self._hand_rate = scene.HAND_RANGES / HAND_STROKE_S * dt
        self._task_spec = spec.task_spec
        if spec.task_spec is not None:
            self._object_names = list(spec.task_spec.object_names())  # type: ignore[attr-defined]
            self._object_names += [d.name for d in spec.distractors]
            return
        self._object_names = ["toy", "box"] + [d.name for d in spec.distractors]
        self._toy_geom = m.geom("toy").id
        self._toy_body = m.body("toy").id
        self._box_body = m.body("box").id

    def model_xml(self) -> str:
        """MJCF text of the current model (self-contained; `mujoco.MjModel.from_xml_string` rebuilds it)."""
        return self._xml

    # ------------------------------------------------------------------ reset
    def reset(self, seed: int | None = None) -> None:
        """Reset to `home_q`, hand open, and place toy/box/distractors from `seed`.

        `seed=None` reuses the last seed. Poses are drawn with numpy's PCG64 so
        they are identical across processes and platforms.
        """
        if seed is not None:
            self.seed = int(seed)
        rng = np.random.default_rng(self.seed)
        spec = self._scene_spec(rng)
        if spec != self._spec:
            self._build(spec)
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[self._ids.arm_qpos] = self.home_q
        if self._task_spec is not None:
            self._task_spec.reset(m, d, rng)  # type: ignore[attr-defined]
            if spec.distractors:
                mujoco.mj_forward(m, d)  # task objects' poses -> where the distractors may stand
                train_variation.set_distractor_poses(m, d, rng, spec.distractors, self._object_names)
            self._finish_reset()
            return
        # box, toy, distractors: rejection-sample non-overlapping positions
        box_xy = np.array([rng.uniform(*BOX_REGION[0]), rng.uniform(*BOX_REGION[1])])
        box_yaw = rng.uniform(-0.4, 0.4)
        toy_xy = np.array([rng.uniform(*TOY_REGION[0]), rng.uniform(*TOY_REGION[1])])
        toy_yaw = rng.uniform(-math.pi, math.pi)
        placed = [(box_xy, 0.12), (toy_xy, 0.05)]
        self._set_free(m.body("box").jntadr[0], np.r_[box_xy, 0.0], task_scenes.yaw_quat_wxyz(box_yaw))
        self._set_free(m.body("toy").jntadr[0], np.r_[toy_xy, spec.toy.half_height() + 1e-4], task_scenes.yaw_quat_wxyz(toy_yaw))
        if self.variation == train_variation.TRAIN:
            mujoco.mj_forward(m, d)
            train_variation.set_distractor_poses(m, d, rng, spec.distractors, self._object_names)
            self._finish_reset()
            return
        for ds in spec.distractors:
            for _ in range(200):
                xy = np.array([rng.uniform(*DISTRACTOR_REGION[0]), rng.uniform(*DISTRACTOR_REGION[1])])
                if all(np.linalg.norm(xy - p) > r + 0.05 for p, r in placed):
                    break
            placed.append((xy, 0.04))
            self._set_free(m.body(ds.name).jntadr[0], np.r_[xy, ds.half_height() + 1e-4], task_scenes.yaw_quat_wxyz(rng.uniform(-math.pi, math.pi)))
        self._finish_reset()

    def _finish_reset(self) -> None:
        m, d = self.model, self.data
        d.ctrl[:7] = self.home_q
        d.ctrl[7:] = 0.0
        self._arm_target = self.home_q.copy()
        self._hand_target = np.zeros(6)
        mujoco.mj_forward(m, d)

    def _set_free(self, jnt: int, pos: np.ndarray, quat_wxyz: np.ndarray) -> None:
        adr = self.model.jnt_qposadr[jnt]
        self.data.qpos[adr : adr + 3] = pos
        self.data.qpos[adr + 3 : adr + 7] = quat_wxyz

    # ------------------------------------------------------------------ time
    @property
    def physics_dt(self) -> float:
        """Physics step (s)."""
        return float(self.model.opt.timestep)

    @property
    def time(self) -> float:
        """Simulated seconds since reset."""
        return float(self.data.time)

    def step(self, n: int = 1) -> None:
        """Advance `n` physics steps, slewing actuator setpoints towards the targets."""
        m, d = self.model, self.data
        n = int(n)
        if n <= 0:
            return
        if hasattr(self._task_spec, "update_grip"):  # the cloth's pinch model (see sim/cloth_task.py)
            self._task_spec.update_grip(m, d, self._hand_target)  # type: ignore[union-attr]
        target = np.r_[self._arm_target, self._hand_target * scene.HAND_RANGES]
        rate = np.r_[self._arm_rate, self._hand_rate]
        c0 = d.ctrl.copy()
        diff = target - c0
        # The slew towards a fixed target is monotone, so the setpoint after k steps is
        # c0 + clip(diff, -k*rate, k*rate): precompute the ramp, then step the rest in one call.
        k_ramp = min(n, int(np.ceil(np.max(np.abs(diff) / rate) - 1e-9)))
        if k_ramp > 0:
            ks = np.arange(1, k_ramp + 1, dtype=float)[:, None]
            ramp = c0 + np.clip(diff, -ks * rate, ks * rate)
            for row in ramp:
                d.ctrl[:] = row
                mujoco.mj_step(m, d)
        if n > k_ramp:
            d.ctrl[:] = target
            mujoco.mj_step(m, d, n - k_ramp)

    # ------------------------------------------------------------------ arm
    def arm_q(self) -> np.ndarray:
        return self.data.qpos[self._ids.arm_qpos].copy()

    def arm_dq(self) -> np.ndarray:
        return self.data.qvel[self._ids.arm_dof].copy()

    def arm_tau(self) -> np.ndarray:
        """Joint torques the servos apply (Nm), including gravity compensation, like Franka's tau_J."""
        return self.data.qfrc_actuator[self._ids.arm_dof].copy()

    def set_arm_target(self, q7: np.ndarray) -> None:
        """Joint position target (rad); clipped to the FR3 limits."""
        q = np.asarray(q7, dtype=float).reshape(-1)
        if q.shape != (7,) or not np.all(np.isfinite(q)):
            raise ValueError(f"set_arm_target: need 7 finite joint angles, got {q7!r}")
        self._arm_target = np.clip(q, franka.Q_MIN, franka.Q_MAX)

    def arm_target(self) -> np.ndarray:
        return self._arm_target.copy()

    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Flange pose in the base frame: (position, quaternion xyzw)."""
        return self._site_pose(self._ids.flange)

    def grasp_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Pose of the hand's grasp point (between finger pads and thumb)."""
        return self._site_pose(self._ids.grasp)

    def _site_pose(self, sid: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.zeros(4)
        mujoco.mju_mat2Quat(q, self.data.site_xmat[sid])
        return self.data.site_xpos[sid].copy(), quat_wxyz_to_xyzw(q)

    # ------------------------------------------------------------------ hand
    def hand_closure(self) -> np.ndarray:
        """Measured closure per DoF in [0, 1] (0 open, 1 closed), Inspire DoF order."""
        return np.clip(self.data.qpos[self._ids.hand_qpos] / scene.HAND_RANGES, 0.0, 1.0)

    def set_hand_target(self, closure6: np.ndarray) -> None:
        """Closure target per DoF in [0, 1]; NaN leaves that DoF's target unchanged."""
        c = np.asarray(closure6, dtype=float).reshape(-1)
        if c.shape != (6,):
            raise ValueError(f"set_hand_target: need 6 closures (little..thumb_rotation), got {closure6!r}")
        keep = np.isnan(c)
        self._hand_target = np.where(keep, self._hand_target, np.clip(np.nan_to_num(c), 0.0, 1.0))

    def hand_target(self) -> np.ndarray:
        return self._hand_target.copy()

    def hand_force(self) -> np.ndarray:
        """Per-DoF contact normal force on each finger, in grams-force (the Inspire's unit).

        thumb_rotation reports the force on the thumb base.
        """
        return finger_forces(self.model, self.data, self._ids)

    def set_pose(self, arm_q7: np.ndarray, hand_closure6: np.ndarray) -> None:
        """Put the arm (rad) and hand (closure 0..1, clipped) at a pose directly and update kinematics.

        No servo and no physics step: for posed snapshots of a layout (perception warm-up renders);
        the targets are left as they were, so `step()` would drive the arm back towards them.
        """
        self.data.qpos[self._ids.arm_qpos] = np.asarray(arm_q7, dtype=float).reshape(7)
        self.data.qpos[self._ids.hand_qpos] = np.clip(np.asarray(hand_closure6, dtype=float).reshape(6), 0, 1) \
            * scene.HAND_RANGES
        mujoco.mj_forward(self.model, self.data)

    # ------------------------------------------------------------------ objects
    def object_poses(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Privileged object poses in the base frame: name -> (position, quaternion xyzw)."""
        if hasattr(self._task_spec, "object_poses"):  # deformables: landmark vertices, not bodies
            return self._task_spec.object_poses(self.model, self.data)  # type: ignore[union-attr]
        out = {}
        for n in self._object_names:
            b = self.model.body(n).id
            out[n] = (self.data.xpos[b].copy(), quat_wxyz_to_xyzw(self.data.xquat[b]))
        return out

    def task_state(self) -> dict[str, float]:
        """Task-specific scalars from sim state (hinge angle, beads in the target, ...); {} for pick_place_toy.

        Experts do not need it (everything they use is in `object_poses()`); it is for
        judges, logs and tests.
        """
        if self._task_spec is None:
            return {"toy_in_box": float(self.toy_in_box())}
        return self._task_spec.task_state(self.model, self.data)  # type: ignore[attr-defined]

    def toy_in_hand_contacts(self) -> int:
        """Number of distinct hand DoFs (fingers/thumb) touching the toy."""
        return fingers_touching(self.model, self.data, self._ids, self._toy_body)

    def _toy_touches_hand(self) -> bool:
        return touches_hand(self.model, self.data, self._ids, self._toy_body)

    def toy_in_box(self) -> bool:
        """Toy centre inside the box's inner footprint and below its rim (box frame)."""
        return inside_box(self.data, self._box_body, self._toy_body)

    def success(self) -> bool:
        """Task success from sim state.

        pick_place_toy: toy in the box, at rest and not touching the hand; close_lid /
        close_toolbox: hinge angle below `task_scenes.LID_CLOSED_RAD` and not swinging;
        pour_cup: at least `task_scenes.POUR_SUCCESS_FRACTION` of the beads in the bowl.
        """
        if self._task_spec is not None:
            return bool(self._task_spec.success(self.model, self.data))  # type: ignore[attr-defined]
        b = self._toy_body
        vel = self.data.cvel[b]  # (rot, lin) in a world-aligned frame at the body's subtree com
        resting = np.linalg.norm(vel[3:]) < 0.05 and np.linalg.norm(vel[:3]) < 1.0
        return self.toy_in_box() and resting and not self._toy_touches_hand()

    # ------------------------------------------------------------------ camera
    def camera_intrinsics(self) -> dict[str, float]:
        """Pinhole intrinsics of the head camera at `image_size` (OpenCV pixel convention)."""
        return camera_intrinsics(self.model, self._ids.camera, self.image_size)

    def camera_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Pose of the camera *optical* frame (z forward, x right, y down) in the base frame: (pos, quat xyzw)."""
        return camera_optical_pose(self.data, self._ids.camera)

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        """Colour (H, W, 3) uint8 RGB and aligned depth (H, W) uint16 millimetres (0 = no return)."""
        return self._camera.render(self.model, self.data, self._ids.camera)

    def render_rgb(self) -> np.ndarray:
        """Colour only (H, W, 3) uint8 RGB, no depth pass (posed snapshots, render benchmarks)."""
        return self._camera.render_rgb(self.model, self.data, self._ids.camera)

    def close(self) -> None:
        """Release GL resources (idempotent)."""
        self._camera.close()

    # ------------------------------------------------------------------ state
    def get_state(self) -> np.ndarray:
        """Full physics state vector (for determinism checks and snapshots)."""
        n = mujoco.mj_stateSize(self.model, mujoco.mjtState.mjSTATE_INTEGRATION)
        s = np.empty(n)
        mujoco.mj_getState(self.model, self.data, s, mujoco.mjtState.mjSTATE_INTEGRATION)
        return s
