"""Physical space alignment and view-invariant augmentation (Being-H0 Sec. 3.2).

Why: human videos come from cameras with different intrinsics and viewpoints.
Being-H0 maps every clip into one canonical camera so that a motion token
means the same physical motion everywhere, and augments views so the model
does not overfit to a camera pose. All 3D quantities are in the camera frame;
the hand is moved RIGIDLY about its wrist joint (``root = J0(betas) + transl``),
and each function returns the 2x3 pixel affine applied to the image so that
keypoints stay consistent with the new 3D motion.

- ``canonicalize_camera``: resize/shift the image to the canonical resolution
  and principal point, and scale the wrist depth so the hand keeps its pixel
  size under the canonical focal length (weak-perspective normalisation:
  exact for the wrist, error ~ f*dx*dz/Z^2 for other joints).
- ``augment_depth``: move the hand along the wrist's viewing ray by factor k
  and scale the image by 1/k about the wrist pixel (weak-perspective, as above).
- ``augment_rotation``: rotate the 3D motion about the optical axis by theta and
  the image about the principal point by the same angle (exact when fx == fy).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .clip import Clip, Intrinsics, project
from .features import ManoParams
from .rotations import axis_angle_to_matrix, matrix_to_axis_angle, rotation_z


def warp_image(image: np.ndarray, affine: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Apply a 2x3 pixel affine to an (H, W, 3) or (T, H, W, 3) uint8 image; ``size`` = (W, H)."""
    import cv2

    if image.ndim == 4:
        return np.stack([warp_image(f, affine, size) for f in image])
    return cv2.warpAffine(image, affine.astype(np.float64), size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def apply_affine(points_2d: np.ndarray, affine: np.ndarray) -> np.ndarray:
    return points_2d @ affine[:, :2].T + affine[:, 2]


def _root(params: ManoParams, j0: np.ndarray) -> np.ndarray:
    return np.asarray(j0, np.float64) + params.transl


def _with_root(params: ManoParams, j0: np.ndarray, root: np.ndarray) -> ManoParams:
    return replace(params, transl=root - np.asarray(j0, np.float64))


def canonicalize_camera(params: ManoParams, j0: np.ndarray, intr: Intrinsics,
                        canonical: Intrinsics) -> tuple[ManoParams, np.ndarray]:
    """Map a clip to the canonical camera; returns (params, 2x3 image affine).

    The image is scaled uniformly by ``r = canonical.width / intr.width`` and
    shifted so the principal point lands on the canonical one. The wrist keeps
    its pixel position and the hand its pixel size: wrist (X, Y, Z) ->
    (X, Y * fy/fx, Z * f_c / (r * fx)) with X, Y re-derived from its pixel.
    """
    r = canonical.width / intr.width
    affine = np.array([[r, 0, canonical.cx - r * intr.cx], [0, r, canonical.cy - r * intr.cy]])
    root = _root(params, j0)
    uv = apply_affine(project(root, intr), affine)
    z_new = root[:, 2] * canonical.fx / (r * intr.fx)
    x_new = (uv[:, 0] - canonical.cx) * z_new / canonical.fx
    y_new = (uv[:, 1] - canonical.cy) * z_new / canonical.fy
    return _with_root(params, j0, np.stack([x_new, y_new, z_new], -1)), affine


def augment_depth(params: ManoParams, j0: np.ndarray, intr: Intrinsics, k: float,
                  anchor_frame: int = 0) -> tuple[ManoParams, np.ndarray]:
    """Scale every wrist position by ``k`` (further if k > 1); image scaled by 1/k.

    The image scale is about the wrist pixel of ``anchor_frame`` so one affine
    serves the whole clip (every wrist moves along its own ray; wrist pixels
    are exact at the anchor frame, weak-perspective elsewhere).
    """
    if k <= 0:
        raise ValueError(f"depth scale must be > 0, got {k}")
    root = _root(params, j0)
    c = project(root[anchor_frame], intr)
    affine = np.array([[1 / k, 0, c[0] * (1 - 1 / k)], [0, 1 / k, c[1] * (1 - 1 / k)]])
    new_root = root.copy()
    new_root[:, 2] = root[:, 2] * k
    # keep each wrist's pixel under the image scale about c
    uv = apply_affine(project(root, intr), affine)
    new_root[:, 0] = (uv[:, 0] - intr.cx) * new_root[:, 2] / intr.fx
    new_root[:, 1] = (uv[:, 1] - intr.cy) * new_root[:, 2] / intr.fy
    return _with_root(params, j0, new_root), affine


def augment_rotation(params: ManoParams, j0: np.ndarray, intr: Intrinsics,
                     theta: float) -> tuple[ManoParams, np.ndarray]:
    """Rotate motion about the optical axis by ``theta`` rad and the image alike (exact)."""
    if abs(intr.fx - intr.fy) > 1e-6 * intr.fx:
        raise ValueError("augment_rotation needs square pixels (fx == fy)")
    rz = rotation_z(theta).numpy()
    go = matrix_to_axis_angle(rz @ axis_angle_to_matrix(params.global_orient))
    root = _root(params, j0) @ rz.T
    c, s = np.cos(theta), np.sin(theta)
    affine = np.array([[c, -s, intr.cx - c * intr.cx + s * intr.cy], [s, c, intr.cy - s * intr.cx - c * intr.cy]])
    return _with_root(replace(params, global_orient=go), j0, root), affine


def augment_clip(clip: Clip, j0: np.ndarray, rng: np.random.Generator, depth_range: tuple[float, float] = (0.8, 1.25),
                 max_rotation: float = np.pi / 6) -> Clip:
    """Random depth + in-plane rotation augmentation of a whole clip (frames, keypoints, motion)."""
    intr = clip.meta.intrinsics
    k = float(np.exp(rng.uniform(np.log(depth_range[0]), np.log(depth_range[1]))))
    p, a1 = augment_depth(clip.params, j0, intr, k)
    p, a2 = augment_rotation(p, j0, intr, float(rng.uniform(-max_rotation, max_rotation)))
    affine = np.vstack([a2, [0, 0, 1]]) @ np.vstack([a1, [0, 0, 1]])
    frames = warp_image(clip.frames, affine[:2], (intr.width, intr.height)) if clip.frames is not None else None
    kp = apply_affine(clip.keypoints_2d, affine[:2]) if clip.keypoints_2d is not None else None
    return Clip(p, clip.meta, None, kp, frames, clip.valid, dict(clip.extra))
