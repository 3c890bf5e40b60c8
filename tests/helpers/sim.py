"""Driving the virtual rig from a scripted expert in tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from being_h0_runtime.sim.episode import proprio_of
from being_h0_runtime.sim.world import VirtualRig


def run_fresh_expert_per_chunk(rig: VirtualRig, new_expert: Callable[[], Any], max_chunks: int,
                               rows_per_chunk: int = 8, steps_per_row: int = 50) -> bool:
    """A new expert for every chunk (as when another process restarts), only the first rows of each
    executed; True as soon as the task succeeds, False if it has not after `max_chunks` chunks."""
    for _ in range(max_chunks):
        chunk = new_expert().act(proprio_of(rig), rig.object_poses())
        for row in chunk[:rows_per_chunk]:
            rig.set_arm_target(row[:7])
            rig.set_hand_target(row[7:])
            rig.step(steps_per_row)
        if rig.success():
            return True
    return bool(rig.success())
