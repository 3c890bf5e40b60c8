"""The `train` variation: per-seed randomised scenes for demonstrations and the vision warm-up.

Why: a policy trained on one toy, one table and one camera pose learns those, not the task. The
`train` variation draws, from the scene seed alone (so a seed always gives the same scene):

  * pick_place_toy: a toy from a parametric family (box, cylinder, capsule, ellipsoid) with sizes
    and colours over wider ranges than the bench's `unseen` toys; close_lid / close_toolbox /
    pour_cup: the seen objects' dimensions within a band around the seen ones, in new colours;
  * 0-3 distractor objects on the table, kept clear of the task's objects;
  * light directions and intensities, the table's colour and texture;
  * camera pose jitter: a few mm of translation and up to 1.5 degrees about each axis.

Held out by construction (docs/training_variations.md): every shape and colour the bench uses in a
variation other than `seen` (pick_place_toy `unseen` toys and `clutter` distractors, the other tasks'
`unseen` objects, the cloth's unseen colours) is excluded from every draw by a margin:
  * colour: Euclidean RGB distance >= `COLOUR_MARGIN` from every held-out colour (rejection sampling);
  * shape: `shape_distance` >= `SHAPE_MARGIN_M` from every held-out object of the same shape class
    (rejection sampling for toys and distractors; for the containers and cups the sampled ranges
    exclude the unseen dimensions by at least the margin, see `_HINGED_RANGES` / `_POUR_RANGES`).
`tests/test_train_variation.py` draws thousands of train scenes and checks both margins.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import mujoco
import numpy as np

from . import scene, task_scenes

TRAIN = "train"
#: the smallest Euclidean RGB distance (components in 0..1) between a train colour and a held-out one
COLOUR_MARGIN = 0.2
#: the smallest `shape_distance` (m) between a train object and a held-out one of the same shape class
SHAPE_MARGIN_M = 0.004
#: distractors differ from the scene's task objects by at least this much in colour (no look-alikes)
DISTRACTOR_VS_TASK_COLOUR = 0.3
MAX_DISTRACTORS = 3
#: camera jitter: translation (m) per axis and rotation (deg) about each camera axis, uniform +-
CAMERA_SHIFT_M = 0.006
CAMERA_TILT_DEG = 1.5
#: where distractors may stand (base frame; inside the head camera's view) and their clearance (m)
#: from each task object's centre, per task: far enough that the expert's hand never reaches them
DISTRACTOR_AREA = ((0.26, 0.74), (-0.42, 0.40))
#: pick_place_toy: no distractor inside the toy's spawn region (world.TOY_REGION) grown by 3 cm, so in
#: every train scene "the toy" is the one object in the task area (a rule a policy can learn)
TOY_KEEP_OUT = ((0.37, 0.63), (-0.25, 0.01))
TASK_CLEARANCE_M = {"toy": 0.10, "box": 0.15, "toolbox": 0.27, "lidbox": 0.24, "cup": 0.11, "bowl": 0.15}


# ------------------------------------------------------------------------------------------- appearance
@dataclass(frozen=True)
class Appearance:
    """What the train variation changes about how the scene looks (no effect on physics)."""

    light_dirs: tuple[tuple[float, float, float], tuple[float, float, float]]
    light_diffuse: tuple[tuple[float, float, float], tuple[float, float, float]]
    table_builtin: str  # MuJoCo 2d builtin texture: checker | gradient | flat
    table_rgb1: tuple[float, float, float]
    table_rgb2: tuple[float, float, float]
    table_noise: float  # fraction of random specks (MuJoCo's mark="random")
    table_repeat: float
    camera_shift: tuple[float, float, float]  # metres, base frame
    camera_tilt_deg: tuple[float, float, float]  # about the camera's own x, y, z axes


def draw_appearance(rng: np.random.Generator) -> Appearance:
    def light_dir(nominal: tuple[float, float, float], spread: float) -> tuple[float, float, float]:
        v = np.asarray(nominal, float) + np.r_[rng.uniform(-spread, spread, 2), 0.0]
        return tuple(float(x) for x in v / np.linalg.norm(v))  # type: ignore[return-value]

    def diffuse(lo: float, hi: float) -> tuple[float, float, float]:
        return tuple(float(x) for x in np.clip(rng.uniform(lo, hi) * rng.uniform(0.9, 1.1, 3), 0, 1))  # type: ignore[return-value]

    grey = rng.uniform(0.35, 0.85)
    base = np.clip(grey + rng.uniform(-0.08, 0.08, 3), 0.15, 0.95)  # desaturated, like real tables
    return Appearance(
        light_dirs=(light_dir((0.0, 0.1, -1.0), 0.45), light_dir((0.5, -0.3, -1.0), 0.5)),
        light_diffuse=(diffuse(0.55, 1.0), diffuse(0.1, 0.5)),
        table_builtin=str(rng.choice(["checker", "gradient", "flat"])),
        table_rgb1=tuple(float(x) for x in base),  # type: ignore[arg-type]
        table_rgb2=tuple(float(x) for x in np.clip(base * rng.uniform(0.8, 0.97), 0, 1)),  # type: ignore[arg-type]
        table_noise=float(rng.uniform(0.0, 0.15)),
        table_repeat=float(rng.uniform(2.0, 10.0)),
        camera_shift=tuple(float(x) for x in rng.uniform(-CAMERA_SHIFT_M, CAMERA_SHIFT_M, 3)),  # type: ignore[arg-type]
        camera_tilt_deg=tuple(float(x) for x in rng.uniform(-CAMERA_TILT_DEG, CAMERA_TILT_DEG, 3)),  # type: ignore[arg-type]
    )


# ------------------------------------------------------------------------------------------- held-out set
def held_out_objects() -> tuple[scene.ObjectSpec, ...]:
    """The bench's objects that training must not see: pick_place_toy's unseen toys and clutter distractors."""
    return scene.UNSEEN_TOYS + scene.DISTRACTORS


def held_out_colours() -> np.ndarray:
    """(N, 3) RGB of every object in every bench variation other than `seen` (all tasks, the cloth included)."""
    rgbs = [o.rgba for o in held_out_objects()]
    for variations in task_scenes.TASK_SPECS.values():
        for name, spec in variations.items():
            if name in ("seen", TRAIN):
                continue
            rgbs += [getattr(spec, f) for f in ("rgba", "lid_rgba", "cup_rgba", "bead_rgba", "bowl_rgba")
                     if hasattr(spec, f)]
            rgbs += list(getattr(spec, "colours", ()))
    return np.array([c[:3] for c in rgbs], float)


def colour_distance(rgb: tuple[float, ...] | np.ndarray, others: np.ndarray) -> float:
    """Smallest Euclidean RGB distance from `rgb` to the rows of `others` (inf when there are none)."""
    if len(others) == 0:
        return math.inf
    return float(np.min(np.linalg.norm(np.asarray(others, float)[:, :3] - np.asarray(rgb, float)[:3], axis=1)))


def shape_signature(o: scene.ObjectSpec) -> tuple[str, tuple[float, float, float]]:
    """(shape class, half extents) of an upright object, the horizontal extents sorted (its yaw is random).

    Shape classes: 'box', 'cylinder', and 'round' (sphere, ellipsoid and capsule: a short capsule or an
    ellipsoid can look like a sphere, so they are compared with each other).
    """
    t, s = o.geom_type, o.size
    if t == "box":
        return "box", (max(s[0], s[1]), min(s[0], s[1]), s[2])
    if t == "cylinder":
        return "cylinder", (s[0], s[0], s[1])
    if t == "sphere":
        return "round", (s[0], s[0], s[0])
    if t == "ellipsoid":
        return "round", (max(s[0], s[1]), min(s[0], s[1]), s[2])
    if t == "capsule" and o.lying:
        return "round", (s[0] + s[1], s[0], s[0])
    if t == "capsule":
        return "round", (s[0], s[0], s[0] + s[1])
    raise ValueError(f"ObjectSpec.geom_type: unknown {t!r}")


def shape_distance(a: scene.ObjectSpec, b: scene.ObjectSpec) -> float:
    """Largest difference of half extents (m) between two objects of one shape class; inf across classes."""
    ka, ea = shape_signature(a)
    kb, eb = shape_signature(b)
    return float(np.max(np.abs(np.subtract(ea, eb)))) if ka == kb else math.inf


def is_held_out_like(o: scene.ObjectSpec, held_colours: np.ndarray) -> bool:
    """True when `o` comes within a margin of a held-out object's shape or a held-out colour."""
    return (colour_distance(o.rgba, held_colours) < COLOUR_MARGIN
            or any(shape_distance(o, h) < SHAPE_MARGIN_M for h in held_out_objects()))


# ------------------------------------------------------------------------------------------- objects
def draw_colour(rng: np.random.Generator, held: np.ndarray, avoid: np.ndarray | None = None,
                avoid_margin: float = 0.0) -> tuple[float, float, float, float]:
    """Any hue, saturation 0.2..1, value 0.3..1 (toys are mostly vivid; greys and pastels occur too), at
    least COLOUR_MARGIN from `held` in RGB (and `avoid_margin` from `avoid`)."""
    import colorsys

    for _ in range(10_000):
        rgb = np.array(colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.2, 1.0), rng.uniform(0.3, 1.0)))
        if colour_distance(rgb, held) >= COLOUR_MARGIN and (
                avoid is None or colour_distance(rgb, avoid) >= avoid_margin):
            return (float(rgb[0]), float(rgb[1]), float(rgb[2]), 1.0)
    raise RuntimeError("draw_colour: no admissible colour in 10000 draws (margins too wide)")


#: (geom type, weight) of the toy family, and the ranges of its size parameters (m): horizontal
#: extents stay graspable by the hand (2.8..5 cm across), heights 2.8..6.4 cm. Only shapes that rest
#: stably are drawn: ellipsoids no taller than wide (a tall one balances on its tip and topples when
#: the hand comes near), capsules lying on their side, at most 5 cm long.
TOY_KINDS = (("box", 0.3), ("cylinder", 0.3), ("capsule", 0.15), ("ellipsoid", 0.25))
TOY_HALF_WIDTH = (0.014, 0.025)
TOY_HALF_HEIGHT = (0.014, 0.032)


def _shape(rng: np.random.Generator, kind: str, width: tuple[float, float],
           height: tuple[float, float]) -> tuple[float, ...]:
    w = lambda: float(rng.uniform(*width))
    h = float(rng.uniform(*height))
    if kind == "box":
        return (w(), w(), h)
    if kind == "cylinder":
        return (w(), h)
    if kind == "ellipsoid":
        a, b = w(), w()
        return (a, b, min(h, a, b))
    r = float(rng.uniform(0.0135, 0.018))  # lying capsule: radius, half length of the straight part
    return (r, float(rng.uniform(0.004, max(0.0041, width[1] - r))))


def draw_object(rng: np.random.Generator, name: str, held: np.ndarray, width: tuple[float, float],
                height: tuple[float, float], mass: tuple[float, float], avoid: np.ndarray | None = None,
                avoid_margin: float = 0.0) -> scene.ObjectSpec:
    """One object of the toy family, rejection-sampled until it is clear of every held-out shape and colour."""
    kinds, weights = zip(*TOY_KINDS)
    p = np.array(weights) / sum(weights)
    for _ in range(10_000):
        kind = str(rng.choice(kinds, p=p))
        o = scene.ObjectSpec(name, kind, _shape(rng, kind, width, height),
                             draw_colour(rng, held, avoid, avoid_margin), float(rng.uniform(*mass)),
                             lying=kind == "capsule")
        if not is_held_out_like(o, held):
            return o
    raise RuntimeError("draw_object: no admissible shape in 10000 draws (margins too wide)")


def draw_distractors(rng: np.random.Generator, held: np.ndarray, task_colours: np.ndarray) -> tuple[scene.ObjectSpec, ...]:
    n = int(rng.integers(0, MAX_DISTRACTORS + 1))
    return tuple(draw_object(rng, f"distractor{i}", held, (0.014, 0.032), (0.014, 0.035), (0.05, 0.12),
                             task_colours, DISTRACTOR_VS_TASK_COLOUR) for i in range(n))


def _rgb(*cs: tuple[float, ...]) -> np.ndarray:
    return np.array([c[:3] for c in cs], float)


# --------------------------------------------------------------------------------- other tasks' objects
#: (min, max) of each randomised container dimension; each range stays >= SHAPE_MARGIN_M away from
#: the unseen container's value in at least one dimension (see `held_out_dimension_gap`)
_HINGED_RANGES = {
    "close_toolbox": {"half_x": (0.052, 0.062), "half_y": (0.095, 0.118), "height": (0.076, 0.09)},
    "close_lid": {"half_x": (0.048, 0.056), "half_y": (0.05, 0.064), "height": (0.056, 0.068)},
}
_POUR_RANGES = {"cup_half": (0.0165, 0.019), "cup_height": (0.056, 0.066), "bead_radius": (0.0068, 0.0076),
                "bowl_half": (0.064, 0.075)}


def randomised_dimensions(task: str) -> dict[str, tuple[float, float]]:
    """The ranges the train variation draws `task`'s object dimensions from (m)."""
    return _POUR_RANGES if task == "pour_cup" else _HINGED_RANGES[task]


def held_out_dimension_gap(task: str) -> float:
    """How far (m) the train ranges of `task` stay from its unseen spec: max over dimensions of the gap."""
    unseen = task_scenes.TASK_SPECS[task]["unseen"]
    gaps = []
    for field, (lo, hi) in randomised_dimensions(task).items():
        v = getattr(unseen, field)
        gaps.append(0.0 if lo <= v <= hi else min(abs(v - lo), abs(v - hi)))
    return max(gaps)


def _draw_dims(rng: np.random.Generator, task: str) -> dict[str, float]:
    return {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in randomised_dimensions(task).items()}


def _jittered(rng: np.random.Generator, rgba: tuple[float, ...], held: np.ndarray) -> tuple[float, float, float, float]:
    """A shade within +-0.06 of `rgba` that is still clear of the held-out colours (lids match their boxes)."""
    for _ in range(1000):
        rgb = np.clip(np.asarray(rgba[:3]) + rng.uniform(-0.06, 0.06, 3), 0.0, 1.0)
        if colour_distance(rgb, held) >= COLOUR_MARGIN:
            return (float(rgb[0]), float(rgb[1]), float(rgb[2]), 1.0)
    return tuple(rgba)  # type: ignore[return-value]  # rgba itself is admissible


def draw_task_spec(task: str, rng: np.random.Generator, held: np.ndarray) -> task_scenes.TaskSpec:
    """The seen spec of `task` with train dimensions and colours."""
    seen = task_scenes.TASK_SPECS[task]["seen"]
    dims = _draw_dims(rng, task)
    if task == "pour_cup":
        cup = draw_colour(rng, held)
        bead = draw_colour(rng, held, _rgb(cup), 0.3)
        bowl = draw_colour(rng, held, _rgb(cup, bead), 0.2)
        return dataclasses.replace(seen, cup_rgba=cup, bead_rgba=bead, bowl_rgba=bowl, **dims)
    body = draw_colour(rng, held)
    return dataclasses.replace(seen, rgba=body, lid_rgba=_jittered(rng, body, held),
                               lid_mass=float(rng.uniform(0.8, 1.15) * seen.lid_mass), **dims)


def task_colours(task: str, spec: object) -> np.ndarray:
    """RGB rows of a train scene's task objects (distractors keep clear of them)."""
    if task == "pick_place_toy":
        return _rgb(spec.rgba, (0.55, 0.38, 0.22))  # type: ignore[attr-defined]  # toy, the box's wood
    fields = ("cup_rgba", "bead_rgba", "bowl_rgba") if task == "pour_cup" else ("rgba", "lid_rgba")
    return _rgb(*(getattr(spec, f) for f in fields))


def draw_scene_spec(task: str, rng: np.random.Generator) -> scene.SceneSpec:
    """Everything about a train scene that changes the compiled model, drawn from `rng` (the scene seed)."""
    held = held_out_colours()
    if task == "pick_place_toy":
        toy = draw_object(rng, "toy", held, TOY_HALF_WIDTH, TOY_HALF_HEIGHT, (0.03, 0.06))
        return scene.SceneSpec(toy=toy, distractors=draw_distractors(rng, held, task_colours(task, toy)),
                               appearance=draw_appearance(rng))
    if task not in _HINGED_RANGES and task != "pour_cup":
        raise ValueError(f"train variation: task {task!r} has none (only pick_place_toy, close_lid, "
                         "close_toolbox, pour_cup)")
    spec = draw_task_spec(task, rng, held)
    return scene.SceneSpec(task_spec=spec, distractors=draw_distractors(rng, held, task_colours(task, spec)),
                           appearance=draw_appearance(rng))


# ------------------------------------------------------------------------------------------- placement
def _inside(xy: np.ndarray, region: tuple[tuple[float, float], tuple[float, float]]) -> bool:
    return bool(region[0][0] <= xy[0] <= region[0][1] and region[1][0] <= xy[1] <= region[1][1])


def place_distractors(rng: np.random.Generator, anchors: dict[str, np.ndarray],
                      distractors: tuple[scene.ObjectSpec, ...]) -> list[tuple[np.ndarray, float]]:
    """(xy, yaw) per distractor in `DISTRACTOR_AREA`, clear of the task objects at `anchors` (name -> xy)
    by `TASK_CLEARANCE_M`, out of `TOY_KEEP_OUT` when a toy is among them, and 7 cm from each other.
    A distractor with no free spot after 300 draws goes behind the robot (x = -0.3), out of the
    camera's view, so the model (built before placement) needs no change."""
    placed: list[np.ndarray] = []
    out = []
    for i, _ in enumerate(distractors):
        for _ in range(300):
            xy = np.array([rng.uniform(*DISTRACTOR_AREA[0]), rng.uniform(*DISTRACTOR_AREA[1])])
            if all(np.linalg.norm(xy - a) > TASK_CLEARANCE_M.get(n, 0.12) for n, a in anchors.items()) and all(
                    np.linalg.norm(xy - p) > 0.07 for p in placed) and not ("toy" in anchors and _inside(xy, TOY_KEEP_OUT)):
                break
        else:
            xy = np.array([-0.3, -0.5 + 0.15 * i])
        placed.append(xy)
        out.append((xy, float(rng.uniform(-math.pi, math.pi))))
    return out


def set_distractor_poses(model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator,
                         distractors: tuple[scene.ObjectSpec, ...], object_names: list[str]) -> None:
    """Stand each distractor's free body where `place_distractors` says, clear of the other objects in
    `object_names` (their poses must be current in `data`: call mj_forward after placing them)."""
    anchors = {n: data.xpos[model.body(n).id][:2].copy() for n in object_names if not n.startswith("distractor")}
    for ds, (xy, yaw) in zip(distractors, place_distractors(rng, anchors, distractors)):
        adr = model.jnt_qposadr[model.body(ds.name).jntadr[0]]
        data.qpos[adr:adr + 3] = np.r_[xy, ds.half_height() + 1e-4]
        data.qpos[adr + 3:adr + 7] = task_scenes.yaw_quat_wxyz(yaw)
