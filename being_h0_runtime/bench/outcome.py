"""Why a trial did not succeed, in words a person can act on.

"timeout" says nothing about what to fix; "missed grasp: the hand reached the toy (closest 1.8 cm)
but never closed on it" or "dropped object at 14.2 s, 21 cm from the box" does. On the virtual rig
`ProgressTracker` samples the simulator's privileged state a few times a second (cheap: no
rendering) and notes the task's milestones; `explain` turns the end state, the task node's message,
the safety counters and those milestones into a phase and a reason.

Phases, pick-and-place: approach -> grasp -> carry -> release; hinged lid: approach -> closing;
pouring: pour. Elsewhere (the real rig) the phase is the task state and the reason the task
node's message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: the hand is "at" the toy when its grasp site is this close (m)
REACH_M = 0.06
#: the toy is "lifted" when it is this far above where it started (m)
LIFT_M = 0.03
#: a toy this close to the box centre, horizontally, is over the box (m)
OVER_BOX_M = 0.075


@dataclass
class ProgressTracker:
    """Milestones of one virtual-rig trial, from privileged simulator state sampled while it runs."""

    rig: Any
    kind: str = ""  # "pick_place" | "hinged" | "pour" | "" (unknown)
    events: list[tuple[float, str]] = field(default_factory=list)
    closest_m: float = float("inf")
    reached: bool = False
    touched: bool = False
    lifted: bool = False
    in_hand: bool = False
    dropped_at: float | None = None
    released_over_box_at: float | None = None
    drop_box_m: float = 0.0
    in_box: bool = False
    box_m: float = float("nan")
    angle0: float | None = None
    angle: float = float("nan")
    best: float = 0.0
    _z0: float | None = None

    def __post_init__(self) -> None:
        state = self.rig.task_state()
        self.kind = ("pick_place" if "toy_in_box" in state else "hinged" if "hinge_angle" in state
                     else "pour" if "fraction_in_target" in state else "")

    def sample(self, t: float) -> str | None:
        """Look at the scene now (`t`: seconds since the episode started); returns a new milestone or None."""
        if self.kind == "pick_place":
            return self._pick_place(t)
        state = self.rig.task_state()
        if self.kind == "hinged":
            self.angle = float(state["hinge_angle"])
            if self.angle0 is None:
                self.angle0 = self.angle
            if not self.touched and abs(self.angle - self.angle0) > 0.1:
                self.touched = True
                return self._note(t, "lid moving")
        elif self.kind == "pour":
            frac = float(state["fraction_in_target"])
            if frac > self.best:
                first = self.best == 0.0
                self.best = frac
                if first:
                    return self._note(t, "first beads in the bowl")
        return None

    def _pick_place(self, t: float) -> str | None:
        objects = self.rig.object_poses()
        toy, box = objects["toy"][0], objects["box"][0]
        grasp = self.rig.grasp_pose()[0]
        if self._z0 is None:
            self._z0 = float(toy[2])
        d = float(np.linalg.norm(grasp - toy))
        self.closest_m = min(self.closest_m, d)
        contacts = int(self.rig.toy_in_hand_contacts())
        self.box_m = float(np.linalg.norm((toy - box)[:2]))
        self.in_box = bool(self.rig.toy_in_box())
        lifted_now = toy[2] > self._z0 + LIFT_M and contacts > 0
        new = None
        if not self.reached and d < REACH_M:
            self.reached = True
            new = self._note(t, "reached toy")
        if not self.touched and contacts >= 2:
            self.touched = True
            new = self._note(t, "grasped")
        if lifted_now and not self.in_hand:
            self.lifted = self.in_hand = True
            self.dropped_at = None
            new = self._note(t, "lifted")
        elif self.in_hand and contacts == 0:
            self.in_hand = False
            if self.in_box:
                new = self._note(t, "released in box")
            elif self.box_m < OVER_BOX_M:
                self.released_over_box_at = t
                new = self._note(t, "released over box")
            else:
                self.dropped_at, self.drop_box_m = t, self.box_m
                new = self._note(t, f"DROPPED {100 * self.box_m:.0f} cm from box")
        return new

    def _note(self, t: float, what: str) -> str:
        self.events.append((round(t, 2), what))
        return what

    def phase(self) -> str:
        if self.kind == "pick_place":
            if self.in_box:
                return "release"
            if self.lifted:
                return "carry"
            return "grasp" if self.reached or self.touched else "approach"
        if self.kind == "hinged":
            return "closing" if self.touched else "approach"
        if self.kind == "pour":
            return "pour"
        return ""


def _safety_summary(safety: dict[str, Any]) -> str:
    parts = []
    for group, info in sorted(safety.items()):
        reasons = list(dict.fromkeys(list(info.get("faults", {}).values()) + list(info.get("safety_holds", []))))
        if reasons:
            parts.append(f"{group}: {'; '.join(reasons[:2])}")
    return ", ".join(parts)


def explain(state: str, message: str, tracker: ProgressTracker | None, safety_events: int = 0,
            safety: dict[str, Any] | None = None) -> tuple[str, str]:
    """(phase, reason) for a trial that ended in `state`; ("", "") for a success."""
    if state == "succeeded":
        return "", ""
    phase = tracker.phase() if tracker is not None else state
    where = f" during {phase}" if phase else ""
    if "held by e-stop" in message:
        return phase or "safety hold", f"safety hold{where}: {message}"
    if safety_events:
        return phase or "safety hold", f"safety hold{where}: {_safety_summary(safety or {}) or message}"
    if state == "aborted":
        return phase or "aborted", f"aborted{where}: {message}"
    if state == "failed" and "home" in message:
        return "homing", f"never started: {message} (is the arm free to move? is the homing time limit long enough?)"
    if state == "failed":
        return phase or "failed", f"failed{where}: {message}"
    if tracker is None or not tracker.kind:
        return phase or state, f"{state}: {message}"
    limit = f"{state} ({message})" if state == "timeout" else state
    t = tracker
    if t.kind == "pick_place":
        if not t.reached and not t.touched:
            return "approach", (f"never reached the toy: the hand came no closer than {100 * t.closest_m:.1f} cm; "
                                f"{limit}")
        if not t.lifted:
            how = "touched it but never lifted it" if t.touched else "never closed on it"
            return "grasp", (f"missed grasp: the hand reached the toy (closest {100 * t.closest_m:.1f} cm) "
                             f"but {how}; {limit}")
        if t.in_box:
            return "release", f"toy in the box but still touching the hand or moving at the end; {limit}"
        if t.released_over_box_at is not None and not t.in_hand and t.box_m < OVER_BOX_M:
            return "release", (f"released the toy over the box at {t.released_over_box_at:.1f} s but it had not "
                               f"settled inside by the end; {limit}")
        if t.dropped_at is not None and not t.in_hand:
            return "carry", (f"dropped object at {t.dropped_at:.1f} s, {100 * t.drop_box_m:.0f} cm from the box "
                             f"(toy now {100 * t.box_m:.0f} cm from it); {limit}")
        if t.box_m < OVER_BOX_M:
            return "release", f"held the toy over the box ({100 * t.box_m:.0f} cm off centre) but never let go; {limit}"
        return "carry", f"still carrying the toy, {100 * t.box_m:.0f} cm from the box; {limit}"
    if t.kind == "hinged":
        deg = np.degrees(t.angle) if np.isfinite(t.angle) else float("nan")
        if not t.touched:
            return "approach", f"the lid never moved (still at {deg:.0f} deg); {limit}"
        return "closing", f"lid moved but not closed (at {deg:.0f} deg at the end); {limit}"
    return "pour", f"only {100 * t.best:.0f}% of the beads reached the bowl; {limit}"
