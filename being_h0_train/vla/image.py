"""InternVL dynamic-resolution tiling (with thumbnail) and pixel normalisation.

Why: InternVL feeds an image as up to ``max_tiles`` square tiles whose grid
(cols x rows) best matches the image aspect ratio, plus a global thumbnail
tile when more than one tile is used. Each tile becomes
``num_image_tokens`` ``<IMG_CONTEXT>`` tokens in the prompt.

Grid choice (as InternVL's ``dynamic_preprocess``): among all (cols, rows)
with ``min_tiles <= cols*rows <= max_tiles``, ordered by tile count, pick the
one whose aspect ratio is closest to the image's; on a tie prefer the larger
grid when the image has more than half the pixels of that grid.
"""

from __future__ import annotations

import numpy as np
import torch

from being_h0_runtime.policy.models.vla import normalize_pixels


def candidate_grids(min_tiles: int, max_tiles: int) -> list[tuple[int, int]]:
    grids = {(c, r) for n in range(min_tiles, max_tiles + 1) for c in range(1, n + 1) for r in range(1, n + 1)
             if min_tiles <= c * r <= max_tiles}
    return sorted(grids, key=lambda g: g[0] * g[1])


def choose_grid(width: int, height: int, tile: int, min_tiles: int = 1, max_tiles: int = 6) -> tuple[int, int]:
    aspect = width / height
    best, best_diff = (1, 1), float("inf")
    for c, r in candidate_grids(min_tiles, max_tiles):
        diff = abs(aspect - c / r)
        if diff < best_diff:
            best, best_diff = (c, r), diff
        elif diff == best_diff and width * height > 0.5 * tile * tile * c * r:
            best = (c, r)
    return best


def tile_image(image: np.ndarray, tile: int, min_tiles: int = 1, max_tiles: int = 6, use_thumbnail: bool = True) -> np.ndarray:
    """(H, W, 3) uint8 -> (N, tile, tile, 3) uint8 tiles (row-major), thumbnail last."""
    import cv2

    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got {image.shape}")
    h, w = image.shape[:2]
    c, r = choose_grid(w, h, tile, min_tiles, max_tiles)
    resized = cv2.resize(image, (tile * c, tile * r), interpolation=cv2.INTER_CUBIC) if (w, h) != (tile * c, tile * r) else image
    tiles = [resized[y * tile:(y + 1) * tile, x * tile:(x + 1) * tile] for y in range(r) for x in range(c)]
    if use_thumbnail and len(tiles) > 1:
        tiles.append(cv2.resize(image, (tile, tile), interpolation=cv2.INTER_CUBIC))
    return np.stack(tiles)


def image_to_pixel_values(image: np.ndarray, tile: int, max_tiles: int = 6, use_thumbnail: bool = True) -> torch.Tensor:
    """(H, W, 3) uint8 -> (N, 3, tile, tile) float, ImageNet-normalised."""
    return normalize_pixels(torch.from_numpy(np.ascontiguousarray(tile_image(image, tile, 1, max_tiles, use_thumbnail))))
