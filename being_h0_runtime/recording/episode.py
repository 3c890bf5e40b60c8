"""Episode metadata: what a data collector and post-training need to know about one
recording, stored twice (MCAP metadata record + JSON sidecar written atomically).

The sidecar exists from the first instant of an episode, so a crashed recording
still says what it was; the MCAP record is written when the episode ends.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: name of the MCAP metadata record holding the episode metadata
MCAP_METADATA_NAME = "being_h0_episode"
SIDECAR_NAME = "episode.json"
FORMAT_VERSION = 1

Outcome = Literal["unknown", "success", "failure", "aborted"]
Status = Literal["recording", "complete", "truncated", "recovered"]


class EpisodeMetadata(BaseModel):
    """One episode.  Times are node-clock seconds (sim time under the virtual rig)."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = FORMAT_VERSION
    episode_id: str
    task_id: str = ""
    instruction: str = ""
    operator: str = ""
    rig_id: str = ""
    calibration_id: str = ""
    outcome: Outcome = "unknown"
    notes: str = ""
    start_time: float = 0.0
    end_time: float | None = None
    wall_start: str = ""
    wall_end: str = ""
    status: Status = "recording"
    stop_reason: str = ""
    #: [t_start, t_end] of teleop takeovers during a policy rollout (DAgger labels)
    interventions: list[list[float]] = Field(default_factory=list)
    #: [t_start, t_end] where recording was paused (no data inside)
    pauses: list[list[float]] = Field(default_factory=list)
    topics: dict[str, str] = Field(default_factory=dict)
    message_counts: dict[str, int] = Field(default_factory=dict)
    mcap_file: str = ""

    @property
    def duration(self) -> float:
        return 0.0 if self.end_time is None else max(0.0, self.end_time - self.start_time)

    def to_mcap(self) -> dict[str, str]:
        """MCAP metadata records are str->str maps: scalars as text, the rest as JSON."""
        out: dict[str, str] = {}
        for key, value in self.model_dump().items():
            out[key] = value if isinstance(value, str) else json.dumps(value)
        return out

    @classmethod
    def from_mcap(cls, data: dict[str, str]) -> EpisodeMetadata:
        fields: dict[str, Any] = {}
        for key, value in data.items():
            annotation = cls.model_fields.get(key)
            if annotation is None:
                continue
            if annotation.annotation is str or key in ("outcome", "status"):
                fields[key] = value
            else:
                fields[key] = json.loads(value)
        return cls(**fields)


def atomic_write_text(path: Path, text: str) -> None:
    """Write-to-temp, fsync, rename, fsync dir: readers see the old or the new file, never half."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_sidecar(episode_dir: Path, meta: EpisodeMetadata) -> None:
    atomic_write_text(Path(episode_dir) / SIDECAR_NAME, meta.model_dump_json(indent=2) + "\n")


def read_sidecar(episode_dir: Path) -> EpisodeMetadata:
    path = Path(episode_dir) / SIDECAR_NAME
    try:
        return EpisodeMetadata.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no episode sidecar (is this an episode folder?)") from None
    except ValidationError as e:
        raise ValueError(f"{path}: invalid episode metadata: {e}") from None
