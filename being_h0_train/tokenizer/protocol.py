"""One interface over the two motion tokenizers this project can run.

- ``model.MotionTokenizer``: ours (trained by ``being_h0_train.tokenizer.train``
  on the project's feature layouts, e.g. D162 with the wrist first).
- ``grvq.OfficialMotionTokenizer``: the released Being-H0-GRVQ-8K, converted
  by ``being-h0 convert tokenizer`` (official MANO-162 layout and token ids).

Both live in a folder with ``tokenizer_config.json`` + ``tokenizer.safetensors``;
``load_tokenizer`` tells them apart by the config's contents.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class TokenizerLike(Protocol):
    """Motion features (B, T, feature_dim) <-> motion token ids (B, N)."""

    feature_dim: int

    def features_to_ids(self, x: torch.Tensor) -> torch.Tensor: ...

    def ids_to_features(self, ids: torch.Tensor) -> torch.Tensor: ...


def load_tokenizer(directory: str | Path) -> TokenizerLike:
    from .grvq import CONFIG_FILE, FORMAT, OfficialMotionTokenizer
    from .model import MotionTokenizer

    d = Path(directory)
    cfg_p = d / CONFIG_FILE
    try:
        cfg = json.loads(cfg_p.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{cfg_p}: not found (not a tokenizer folder; convert a release with "
                                "`being-h0 convert tokenizer`)") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{cfg_p}: not valid JSON ({e})") from None
    if cfg.get("format") == FORMAT:
        return OfficialMotionTokenizer.load(d)
    if "grq" in cfg:
        return MotionTokenizer.load(d)
    raise ValueError(f"{cfg_p}: neither a converted official tokenizer (format {FORMAT!r}) nor one of ours ('grq')")
