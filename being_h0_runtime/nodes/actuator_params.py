"""The arm and hand nodes' shared parameters (``ActuatorParams``): backend and its typed options, control rate,
chunk executor, safety limits, watchdog, soft start, foot switch, real-time scheduling.

Split from ``actuator.py`` (the control loop), which re-exports these names.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, ValidationInfo, field_validator

from ..config import StrictModel
from ..drivers.options import options_model, validate_options
from ..realtime import RealtimeConfig
from ..safety.footswitch import FootSwitchConfig
from ..safety.limits import SafetyConfig


class ExecutorConfig(StrictModel):
    #: sync | async | ensemble | crossfade | rtc (see policy/execution/); a profile that sets no executor runs
    #: the engine manifest's recommendation (launch.with_engine_execution), else this default
    name: str = "async"
    params: dict[str, Any] = Field(default_factory=dict)


class ActuatorParams(StrictModel):
    #: backend name -> "module:Class" of its options model (drivers/options.py)
    OPTIONS: ClassVar[dict[str, str]] = {}

    backend: str = "sim"
    #: the backend's options, validated by its own model (FrankaConfig, InspireHandConfig, ...)
    options: Any = Field(default_factory=dict)
    rate_hz: float = Field(100.0, gt=0, le=2000)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    #: no fresh chunk for this long => hold (stale); resumes on the next fresh chunk
    watchdog_deadline_s: float = Field(1.0, gt=0)
    soft_start_s: float = Field(0.5, ge=0)
    chunk_topic: str = "/action_chunk"
    #: keep retrying driver.configure() this long (devices powering up, a busy machine at start-up)
    configure_timeout_s: float = Field(10.0, ge=0)
    #: optional USB/serial foot switch wired to this node's e-stop latch (and relayed on /estop to the graph)
    footswitch: FootSwitchConfig | None = None
    #: diagnostics (counters, cadence) publish period
    report_period_s: float = Field(1.0, gt=0)
    #: a foot switch's held/released state is re-published on /estop this often (nodes that missed it catch up)
    estop_reassert_period_s: float = Field(0.2, gt=0)
    #: SCHED_FIFO priority and mlockall for the thread running the control loop (when permitted; a refusal is
    #: logged and shown in diagnostics, never fatal). Default: normal scheduling (the virtual rig).
    scheduling: RealtimeConfig = Field(default_factory=RealtimeConfig)

    @field_validator("options")
    @classmethod
    def _typed_options(cls, value: Any, info: ValidationInfo) -> Any:
        return validate_options(cls.OPTIONS, value, info)

    @classmethod
    def submodel_for(cls, field: str, data: Any) -> Any:
        """For error messages: the model behind `options` (see config.model_at)."""
        if field == "options" and isinstance(data, dict):
            return options_model(cls.OPTIONS, data.get("backend", cls.model_fields["backend"].default))
        return None
