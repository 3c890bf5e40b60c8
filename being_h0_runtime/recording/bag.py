"""rosbag2-compatible MCAP episodes: writing (crash-safe), recovery, metadata.yaml; reading is ``bag_read.py``.

An episode is a rosbag2 folder::

    <episode_id>/
        <episode_id>_0.mcap   ROS 2 profile, ros2msg schemas, cdr messages
        metadata.yaml         rosbag2 bag info (so `ros2 bag info <folder>` works)
        episode.json          our sidecar (task, instruction, outcome, interventions, ...)

Crash safety: messages are grouped in MCAP chunks; `flush()` closes the open
chunk, writes it and fsyncs, so after a SIGKILL the file holds every chunk
up to the last flush followed by at most one partial record.  `iter_messages`
reads such a file front to back and stops cleanly at the damage;
`recover_episode` rewrites it into a finalised MCAP that every reader opens.

Full disk: any OSError while writing makes the writer truncate the file back
to the end of the last complete flush and stop; it never raises twice.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml

from ..msgs.base import Message, message_type
from .bag_read import (  # re-exported: the reading half lives there
    RawMessage,
    ScanResult,
    cdr_codec,
    iter_messages,
    iter_raw,
    load_metadata,
    mcap_file,
    scan,
)
from .episode import (
    MCAP_METADATA_NAME,
    EpisodeMetadata,
    atomic_write_text,
    read_sidecar,
    write_sidecar,
)
from .msgdef import full_msg_definition

__all__ = [
    "ROS2_PROFILE", "EpisodeWriter", "FileOpener", "RawMessage", "ScanResult", "WriterStopped", "iter_messages",
    "iter_raw", "load_metadata", "mcap_file", "qos_yaml", "recover_episode", "scan", "write_bag_metadata",
]

ROS2_PROFILE = "ros2"
FileOpener = Callable[[Path], IO[bytes]]

# rosbag2's QoS YAML for a topic; only history/depth/reliability/durability matter to readers
_QOS_TEMPLATE = (
    "- history: 3\n  depth: 0\n  reliability: {rel}\n  durability: {dur}\n"
    "  deadline:\n    sec: 2147483647\n    nsec: 4294967295\n"
    "  lifespan:\n    sec: 2147483647\n    nsec: 4294967295\n"
    "  liveliness: 1\n  liveliness_lease_duration:\n    sec: 2147483647\n    nsec: 4294967295\n"
    "  avoid_ros_namespace_conventions: false"
)


def qos_yaml(reliability: str = "reliable", durability: str = "volatile") -> str:
    rel = 1 if reliability == "reliable" else 2
    dur = 1 if durability == "transient_local" else 2
    return _QOS_TEMPLATE.format(rel=rel, dur=dur)


def _open_file(path: Path) -> IO[bytes]:
    return open(path, "wb")


class WriterStopped(RuntimeError):
    """The writer hit an I/O error (e.g. disk full) and stopped; the file is readable."""


@dataclass
class _Channel:
    id: int
    topic: str
    msg_type: type[Message]
    count: int = 0


class EpisodeWriter:
    """Writes one episode folder.  Not thread-safe (node callbacks never run concurrently)."""

    def __init__(self, episode_dir: Path, meta: EpisodeMetadata, *, chunk_size: int = 4 << 20,
                 compression: str = "zstd", opener: FileOpener = _open_file) -> None:
        from mcap.writer import CompressionType, Writer

        self.dir = Path(episode_dir)
        self.dir.mkdir(parents=True, exist_ok=False)
        self.meta = meta
        self.mcap_path = self.dir / f"{self.dir.name}_0.mcap"
        self.meta.mcap_file = self.mcap_path.name
        self._serialize, _ = cdr_codec()
        self._file = opener(self.mcap_path)
        comp = {"zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4, "none": CompressionType.NONE}
        if compression not in comp:
            raise ValueError(f"compression must be one of {sorted(comp)}, got {compression!r}")
        self._writer = Writer(self._file, chunk_size=chunk_size, compression=comp[compression])
        self._channels: dict[str, _Channel] = {}
        self._schemas: dict[str, int] = {}
        self._qos: dict[str, str] = {}
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.flushed_ns: int | None = None  # log time of the newest message known to be on disk
        self._good_offset = 0
        self.stopped: str | None = None
        self.closed = False
        self.bytes_flushed = 0
        write_sidecar(self.dir, meta)
        write_bag_metadata(self.dir, self.mcap_path.name, [], 0, 0, {})
        self._guard(lambda: self._writer.start(profile=ROS2_PROFILE, library="being_h0_runtime"))
        self.flush()

    # -- writing -------------------------------------------------------------------
    def _guard(self, fn: Callable[[], Any]) -> Any:
        if self.stopped:
            raise WriterStopped(self.stopped)
        try:
            return fn()
        except OSError as e:
            self._stop_on_error(e)
            raise WriterStopped(self.stopped) from e

    def _stop_on_error(self, e: OSError) -> None:
        what = "disk full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else f"I/O error: {e}"
        self.stopped = f"{what} while writing {self.mcap_path}"
        try:  # drop the partial record so the file ends at a record boundary
            self._file.truncate(self._good_offset)
        except (OSError, ValueError):
            pass
        try:
            self._file.close()
        except OSError:
            pass
        self.meta.status = "truncated"
        self.meta.stop_reason = self.stopped
        self.meta.message_counts = self.message_counts()
        try:
            write_sidecar(self.dir, self.meta)
        except OSError:
            pass

    def add_topic(self, topic: str, msg_type: type[Message], qos: str | None = None) -> None:
        if topic in self._channels:
            if self._channels[topic].msg_type is not msg_type:
                raise ValueError(f"{topic} already recorded as {self._channels[topic].msg_type._type}")
            return
        qos = qos or qos_yaml()

        def register() -> None:
            sid = self._schemas.get(msg_type._type)
            if sid is None:
                sid = self._writer.register_schema(
                    name=msg_type._type, encoding="ros2msg", data=full_msg_definition(msg_type).encode())
                self._schemas[msg_type._type] = sid
            cid = self._writer.register_channel(topic=topic, message_encoding="cdr", schema_id=sid,
                                                metadata={"offered_qos_profiles": qos})
            self._channels[topic] = _Channel(cid, topic, msg_type)
            self._qos[topic] = qos

        self._guard(register)
        self.meta.topics[topic] = msg_type._type

    def write(self, topic: str, msg: Message, log_time_ns: int, publish_time_ns: int | None = None) -> None:
        ch = self._channels.get(topic)
        if ch is None:
            self.add_topic(topic, type(msg))
            ch = self._channels[topic]
        data = self._serialize(msg)
        self._guard(lambda: self._writer.add_message(
            channel_id=ch.id, log_time=log_time_ns, data=data,
            publish_time=publish_time_ns if publish_time_ns is not None else log_time_ns, sequence=ch.count))
        ch.count += 1
        self.first_ns = log_time_ns if self.first_ns is None else min(self.first_ns, log_time_ns)
        self.last_ns = log_time_ns if self.last_ns is None else max(self.last_ns, log_time_ns)

    def add_metadata(self, name: str, data: dict[str, str]) -> None:
        self._guard(lambda: self._writer.add_metadata(name, data))

    def flush(self) -> None:
        """Close the open chunk, write it and fsync: everything so far survives a crash."""

        def do() -> None:
            self._writer.flush()
            os.fsync(self._file.fileno())
            self._good_offset = self._file.tell()

        self._guard(do)
        self.flushed_ns = self.last_ns
        self.bytes_flushed = self._good_offset

    def message_counts(self) -> dict[str, int]:
        return {t: c.count for t, c in self._channels.items()}

    def close(self) -> EpisodeMetadata:
        """Finish the MCAP (summary, indexes, metadata record), write metadata.yaml and the sidecar."""
        if self.closed:
            return self.meta
        self.closed = True
        self.meta.message_counts = self.message_counts()
        if self.stopped:
            write_sidecar(self.dir, self.meta)
            return self.meta
        if self.meta.status == "recording":
            self.meta.status = "complete"
        try:
            self.add_metadata(MCAP_METADATA_NAME, self.meta.to_mcap())
            self._guard(self._writer.finish)
            self._guard(lambda: (self._file.flush(), os.fsync(self._file.fileno()), self._file.close()))
        except WriterStopped:
            write_sidecar(self.dir, self.meta)
            return self.meta
        write_bag_metadata(self.dir, self.mcap_path.name,
                           [(t, c.msg_type._type, self._qos[t], c.count) for t, c in self._channels.items()],
                           self.first_ns or 0, (self.last_ns or 0) - (self.first_ns or 0), self.meta.to_mcap())
        write_sidecar(self.dir, self.meta)
        return self.meta

    def abort(self) -> None:
        """Close the file without finishing (used by discard, which deletes the folder next)."""
        self.closed = True
        try:
            self._file.close()
        except OSError:
            pass


def write_bag_metadata(episode_dir: Path, mcap_name: str, topics: list[tuple[str, str, str, int]],
                       start_ns: int, duration_ns: int, custom: dict[str, str]) -> None:
    """rosbag2 metadata.yaml, format version 5 (readable by Humble and newer, and by rosbags)."""
    count = sum(t[3] for t in topics)
    info = {
        "rosbag2_bagfile_information": {
            "version": 5,
            "storage_identifier": "mcap",
            "relative_file_paths": [mcap_name],
            "duration": {"nanoseconds": int(duration_ns)},
            "starting_time": {"nanoseconds_since_epoch": int(start_ns)},
            "message_count": count,
            "topics_with_message_count": [
                {"topic_metadata": {"name": name, "type": typ, "serialization_format": "cdr",
                                    "offered_qos_profiles": qos},
                 "message_count": n}
                for name, typ, qos, n in topics
            ],
            "compression_format": "",
            "compression_mode": "",
            "files": [{"path": mcap_name, "starting_time": {"nanoseconds_since_epoch": int(start_ns)},
                       "duration": {"nanoseconds": int(duration_ns)}, "message_count": count}],
        }
    }
    atomic_write_text(Path(episode_dir) / "metadata.yaml", yaml.safe_dump(info, sort_keys=False))


def recover_episode(episode_dir: Path) -> EpisodeMetadata:
    """Rewrite a crashed/truncated episode into a finalised MCAP + metadata.yaml.

    The original file is kept as ``<name>.mcap.damaged`` until the new one is
    complete, so recovery itself is crash-safe.
    """
    episode_dir = Path(episode_dir)
    src = mcap_file(episode_dir)
    res = scan(src)
    if res.complete:
        return load_metadata(episode_dir)
    meta = read_sidecar(episode_dir)
    damaged = src.with_name(src.name + ".damaged")
    os.replace(src, damaged)
    tmp_dir = episode_dir.with_name(episode_dir.name + ".recovering")
    if tmp_dir.exists():
        import shutil

        shutil.rmtree(tmp_dir)
    from . import compressed  # noqa: F401  (registers CompressedImage for message_type)

    meta.status = "recovered"
    meta.stop_reason = meta.stop_reason or f"recovered after crash ({res.error or 'no footer'})"
    meta.message_counts = {}
    writer = EpisodeWriter(tmp_dir, meta)
    meta.mcap_file = src.name
    for raw in res.messages:
        cls = message_type(raw.type_name)
        writer.add_topic(raw.topic, cls, res.qos.get(raw.topic) or None)
        writer._writer.add_message(channel_id=writer._channels[raw.topic].id, log_time=raw.log_time_ns,
                                   data=raw.data, publish_time=raw.publish_time_ns,
                                   sequence=writer._channels[raw.topic].count)
        writer._channels[raw.topic].count += 1
        writer.first_ns = raw.log_time_ns if writer.first_ns is None else min(writer.first_ns, raw.log_time_ns)
        writer.last_ns = raw.log_time_ns if writer.last_ns is None else max(writer.last_ns, raw.log_time_ns)
    if meta.end_time is None and writer.last_ns is not None:
        meta.end_time = writer.last_ns * 1e-9
    writer.meta.status = "recovered"
    meta = writer.close()
    (tmp_dir / f"{tmp_dir.name}_0.mcap").replace(src)
    write_bag_metadata(episode_dir, src.name,
                       [(t, c.msg_type._type, writer._qos[t], c.count) for t, c in writer._channels.items()],
                       writer.first_ns or 0, (writer.last_ns or 0) - (writer.first_ns or 0), meta.to_mcap())
    write_sidecar(episode_dir, meta)
    import shutil

    shutil.rmtree(tmp_dir)
    damaged.unlink()
    return meta
