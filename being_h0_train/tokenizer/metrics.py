"""Motion reconstruction metrics: MPJPE, PA-MPJPE, MWTE (millimetres), codebook usage.

- MPJPE: mean Euclidean error over the 21 joints in the camera frame.
- PA-MPJPE: MPJPE after per-frame Procrustes alignment (rotation, translation,
  scale) of predicted to ground-truth joints: articulation error only.
- MWTE: mean wrist translation error, the Euclidean error of the wrist joint
  (joint 0) position, i.e. global placement of the hand.
- codebook usage: fraction of codes used at least once; perplexity:
  ``exp(entropy)`` of the code histogram (== K for uniform use).
"""

from __future__ import annotations

import numpy as np
import torch

from ..motion.features import FeatureLayout, features_to_params
from ..motion.mano import ManoLayer


def features_to_joints(features: np.ndarray, layout: FeatureLayout, mano: ManoLayer,
                       betas: np.ndarray | None = None) -> np.ndarray:
    """(T, D) features -> (T, J, 3) joints via MANO FK (betas from features or argument)."""
    p, _ = features_to_params(features, layout, betas=betas)
    dt = mano.v_template.dtype
    f = lambda a: torch.as_tensor(np.asarray(a), dtype=dt)  # noqa: E731
    with torch.no_grad():
        return mano(f(p.global_orient), f(p.hand_pose), f(p.betas), f(p.transl), return_vertices=False).joints.double().numpy()


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    return float(np.linalg.norm(pred - gt, axis=-1).mean() * 1000)


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Align each (J, 3) frame of ``pred`` to ``gt`` by similarity transform."""
    mp, mg = pred.mean(-2, keepdims=True), gt.mean(-2, keepdims=True)
    x, y = pred - mp, gt - mg
    h = np.swapaxes(x, -1, -2) @ y
    u, s, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
    fix = np.ones_like(s)
    fix[..., -1] = d
    r = np.swapaxes(vt, -1, -2) @ (fix[..., None] * np.swapaxes(u, -1, -2))
    scale = (s * fix).sum(-1) / (x**2).sum((-1, -2)).clip(1e-12)
    return scale[..., None, None] * (x @ np.swapaxes(r, -1, -2)) + mg


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    return mpjpe(procrustes_align(pred, gt), gt)


def mwte(pred: np.ndarray, gt: np.ndarray) -> float:
    return float(np.linalg.norm(pred[..., 0, :] - gt[..., 0, :], axis=-1).mean() * 1000)


def codebook_stats(codes: np.ndarray, codebook_size: int) -> dict[str, float]:
    """Usage and perplexity per (part, group[, stage]) codebook, averaged."""
    codes = np.asarray(codes)
    flat = codes.reshape(-1, *codes.shape[-3:]) if codes.ndim >= 3 else codes
    usages, perps = [], []
    for idx in np.ndindex(*flat.shape[1:-1]):
        c = flat[(slice(None), *idx, slice(None))].reshape(-1)
        hist = np.bincount(c, minlength=codebook_size).astype(np.float64)
        p = hist / max(hist.sum(), 1)
        usages.append((hist > 0).mean())
        nz = p[p > 0]
        perps.append(float(np.exp(-(nz * np.log(nz)).sum())))
    return {"codebook_usage": float(np.mean(usages)), "perplexity": float(np.mean(perps))}
