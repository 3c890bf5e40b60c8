"""MJCF generator for the virtual rig: FR3 arm, Inspire-like hand, table, toy, box, camera.

The model is generated in Python (not a static file) so that the arm is built
straight from the published DH table in `rig/franka.py`, and so that task
variations (toy shape, distractors) change only what they need. The generated
XML is self-contained (no mesh files), so another process can rebuild the
identical model from `VirtualRig.model_xml()`.

Frames (all in metres):
  * world == Franka base frame; the table top is the plane z = 0.
  * `flange` site: Franka flange (DH table + 0.107 m along joint 7's axis).
  * `hand` body: mounted on the flange, rotated -45 deg about z exactly like the
    Franka Hand, so at `HOME_Q` its x axis points along world +x and its z axis
    points down. Fingers extend along hand +z and flex towards hand -x; the
    thumb sits on the hand -x side and bends towards +x.
  * `grasp` site: the point between finger pads and thumb where a grasped
    object's centre ends up; the expert's IK targets it.

Rendering is tuned for software GL (EGL on Mesa llvmpipe in CI): no shadows,
reflections, skybox or MSAA, which cut a 320x240 frame from ~170 ms to ~30 ms
on a loaded 2-core machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..rig import HAND_DOF_NAMES
from . import franka

if TYPE_CHECKING:
    from .train_variation import Appearance

#: Joint range (rad) of each hand actuator's driven joint; closure = q / range.
FINGER_RANGE = 1.45
THUMB_BEND_RANGE = 1.0
THUMB_ROT_RANGE = 1.4
HAND_RANGES = np.array([FINGER_RANGE] * 4 + [THUMB_BEND_RANGE, THUMB_ROT_RANGE])
#: distal/proximal coupling ratio (Inspire's linkage gives roughly 1:1 on fingers).
FINGER_COUPLING = 1.0
THUMB_COUPLING = 0.8

#: Grasp site in the hand frame (see module docstring).
GRASP_SITE_POS = (-0.035, 0.0, 0.155)
#: Outward tilt (rad) of the open thumb away from the fingers.
THUMB_OPEN_ANGLE = 0.3

#: Camera: "egocentric head" view from above and behind the arm base.
CAMERA_POS = np.array([0.05, -0.42, 1.0])
CAMERA_LOOKAT = np.array([0.52, 0.0, 0.0])
CAMERA_FOVY_DEG = 55.0

#: Open box (container) dimensions.
BOX_INNER_HALF = 0.075  # inner half-width (x and y)
BOX_WALL = 0.008  # wall thickness
BOX_HEIGHT = 0.06  # wall height


@dataclass(frozen=True)
class ObjectSpec:
    """One graspable/distractor object: MuJoCo geom type, size, colour, mass."""

    name: str
    geom_type: str  # box | cylinder | sphere | capsule | ellipsoid
    size: tuple[float, ...]
    rgba: tuple[float, float, float, float]
    mass: float = 0.06
    #: capsule only: lying on its side along the body's y axis (upright, it would balance on a round end)
    lying: bool = False

    def half_height(self) -> float:
        """Half extent along z when resting upright (used for spawn heights)."""
        t, s = self.geom_type, self.size
        if self.lying:
            if t != "capsule":
                raise ValueError(f"ObjectSpec.lying: only a capsule may lie, not a {t}")
            return s[0]
        if t == "box":
            return s[2]
        if t == "cylinder":
            return s[1]
        if t == "sphere":
            return s[0]
        if t == "capsule":
            return s[0] + s[1]
        if t == "ellipsoid":
            return s[2]
        raise ValueError(f"ObjectSpec.geom_type: unknown {t!r}")


#: The "seen" toy: a yellow cylinder, 4.6 cm tall and 4.2 cm across.
SEEN_TOY = ObjectSpec("toy", "cylinder", (0.021, 0.023), (0.95, 0.8, 0.1, 1.0), 0.05)

#: Toys for the "unseen" variation (shape and colour differ from training).
UNSEEN_TOYS: tuple[ObjectSpec, ...] = (
    ObjectSpec("toy", "box", (0.02, 0.02, 0.02), (0.2, 0.4, 0.95, 1.0), 0.05),
    ObjectSpec("toy", "sphere", (0.022,), (0.2, 0.85, 0.3, 1.0), 0.04),
    ObjectSpec("toy", "ellipsoid", (0.025, 0.021, 0.017), (0.9, 0.3, 0.7, 1.0), 0.04),
    ObjectSpec("toy", "cylinder", (0.024, 0.017), (1.0, 0.5, 0.1, 1.0), 0.04),
    ObjectSpec("toy", "box", (0.024, 0.017, 0.022), (0.6, 0.2, 0.9, 1.0), 0.05),
    ObjectSpec("toy", "cylinder", (0.016, 0.026), (0.85, 0.15, 0.15, 1.0), 0.04),
)

#: Distractors for the "clutter" variation.
DISTRACTORS: tuple[ObjectSpec, ...] = (
    ObjectSpec("distractor0", "box", (0.025, 0.015, 0.015), (0.3, 0.3, 0.9, 1.0), 0.08),
    ObjectSpec("distractor1", "cylinder", (0.018, 0.03), (0.9, 0.2, 0.2, 1.0), 0.08),
    ObjectSpec("distractor2", "sphere", (0.02,), (0.2, 0.7, 0.7, 1.0), 0.05),
)


@dataclass
class SceneSpec:
    """Everything that changes the compiled model."""

    toy: ObjectSpec = SEEN_TOY
    distractors: tuple[ObjectSpec, ...] = field(default_factory=tuple)
    with_objects: bool = True  # False: arm + hand only (the expert's IK model)
    #: another benchmark task's objects (a `task_scenes` spec with an `mjcf()` method); None = toy + box
    task_spec: object | None = None
    #: lights, table texture and camera jitter of the `train` variation (`train_variation.Appearance`);
    #: None = the bench's fixed look (the MJCF of seen/unseen/clutter does not change)
    appearance: Appearance | None = None


def _f(v) -> str:
    return " ".join(f"{float(x):.6g}" for x in np.atleast_1d(v))


def _quat_rotx(a: float) -> str:
    return _f([math.cos(a / 2), math.sin(a / 2), 0, 0])


def _arm_xml() -> tuple[str, str]:
    """Arm bodies (nested) built from the DH table; returns (open tags, close tags)."""
    link_geoms = [
        # (fromto in link frame, radius) - rough capsules of the real links
        [((0, 0, -0.19), (0, 0, -0.05), 0.06)],
        [((0, 0, -0.06), (0, 0, 0.06), 0.06), ((0, 0, 0), (0, -0.12, 0), 0.06)],
        [((0, 0, -0.15), (0, 0, -0.02), 0.055), ((0, 0, 0), (0.08, 0, 0), 0.055)],
        [((0, 0, -0.05), (0, 0, 0.05), 0.055), ((0, 0, 0), (-0.08, 0.09, 0), 0.055)],
        [((0, 0, -0.23), (0, 0, -0.02), 0.05), ((0, 0.08, -0.23), (0, 0.08, -0.13), 0.03)],
        [((0, 0, -0.04), (0, 0, 0.02), 0.05), ((0, 0, 0), (0.088, 0, 0), 0.045)],
        [((0, 0, -0.02), (0, 0, 0.09), 0.04)],
    ]
    opens, closes = [], []
    for i in range(7):
        a, d, al = franka.DH_A[i], franka.DH_D[i], franka.DH_ALPHA[i]
        pos = (a, -math.sin(al) * d, math.cos(al) * d)
        lo, hi = franka.Q_MIN[i], franka.Q_MAX[i]
        geoms = "".join(
            f'<geom class="link" fromto="{_f(p0)} {_f(p1)}" size="{r}"/>' for p0, p1, r in link_geoms[i]
        )
        # Masses put on an explicit inertial so the capsule sizes above do not matter.
        opens.append(
            f'<body name="fr3_link{i + 1}" pos="{_f(pos)}" quat="{_quat_rotx(al)}" gravcomp="1">'
            f'<inertial pos="0 0 0" mass="{franka.LINK_MASS[i]}" diaginertia="0.02 0.02 0.01"/>'
            f'<joint name="{franka.JOINT_NAMES[i]}" class="arm" range="{lo} {hi}"/>{geoms}'
        )
        closes.append("</body>")
    return "".join(opens), "".join(closes)


def _finger_xml(name: str, y: float) -> str:
    """A finger: proximal + distal links, distal coupled to proximal (equality below)."""
    return (
        f'<body name="{name}_proximal" pos="0 {y} 0.095">'
        f'<joint name="{name}_proximal" class="finger" axis="0 -1 0" range="0 {FINGER_RANGE}"/>'
        f'<geom class="pad" fromto="0 0 0.004 0 0 0.04" size="0.0085"/>'
        f'<body name="{name}_distal" pos="0 0 0.04">'
        f'<joint name="{name}_distal" class="finger" axis="0 -1 0" range="0 {FINGER_RANGE * FINGER_COUPLING}"/>'
        f'<geom class="pad" fromto="0 0 0.004 0 0 0.035" size="0.008"/>'
        "</body></body>"
    )


def _hand_xml() -> str:
    fingers = "".join(
        _finger_xml(n, y) for n, y in (("little", 0.027), ("ring", 0.009), ("middle", -0.009), ("index", -0.027))
    )
    # thumb: rotation about hand z; at full rotation the bend plane is hand x-z (opposes fingers)
    thumb = (
        f'<body name="thumb_base" pos="-0.065 -0.008 0.095" quat="{_f([math.cos(-THUMB_ROT_RANGE / 2), 0, 0, math.sin(-THUMB_ROT_RANGE / 2)])}">'
        f'<joint name="thumb_rotation" class="finger" axis="0 0 1" range="0 {THUMB_ROT_RANGE}"/>'
        '<geom class="hand" type="sphere" size="0.014"/>'
        f'<body name="thumb_proximal" quat="{_f([math.cos(-THUMB_OPEN_ANGLE / 2), 0, math.sin(-THUMB_OPEN_ANGLE / 2), 0])}">'
        f'<joint name="thumb_bend" class="finger" axis="0 1 0" range="0 {THUMB_BEND_RANGE}"/>'
        '<geom class="pad" fromto="0 0 0.005 0 0 0.045" size="0.0095"/>'
        '<body name="thumb_distal" pos="0 0 0.045">'
        f'<joint name="thumb_distal" class="finger" axis="0 1 0" range="0 {THUMB_BEND_RANGE * THUMB_COUPLING}"/>'
        '<geom class="pad" fromto="0 0 0.004 0 0 0.035" size="0.009"/>'
        "</body></body></body>"
    )
    return (
        f'<body name="hand" pos="0 0 {franka.FLANGE_D}" quat="{_f([math.cos(-math.pi / 8), 0, 0, math.sin(-math.pi / 8)])}" gravcomp="1">'
        '<inertial pos="0 0 0.06" mass="0.54" diaginertia="0.002 0.002 0.001"/>'
        '<site name="hand" size="0.005" rgba="0 0 1 0.3" group="4"/>'
        '<geom class="hand" type="cylinder" size="0.035 0.005" pos="0 0 0.005"/>'
        '<geom class="hand" type="box" size="0.014 0.038 0.045" pos="0 0 0.05"/>'
        '<geom class="hand" type="box" size="0.026 0.016 0.012" pos="-0.038 -0.008 0.085"/>'
        f'<site name="grasp" pos="{_f(GRASP_SITE_POS)}" size="0.006" rgba="1 0 0 0.3" group="4"/>'
        f"{fingers}{thumb}</body>"
    )


def _object_body(spec: ObjectSpec, pos: tuple[float, float, float]) -> str:
    size = _f(spec.size)
    lying = f' quat="{_quat_rotx(math.pi / 2)}"' if spec.lying else ""
    return (
        f'<body name="{spec.name}" pos="{_f(pos)}"><freejoint name="{spec.name}"/>'
        f'<geom name="{spec.name}" class="object" type="{spec.geom_type}" size="{size}" '
        f'rgba="{_f(spec.rgba)}" mass="{spec.mass}"{lying}/></body>'
    )


def _box_body() -> str:
    h, w, t = BOX_INNER_HALF, BOX_HEIGHT / 2, BOX_WALL / 2
    walls = [
        ("box_floor", (0, 0, t), (h + 2 * t, h + 2 * t, t)),
        ("box_wall_px", (h + t, 0, w), (t, h + 2 * t, w)),
        ("box_wall_nx", (-h - t, 0, w), (t, h + 2 * t, w)),
        ("box_wall_py", (0, h + t, w), (h, t, w)),
        ("box_wall_ny", (0, -h - t, w), (h, t, w)),
    ]
    geoms = "".join(
        f'<geom name="{n}" class="box" type="box" pos="{_f(p)}" size="{_f(s)}"/>' for n, p, s in walls
    )
    return f'<body name="box" pos="0.5 0.2 0"><freejoint name="box"/>{geoms}</body>'


def _camera_xml(look: Appearance | None = None) -> str:
    fwd = CAMERA_LOOKAT - CAMERA_POS
    fwd = fwd / np.linalg.norm(fwd)
    right = np.cross(fwd, [0, 0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    pos = CAMERA_POS
    if look is not None:  # train variation: the head camera a few mm and a degree or so off its mount
        from scipy.spatial.transform import Rotation

        axes = np.column_stack([right, up, -fwd]) @ Rotation.from_euler("xyz", look.camera_tilt_deg,
                                                                       degrees=True).as_matrix()
        right, up, pos = axes[:, 0], axes[:, 1], CAMERA_POS + np.asarray(look.camera_shift)
    return f'<camera name="head" pos="{_f(pos)}" xyaxes="{_f(right)} {_f(up)}" fovy="{CAMERA_FOVY_DEG}"/>'


_TABLE_ASSETS = """<texture name="grid" type="2d" builtin="checker" rgb1="0.78 0.72 0.62" rgb2="0.74 0.68 0.58" width="256" height="256"/>
    <material name="table" texture="grid" texrepeat="6 6" reflectance="0"/>"""
_LIGHTS = """<light pos="0.3 -0.3 2.0" dir="0 0.1 -1" diffuse="0.7 0.7 0.7" castshadow="false"/>
    <light pos="-0.5 0.5 1.5" dir="0.5 -0.3 -1" diffuse="0.35 0.35 0.35" castshadow="false"/>"""


def _table_assets_xml(look: Appearance | None) -> str:
    if look is None:
        return _TABLE_ASSETS
    noise = f' mark="random" random="{look.table_noise:.6g}" markrgb="{_f(np.asarray(look.table_rgb2) * 0.85)}"'
    return (f'<texture name="grid" type="2d" builtin="{look.table_builtin}" rgb1="{_f(look.table_rgb1)}" '
            f'rgb2="{_f(look.table_rgb2)}"{noise} width="256" height="256"/>\n'
            f'    <material name="table" texture="grid" texrepeat="{_f([look.table_repeat] * 2)}" reflectance="0"/>')


def _lights_xml(look: Appearance | None) -> str:
    if look is None:
        return _LIGHTS
    (d0, d1), (c0, c1) = look.light_dirs, look.light_diffuse
    return (f'<light pos="0.3 -0.3 2.0" dir="{_f(d0)}" diffuse="{_f(c0)}" castshadow="false"/>\n'
            f'    <light pos="-0.5 0.5 1.5" dir="{_f(d1)}" diffuse="{_f(c1)}" castshadow="false"/>')


def _actuators_xml() -> str:
    """Position servos: the 7 FR3 joints (torque-limited) and the 6 Inspire DoF."""
    kp = [4500, 4500, 3500, 3500, 2000, 2000, 2000]
    arm_act = "".join(
        f'<position name="{franka.JOINT_NAMES[i]}" joint="{franka.JOINT_NAMES[i]}" kp="{kp[i]}" dampratio="1" '
        f'ctrlrange="{franka.Q_MIN[i]} {franka.Q_MAX[i]}" forcerange="{-franka.TAU_MAX[i]} {franka.TAU_MAX[i]}"/>'
        for i in range(7)
    )
    hand_act = "".join(
        f'<position name="{n}" joint="{n}_proximal" kp="3" dampratio="1" ctrlrange="0 {FINGER_RANGE}" forcerange="-0.45 0.45"/>'
        for n in HAND_DOF_NAMES[:4]
    )
    hand_act += (
        f'<position name="thumb_bend" joint="thumb_bend" kp="8" dampratio="1" ctrlrange="0 {THUMB_BEND_RANGE}" forcerange="-1.5 1.5"/>'
        f'<position name="thumb_rotation" joint="thumb_rotation" kp="6" dampratio="1" ctrlrange="0 {THUMB_ROT_RANGE}" forcerange="-2 2"/>'
    )
    return arm_act + hand_act


def _finger_couplings_xml() -> str:
    """Equality constraints: each distal joint follows its proximal one (the Inspire's linkage)."""
    equality = "".join(
        f'<joint joint1="{n}_distal" joint2="{n}_proximal" polycoef="0 {FINGER_COUPLING} 0 0 0" solref="0.005 1"/>'
        for n in HAND_DOF_NAMES[:4]
    )
    equality += f'<joint joint1="thumb_distal" joint2="thumb_bend" polycoef="0 {THUMB_COUPLING} 0 0 0" solref="0.005 1"/>'
    return equality


def _contact_excludes_xml() -> str:
    """Body pairs of the arm and hand that touch by construction: no contacts between them."""
    excludes = '<exclude body1="fr3_link7" body2="hand"/><exclude body1="thumb_base" body2="hand"/>'
    excludes += "".join(f'<exclude body1="hand" body2="{n}_proximal"/>' for n in HAND_DOF_NAMES[:4])
    excludes += '<exclude body1="hand" body2="thumb_proximal"/><exclude body1="thumb_base" body2="thumb_proximal"/>'
    return excludes


def build_mjcf(spec: SceneSpec | None = None) -> str:
    """Return the complete MJCF text for `spec`."""
    spec = spec or SceneSpec()
    arm_open, arm_close = _arm_xml()
    objects = ""
    if spec.with_objects and spec.task_spec is not None:
        objects = spec.task_spec.mjcf()  # type: ignore[attr-defined]
    elif spec.with_objects:
        objects = _box_body() + _object_body(spec.toy, (0.5, -0.1, spec.toy.half_height()))
    if spec.with_objects:  # distractors: pick_place_toy's clutter, and any task's train variation
        for i, ds in enumerate(spec.distractors):
            objects += _object_body(ds, (0.3 + 0.1 * i, -0.4, ds.half_height()))
    actuators = _actuators_xml()
    equality = _finger_couplings_xml()
    excludes = _contact_excludes_xml()
    # a task may ask for extra <option> attributes (the cloth: the CG solver)
    option_extra = getattr(spec.task_spec, "option_attrs", "") if spec.with_objects else ""
    option_extra = f" {option_extra}" if option_extra else ""  # other tasks' XML stays byte-identical
    # ... and extra equality constraints (the cloth: its grip constraints, inactive until a pinch)
    if spec.with_objects and hasattr(spec.task_spec, "equality_mjcf"):
        equality_extra = spec.task_spec.equality_mjcf()  # type: ignore[union-attr]
    else:
        equality_extra = ""
    return f"""<mujoco model="being_h0_virtual_rig">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="0.002" integrator="implicitfast" cone="elliptic" impratio="10"{option_extra}/>
  <statistic extent="1.5" center="0.4 0 0.3"/>
  <visual><global offwidth="1280" offheight="960"/><map znear="0.01" zfar="4"/><quality shadowsize="0" offsamples="0"/></visual>
  <default>
    <joint damping="0.0"/>
    <geom solref="0.004 1"/>
    <default class="arm"><joint armature="0.1" damping="1.0" actuatorgravcomp="true"/></default>
    <default class="link"><geom type="capsule" rgba="0.92 0.92 0.95 1" contype="2" conaffinity="1" group="1"/></default>
    <default class="finger"><joint armature="0.001" damping="0.02"/></default>
    <default class="hand"><geom rgba="0.25 0.25 0.28 1" contype="4" conaffinity="1" friction="1.2 0.02 0.001" condim="4"/></default>
    <default class="pad"><geom type="capsule" contype="4" conaffinity="1" rgba="0.15 0.15 0.17 1" friction="1.5 0.03 0.001" condim="6" mass="0.015"/></default>
    <default class="object"><geom friction="1.2 0.02 0.002" condim="6" priority="1"/></default>
    <default class="box"><geom rgba="0.55 0.38 0.22 1" mass="0.08" friction="0.8 0.01 0.001"/></default>
  </default>
  <asset>
    {_table_assets_xml(spec.appearance)}
  </asset>
  <worldbody>
    {_lights_xml(spec.appearance)}
    <geom name="table" type="box" pos="0.35 0 -0.02" size="0.7 0.7 0.02" material="table" friction="0.8 0.01 0.001"/>
    <geom name="floor" type="plane" pos="0 0 -0.75" size="3 3 0.1" rgba="0.35 0.35 0.38 1" contype="0" conaffinity="0"/>
    <geom name="base_plate" type="cylinder" pos="0 0 0.01" size="0.09 0.01" rgba="0.9 0.9 0.92 1" contype="0" conaffinity="0"/>
    {_camera_xml(spec.appearance)}
    <body name="fr3_link0"><geom class="link" fromto="0 0 0.02 0 0 0.14" size="0.07"/>
    {arm_open}<site name="flange" pos="0 0 {franka.FLANGE_D}" size="0.005" rgba="0 1 0 0.3" group="4"/>{_hand_xml()}{arm_close}
    </body>
    {objects}
  </worldbody>
  <contact>{excludes}<exclude body1="fr3_link0" body2="fr3_link1"/></contact>
  <equality>{equality}{equality_extra}</equality>
  <actuator>{actuators}</actuator>
</mujoco>
"""
