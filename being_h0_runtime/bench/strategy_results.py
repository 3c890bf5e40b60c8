"""What `bench strategies` measures, as plain records: per episode and per strategy.

Apart from strategies.py (which runs the episodes) so that strategy_advice.py can read a `--json` file
back without importing the runner (and the runner can import the advice: no cycle).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrajectoryMetrics:
    jerk_rms: float
    max_boundary_step: float
    step_p99: float
    commands: int
    boundaries: int


@dataclass
class EpisodeRow:
    strategy: str
    seed: int
    state: str
    success: bool
    sim_seconds: float
    wall_seconds: float
    metrics: TrajectoryMetrics
    raw: TrajectoryMetrics


@dataclass
class StrategySummary:
    strategy: str
    successes: int
    episodes: int
    jerk_rms_p50: float
    max_boundary_step: float
    step_p99: float
    raw_jerk_rms_p50: float
    raw_max_boundary_step: float
    sim_seconds_mean: float
    wall_seconds_mean: float
    rows: list[EpisodeRow] = field(default_factory=list)
    #: the simulated inference delay these episodes ran with
    latency_ms: float = 0.0
    #: what was measured and how (JSON readers, `--advice-from`): engine directory, its label, the command
    engine_path: str = ""
    engine_label: str = ""
    command: str = ""
