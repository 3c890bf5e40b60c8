"""Rotation conversions: axis-angle <-> rotation matrix <-> 6D (torch and numpy).

Why: MANO stores joint rotations as axis-angle, but axis-angle is
discontinuous for learning; Being-H0's D99/D162 layouts use the continuous 6D
representation of Zhou et al. (CVPR 2019). Conventions here:

- axis-angle ``(..., 3)``: unit axis times angle in radians, angle in [0, pi].
- rotation matrix ``(..., 3, 3)``: acts on column vectors, ``p' = R @ p``.
- 6D ``(..., 6)``: the first two COLUMNS of R, concatenated:
  ``[R00, R10, R20, R01, R11, R21]``; decoded by Gram-Schmidt, so any 6-vector
  with non-parallel halves maps to a valid rotation.

Every function accepts a ``torch.Tensor`` or a ``numpy.ndarray`` and returns
the same kind (numpy goes through float64 torch, so round trips are exact to
~1e-12).
"""

from __future__ import annotations

from typing import Callable, TypeVar

import numpy as np
import torch

Arr = TypeVar("Arr", torch.Tensor, np.ndarray)


def _dual(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable:
    def wrapper(x):  # type: ignore[no-untyped-def]
        if isinstance(x, np.ndarray):
            return fn(torch.from_numpy(np.asarray(x, dtype=np.float64))).numpy()
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"expected torch.Tensor or numpy.ndarray, got {type(x).__name__}")
        return fn(x)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _skew(v: torch.Tensor) -> torch.Tensor:
    z = torch.zeros_like(v[..., 0])
    return torch.stack(
        [z, -v[..., 2], v[..., 1], v[..., 2], z, -v[..., 0], -v[..., 1], v[..., 0], z], dim=-1
    ).reshape(*v.shape[:-1], 3, 3)


@_dual
def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula, stable near zero angle (Taylor terms)."""
    theta2 = (aa * aa).sum(-1, keepdim=True)[..., None]
    theta = theta2.clamp_min(1e-24).sqrt()
    small = theta2 < 1e-8
    a = torch.where(small, 1 - theta2 / 6, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(theta)) / theta2.clamp_min(1e-24))
    k = _skew(aa)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand_as(k)
    return eye + a * k + b * (k @ k)


@_dual
def matrix_to_axis_angle(r: torch.Tensor) -> torch.Tensor:
    """Inverse of ``axis_angle_to_matrix`` via quaternions (robust at pi)."""
    return _quat_to_axis_angle(_matrix_to_quat(r))


def _matrix_to_quat(r: torch.Tensor) -> torch.Tensor:
    m00, m11, m22 = r[..., 0, 0], r[..., 1, 1], r[..., 2, 2]
    q = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1
    ).clamp_min(0).sqrt() * 0.5  # |w|,|x|,|y|,|z|
    # candidates from each largest component (Shepperd's method)
    w, x, y, z = q.unbind(-1)
    c0 = torch.stack([w, (r[..., 2, 1] - r[..., 1, 2]) / (4 * w), (r[..., 0, 2] - r[..., 2, 0]) / (4 * w), (r[..., 1, 0] - r[..., 0, 1]) / (4 * w)], -1)
    c1 = torch.stack([(r[..., 2, 1] - r[..., 1, 2]) / (4 * x), x, (r[..., 0, 1] + r[..., 1, 0]) / (4 * x), (r[..., 0, 2] + r[..., 2, 0]) / (4 * x)], -1)
    c2 = torch.stack([(r[..., 0, 2] - r[..., 2, 0]) / (4 * y), (r[..., 0, 1] + r[..., 1, 0]) / (4 * y), y, (r[..., 1, 2] + r[..., 2, 1]) / (4 * y)], -1)
    c3 = torch.stack([(r[..., 1, 0] - r[..., 0, 1]) / (4 * z), (r[..., 0, 2] + r[..., 2, 0]) / (4 * z), (r[..., 1, 2] + r[..., 2, 1]) / (4 * z), z], -1)
    cands = torch.stack([c0, c1, c2, c3], dim=-2)
    idx = q.argmax(-1)
    out = torch.gather(cands, -2, idx[..., None, None].expand(*idx.shape, 1, 4)).squeeze(-2)
    out = torch.where(out[..., :1] < 0, -out, out)  # w >= 0 -> angle in [0, pi]
    return out / out.norm(dim=-1, keepdim=True)


def _quat_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    w, v = q[..., :1], q[..., 1:]
    s = v.norm(dim=-1, keepdim=True)
    angle = 2 * torch.atan2(s, w)
    small = s < 1e-6
    scale = torch.where(small, 2 / w.clamp_min(1e-12) * (1 - s * s / (3 * w * w).clamp_min(1e-12)), angle / s.clamp_min(1e-24))
    return v * scale


@_dual
def matrix_to_rot6d(r: torch.Tensor) -> torch.Tensor:
    """First two columns, ``[R[:,0], R[:,1]]`` -> (..., 6)."""
    return torch.cat([r[..., :, 0], r[..., :, 1]], dim=-1)


@_dual
def rot6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """Gram-Schmidt; the result is a proper rotation for any non-degenerate input."""
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / a1.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    b2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = b2 / b2.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def axis_angle_to_rot6d(aa: Arr) -> Arr:
    return matrix_to_rot6d(axis_angle_to_matrix(aa))


def rot6d_to_axis_angle(d6: Arr) -> Arr:
    return matrix_to_axis_angle(rot6d_to_matrix(d6))


def rotation_z(theta: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Rotation by ``theta`` radians about the camera optical (z) axis."""
    c, s = float(np.cos(theta)), float(np.sin(theta))
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=dtype)
