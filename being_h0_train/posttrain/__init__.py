"""Being-H0 post-training: frozen backbone + learnable action queries, proprio projector, MLP action head.

- the model (``PostTrainModel``, ``build_posttrain_model``, ``NormStats``, ``PostTrainConfig``) is what a
  torch engine runs, so it lives in ``being_h0_runtime.policy.models`` (``posttrain``, ``posttrain_config``);
  re-exported here
- ``data``: ``Episode``/``EpisodeSet`` protocol, ``load_episodes`` (recorder export), windows, augmentation
- ``train``: training loop, resume, open-loop evaluation (``python -m being_h0_train.posttrain.train --help``)
"""

from being_h0_runtime.policy.models.posttrain import (
    NormStats,
    PostTrainModel,
    build_posttrain_model,
)
from being_h0_runtime.policy.models.posttrain_config import PostTrainConfig

__all__ = ["NormStats", "PostTrainConfig", "PostTrainModel", "build_posttrain_model"]
