"""Episode checks and pictures for data collectors: validate, trajectory plot, frame strip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .bag import mcap_file, scan
from .streams import COMMAND_TOPICS, DEFAULT_NAMES, IMAGE_TOPIC, STATE_TOPIC, read_streams

#: topics an episode must contain to be exported for post-training
REQUIRED_TOPICS = (STATE_TOPIC, *COMMAND_TOPICS)


@dataclass
class Report:
    episode: Path
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        head = f"{'OK  ' if self.ok else 'FAIL'} {self.episode}"
        return [head] + [f"  error: {e}" for e in self.errors] + [f"  warning: {w}" for w in self.warnings]


def find_episodes(paths: Sequence[Path | str]) -> list[Path]:
    """Episode folders given directly or found (recursively) under the given directories."""
    found: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or directory")
        if p.is_file() and p.suffix == ".mcap":
            found.append(p.parent)
        elif (p / "episode.json").exists() or any(p.glob("*.mcap")):
            found.append(p)
        else:
            found.extend(sorted(q.parent for q in p.rglob("*.mcap")))
    return list(dict.fromkeys(found))


#: topics that carry events, not streams: no rate to judge gaps against
EVENT_TOPICS = ("/task/status", "/task/command", "/estop", "/teleop/intervention")
#: at most this many samples may precede a topic's first gap and still be its lead-in: an actuator
#: publishes one "holding" command when the episode starts, then nothing until the policy's first chunk
LEAD_IN_SAMPLES = 2


def topic_period(times: np.ndarray, max_publishers: int = 32, tolerance: float = 0.25,
                 share: float = 0.9) -> float:
    """A topic's own period: the longest spacing its healthy stream shows, from two estimates.

    * Several periodic publishers (every node publishes /diagnostics at 1 Hz, each with its own phase):
      every k-th arrival is one period later, so the median of ``times[i + m] - times[i]`` for the
      smallest m whose spacings are regular (at least `share` within `tolerance` of their median; m up to
      `max_publishers` and a third of the samples, so one long gap cannot pass for the period) is how
      long until every publisher has published again.
    * A single publisher on a loaded machine arrives with jitter (a 10 Hz camera at 0.09..0.25 s): the
      90th-percentile spacing.

    The smaller of the two: a jittery single stream only looks regular over many samples (large m, a
    multiple of its period), and several staggered publishers leave their long silence in the top decile.
    """
    t = np.asarray(times, dtype=float)
    if t.size < 2:
        return 0.0
    spacing_p90 = float(np.percentile(np.diff(t), 90, method="lower"))  # an observed spacing, no interpolation
    for m in range(1, min(max_publishers, (t.size - 1) // 3) + 1):
        lag = t[m:] - t[:-m]
        med = float(np.median(lag))
        if med > 0 and np.mean(np.abs(lag - med) <= tolerance * med) >= share:
            return min(med, spacing_p90)
    return spacing_p90


def topic_gaps(times: np.ndarray, episode_start: float, max_gap_s: float = 0.5, gap_factor: float = 5.0,
               startup_s: float = 2.0) -> tuple[float, list[tuple[float, float]], float]:
    """(limit, gaps, start delay) for one topic, judged against its own rate and the episode's start.

    limit: max(max_gap_s, gap_factor x the topic's period, see `topic_period`).  gaps: (start time, length) of every spacing
    longer than the limit, except the lead-in -- a first gap after at most LEAD_IN_SAMPLES samples, i.e.
    the time before the stream really starts (e.g. commands before the policy's first chunk).  start
    delay: how long after `episode_start` the stream really starts.
    """
    times = np.asarray(times, dtype=float)
    limit = max(max_gap_s, gap_factor * topic_period(times))
    spacing = np.diff(times)
    big = [int(i) for i in np.flatnonzero(spacing > limit)]
    stream_start = float(times[0])
    if big and big[0] < LEAD_IN_SAMPLES:
        stream_start = float(times[big[0] + 1])
        big = big[1:]
    return limit, [(float(times[i]), float(spacing[i])) for i in big], stream_start - episode_start


def validate_episode(episode: Path, names: Sequence[str] = DEFAULT_NAMES, image_topic: str = IMAGE_TOPIC,
                     max_gap_s: float = 0.5, gap_factor: float = 5.0, startup_s: float = 2.0) -> Report:
    """Missing topics, gaps, NaN, damaged or unfinished files.

    Gaps are judged per topic against its own rate (`topic_gaps`): a gap is a spacing longer than
    max(max_gap_s, gap_factor x the topic's period).  A topic's lead-in (nothing yet before the policy's
    first chunk) is not a gap; a stream that starts more than max(startup_s, its limit) after the episode
    start is a warning.  The camera and joint states must also last until the episode's end (error);
    other topics that stop early get a warning.
    """
    rep = Report(Path(episode))
    try:
        res = scan(mcap_file(episode))
    except Exception as e:  # noqa: BLE001  unreadable: that is the finding
        rep.errors.append(f"unreadable: {e}")
        return rep
    if res.error:
        rep.errors.append(f"damaged tail ({res.error}); run `being-h0 dataset recover`")
    elif not res.complete:
        rep.errors.append("unfinished recording (no MCAP footer); run `being-h0 dataset recover`")
    s = read_streams(episode, tuple(names), image_topic, decode_images=False)
    if s.meta.status in ("truncated", "recovered"):
        rep.warnings.append(f"status {s.meta.status}: {s.meta.stop_reason}")
    have = set(s.topic_times)
    for t in REQUIRED_TOPICS:
        if t not in have:
            rep.errors.append(f"missing topic {t}")
    if image_topic not in have and image_topic + "/compressed" not in have:
        rep.errors.append(f"missing topic {image_topic} (raw or /compressed)")
    if STATE_TOPIC in have and s.state.t.size == 0:
        rep.errors.append(f"{STATE_TOPIC} never covers all of {list(names)}")
    if s.nan_samples:
        rep.errors.append(f"{s.nan_samples} NaN/inf joint values")
    firsts = [float(t[0]) for t in s.topic_times.values() if t.size]
    episode_start = s.meta.start_time if s.meta.start_time > 0 else min(firsts, default=0.0)
    episode_end = s.meta.end_time
    must_last = {STATE_TOPIC, image_topic, image_topic + "/compressed"}
    for topic, times in sorted(s.topic_times.items()):
        if times.size < 3 or topic in EVENT_TOPICS or topic.endswith("camera_info"):
            continue
        limit, gaps, delay = topic_gaps(times, episode_start, max_gap_s, gap_factor, startup_s)
        if gaps:
            at, length = max(gaps, key=lambda g: g[1])
            rep.errors.append(f"{topic}: {len(gaps)} gap(s) > {limit:.3f} s, largest {length:.3f} s "
                              f"at t={at - episode_start:.2f} s")
        if delay > max(startup_s, limit):
            rep.warnings.append(f"{topic}: starts {delay:.2f} s after the episode start")
        if episode_end is not None and episode_end - times[-1] > limit:
            where = f"{topic}: stops {episode_end - times[-1]:.2f} s before the episode end (limit {limit:.3f} s)"
            (rep.errors if topic in must_last else rep.warnings).append(where)
    if s.meta.outcome == "unknown":
        rep.warnings.append("outcome not marked")
    if not s.meta.instruction:
        rep.warnings.append("no instruction")
    return rep


def plot_trajectory(episode: Path, out_png: Path, names: Sequence[str] = DEFAULT_NAMES) -> Path:
    """Proprio (solid) and commands (dashed) per joint over time, interventions shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = read_streams(episode, tuple(names), decode_images=False)
    t0 = s.state.t[0] if s.state.t.size else s.meta.start_time
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    groups = ((axes[0], slice(0, 7), "arm joints (rad)"), (axes[1], slice(7, len(names)), "hand closure (0..1)"))
    for ax, sl, label in groups:
        for j, name in enumerate(names[sl], start=sl.start):
            line, = ax.plot(s.state.t - t0, s.state.values[:, j], lw=1, label=name)
            if s.command.t.size:
                ax.plot(s.command.t - t0, s.command.values[:, j], lw=0.8, ls="--", color=line.get_color())
        for a, b in s.meta.interventions:
            ax.axvspan(a - t0, b - t0, color="orange", alpha=0.2)
        ax.set_ylabel(label)
        ax.legend(fontsize=6, ncol=4, loc="upper right")
    axes[1].set_xlabel("time (s)")
    fig.suptitle(f"{s.meta.episode_id}: {s.meta.instruction} [{s.meta.outcome}]", fontsize=9)
    fig.tight_layout()
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png


def frame_strip(episode: Path, out_png: Path, n: int = 8, image_topic: str = IMAGE_TOPIC) -> Path:
    """n camera frames evenly spaced over the episode, side by side, with their times."""
    import cv2

    s = read_streams(episode, DEFAULT_NAMES, image_topic)
    if not s.images:
        raise ValueError(f"{episode}: no camera frames on {image_topic}")
    idx = np.linspace(0, len(s.images) - 1, min(n, len(s.images))).round().astype(int)
    h = max(s.images[i].shape[0] for i in idx)
    tiles = []
    for i in idx:
        img = s.images[i]
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, -1)
        tile = np.zeros((h + 16, img.shape[1], 3), np.uint8)
        tile[16:16 + img.shape[0]] = img
        cv2.putText(tile, f"{s.image_t[i] - s.image_t[0]:.1f}s", (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (255, 255, 255), 1)
        tiles.append(tile)
    strip = np.concatenate(tiles, axis=1)
    out_png = Path(out_png)
    if not cv2.imwrite(str(out_png), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{out_png}: could not write PNG")
    return out_png
