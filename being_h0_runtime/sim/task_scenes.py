"""Scenes of the virtual rig's other benchmark tasks: close_lid, close_toolbox, pour_cup.

Each task is one small class that knows three things about its objects: the
MJCF fragment (`mjcf()`, compiled together with the arm by `scene.build_mjcf`),
how to place them from the episode's seeded RNG (`reset`), and how to judge
success from the physics state (`success`). `VirtualRig` delegates to it, so
pick_place_toy's code path (and therefore its seeds and results) is untouched.

Static furniture (the toolbox body, the jewellery box, the target bowl) is a
MuJoCo *mocap* body: its pose is set per episode without recompiling the model
and a push cannot slide it, like a heavy object on a real table.

Frames: hinged containers have their hinge along the container's local y axis
at the near (-x) top edge; the lid's hinge angle is 0 when closed and grows as
it opens towards -x (towards the robot side the push comes from).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

#: hinge angle (rad) below which a lid counts as closed
LID_CLOSED_RAD = 0.10
#: fraction of beads that must end up in the target container
POUR_SUCCESS_FRACTION = 0.8


def _f(v) -> str:
    return " ".join(f"{float(x):.6g}" for x in np.atleast_1d(v))


def yaw_quat_wxyz(yaw: float) -> np.ndarray:
    """A rotation by `yaw` about z as a MuJoCo (w, x, y, z) quaternion."""
    return Rotation.from_euler("z", yaw).as_quat(scalar_first=True)


def _walls(prefix: str, half_x: float, half_y: float, height: float, wall: float, cls: str) -> str:
    """Floor + four walls of an open container centred at the body origin (inner half sizes)."""
    t, hz = wall / 2, height / 2
    parts = [
        (f"{prefix}_floor", (0, 0, t), (half_x + wall, half_y + wall, t)),
        (f"{prefix}_wall_px", (half_x + t, 0, hz), (t, half_y + wall, hz)),
        (f"{prefix}_wall_nx", (-half_x - t, 0, hz), (t, half_y + wall, hz)),
        (f"{prefix}_wall_py", (0, half_y + t, hz), (half_x, t, hz)),
        (f"{prefix}_wall_ny", (0, -half_y - t, hz), (half_x, t, hz)),
    ]
    return "".join(f'<geom name="{n}" class="{cls}" type="box" pos="{_f(p)}" size="{_f(s)}"/>' for n, p, s in parts)


# ---------------------------------------------------------------------------------------------- hinged lids
@dataclass(frozen=True)
class HingedSpec:
    """A container with a lid hinged at its near top edge (close_lid and close_toolbox)."""

    task: str
    body: str  # name of the container (mocap) body
    half_x: float  # inner half depth along the push direction
    half_y: float  # inner half length along the hinge
    height: float  # wall height (the hinge sits on top of the near wall)
    wall: float
    lid_mass: float
    rgba: tuple[float, float, float, float]
    lid_rgba: tuple[float, float, float, float]
    #: spawn region of the container centre (base frame) and its heading range
    region: tuple[tuple[float, float], tuple[float, float]]
    yaw_range: tuple[float, float]
    #: the lid starts open at an angle drawn from this range (rad, > pi/2: it rests open)
    open_range: tuple[float, float] = (1.75, 2.0)

    @property
    def lid(self) -> str:
        return f"{self.body}_lid"

    @property
    def hinge(self) -> str:
        return f"{self.body}_hinge"

    @property
    def lid_len(self) -> float:
        """Lid length from the hinge to its free edge."""
        return 2 * (self.half_x + self.wall)

    def mjcf(self) -> str:
        w, t = self.wall, 0.005
        hx = self.half_x + w
        hy = self.half_y + w
        lid_geoms = (
            f'<geom name="{self.lid}" type="box" pos="{_f((hx, 0, t))}" size="{_f((hx, hy, t))}" '
            f'rgba="{_f(self.lid_rgba)}" mass="{self.lid_mass}" friction="0.8 0.01 0.001"/>'
        )
        if self.task == "close_toolbox":  # carrying handle on the lid's top face
            lid_geoms += (
                f'<geom name="{self.lid}_handle" type="capsule" fromto="{_f((hx, -0.5 * hy, 2 * t + 0.012))} '
                f'{_f((hx, 0.5 * hy, 2 * t + 0.012))}" size="0.006" rgba="0.15 0.15 0.15 1" mass="0.02"/>'
            )
        return (
            f'<body name="{self.body}" mocap="true" pos="0.5 0 0">{_walls(self.body, self.half_x, self.half_y, self.height, w, "box")}'
            f'<geom name="{self.body}_paint" type="box" pos="0 0 {_f(self.height / 2)}" size="{_f((hx + 1e-4, hy + 1e-4, 0.004))}" '
            f'rgba="{_f(self.rgba)}" contype="0" conaffinity="0" group="1"/>'
            f'<body name="{self.lid}" pos="{_f((-hx, 0, self.height))}">'
            f'<joint name="{self.hinge}" type="hinge" axis="0 -1 0" range="0 2.2" damping="0.04" armature="0.002"/>'
            f"{lid_geoms}</body></body>"
        )

    def object_names(self) -> list[str]:
        return [self.body, self.lid]

    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        xy = np.array([rng.uniform(*self.region[0]), rng.uniform(*self.region[1])])
        yaw = rng.uniform(*self.yaw_range)
        angle = rng.uniform(*self.open_range)
        mid = model.body(self.body).mocapid[0]
        data.mocap_pos[mid] = np.r_[xy, 0.0]
        data.mocap_quat[mid] = yaw_quat_wxyz(yaw)
        j = model.joint(self.hinge).id
        model.jnt_range[j] = (0.0, angle)  # the open lid rests against this stop
        data.qpos[model.jnt_qposadr[j]] = angle

    def hinge_angle(self, model: mujoco.MjModel, data: mujoco.MjData) -> float:
        return float(data.qpos[model.jnt_qposadr[model.joint(self.hinge).id]])

    def task_state(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, float]:
        j = model.joint(self.hinge).id
        return {"hinge_angle": self.hinge_angle(model, data), "hinge_velocity": float(data.qvel[model.jnt_dofadr[j]])}

    def success(self, model: mujoco.MjModel, data: mujoco.MjData) -> bool:
        st = self.task_state(model, data)
        return st["hinge_angle"] < LID_CLOSED_RAD and abs(st["hinge_velocity"]) < 0.5


def lid_geometry(spec: HingedSpec) -> dict[str, float]:
    """Numbers the expert needs about a hinged container (hinge offset, lid length, wall height)."""
    return {"hinge_x": -(spec.half_x + spec.wall), "height": spec.height, "lid_len": spec.lid_len, "half_y": spec.half_y}


# The toolbox stands in front of the robot and is closed by a push away from the robot (+x);
# the lidded box stands to the side and its lid is pushed sideways (+y).
TOOLBOX_SEEN = HingedSpec("close_toolbox", "toolbox", 0.055, 0.11, 0.08, 0.008, 0.18,
                          (0.75, 0.12, 0.1, 1), (0.8, 0.15, 0.12, 1), ((0.50, 0.60), (-0.12, 0.12)), (-0.3, 0.3))
TOOLBOX_UNSEEN = HingedSpec("close_toolbox", "toolbox", 0.05, 0.13, 0.07, 0.008, 0.2,
                            (0.15, 0.35, 0.75, 1), (0.2, 0.4, 0.8, 1), ((0.50, 0.60), (-0.12, 0.12)), (-0.3, 0.3))
LIDBOX_SEEN = HingedSpec("close_lid", "lidbox", 0.05, 0.06, 0.06, 0.006, 0.12,
                         (0.35, 0.55, 0.3, 1), (0.4, 0.6, 0.35, 1), ((0.45, 0.60), (-0.22, -0.02)),
                         (math.pi / 2 - 0.3, math.pi / 2 + 0.3))
LIDBOX_UNSEEN = HingedSpec("close_lid", "lidbox", 0.045, 0.07, 0.05, 0.006, 0.14,
                           (0.85, 0.85, 0.85, 1), (0.3, 0.3, 0.3, 1), ((0.45, 0.60), (-0.22, -0.02)),
                           (math.pi / 2 - 0.3, math.pi / 2 + 0.3))


# ---------------------------------------------------------------------------------------------- pour_cup
@dataclass(frozen=True)
class PourSpec:
    """A square cup holding `n_beads` small spheres, and a wider target bowl to pour them into."""

    task: str = "pour_cup"
    cup_half: float = 0.017  # inner half width (outer = + wall: graspable like the toy)
    cup_height: float = 0.065
    cup_wall: float = 0.003
    cup_rgba: tuple[float, float, float, float] = (0.95, 0.95, 0.9, 1)
    n_beads: int = 6
    bead_radius: float = 0.0075
    bead_rgba: tuple[float, float, float, float] = (0.9, 0.3, 0.1, 1)
    bowl_half: float = 0.065
    bowl_height: float = 0.05
    bowl_rgba: tuple[float, float, float, float] = (0.3, 0.45, 0.7, 1)
    cup_region: tuple[tuple[float, float], tuple[float, float]] = ((0.42, 0.56), (-0.22, -0.06))
    bowl_region: tuple[tuple[float, float], tuple[float, float]] = ((0.45, 0.58), (0.10, 0.24))

    def beads(self) -> list[str]:
        return [f"bead{i}" for i in range(self.n_beads)]

    def mjcf(self) -> str:
        cup = _walls("cup", self.cup_half, self.cup_half, self.cup_height, self.cup_wall, "object")
        cup = cup.replace('class="object"', f'class="object" rgba="{_f(self.cup_rgba)}" mass="0.01"')
        # the cup body's origin is its centre, so its pose is where the hand should grasp it
        cup = (f'<body name="cup" pos="0.5 -0.1 {_f(self.cup_height / 2)}"><freejoint name="cup"/>'
               f'<body name="cup_shell" pos="0 0 {_f(-self.cup_height / 2)}">{cup}</body></body>')
        beads = "".join(
            f'<body name="{b}" pos="0.5 -0.1 {_f(0.02 + 0.02 * i)}"><freejoint name="{b}"/>'
            f'<geom name="{b}" type="sphere" size="{_f(self.bead_radius)}" rgba="{_f(self.bead_rgba)}" mass="0.003" '
            f'friction="0.6 0.005 0.0001" condim="3"/></body>'
            for i, b in enumerate(self.beads())
        )
        bowl = (f'<body name="bowl" mocap="true" pos="0.5 0.2 0">'
                f'{_walls("bowl", self.bowl_half, self.bowl_half, self.bowl_height, 0.008, "box")}</body>')
        return bowl.replace('class="box"', f'class="box" rgba="{_f(self.bowl_rgba)}"') + cup + beads

    def object_names(self) -> list[str]:
        return ["cup", "bowl", *self.beads()]

    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        for _ in range(100):
            cup_xy = np.array([rng.uniform(*self.cup_region[0]), rng.uniform(*self.cup_region[1])])
            bowl_xy = np.array([rng.uniform(*self.bowl_region[0]), rng.uniform(*self.bowl_region[1])])
            if np.linalg.norm(cup_xy - bowl_xy) > self.bowl_half + 0.08:
                break
        cup_yaw = rng.uniform(-math.pi / 4, math.pi / 4)
        bowl_yaw = rng.uniform(-0.3, 0.3)
        mid = model.body("bowl").mocapid[0]
        data.mocap_pos[mid] = np.r_[bowl_xy, 0.0]
        data.mocap_quat[mid] = yaw_quat_wxyz(bowl_yaw)
        _set_free(model, data, "cup", np.r_[cup_xy, self.cup_height / 2 + 1e-4], yaw_quat_wxyz(cup_yaw))
        # beads: a 2x2 grid per layer inside the cup, jittered a little
        r = self.bead_radius
        off = self.cup_half - r - 0.001
        c, s = math.cos(cup_yaw), math.sin(cup_yaw)
        for i, b in enumerate(self.beads()):
            layer, k = divmod(i, 4)
            lx, ly = (off if k & 1 else -off), (off if k & 2 else -off)
            lx, ly = lx * 0.9 + rng.uniform(-1e-3, 1e-3), ly * 0.9 + rng.uniform(-1e-3, 1e-3)
            pos = np.r_[cup_xy + [c * lx - s * ly, s * lx + c * ly], self.cup_wall + r + 1e-3 + layer * (2 * r + 1e-3)]
            _set_free(model, data, b, pos, np.array([1.0, 0, 0, 0]))

    def beads_in_bowl(self, model: mujoco.MjModel, data: mujoco.MjData) -> int:
        bid = model.body("bowl").id
        p, R = data.xpos[bid], data.xmat[bid].reshape(3, 3)
        n = 0
        for b in self.beads():
            local = R.T @ (data.xpos[model.body(b).id] - p)
            n += bool(abs(local[0]) < self.bowl_half and abs(local[1]) < self.bowl_half and -0.01 < local[2] < self.bowl_height)
        return n

    def task_state(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, float]:
        n = self.beads_in_bowl(model, data)
        return {"beads_in_target": float(n), "beads_total": float(self.n_beads), "fraction_in_target": n / self.n_beads}

    def success(self, model: mujoco.MjModel, data: mujoco.MjData) -> bool:
        return self.beads_in_bowl(model, data) >= math.ceil(POUR_SUCCESS_FRACTION * self.n_beads - 1e-9)


POUR_SEEN = PourSpec()
POUR_UNSEEN = PourSpec(cup_rgba=(0.2, 0.6, 0.9, 1), cup_height=0.07, n_beads=5, bead_radius=0.008,
                       bead_rgba=(0.2, 0.8, 0.3, 1), bowl_half=0.06, bowl_rgba=(0.85, 0.75, 0.3, 1))


def _set_free(model: mujoco.MjModel, data: mujoco.MjData, body: str, pos: np.ndarray, quat_wxyz: np.ndarray) -> None:
    adr = model.jnt_qposadr[model.body(body).jntadr[0]]
    data.qpos[adr : adr + 3] = pos
    data.qpos[adr + 3 : adr + 7] = quat_wxyz


from .cloth_task import CLOTH_SEEN, CLOTH_UNSEEN, ClothSpec

TaskSpec = HingedSpec | PourSpec | ClothSpec

#: task -> variation -> spec (only the variations listed exist for that task)
TASK_SPECS: dict[str, dict[str, TaskSpec]] = {
    "close_lid": {"seen": LIDBOX_SEEN, "unseen": LIDBOX_UNSEEN},
    "close_toolbox": {"seen": TOOLBOX_SEEN, "unseen": TOOLBOX_UNSEEN},
    "pour_cup": {"seen": POUR_SEEN, "unseen": POUR_UNSEEN},
    "unfold_clothes": {"seen": CLOTH_SEEN, "unseen": CLOTH_UNSEEN},
}
