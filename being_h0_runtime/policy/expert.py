"""The virtual rig's scripted experts served as a Policy.

They read privileged object poses (from /sim/state), so they only run on the
virtual rig; they let the whole pipeline run before any trained engine exists
and produce demonstrations for post-training.

The task's expert is chosen by `task` when given, otherwise from the object
names in the first privileged state received (the inference node's policy
config does not carry the task; /sim/state's objects identify it).
"""

from __future__ import annotations

import numpy as np

from .base import Policy, PolicyError
from .spec import ActionSpec, Observation, default_action_spec


#: How the scripted expert is run, whatever the profile's default policy is: it plans whole
#: keyframe segments, so async execution re-planned every half chunk (what every recorded demo
#: and expert benchmark used).  The learned default engine runs with temporal ensembling instead.
EXPERT_OVERRIDES: dict[str, dict] = {
    "inference": {"policy": {"kind": "expert"}, "replan_period_s": None},
    "arm": {"executor": {"name": "async"}},
    "hand": {"executor": {"name": "async"}},
}


def with_expert(overrides: dict[str, dict] | None = None) -> dict[str, dict]:
    """`overrides` (node -> params) plus EXPERT_OVERRIDES; the caller's own params win on conflicts."""
    out = {node: dict(params) for node, params in EXPERT_OVERRIDES.items()}
    out["inference"]["policy"] = dict(EXPERT_OVERRIDES["inference"]["policy"])
    for node, params in (overrides or {}).items():
        out.setdefault(node, {}).update(params)
    return out


def make_expert(task: str = "pick_place_toy", chunk_len: int = 16, control_rate_hz: float = 10.0):
    """The scripted expert for a virtual-rig task (`act(proprio13, object_poses) -> (chunk_len, 13)`)."""
    from ..sim.task_experts import make_expert as _make  # needs mujoco: import lazily

    return _make(task, chunk_len=chunk_len, control_rate_hz=control_rate_hz)


class ScriptedExpertPolicy(Policy):
    engine_id = "scripted-expert"
    needs_image = False  # reads privileged object poses instead

    def __init__(self, chunk_len: int = 16, control_rate_hz: float = 10.0, task: str | None = None) -> None:
        self.spec: ActionSpec = default_action_spec(chunk_len, control_rate_hz)
        self._chunk_len, self._rate = chunk_len, control_rate_hz
        self.task = task
        self._experts: dict[str, object] = {}
        if task is not None:
            self._expert_for(task)  # fail early on an unknown task

    def _expert_for(self, task: str):
        if task not in self._experts:
            try:
                self._experts[task] = make_expert(task, self._chunk_len, self._rate)
            except ValueError as e:
                raise PolicyError(f"scripted expert: {e}") from e
        return self._experts[task]

    def reset(self) -> None:
        for ex in self._experts.values():
            ex.reset()

    def infer(self, obs: Observation) -> np.ndarray:
        if not obs.privileged:
            raise PolicyError("the scripted expert needs privileged object poses (/sim/state); none received yet")
        if list(obs.proprio_names) != self.spec.names:
            raise PolicyError(f"proprio names {obs.proprio_names} do not match the action spec {self.spec.names}")
        task = self.task
        if task is None:
            from ..sim.task_experts import task_from_poses

            try:
                task = task_from_poses(obs.privileged)
            except ValueError as e:
                raise PolicyError(f"scripted expert: {e}") from e
        chunk = self._expert_for(task).act(np.asarray(obs.proprio, dtype=np.float64), obs.privileged)
        return np.asarray(chunk, dtype=np.float32)
