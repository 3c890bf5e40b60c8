"""Hand motion: rotations, MANO layer, feature layouts, clips, synthetic data, camera alignment."""

from .clip import Clip, ClipMeta, Intrinsics, hamer_frames_to_clip, list_clips, load_clip, project
from .features import LAYOUTS, FeatureLayout, ManoParams, features_to_params, get_layout, params_to_features
from .mano import ManoLayer, default_mano, load_mano_arrays, synthetic_mano_arrays
from .synthetic import SyntheticConfig, generate_clip, generate_dataset

__all__ = [
    "Clip", "ClipMeta", "Intrinsics", "hamer_frames_to_clip", "list_clips", "load_clip", "project",
    "LAYOUTS", "FeatureLayout", "ManoParams", "features_to_params", "get_layout", "params_to_features",
    "ManoLayer", "default_mano", "load_mano_arrays", "synthetic_mano_arrays",
    "SyntheticConfig", "generate_clip", "generate_dataset",
]
