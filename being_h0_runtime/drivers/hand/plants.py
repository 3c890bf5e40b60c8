"""What moves behind the emulated Inspire hand: the :class:`HandPlant` protocol and two plants.

:class:`FirstOrderHandPlant` is a rate-limited finger model with contact (tests,
the link benchmark); :class:`ClosurePlant` adapts a closure-space hand such as
the virtual rig's MuJoCo hand. Values are the hand's raw angle-register units.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from .protocol import NUM_DOF, RAW_MAX, RAW_MIN, Status


@runtime_checkable
class HandPlant(Protocol):
    """What the emulator needs from the thing that moves.

    All values are raw angle-register units (0..1000, the hand's own scale),
    in DoF order little, ring, middle, index, thumb-bend, thumb-rotation.
    Optional extras the emulator uses when present: ``set_speed(raw)`` and
    ``set_force_limit(raw)`` (both (6,) 0..1000).
    """

    def set_target(self, raw: np.ndarray) -> None: ...

    def positions(self) -> np.ndarray: ...

    def forces(self) -> np.ndarray: ...


class FirstOrderHandPlant:
    """Rate-limited fingers with a contact model, integrated lazily in wall time.

    * Each DoF moves towards its target at ``max_rate * speed/1000`` raw units
      per second (the SPEED_SET register scales it).
    * ``obstacle[i]`` (raw units, or NaN for none) blocks DoF i: it cannot move
      past it in the closing direction; pushing into it builds up a force of
      ``stiffness`` gf per raw unit of squeeze, capped by FORCE_SET. Once the
      force reaches the limit the finger stops (status FORCE_REACHED).
    * ``closed_raw`` says which end is closed (0 by default, matching the
      angle register where 1000 is open).
    """

    def __init__(
        self,
        initial: np.ndarray | None = None,
        *,
        max_rate: float = 2000.0,
        closed_raw: np.ndarray | float = 0.0,
        stiffness: float = 10.0,
        max_force_gf: float = 1000.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._pos = np.full(NUM_DOF, float(RAW_MAX)) if initial is None else np.asarray(initial, float).copy()
        self._target = self._pos.copy()
        self._speed = np.full(NUM_DOF, float(RAW_MAX))
        self._force_limit = np.full(NUM_DOF, float(RAW_MAX))  # 0..1000 register units
        self._closed = np.broadcast_to(np.asarray(closed_raw, float), (NUM_DOF,)).copy()
        self.max_rate = float(max_rate)
        self.stiffness = float(stiffness)
        self.max_force_gf = float(max_force_gf)
        self.obstacle = np.full(NUM_DOF, np.nan)
        self._t = clock()

    # -- HandPlant
    def set_target(self, raw: np.ndarray) -> None:
        with self._lock:
            self._advance()
            self._target = np.clip(np.asarray(raw, float), RAW_MIN, RAW_MAX)

    def positions(self) -> np.ndarray:
        with self._lock:
            self._advance()
            return self._pos.copy()

    def forces(self) -> np.ndarray:
        with self._lock:
            self._advance()
            return self._force_locked()

    # -- optional extras
    def set_speed(self, raw: np.ndarray) -> None:
        with self._lock:
            self._advance()
            self._speed = np.clip(np.asarray(raw, float), 0, RAW_MAX)

    def set_force_limit(self, raw: np.ndarray) -> None:
        with self._lock:
            self._advance()
            self._force_limit = np.clip(np.asarray(raw, float), 0, RAW_MAX)

    def target(self) -> np.ndarray:
        with self._lock:
            return self._target.copy()

    def status(self) -> np.ndarray:
        """STATUS register values derived from the motion state."""
        with self._lock:
            self._advance()
            force = self._force_locked()
            limit_gf = self._force_limit / RAW_MAX * self.max_force_gf
            out = np.full(NUM_DOF, int(Status.GRASPING), dtype=np.int64)
            reached = np.abs(self._pos - self._target) < 1.0
            out[reached] = int(Status.POSITION_REACHED)
            out[(force > 0) & (force >= limit_gf - 1e-6)] = int(Status.FORCE_REACHED)
            return out

    # -- internals
    def _closing_sign(self) -> np.ndarray:
        # +1 where closing means increasing raw, -1 where it means decreasing
        return np.where(self._closed >= RAW_MAX / 2, 1.0, -1.0)

    def _squeeze(self) -> np.ndarray:
        """Raw units by which the target pushes past an obstacle the finger rests on."""
        sign = self._closing_sign()
        obst = self.obstacle
        at_obstacle = ~np.isnan(obst) & (np.abs(self._pos - np.nan_to_num(obst)) < 1.0)
        push = sign * (self._target - np.nan_to_num(obst))
        return np.where(at_obstacle & (push > 0), push, 0.0)

    def _force_locked(self) -> np.ndarray:
        limit_gf = self._force_limit / RAW_MAX * self.max_force_gf
        return np.minimum(self._squeeze() * self.stiffness, limit_gf)

    def _advance(self) -> None:
        now = self._clock()
        dt = max(0.0, now - self._t)
        self._t = now
        if dt == 0.0:
            return
        step = self.max_rate * self._speed / RAW_MAX * dt
        delta = np.clip(self._target - self._pos, -step, step)
        new = self._pos + delta
        sign = self._closing_sign()
        obst = self.obstacle
        has = ~np.isnan(obst)
        # cannot pass an obstacle in the closing direction
        beyond = has & (sign * (new - np.nan_to_num(obst)) > 0) & (sign * (self._pos - np.nan_to_num(obst)) <= 0)
        new = np.where(beyond, obst, new)
        self._pos = np.clip(new, RAW_MIN, RAW_MAX)


class ClosurePlant:
    """Adapter from a closure-space hand (0 = open, 1 = closed) to a raw :class:`HandPlant`.

    The virtual rig passes ``VirtualRig.hand_closure`` and
    ``VirtualRig.set_hand_target``; the adapter converts with the same
    open/closed raw calibration the driver uses, so driver closure equals
    simulator closure.
    """

    def __init__(
        self,
        get_closure: Callable[[], np.ndarray],
        set_closure: Callable[[np.ndarray], None],
        *,
        open_raw: np.ndarray | float = 1000.0,
        closed_raw: np.ndarray | float = 0.0,
        get_forces: Callable[[], np.ndarray] | None = None,
    ) -> None:
        self._get = get_closure
        self._set = set_closure
        self._get_forces = get_forces
        self.open_raw = np.broadcast_to(np.asarray(open_raw, float), (NUM_DOF,)).copy()
        self.closed_raw = np.broadcast_to(np.asarray(closed_raw, float), (NUM_DOF,)).copy()

    def set_target(self, raw: np.ndarray) -> None:
        closure = (np.asarray(raw, float) - self.open_raw) / (self.closed_raw - self.open_raw)
        self._set(np.clip(closure, 0.0, 1.0))

    def positions(self) -> np.ndarray:
        c = np.clip(np.asarray(self._get(), float), 0.0, 1.0)
        return self.open_raw + c * (self.closed_raw - self.open_raw)

    def forces(self) -> np.ndarray:
        return np.zeros(NUM_DOF) if self._get_forces is None else np.asarray(self._get_forces(), float)
