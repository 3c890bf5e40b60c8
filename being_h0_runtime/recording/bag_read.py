"""Reading rosbag2 MCAP episodes front to back, stopping cleanly at a crash's partial record.

Split from ``bag.py`` (which writes and recovers episodes and re-exports these names, so
``from being_h0_runtime.recording.bag import scan`` keeps working).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..msgs.base import Message, message_type
from .episode import MCAP_METADATA_NAME, EpisodeMetadata, read_sidecar


def cdr_codec() -> tuple[Callable[[Message], bytes], Callable[[bytes, type], Message]]:
    # written alongside; imported lazily so this module imports without it
    from ..msgs import cdr

    return cdr.serialize, cdr.deserialize


@dataclass
class RawMessage:
    topic: str
    type_name: str
    log_time_ns: int
    publish_time_ns: int
    data: bytes


@dataclass
class ScanResult:
    messages: list[RawMessage] = field(default_factory=list)
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    qos: dict[str, str] = field(default_factory=dict)
    complete: bool = False  # footer reached (the writer finished)
    error: str = ""  # a partial record at the end (crash mid-write); "" if the file ends cleanly


def mcap_file(episode: Path) -> Path:
    """An episode folder or an .mcap path -> the .mcap path."""
    episode = Path(episode)
    if episode.is_file():
        return episode
    files = sorted(episode.glob("*.mcap"))
    if not files:
        raise FileNotFoundError(f"{episode}: no .mcap file in episode folder")
    return files[0]


def iter_raw(path: Path, result: ScanResult | None = None) -> Iterator[RawMessage]:
    """Every message in file order, tolerating a truncated tail (the recovery path).

    Uses the mcap library's sequential `StreamReader`, which needs no summary
    section; a partial last record ends iteration and is noted in `result.error`.
    """
    from mcap.records import Channel, Footer, Metadata, Schema
    from mcap.records import Message as McapMessage
    from mcap.stream_reader import StreamReader

    result = result if result is not None else ScanResult()
    schemas: dict[int, str] = {}
    channels: dict[int, tuple[str, str]] = {}
    path = mcap_file(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        reader = StreamReader(f, record_size_limit=1 << 30)
        it = iter(reader.records)
        while True:
            consumed = reader._stream.count
            try:
                rec = next(it)
            except StopIteration:
                break
            except Exception as e:  # noqa: BLE001  truncated record / chunk: everything before it is intact
                if consumed != size:  # a clean end at a record boundary is not damage
                    result.error = f"damaged tail after byte {consumed} of {size}: {type(e).__name__} {e}"
                break
            if isinstance(rec, Schema):
                schemas[rec.id] = rec.name
            elif isinstance(rec, Channel):
                channels[rec.id] = (rec.topic, schemas.get(rec.schema_id, ""))
                result.qos[rec.topic] = rec.metadata.get("offered_qos_profiles", "")
            elif isinstance(rec, McapMessage):
                topic, type_name = channels[rec.channel_id]
                yield RawMessage(topic, type_name, rec.log_time, rec.publish_time, rec.data)
            elif isinstance(rec, Metadata):
                result.metadata[rec.name] = dict(rec.metadata)
            elif isinstance(rec, Footer):
                result.complete = True


def scan(path: Path) -> ScanResult:
    result = ScanResult()
    result.messages = list(iter_raw(path, result))
    return result


def iter_messages(path: Path, topics: set[str] | None = None) -> Iterator[tuple[str, int, Message]]:
    """(topic, log_time_ns, message) decoded into our message classes."""
    from . import compressed  # noqa: F401  (registers CompressedImage)

    _, deserialize = cdr_codec()
    for raw in iter_raw(path):
        if topics is not None and raw.topic not in topics:
            continue
        yield raw.topic, raw.log_time_ns, deserialize(raw.data, message_type(raw.type_name))


def load_metadata(episode: Path) -> EpisodeMetadata:
    """The sidecar if present (authoritative: it carries later outcome edits), else the MCAP record."""
    episode = Path(episode)
    folder = episode if episode.is_dir() else episode.parent
    try:
        return read_sidecar(folder)
    except FileNotFoundError:
        res = ScanResult()
        for _ in iter_raw(episode, res):
            pass
        if MCAP_METADATA_NAME not in res.metadata:
            raise ValueError(f"{episode}: no episode metadata (no {MCAP_METADATA_NAME} record, no sidecar)")
        return EpisodeMetadata.from_mcap(res.metadata[MCAP_METADATA_NAME])
