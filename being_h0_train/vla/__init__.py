"""Being-H0 vision-language-motion model: physical instruction tuning (data, templates, training, evaluation).

The model itself (backbone wrapper, config presets, extended tokenizer) is what the runtime runs, so it
lives in ``being_h0_runtime.policy.models`` (``vla``, ``vla_config``, ``vla_tokenizer``); the names below
are re-exported from there so ``from being_h0_train.vla import BeingH0Model`` keeps working.
"""

from being_h0_runtime.policy.models.vla import (
    BeingH0Model,
    BeingH0Output,
    build_being_h0,
    normalize_pixels,
)
from being_h0_runtime.policy.models.vla_config import (
    PRESETS,
    BeingH0Config,
    TextSpec,
    VisionSpec,
)
from being_h0_runtime.policy.models.vla_tokenizer import (
    TokenMap,
    add_being_h0_tokens,
    build_byte_tokenizer,
    motion_token,
)

__all__ = [
    "PRESETS",
    "BeingH0Config",
    "BeingH0Model",
    "BeingH0Output",
    "TextSpec",
    "TokenMap",
    "VisionSpec",
    "add_being_h0_tokens",
    "build_being_h0",
    "build_byte_tokenizer",
    "motion_token",
    "normalize_pixels",
]
