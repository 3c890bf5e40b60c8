"""Being-H0 vision-language-motion model: backbone, tokenizer, physical instruction tuning."""

from .config import PRESETS, BeingH0Config, TextSpec, VisionSpec
from .model import BeingH0Model, BeingH0Output, build_being_h0, normalize_pixels
from .tokenizer import TokenMap, add_being_h0_tokens, build_byte_tokenizer, motion_token

__all__ = [
    "PRESETS", "BeingH0Config", "TextSpec", "VisionSpec", "BeingH0Model", "BeingH0Output",
    "build_being_h0", "normalize_pixels", "TokenMap", "add_being_h0_tokens", "build_byte_tokenizer", "motion_token",
]
