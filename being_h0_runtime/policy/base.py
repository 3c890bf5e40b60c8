"""The policy interface: one `infer(observation) -> actions` call (openpi/GR00T style)."""

from __future__ import annotations

import abc

import numpy as np

from .spec import ActionSpec, Observation


class PolicyError(RuntimeError):
    """The policy could not produce a chunk (bad input, broken engine)."""


class Policy(abc.ABC):
    spec: ActionSpec
    engine_id: str = "unknown"
    #: the inference node refuses to call a policy that needs an image without a fresh one
    needs_image: bool = True

    def reset(self) -> None:
        """Called at the start of every episode."""

    def warmup(self) -> None:
        """Run once at start-up so the first control cycle is not slow."""

    @abc.abstractmethod
    def infer(self, obs: Observation) -> np.ndarray:
        """Return a (chunk_len, dims) float32 array of actions in `spec` order."""
