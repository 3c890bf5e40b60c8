"""Being-H0 post-training: frozen backbone + learnable action queries, proprio projector, MLP action head.

- ``model``: ``PostTrainModel``, ``build_posttrain_model``, ``NormStats``
- ``data``: ``Episode``/``EpisodeSet`` protocol, ``load_episodes`` (recorder export), windows, augmentation
- ``train``: training loop, resume, open-loop evaluation (``python -m being_h0_train.posttrain.train --help``)
"""

from .config import PostTrainConfig
from .model import NormStats, PostTrainModel, build_posttrain_model

__all__ = ["NormStats", "PostTrainConfig", "PostTrainModel", "build_posttrain_model"]
