"""Observation pre-processing shared by post-training and every runtime backend.

Why one module: the engine only reproduces its PyTorch parity numbers if the
rig feeds it exactly the tensors it was trained on. Training
(``being_h0_train.posttrain.data``) and the runtime (``policy.engine``) both
call this code, which depends on numpy only (OpenCV is used for the resize
when importable; the numpy fallback computes the same half-pixel bilinear
interpolation in float32).

- ``TilePreprocessor``: InternVL dynamic tiling. The image is resized to the
  tile grid (cols x rows tiles of ``image_size``) whose aspect ratio is
  closest to the image's, cut into tiles row-major, and (when there is more
  than one tile) a whole-image thumbnail is appended, exactly as InternVL's
  ``dynamic_preprocess``. Resize, HWC->CHW and ImageNet normalisation run as a
  few whole-array operations; the grid and the interpolation tables are
  cached per input size, so nothing per pixel runs in Python.
- ``PromptEncoder``: the chat template around the instruction, tokenised
  with the engine's ``tokenizer.json`` (``tokenizers`` library, no
  ``transformers`` import on the rig) and cached per task string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

try:  # OpenCV is optional; both paths compute float32 half-pixel bilinear.
    import cv2  # type: ignore
except Exception:  # noqa: BLE001  # pragma: no cover - depends on the environment
    cv2 = None

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: InternVL3 chat template around one image and one instruction. The image
#: tokens sit between ``<img>`` and ``</img>``; the model inserts them itself,
#: so the template is split into the part before the image (``PROMPT_PREFIX``)
#: and the part after it (``PROMPT_SUFFIX``, containing ``{instruction}``).
PROMPT_PREFIX = "<|im_start|>user\n<img>"
PROMPT_SUFFIX = "</img>\n{instruction}<|im_end|>\n<|im_start|>assistant\n"


def target_ratios(max_tiles: int, min_tiles: int = 1) -> list[tuple[int, int]]:
    """All (cols, rows) grids with ``min_tiles <= cols*rows <= max_tiles``, InternVL order."""
    ratios = {
        (i, j)
        for n in range(min_tiles, max_tiles + 1)
        for i in range(1, n + 1)
        for j in range(1, n + 1)
        if min_tiles <= i * j <= max_tiles
    }
    return sorted(ratios, key=lambda r: r[0] * r[1])


def closest_grid(width: int, height: int, image_size: int, max_tiles: int) -> tuple[int, int]:
    """InternVL's ``find_closest_aspect_ratio``: the (cols, rows) tile grid for an image."""
    aspect = width / height
    best_diff, best = float("inf"), (1, 1)
    area = width * height
    for cols, rows in target_ratios(max_tiles):
        diff = abs(aspect - cols / rows)
        if diff < best_diff:
            best_diff, best = diff, (cols, rows)
        elif diff == best_diff and area > 0.5 * image_size * image_size * cols * rows:
            best = (cols, rows)
    return best


def num_tiles_for(width: int, height: int, image_size: int, max_tiles: int, use_thumbnail: bool) -> int:
    cols, rows = closest_grid(width, height, image_size, max_tiles)
    n = cols * rows
    return n + 1 if use_thumbnail and n > 1 else n


@lru_cache(maxsize=64)
def _bilinear_table(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half-pixel-centre bilinear source indices/weights (OpenCV INTER_LINEAR convention)."""
    scale = n_in / n_out
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * scale - 0.5
    src = np.clip(src, 0.0, n_in - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w = (src - i0).astype(np.float32)
    return i0, i1, w


def resize_bilinear(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W, C) -> (height, width, C) float32, half-pixel bilinear, vectorised."""
    x = img.astype(np.float32, copy=False)
    h, w = x.shape[:2]
    if (h, w) == (height, width):
        return x.copy()
    if cv2 is not None:
        return cv2.resize(x, (width, height), interpolation=cv2.INTER_LINEAR)
    y0, y1, wy = _bilinear_table(h, height)
    x0, x1, wx = _bilinear_table(w, width)
    rows = x[y0] * (1.0 - wy)[:, None, None] + x[y1] * wy[:, None, None]
    return rows[:, x0] * (1.0 - wx)[None, :, None] + rows[:, x1] * wx[None, :, None]


def resize_pil_bicubic(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (height, width, 3) float32 via PIL BICUBIC on the uint8 image.

    What torchvision's ``Resize((h, w), BICUBIC)`` does to a PIL image (the official Being-H0
    ``build_transform``): PIL's antialiased bicubic, rounded back to uint8.
    """
    from PIL import Image

    arr = np.ascontiguousarray(img if img.dtype == np.uint8 else np.clip(np.rint(img), 0, 255).astype(np.uint8))
    out = Image.fromarray(arr, "RGB").resize((width, height), Image.BICUBIC)
    return np.asarray(out, dtype=np.float32)


@dataclass
class TilePreprocessor:
    """RGB uint8 image -> (num_tiles, 3, S, S) float32 normalised tiles."""

    image_size: int
    max_tiles: int = 1
    use_thumbnail: bool = True
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    #: "bilinear" (float half-pixel) or "pil_bicubic" (official Being-H0 checkpoints)
    resize: str = "bilinear"
    _scale: np.ndarray = field(init=False, repr=False)
    _offset: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.image_size <= 0 or self.max_tiles < 1:
            raise ValueError(f"image_size must be > 0 and max_tiles >= 1, got {self.image_size}, {self.max_tiles}")
        if self.resize not in ("bilinear", "pil_bicubic"):
            raise ValueError(f"resize must be 'bilinear' or 'pil_bicubic', got {self.resize!r}")
        self._resize = resize_bilinear if self.resize == "bilinear" else resize_pil_bicubic
        std = np.asarray(self.std, np.float32)
        # (x / 255 - mean) / std  ==  x * scale + offset, one fused pass
        self._scale = (1.0 / (255.0 * std)).reshape(1, 3, 1, 1).astype(np.float32)
        self._offset = (-np.asarray(self.mean, np.float32) / std).reshape(1, 3, 1, 1).astype(np.float32)

    def grid(self, width: int, height: int) -> tuple[int, int]:
        return closest_grid(width, height, self.image_size, self.max_tiles)

    def num_tiles(self, width: int, height: int) -> int:
        return num_tiles_for(width, height, self.image_size, self.max_tiles, self.use_thumbnail)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            shape = getattr(image, "shape", None)
            raise ValueError(f"image must be an (H, W, 3) RGB array, got shape {shape}")
        h, w = image.shape[:2]
        s = self.image_size
        cols, rows = self.grid(w, h)
        big = self._resize(image, cols * s, rows * s)  # (rows*S, cols*S, 3)
        tiles = big.reshape(rows, s, cols, s, 3).transpose(0, 2, 4, 1, 3).reshape(rows * cols, 3, s, s)
        if self.use_thumbnail and rows * cols > 1:
            thumb = self._resize(image, s, s).transpose(2, 0, 1)[None]
            tiles = np.concatenate([tiles, thumb], axis=0)
        out = tiles * self._scale
        out += self._offset
        return np.ascontiguousarray(out, dtype=np.float32)


class PromptEncoder:
    """Instruction -> token ids of ``PROMPT_SUFFIX``; cached per task string.

    ``tokenizer`` is a ``tokenizers.Tokenizer`` (or anything with
    ``encode(text, add_special_tokens=False).ids``), or a path to a
    ``tokenizer.json``.
    """

    def __init__(self, tokenizer: Any, suffix_template: str = PROMPT_SUFFIX, cache_size: int = 256,
                 add_special_tokens: bool = False) -> None:
        if isinstance(tokenizer, (str, Path)):
            from tokenizers import Tokenizer

            path = Path(tokenizer)
            if not path.is_file():
                raise FileNotFoundError(f"{path}: tokenizer.json not found")
            tokenizer = Tokenizer.from_file(str(path))
        if "{instruction}" not in suffix_template:
            raise ValueError("suffix_template must contain '{instruction}'")
        self.tokenizer = tokenizer
        self.suffix_template = suffix_template
        self.add_special_tokens = add_special_tokens
        self._cache: dict[str, np.ndarray] = {}
        self._cache_size = cache_size

    def encode_text(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=self.add_special_tokens).ids)

    def __call__(self, instruction: str) -> np.ndarray:
        """(1, L) int64 ids; the returned array is shared, do not modify it."""
        ids = self._cache.get(instruction)
        if ids is None:
            ids = np.asarray([self.encode_text(self.suffix_template.format(instruction=instruction))], np.int64)
            ids.setflags(write=False)
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[instruction] = ids
        return ids

    @property
    def cache_len(self) -> int:
        return len(self._cache)
