"""The virtual rig's scripted pick-and-place expert served as a Policy.

It reads privileged object poses (from /sim/state), so it only runs on the
virtual rig; it lets the whole pipeline run before any trained engine exists
and produces demonstrations for post-training.
"""

from __future__ import annotations

import numpy as np

from .base import Policy, PolicyError
from .spec import ActionSpec, Observation, default_action_spec


class ScriptedExpertPolicy(Policy):
    engine_id = "scripted-expert"

    def __init__(self, chunk_len: int = 16, control_rate_hz: float = 10.0) -> None:
        from ..sim.expert import ScriptedPickPlaceExpert  # needs mujoco: import lazily

        self.spec: ActionSpec = default_action_spec(chunk_len, control_rate_hz)
        self._expert = ScriptedPickPlaceExpert(chunk_len=chunk_len, control_rate_hz=control_rate_hz)

    def reset(self) -> None:
        self._expert.reset()

    def infer(self, obs: Observation) -> np.ndarray:
        if not obs.privileged:
            raise PolicyError("the scripted expert needs privileged object poses (/sim/state); none received yet")
        if list(obs.proprio_names) != self.spec.names:
            raise PolicyError(f"proprio names {obs.proprio_names} do not match the action spec {self.spec.names}")
        chunk = self._expert.act(np.asarray(obs.proprio, dtype=np.float64), obs.privileged)
        return np.asarray(chunk, dtype=np.float32)
