"""MANO hand layer (linear blend skinning + forward kinematics) from a user file.

Why: Being-H0 represents hand motion as MANO parameters; joints are needed for
the MPJPE/PA-MPJPE metrics, the D114/D162 feature layouts and for rendering
keypoints. MANO's licence forbids shipping the model, so this layer loads the
user's own file: the official ``MANO_RIGHT.pkl``/``MANO_LEFT.pkl`` (arrays must
be plain numpy/scipy; chumpy objects are converted if chumpy is importable) or
an ``.npz`` with the same keys:

==================  ===========  =============================================
key                 shape        meaning
==================  ===========  =============================================
v_template          (V, 3)       rest-pose mesh
shapedirs           (V, 3, B)    shape blend shapes (B = number of betas)
posedirs            (V, 3, 135)  pose blend shapes, one per (R_j - I) entry
J_regressor         (16, V)      dense or scipy.sparse joint regressor
weights             (V, 16)      skinning weights
kintree_table       (2, 16)      row 0: parent of joint j (root: -1 / 2**32-1)
f                   (F, 3)       faces (``faces`` also accepted)
hands_components    (K, 45)      optional PCA basis of the 45-D finger pose
hands_mean          (45,)        optional mean finger pose
tip_vertex_ids      (5,)         optional fingertip vertices (thumb, index,
                                 middle, ring, little); default MANO ids for
                                 V == 778
==================  ===========  =============================================

Joint order is MANO's: 0 wrist, 1-3 index, 4-6 middle, 7-9 little, 10-12 ring,
13-15 thumb, then 16-20 fingertips thumb, index, middle, ring, little.

``synthetic_mano_arrays()`` builds a small well-formed model (a plausible hand
skeleton with a few hundred vertices) so tests and the synthetic data generator
run without the licensed file; it is NOT anatomically MANO.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .rotations import axis_angle_to_matrix

NUM_JOINTS = 16
NUM_HAND_POSE = 45
MANO_TIP_VERTEX_IDS = (745, 317, 444, 556, 673)  # thumb, index, middle, ring, little
REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table")


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "toarray"):  # scipy.sparse
        return np.asarray(x.toarray())
    if hasattr(x, "r") and not isinstance(x, np.ndarray):  # chumpy
        return np.asarray(x.r)
    return np.asarray(x)


def load_mano_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Read a MANO ``.pkl`` or ``.npz`` into plain numpy arrays, validated."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"MANO model file not found: {p}")
    if p.suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            raw = {k: z[k] for k in z.files}
    else:
        try:
            with open(p, "rb") as fh:
                raw = pickle.load(fh, encoding="latin1")
        except ModuleNotFoundError as e:
            raise ValueError(
                f"{p}: pickle needs module {e.name!r} (official MANO pickles contain chumpy arrays); "
                "install chumpy or re-save the arrays as .npz with the keys listed in being_h0_train.motion.mano"
            ) from e
    arrays = {k: _to_numpy(v) for k, v in raw.items() if not isinstance(v, (str, bytes))}
    if "f" not in arrays and "faces" in arrays:
        arrays["f"] = arrays["faces"]
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"{p}: missing MANO field(s) {missing}")
    v = arrays["v_template"].shape[0]
    checks = {
        "v_template": (v, 3),
        "J_regressor": (NUM_JOINTS, v),
        "weights": (v, NUM_JOINTS),
        "kintree_table": (2, NUM_JOINTS),
        "posedirs": (v, 3, (NUM_JOINTS - 1) * 9),
    }
    for k, shape in checks.items():
        if arrays[k].shape != shape:
            raise ValueError(f"{p}: field {k} has shape {arrays[k].shape}, expected {shape}")
    if arrays["shapedirs"].ndim != 3 or arrays["shapedirs"].shape[:2] != (v, 3):
        raise ValueError(f"{p}: field shapedirs has shape {arrays['shapedirs'].shape}, expected ({v}, 3, B)")
    if "hands_components" in arrays and arrays["hands_components"].shape[-1] != NUM_HAND_POSE:
        raise ValueError(f"{p}: hands_components must be (K, 45), got {arrays['hands_components'].shape}")
    return arrays


@dataclass
class ManoOutput:
    vertices: torch.Tensor  # (..., V, 3)
    joints: torch.Tensor  # (..., 21, 3) (16 if no fingertip ids)


class ManoLayer(nn.Module):
    """Differentiable MANO: ``(global_orient, hand_pose, betas, transl) -> vertices, joints``.

    ``global_orient`` (..., 3) and ``hand_pose`` (..., 45) are axis-angle
    (or ``hand_pose`` (..., K) PCA coefficients when ``use_pca``), ``betas``
    (..., B), ``transl`` (..., 3). ``flat_hand_mean=True`` means zero pose is
    the flat hand (the MANO default used by HaMeR); otherwise ``hands_mean``
    is added.
    """

    def __init__(self, arrays: dict[str, np.ndarray], use_pca: bool = False, flat_hand_mean: bool = True,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        f = lambda k: torch.as_tensor(np.asarray(arrays[k], dtype=np.float64), dtype=dtype)  # noqa: E731
        self.register_buffer("v_template", f("v_template"))
        self.register_buffer("shapedirs", f("shapedirs"))
        self.register_buffer("posedirs", f("posedirs").reshape(-1, (NUM_JOINTS - 1) * 9))
        self.register_buffer("J_regressor", f("J_regressor"))
        self.register_buffer("weights", f("weights"))
        parents = np.asarray(arrays["kintree_table"][0]).astype(np.int64)
        parents[0] = -1
        parents[parents > NUM_JOINTS] = -1
        if any(parents[j] >= j for j in range(1, NUM_JOINTS)):
            raise ValueError("kintree_table parents must precede children")
        self.parents = parents.tolist()
        self.faces = np.asarray(arrays.get("f", np.zeros((0, 3))), dtype=np.int64)
        self.use_pca = use_pca
        if use_pca and "hands_components" not in arrays:
            raise ValueError("use_pca=True needs hands_components in the MANO file")
        comps = arrays.get("hands_components", np.eye(NUM_HAND_POSE))
        self.register_buffer("hands_components", torch.as_tensor(np.asarray(comps, np.float64), dtype=dtype))
        mean = np.zeros(NUM_HAND_POSE) if flat_hand_mean else np.asarray(arrays.get("hands_mean", np.zeros(NUM_HAND_POSE)))
        self.register_buffer("hands_mean", torch.as_tensor(mean, dtype=dtype))
        tips = arrays.get("tip_vertex_ids")
        if tips is None and self.v_template.shape[0] == 778:
            tips = np.asarray(MANO_TIP_VERTEX_IDS)
        self.tip_ids = None if tips is None else [int(t) for t in np.asarray(tips)]
        self.num_betas = self.shapedirs.shape[-1]

    @classmethod
    def from_file(cls, path: str | Path, **kw: Any) -> "ManoLayer":
        return cls(load_mano_arrays(path), **kw)

    @property
    def num_joints(self) -> int:
        return NUM_JOINTS + (len(self.tip_ids) if self.tip_ids else 0)

    def full_pose(self, hand_pose: torch.Tensor) -> torch.Tensor:
        if self.use_pca:
            k = hand_pose.shape[-1]
            hand_pose = hand_pose @ self.hands_components[:k]
        return hand_pose + self.hands_mean

    def rest_joints(self, betas: torch.Tensor) -> torch.Tensor:
        """Rest-pose joint locations (..., 16, 3) for shape ``betas``."""
        v = self.v_template + torch.einsum("vcb,...b->...vc", self.shapedirs, self._betas(betas))
        return torch.einsum("jv,...vc->...jc", self.J_regressor, v)

    def _betas(self, betas: torch.Tensor) -> torch.Tensor:
        b = self.num_betas
        if betas.shape[-1] < b:
            betas = torch.cat([betas, betas.new_zeros(*betas.shape[:-1], b - betas.shape[-1])], -1)
        return betas[..., :b]

    def _fk(self, rots: torch.Tensor, rest: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World rotations/positions of each joint: (..., 16, 3, 3), (..., 16, 3)."""
        g_r = [rots[..., 0, :, :]]
        g_t = [rest[..., 0, :]]
        for j in range(1, NUM_JOINTS):
            p = self.parents[j]
            g_r.append(g_r[p] @ rots[..., j, :, :])
            g_t.append(g_t[p] + (g_r[p] @ (rest[..., j, :] - rest[..., p, :]).unsqueeze(-1)).squeeze(-1))
        return torch.stack(g_r, -3), torch.stack(g_t, -2)

    def forward(self, global_orient: torch.Tensor, hand_pose: torch.Tensor, betas: torch.Tensor | None = None,
                transl: torch.Tensor | None = None, return_vertices: bool = True) -> ManoOutput:
        batch = global_orient.shape[:-1]
        if betas is None:
            betas = global_orient.new_zeros(*batch, self.num_betas)
        betas = self._betas(betas).expand(*batch, self.num_betas)
        pose = torch.cat([global_orient, self.full_pose(hand_pose)], -1).reshape(*batch, NUM_JOINTS, 3)
        rots = axis_angle_to_matrix(pose)
        v_shaped = self.v_template + torch.einsum("vcb,...b->...vc", self.shapedirs, betas)
        rest = torch.einsum("jv,...vc->...jc", self.J_regressor, v_shaped)
        g_r, g_t = self._fk(rots, rest)
        joints = g_t
        verts = None
        if return_vertices or self.tip_ids:
            eye = torch.eye(3, dtype=rots.dtype, device=rots.device)
            pose_feat = (rots[..., 1:, :, :] - eye).reshape(*batch, -1)
            v_posed = v_shaped + (pose_feat @ self.posedirs.T).reshape(*batch, -1, 3)
            # skinning transforms: x -> G_r (x - rest_j) + G_t
            offs = g_t - (g_r @ rest.unsqueeze(-1)).squeeze(-1)
            a_r = torch.einsum("vj,...jab->...vab", self.weights, g_r)
            a_t = torch.einsum("vj,...ja->...va", self.weights, offs)
            verts = (a_r @ v_posed.unsqueeze(-1)).squeeze(-1) + a_t
            if self.tip_ids:
                joints = torch.cat([joints, verts[..., self.tip_ids, :]], -2)
        if transl is not None:
            joints = joints + transl.unsqueeze(-2)
            if verts is not None:
                verts = verts + transl.unsqueeze(-2)
        return ManoOutput(vertices=verts if verts is not None else joints.new_zeros(0), joints=joints)


# --------------------------------------------------------------------------
# A small, well-formed synthetic hand model (for tests and synthetic data).
# --------------------------------------------------------------------------
_PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14]
# rest joints in metres, right hand, palm facing -y, fingers along +x
_REST = np.array([
    [0.0, 0.0, 0.0],
    [0.088, 0.0, 0.025], [0.123, 0.0, 0.028], [0.145, 0.0, 0.030],      # index
    [0.092, 0.0, 0.004], [0.130, 0.0, 0.004], [0.155, 0.0, 0.004],      # middle
    [0.075, 0.0, -0.040], [0.102, 0.0, -0.044], [0.118, 0.0, -0.046],   # little
    [0.085, 0.0, -0.018], [0.120, 0.0, -0.020], [0.143, 0.0, -0.021],   # ring
    [0.025, 0.0, 0.035], [0.050, -0.005, 0.060], [0.072, -0.010, 0.078],  # thumb
])
_TIP_OF = {15: 0, 3: 1, 6: 2, 12: 3, 9: 4}  # last joint of chain -> tip index (thumb, index, middle, ring, little)


def synthetic_mano_arrays(num_betas: int = 10, verts_per_bone: int = 12, seed: int = 0) -> dict[str, np.ndarray]:
    """Well-formed MANO-format arrays for a synthetic hand (no licence needed).

    Vertices are sampled along each bone (plus a fingertip vertex per finger),
    skinned rigidly-with-blending to the bone's joint; shape and pose blend
    shapes are small random fields; the J_regressor averages the vertices
    around each joint so that it reproduces ``_REST`` for ``betas = 0``.
    """
    rng = np.random.default_rng(seed)
    verts, owner = [], []
    children = {j: [c for c in range(16) if _PARENTS[c] == j] for j in range(16)}
    for j in range(16):
        ends = [_REST[c] for c in children[j]] or [_REST[j] + 0.6 * (_REST[j] - _REST[_PARENTS[j]])]
        for end in ends:
            for k in range(verts_per_bone // len(ends)):
                t = (k + 0.5) / (verts_per_bone // len(ends))
                verts.append(_REST[j] + t * (end - _REST[j]) + rng.normal(scale=0.004, size=3))
                owner.append(j)
    tip_ids = [0] * 5
    for j, ti in _TIP_OF.items():
        tip = _REST[j] + 0.6 * (_REST[j] - _REST[_PARENTS[j]])
        tip_ids[ti] = len(verts)
        verts.append(tip)
        owner.append(j)
    v = np.asarray(verts)
    nv = len(v)
    weights = np.zeros((nv, 16))
    for i, j in enumerate(owner):
        weights[i, j] = 0.85
        weights[i, _PARENTS[j] if _PARENTS[j] >= 0 else j] += 0.15
    # joint regressor: weighted average of vertices + correction so J(v_template) == _REST exactly
    jreg = np.zeros((16, nv))
    for j in range(16):
        near = np.argsort(np.linalg.norm(v - _REST[j], axis=1))[:4]
        jreg[j, near] = 0.25
    # shift template so the regressor reproduces _REST: solve min ||dv|| s.t. jreg (v+dv) = REST
    resid = _REST - jreg @ v
    dv = jreg.T @ np.linalg.solve(jreg @ jreg.T, resid)
    v = v + dv
    shapedirs = rng.normal(scale=0.002, size=(nv, 3, num_betas))
    # scale-like first beta: lengthens the hand along the fingers
    shapedirs[:, 0, 0] = v[:, 0] * 0.05
    posedirs = rng.normal(scale=0.0005, size=(nv, 3, 135))
    faces = np.array([[i, i + 1, i + 2] for i in range(0, nv - 2, 3)], dtype=np.int64)
    comps = np.linalg.qr(rng.normal(size=(45, 45)))[0].T
    return {
        "v_template": v, "shapedirs": shapedirs, "posedirs": posedirs, "J_regressor": jreg,
        "weights": weights, "kintree_table": np.stack([np.array(_PARENTS), np.arange(16)]).astype(np.int64),
        "f": faces, "hands_components": comps, "hands_mean": rng.normal(scale=0.1, size=45),
        "tip_vertex_ids": np.asarray(tip_ids, dtype=np.int64),
    }


def save_mano_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    p = Path(path)
    np.savez(p, **arrays)
    return p


_DEFAULT: ManoLayer | None = None


def default_mano() -> ManoLayer:
    """A cached synthetic ``ManoLayer`` (used when no user MANO file is given)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = ManoLayer(synthetic_mano_arrays())
    return _DEFAULT
