"""Load a local LeRobot dataset with `lerobot` itself and print what it decoded, as JSON.

Run by tests/test_dataset_lerobot_load.py, either imported (lerobot installed in the runtime's interpreter)
or as a script in another interpreter that has lerobot (BEING_H0_LEROBOT_PYTHON; lerobot 0.6.x needs
Python >= 3.12 and pins torch, so it usually lives in its own environment)::

    HF_HUB_OFFLINE=1 python tests/lerobot_load_probe.py REPO_ID ROOT

It needs only lerobot (and what lerobot needs), never this project's code, so that the check says whether
lerobot alone reads the export.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

MAX_PIXELS_REPORTED = 3 * 64 * 64  # frames up to this size come back whole (the test's are 3x24x32)


def _dataset_class() -> type:
    try:  # lerobot >= 0.4
        from lerobot.datasets.lerobot_dataset import LeRobotDataset
    except ImportError:  # older layout
        from lerobot.common.datasets.lerobot_dataset import LeRobotDataset
    return LeRobotDataset


def _describe(value: Any) -> dict[str, Any]:
    """A decoded item's field as plain JSON: tensors by shape, dtype, range and finiteness."""
    if isinstance(value, str):
        return {"type": "str", "value": value}
    if hasattr(value, "shape") and hasattr(value, "dtype"):  # torch.Tensor (numpy would do as well)
        import numpy as np

        arr = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
        out: dict[str, Any] = {"type": "tensor", "shape": list(arr.shape), "dtype": str(value.dtype)}
        if arr.size:
            as_float = arr.astype(np.float64)
            out.update(min=float(as_float.min()), max=float(as_float.max()),
                       finite=bool(np.isfinite(as_float).all()))
        if arr.size == 1:
            out["value"] = arr.reshape(()).item()
        elif arr.ndim == 3 and arr.size <= MAX_PIXELS_REPORTED and arr.dtype.kind == "f":
            # a decoded (C, H, W) frame in [0, 1]: back to 0..255, to compare with the frame that was exported
            out["pixels_u8"] = np.rint(arr * 255.0).clip(0, 255).astype(np.uint8).tolist()
        return out
    return {"type": type(value).__name__, "value": value if isinstance(value, int | float | bool) else repr(value)}


def probe(repo_id: str, root: Path | str) -> dict[str, Any]:
    """What lerobot makes of the dataset at `root`: its size and its first and last items, field by field."""
    import lerobot

    ds = _dataset_class()(repo_id, root=Path(root))
    n = len(ds)
    items = {"first": ds[0], "last": ds[n - 1]}
    torch_version = None
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        pass
    return {
        "lerobot_version": getattr(lerobot, "__version__", "unknown"),
        "torch_version": torch_version,
        "python": sys.version.split()[0],
        "video_backend": getattr(ds, "_video_backend", None),  # lerobot 0.6: torchcodec if it loads, else pyav
        "num_episodes": ds.num_episodes,
        "len": n,
        "fps": ds.fps,
        "items": {name: {k: _describe(v) for k, v in item.items()} for name, item in items.items()},
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: lerobot_load_probe.py REPO_ID ROOT", file=sys.stderr)
        return 2
    print(json.dumps(probe(argv[0], argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
