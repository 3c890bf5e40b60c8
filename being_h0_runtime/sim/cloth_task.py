"""unfold_clothes: a folded cloth on the table that the hand must lay out flat.

The cloth is a MuJoCo flex (`flexcomp type="grid" dim="2"`): a triangulated
grid whose edges are equality constraints (inextensible, no bending stiffness,
like a thin towel). It starts folded once along a grid line parallel to one of
its edges: the *flap* (the part beyond the crease) is mirrored over onto the
rest. The flap is longer than half the cloth (`flap_fractions` > 0.5), so its
free edge overhangs the fixed edge onto bare table: that overhang is where a
hand can pinch the flap alone.

Why no cloth-on-cloth contact: flex self-collision (triangle-triangle contacts
between the two layers) measured 30-50x slower than the rest of the scene on a
2-core CPU (~0.2x real time for a 7x7 grid), far too slow to bench. So both
layers rest on the table and pass through each other; the flap slides over the
fixed part without friction. The fold, the pinch, the lift and the laying-out
are still physical (gravity, edge constraints, finger contacts, table friction).

Cloth contacts use an invisible plane at the table top (one contact per
vertex) instead of the table box (about five per triangle): 4x fewer
constraints for the same support. Only the cloth collides with that plane.

Success (`coverage`): the area of the table covered by the cloth, measured as
the union of the top-down projections of the cloth's triangles that lie on the
table (every vertex below `ON_TABLE_Z`), rasterised on a `RASTER_M` grid,
divided by the cloth's flat area; success when it is at least
`UNFOLDED_FRACTION` and the hand does not touch the cloth. A union, not a sum
(two layers count once) and not a convex hull (a folded cloth's hull is as big
as its footprint, not bigger, but a crumpled ring would fill its hull).

Privileged state for scripted experts: nine landmark vertices of the cloth, at
material coordinates (a, b) in {0, 1/2, 1}^2 along the grid's two axes, named
`cloth_pt<a><b>` with a, b in {0, 1, 2} (cloth_pt11 is the material centre;
the identity quaternion: a vertex has no orientation).

The pinch (`update_grip`): MuJoCo's soft contacts cannot hold a 4 mm cloth
pinched off a table between the hand's rounded fingertips (measured: none of
a dozen finger/thumb pinch poses and closing profiles lifted it; the tips ride
over the cloth). So, as cloth-manipulation benchmarks do with their
"pickers", a grip constraint stands in for pinch friction: when the hand is
commanded closed (fingers and thumb) while a fingertip or the thumb touches the
cloth, the cloth vertices between the closing pads (`GRIP_REACH`) are held
at their current offsets from the hand (a MuJoCo `connect` equality); it
lets go as soon as the closure command drops. Everything else (lifting,
draping, laying down, sliding on the table) is ordinary physics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

#: covered / flat area at or above which the cloth counts as unfolded
UNFOLDED_FRACTION = 0.85
#: a triangle counts as lying on the table when all its vertices are below this height (m)
ON_TABLE_Z = 0.015
#: raster cell size (m) for the union-of-triangles area
RASTER_M = 0.003
#: flex vertex radius (m): the cloth's half thickness for collisions
CLOTH_RADIUS = 0.002
#: a pinch holds the cloth vertices within this box (m, grasp-site frame: x = closing direction between
#: the fingertips and the thumb, y = across the four fingers, z = along them), about where the pads close
GRIP_REACH = (0.016, 0.045, 0.03)
#: commanded closures (mean of the fingers, and the thumb bend) above which the hand pinches
GRIP_CLOSURE = 0.5
#: hand bodies whose contact with the cloth makes a pinch
PINCH_BODIES = ("index_distal", "middle_distal", "thumb_distal", "index_proximal", "middle_proximal")


def _f(v) -> str:
    return " ".join(f"{float(x):.6g}" for x in np.atleast_1d(v))


@dataclass(frozen=True)
class ClothSpec:
    """A rectangular cloth of `count` vertices spanning `size` (m), and how its folded start is drawn."""

    task: str = "unfold_clothes"
    size: tuple[float, float] = (0.24, 0.24)  # along the grid's first (u) and second (v) axis
    count: tuple[int, int] = (9, 9)  # vertices along u and v (odd: the landmarks are vertices)
    mass: float = 0.06
    #: colours drawn per episode (the flex's rgba is set at reset: no recompile)
    colours: tuple[tuple[float, float, float, float], ...] = ((0.2, 0.45, 0.85, 1.0),)
    #: flap length as a fraction of the folded side, drawn per episode; each must land on a grid line
    flap_fractions: tuple[float, ...] = (0.625,)
    #: axes the fold may be across: 0 = crease parallel to v (fold along u), 1 = parallel to u
    fold_axes: tuple[int, ...] = (0, 1)
    #: spawn region of the cloth's flat-layout centre (base frame) and its heading range
    region: tuple[tuple[float, float], tuple[float, float]] = ((0.46, 0.52), (-0.06, 0.06))
    yaw_range: tuple[float, float] = (-0.35, 0.35)
    friction: float = 0.8  # cloth against fingers and table (MuJoCo takes the larger of the pair)

    name = "cloth"

    def __post_init__(self) -> None:
        for n in self.count:
            if n < 3 or n % 2 == 0:
                raise ValueError(f"ClothSpec.count: need odd vertex counts >= 3, got {self.count}")
        for axis in self.fold_axes:
            for p in self.flap_fractions:
                k = p * (self.count[axis] - 1)
                # < 0.75: the material centre (a landmark) must not land on the fixed edge, or the landmarks
                # along the folded axis would read as a straight, unfolded line
                if not (0.5 < p < 0.75 and abs(k - round(k)) < 1e-9):
                    raise ValueError(f"ClothSpec.flap_fractions: {p} must be in (0.5, 0.75) and land on a grid line "
                                     f"of {self.count[axis]} vertices")

    @property
    def flat_area(self) -> float:
        return self.size[0] * self.size[1]

    @property
    def spacing(self) -> tuple[float, float]:
        return (self.size[0] / (self.count[0] - 1), self.size[1] / (self.count[1] - 1))

    def mjcf(self) -> str:
        su, sv = self.spacing
        return (
            f'<geom name="{self.name}_table" type="plane" size="0 0 1" contype="0" conaffinity="8" '
            f'friction="1 0.01 0.001" rgba="0 0 0 0" group="3"/>'
            f'<flexcomp name="{self.name}" type="grid" dim="2" count="{self.count[0]} {self.count[1]} 1" '
            f'spacing="{_f((su, sv, su))}" pos="0.5 0 {_f(CLOTH_RADIUS)}" radius="{_f(CLOTH_RADIUS)}" '
            f'mass="{_f(self.mass)}" rgba="{_f(self.colours[0])}">'
            # contype 8 / conaffinity 12: the plane (8) and the hand (contype 4); not the table box, not the arm
            f'<contact condim="3" solref="0.01 1" selfcollide="none" friction="{_f((self.friction, 0.01, 0.001))}" '
            f'contype="8" conaffinity="12"/>'
            '<edge equality="true" damping="0.002"/></flexcomp>'
        )

    def equality_mjcf(self) -> str:
        """One inactive grip constraint per vertex (hand <-> vertex body; anchors are set when it grips)."""
        n = self.count[0] * self.count[1]
        return "".join(f'<connect name="{self.name}_grip{i}" body1="hand" body2="{self.name}_{i}" anchor="0 0 0" '
                       'active="false" solref="0.01 1"/>' for i in range(n))

    #: extra <option> attributes: CG converges the cloth's edge constraints in fewer flops than Newton
    option_attrs = 'solver="CG"'

    # ------------------------------------------------------------------ geometry
    def grid_index(self, model: mujoco.MjModel) -> np.ndarray:
        """(N, 2) integer grid coordinates (i along u, j along v) of each flex vertex."""
        f = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_FLEX, self.name)
        adr, num = model.flex_vertadr[f], model.flex_vertnum[f]
        rest = model.body_pos[model.flex_vertbodyid[adr : adr + num]][:, :2]
        rest = rest - rest.min(axis=0)
        return np.rint(rest / np.array(self.spacing)).astype(int)

    def landmark_vertices(self, model: mujoco.MjModel) -> dict[str, int]:
        """Landmark name -> flex vertex index (see module docstring)."""
        ij = self.grid_index(model)
        out = {}
        for a in range(3):
            for b in range(3):
                want = (a * (self.count[0] - 1) // 2, b * (self.count[1] - 1) // 2)
                out[f"{self.name}_pt{a}{b}"] = int(np.flatnonzero((ij[:, 0] == want[0]) & (ij[:, 1] == want[1]))[0])
        return out

    def folded_layout(self, rng: np.random.Generator) -> tuple[np.ndarray, float, int, int, float, int]:
        """Draw (centre xy, yaw, fold axis, flap side +-1, flap fraction, colour index) from the episode's RNG."""
        xy = np.array([rng.uniform(*self.region[0]), rng.uniform(*self.region[1])])
        yaw = rng.uniform(*self.yaw_range)
        axis = int(self.fold_axes[int(rng.integers(len(self.fold_axes)))])
        side = 1 if rng.integers(2) else -1
        frac = float(self.flap_fractions[int(rng.integers(len(self.flap_fractions)))])
        colour = int(rng.integers(len(self.colours)))
        return xy, yaw, axis, side, frac, colour

    def material_coords(self, model: mujoco.MjModel) -> np.ndarray:
        """(N, 2) flat-layout coordinates (m) of each vertex, centred on the cloth centre."""
        ij = self.grid_index(model).astype(float)
        return (ij - (np.array(self.count) - 1) / 2.0) * np.array(self.spacing)

    def fold(self, uv: np.ndarray, axis: int, side: int, frac: float) -> np.ndarray:
        """Flat coordinates -> folded ones: the flap (the `side` end, `frac` of the length) mirrored over the crease."""
        half = self.size[axis] / 2
        crease = side * (half - frac * self.size[axis])  # coordinate of the crease along `axis`
        out = uv.copy()
        s = side * (uv[:, axis] - crease)
        flap = s > 1e-9
        out[flap, axis] = 2 * crease - uv[flap, axis]
        return out

    # ------------------------------------------------------------------ episode
    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        xy, yaw, axis, side, frac, colour = self.folded_layout(rng)
        uv = self.fold(self.material_coords(model), axis, side, frac)
        c, s = math.cos(yaw), math.sin(yaw)
        world = np.c_[xy[0] + c * uv[:, 0] - s * uv[:, 1], xy[1] + s * uv[:, 0] + c * uv[:, 1],
                      np.full(len(uv), CLOTH_RADIUS)]
        f = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_FLEX, self.name)
        adr, num = model.flex_vertadr[f], model.flex_vertnum[f]
        for vi, b in enumerate(model.flex_vertbodyid[adr : adr + num]):
            q = model.jnt_qposadr[model.body_jntadr[b]]  # three slide joints (x, y, z) per vertex body
            data.qpos[q : q + 3] = world[vi] - model.body_pos[b]
        model.flex_rgba[f] = self.colours[colour]

    def vertices(self, model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
        f = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_FLEX, self.name)
        adr, num = model.flex_vertadr[f], model.flex_vertnum[f]
        return data.flexvert_xpos[adr : adr + num].copy()

    def triangles(self, model: mujoco.MjModel) -> np.ndarray:
        f = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_FLEX, self.name)
        adr, num = model.flex_elemdataadr[f], model.flex_elemnum[f]
        return model.flex_elem[adr : adr + 3 * num].reshape(num, 3).copy()

    def coverage(self, model: mujoco.MjModel, data: mujoco.MjData) -> float:
        return covered_fraction(self.vertices(model, data), self.triangles(model), self.flat_area)

    def hand_touches(self, model: mujoco.MjModel, data: mujoco.MjData) -> bool:
        """True when any hand geom (the `hand` body's subtree) is in contact with the cloth."""
        f = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_FLEX, self.name)
        hand = model.body("hand").id
        for k in range(data.ncon):
            c = data.contact[k]
            if f not in (c.flex[0], c.flex[1]):
                continue
            for g in c.geom:
                b = model.geom_bodyid[g] if g >= 0 else -1
                while b > 0:
                    if b == hand:
                        return True
                    b = model.body_parentid[b]
        return False

    def gripped(self, model: mujoco.MjModel, data: mujoco.MjData) -> list[int]:
        """Indices of the vertices the hand's pinch holds now."""
        eq0 = model.equality(f"{self.name}_grip0").id
        n = self.count[0] * self.count[1]
        return [int(i) for i in np.flatnonzero(data.eq_active[eq0 : eq0 + n])]

    def update_grip(self, model: mujoco.MjModel, data: mujoco.MjData, hand_target: np.ndarray) -> None:
        """Start or end the pinch from the hand's closure command and its contacts (see module docstring)."""
        eq0 = model.equality(f"{self.name}_grip0").id
        n = self.count[0] * self.count[1]
        active = data.eq_active[eq0 : eq0 + n]
        closing = float(np.mean(hand_target[:4])) > GRIP_CLOSURE and float(hand_target[4]) > GRIP_CLOSURE
        if not closing:
            active[:] = 0
            return
        if active.any() or not self._pinch_contact(model, data):
            return
        grasp_id = model.site("grasp").id
        grasp, R = data.site_xpos[grasp_id], data.site_xmat[grasp_id].reshape(3, 3)
        local = (self.vertices(model, data) - grasp) @ R  # in the grasp-site frame: x closes, y spans the fingers
        near = np.flatnonzero((np.abs(local[:, 0]) <= GRIP_REACH[0]) & (np.abs(local[:, 1]) <= GRIP_REACH[1])
                              & (np.abs(local[:, 2]) <= GRIP_REACH[2]))
        hand = model.body("hand").id
        Rh = data.xmat[hand].reshape(3, 3)
        v = self.vertices(model, data)
        for i in near:  # each held where it is now, relative to the hand
            model.eq_data[eq0 + i, 0:3] = Rh.T @ (v[i] - data.xpos[hand])  # the vertex, in the hand frame
            model.eq_data[eq0 + i, 3:6] = 0.0  # the vertex body's origin is the vertex
            active[i] = 1

    def _pinch_contact(self, model: mujoco.MjModel, data: mujoco.MjData) -> bool:
        f = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_FLEX, self.name)
        bodies = {model.body(b).id for b in PINCH_BODIES}
        for k in range(data.ncon):
            c = data.contact[k]
            if f in (c.flex[0], c.flex[1]) and any(g >= 0 and model.geom_bodyid[g] in bodies for g in c.geom):
                return True
        return False

    def object_names(self) -> list[str]:
        return [f"{self.name}_pt{a}{b}" for a in range(3) for b in range(3)]

    def object_poses(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        v = self.vertices(model, data)
        ident = np.array([0.0, 0.0, 0.0, 1.0])
        return {n: (v[i].copy(), ident.copy()) for n, i in self.landmark_vertices(model).items()}

    def task_state(self, model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, float]:
        v = self.vertices(model, data)
        return {"coverage": self.coverage(model, data), "max_height": float(v[:, 2].max()),
                "hand_contact": float(self.hand_touches(model, data))}

    def success(self, model: mujoco.MjModel, data: mujoco.MjData) -> bool:
        return self.coverage(model, data) >= UNFOLDED_FRACTION and not self.hand_touches(model, data)


def covered_fraction(verts: np.ndarray, tris: np.ndarray, flat_area: float, cell: float = RASTER_M,
                     on_table_z: float = ON_TABLE_Z) -> float:
    """Area of the union of the top-down projections of the triangles lying on the table, / `flat_area`.

    Rasterised: a cell counts when its centre is inside any projected triangle whose
    vertices are all below `on_table_z`. The error is about one cell along the
    outline (~2% of a 24 cm cloth at 3 mm cells), the same whatever the cloth's heading.
    """
    verts = np.asarray(verts, dtype=float)
    tris = np.asarray(tris, dtype=int)
    low = np.all(verts[tris][:, :, 2] < on_table_z, axis=1)
    if not low.any():
        return 0.0
    p = verts[tris[low]][:, :, :2]  # (T, 3, 2)
    lo = p.reshape(-1, 2).min(axis=0)
    hi = p.reshape(-1, 2).max(axis=0)
    nx, ny = (np.ceil((hi - lo) / cell).astype(int) + 1)
    covered = np.zeros((nx, ny), dtype=bool)
    for t in p:  # per triangle, only the cells of its bounding box
        a, b, c = t
        i0, j0 = np.floor((t.min(axis=0) - lo) / cell).astype(int)
        i1, j1 = np.ceil((t.max(axis=0) - lo) / cell).astype(int)
        xs = lo[0] + (np.arange(i0, i1 + 1) + 0.5) * cell
        ys = lo[1] + (np.arange(j0, j1 + 1) + 0.5) * cell
        X, Y = np.meshgrid(xs, ys, indexing="ij")
        d1 = (b[0] - a[0]) * (Y - a[1]) - (b[1] - a[1]) * (X - a[0])
        d2 = (c[0] - b[0]) * (Y - b[1]) - (c[1] - b[1]) * (X - b[0])
        d3 = (a[0] - c[0]) * (Y - c[1]) - (a[1] - c[1]) * (X - c[0])
        inside = ((d1 >= 0) & (d2 >= 0) & (d3 >= 0)) | ((d1 <= 0) & (d2 <= 0) & (d3 <= 0))
        sub = covered[i0 : i1 + 1, j0 : j1 + 1]
        sub |= inside[: sub.shape[0], : sub.shape[1]]
    return float(covered.sum() * cell * cell / flat_area)


#: seen: a blue 24 cm square folded with a 62.5% flap along either axis
CLOTH_SEEN = ClothSpec()
#: unseen: a 28 x 21 cm rectangle in other colours, folded across its long side with another flap length
CLOTH_UNSEEN = ClothSpec(
    size=(0.28, 0.21), count=(11, 7), mass=0.07,
    colours=((0.85, 0.25, 0.2, 1.0), (0.3, 0.7, 0.35, 1.0), (0.9, 0.75, 0.2, 1.0)),
    flap_fractions=(0.6,), fold_axes=(0,),
    # further out than the seen square: its 28 cm must still leave the near edge where the hand reaches it
    region=((0.51, 0.55), (-0.05, 0.05)), yaw_range=(-0.25, 0.25),
)
