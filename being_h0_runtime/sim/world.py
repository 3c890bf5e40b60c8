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
"""

from __future__ import annotations

import ctypes.util
import os

if "MUJOCO_GL" not in os.environ:  # must be decided before mujoco is imported
    os.environ["MUJOCO_GL"] = "egl" if ctypes.util.find_library("EGL") else "osmesa"

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from . import franka, scene, task_scenes

TASKS: tuple[str, ...] = ("pick_place_toy", "close_lid", "close_toolbox", "pour_cup", "unfold_clothes")
VARIATIONS: tuple[str, ...] = ("seen", "unseen", "clutter")
#: the variations each task's scene exists in (pick_place_toy: all of VARIATIONS)
TASK_VARIATIONS: dict[str, tuple[str, ...]] = {
    "pick_place_toy": VARIATIONS,
    **{t: tuple(v) for t, v in task_scenes.TASK_SPECS.items()},
}

#: Seconds for the hand to traverse its full stroke (Inspire RH56: roughly 0.6-1 s).
HAND_STROKE_S = 0.7
#: gram-force per newton, for hand_force() in the Inspire's unit.
GF_PER_N = 1000.0 / 9.80665

#: Spawn regions (base frame, metres): toy and box centres are drawn uniformly inside.
TOY_REGION = ((0.40, 0.60), (-0.22, -0.02))
BOX_REGION = ((0.42, 0.58), (0.14, 0.26))
DISTRACTOR_REGION = ((0.32, 0.68), (-0.30, 0.08))


@dataclass
class _Ids:
    arm_qpos: np.ndarray
    arm_dof: np.ndarray
    hand_qpos: np.ndarray  # driven joints, HAND_DOF order
    finger_bodies: list[list[int]]  # per hand DoF: bodies whose contacts count as that DoF's force
    hand_bodies: set[int]
    flange: int
    grasp: int
    camera: int


def _quat_wxyz_to_xyzw(q: np.ndarray) -> np.ndarray:
    return np.array([q[1], q[2], q[3], q[0]])


def _ensure_headless_gl() -> None:
    """Fall back to EGL/OSMesa if mujoco was imported (choosing GLFW) before this module set MUJOCO_GL.

    Without a display, GLFW cannot create a context; swapping the context class
    MuJoCo's Renderer uses is the only way short of re-importing mujoco.
    """
    if os.environ.get("DISPLAY"):
        return
    from mujoco.rendering.classic import gl_context

    cls = getattr(gl_context, "GLContext", None)
    if cls is not None and cls.__module__.split(".")[-1] in ("egl", "osmesa"):
        return
    try:
        from mujoco.egl import GLContext  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - no EGL: try OSMesa
        from mujoco.osmesa import GLContext  # type: ignore[attr-defined,no-redef]
    gl_context.GLContext = GLContext


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
        self._renderer: mujoco.Renderer | None = None
        self._depth_renderer: mujoco.Renderer | None = None
        self._spec: scene.SceneSpec | None = None
        self.seed = int(seed)
        self.reset(seed)

    # ------------------------------------------------------------------ model
    def _scene_spec(self, rng: np.random.Generator) -> scene.SceneSpec:
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
        self._close_renderers()
        m = self.model
        jid = lambda n: m.joint(n).id
        arm_j = [jid(n) for n in franka.JOINT_NAMES]
        hand_j = [jid(f"{n}_proximal") for n in scene.HAND_DOF_NAMES[:4]] + [jid("thumb_bend"), jid("thumb_rotation")]
        bid = lambda n: m.body(n).id
        fingers = [[bid(f"{n}_proximal"), bid(f"{n}_distal")] for n in scene.HAND_DOF_NAMES[:4]]
        fingers += [[bid("thumb_proximal"), bid("thumb_distal")], [bid("thumb_base")]]
        hand_bodies = {bid("hand")} | {b for f in fingers for b in f}
        self._ids = _Ids(
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
        return self.data.site_xpos[sid].copy(), _quat_wxyz_to_xyzw(q)

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
        m, d = self.model, self.data
        out = np.zeros(6)
        body_to_dof = {b: i for i, bs in enumerate(self._ids.finger_bodies) for b in bs}
        f6 = np.zeros(6)
        for k in range(d.ncon):
            c = d.contact[k]
            b1, b2 = m.geom_bodyid[c.geom1], m.geom_bodyid[c.geom2]
            i = body_to_dof.get(b1, body_to_dof.get(b2))
            if i is None or (b1 in self._ids.hand_bodies and b2 in self._ids.hand_bodies):
                continue
            mujoco.mj_contactForce(m, d, k, f6)
            out[i] += abs(f6[0])
        return out * GF_PER_N

    # ------------------------------------------------------------------ objects
    def object_poses(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Privileged object poses in the base frame: name -> (position, quaternion xyzw)."""
        if hasattr(self._task_spec, "object_poses"):  # deformables: landmark vertices, not bodies
            return self._task_spec.object_poses(self.model, self.data)  # type: ignore[union-attr]
        out = {}
        for n in self._object_names:
            b = self.model.body(n).id
            out[n] = (self.data.xpos[b].copy(), _quat_wxyz_to_xyzw(self.data.xquat[b]))
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
        m, d = self.model, self.data
        body_to_dof = {b: i for i, bs in enumerate(self._ids.finger_bodies) for b in bs}
        touching = set()
        for k in range(d.ncon):
            c = d.contact[k]
            b1, b2 = m.geom_bodyid[c.geom1], m.geom_bodyid[c.geom2]
            if b1 == self._toy_body and b2 in body_to_dof:
                touching.add(body_to_dof[b2])
            elif b2 == self._toy_body and b1 in body_to_dof:
                touching.add(body_to_dof[b1])
        return len(touching)

    def _toy_touches_hand(self) -> bool:
        m, d = self.model, self.data
        for k in range(d.ncon):
            c = d.contact[k]
            b1, b2 = m.geom_bodyid[c.geom1], m.geom_bodyid[c.geom2]
            if (b1 == self._toy_body and b2 in self._ids.hand_bodies) or (
                b2 == self._toy_body and b1 in self._ids.hand_bodies
            ):
                return True
        return False

    def toy_in_box(self) -> bool:
        """Toy centre inside the box's inner footprint and below its rim (box frame)."""
        d = self.data
        box_p, box_R = d.xpos[self._box_body], d.xmat[self._box_body].reshape(3, 3)
        local = box_R.T @ (d.xpos[self._toy_body] - box_p)
        return bool(
            abs(local[0]) < scene.BOX_INNER_HALF
            and abs(local[1]) < scene.BOX_INNER_HALF
            and -0.01 < local[2] < scene.BOX_HEIGHT
        )

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
        w, h = self.image_size
        fovy = math.radians(float(self.model.cam_fovy[self._ids.camera]))
        f = (h / 2.0) / math.tan(fovy / 2.0)
        return {"width": w, "height": h, "fx": f, "fy": f, "cx": (w - 1) / 2.0, "cy": (h - 1) / 2.0}

    def camera_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Pose of the camera *optical* frame (z forward, x right, y down) in the base frame: (pos, quat xyzw)."""
        d = self.data
        R_gl = d.cam_xmat[self._ids.camera].reshape(3, 3)  # MuJoCo camera: -z forward, y up
        R = R_gl @ np.diag([1.0, -1.0, -1.0])
        q = np.zeros(4)
        mujoco.mju_mat2Quat(q, R.reshape(-1))
        return d.cam_xpos[self._ids.camera].copy(), _quat_wxyz_to_xyzw(q)

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        """Colour (H, W, 3) uint8 RGB and aligned depth (H, W) uint16 millimetres (0 = no return)."""
        w, h = self.image_size
        if self._renderer is None:
            _ensure_headless_gl()
            self._renderer = mujoco.Renderer(self.model, height=h, width=w)
            self._depth_renderer = mujoco.Renderer(self.model, height=h, width=w)
            self._depth_renderer.enable_depth_rendering()
        cam = self._ids.camera
        self._renderer.update_scene(self.data, camera=cam)
        rgb = self._renderer.render().copy()
        self._depth_renderer.update_scene(self.data, camera=cam)
        z = self._depth_renderer.render()
        far = 0.99 * self.model.vis.map.zfar * self.model.stat.extent
        depth = np.where(z < far, np.round(z * 1000.0), 0).astype(np.uint16)
        return rgb, depth

    def _close_renderers(self) -> None:
        for r in (self._renderer, self._depth_renderer):
            if r is not None:
                r.close()
        self._renderer = self._depth_renderer = None

    def close(self) -> None:
        """Release GL resources (idempotent)."""
        self._close_renderers()

    # ------------------------------------------------------------------ state
    def get_state(self) -> np.ndarray:
        """Full physics state vector (for determinism checks and snapshots)."""
        n = mujoco.mj_stateSize(self.model, mujoco.mjtState.mjSTATE_INTEGRATION)
        s = np.empty(n)
        mujoco.mj_getState(self.model, self.data, s, mujoco.mjtState.mjSTATE_INTEGRATION)
        return s
