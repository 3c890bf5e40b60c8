"""ViewBridge: a node that forwards the rig's topics to a Foxglove WebSocket server, as the recorder writes them.

Every channel carries ROS 2 CDR with the same ``ros2msg`` schema text (`recording.msgdef`) and under the same
topic name as the recorded MCAP episode, so one Foxglove layout (docs/foxglove_layout.json) shows both a live
graph and a recording.  The topics, types and subscription QoS are the recorder's (`DEFAULT_TOPIC_TYPES`);
camera frames go out JPEG-compressed on ``<topic>/compressed`` (sensor_msgs/CompressedImage) as the recorder
stores them -- a 640x480 rgb8 stream at 30 Hz is ~27 MB/s raw, too much for a laptop on Wi-Fi -- unless
``images="raw"``, which forwards sensor_msgs/Image on the original topic.

Cost when nobody watches: a message is serialised (and a camera frame JPEG-compressed) only while a client
subscribes to its channel (`Channel.has_sinks`), except latched topics (e-stop, task status), whose last message
is kept for clients that subscribe later.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from ..msgs import Image, Message
from ..msgs.cdr import serialize
from ..recording.compressed import CompressedImage, compress_image
from ..recording.msgdef import full_msg_definition
from ..recording.topics import DEFAULT_TOPIC_TYPES
from ..transport.api import NodeHandle, QoS

ImageMode = Literal["jpeg", "raw"]


@dataclass
class _Forward:
    source_topic: str
    source_type: type[Message]
    qos: QoS
    channel: Any  # foxglove.Channel
    msg_type: type[Message]  # what the channel carries (CompressedImage for a JPEG camera channel)
    latched: bool
    sent: int = 0


def ros2_channel(topic: str, msg_type: type[Message], context: Any = None) -> Any:
    """A Foxglove channel carrying `msg_type` as ROS 2 CDR with its full ros2msg schema (as in the MCAP)."""
    import foxglove

    schema = foxglove.Schema(name=msg_type._type, encoding="ros2msg", data=full_msg_definition(msg_type).encode())
    return foxglove.Channel(topic, schema=schema, message_encoding="cdr", context=context)


class ViewChannels:
    """The Foxglove channels of one view, one per recorded topic.

    Created before the WebSocket server starts: foxglove-sdk 0.30 advertises a channel created while a client
    is connected before it accepts subscriptions to it ("Unknown channel ID"), so a client that subscribes at
    once -- as Foxglove does -- could silently miss a whole topic.

    context: the `foxglove.Context` the server is started with (one per view: two views in one process never
        share channels).
    images: "jpeg" (default, as recorded) or "raw".
    jpeg_quality: as the recorder's default (90).
    """

    def __init__(self, context: Any, images: ImageMode = "jpeg", jpeg_quality: int = 90,
                 topics: dict[str, tuple[type[Message], Any]] | None = None) -> None:
        if images not in ("jpeg", "raw"):
            raise ValueError(f"images must be 'jpeg' or 'raw', got {images!r}")
        self.images = images
        self.jpeg_quality = jpeg_quality
        self.forwards: dict[str, _Forward] = {}
        self._last_latched: dict[int, bytes] = {}  # channel id -> last CDR payload of a latched topic
        self._lock = threading.Lock()  # the server's listener runs on the SDK's thread
        for topic, (cls, qos) in (topics or DEFAULT_TOPIC_TYPES).items():
            out_topic, out_cls = topic, cls
            if cls is Image and images == "jpeg":
                out_topic, out_cls = topic + "/compressed", CompressedImage
            # ROS 2 latched topics (e-stop, task status): a client that subscribes later must still see the last one
            latched = qos.durability == "transient_local"
            self.forwards[topic] = _Forward(topic, cls, qos, ros2_channel(out_topic, out_cls, context), out_cls,
                                            latched)

    def log(self, fwd: _Forward, payload: bytes) -> None:
        if fwd.latched:
            with self._lock:
                self._last_latched[fwd.channel.id()] = payload
        fwd.channel.log(payload, log_time=time.time_ns())
        fwd.sent += 1

    def replay_latched(self, channel_id: int) -> None:
        """Re-send a latched topic's last message (called when a client subscribes to it), as a ROS 2
        transient-local publisher would: a viewer that connects after an e-stop still sees it."""
        with self._lock:
            payload = self._last_latched.get(channel_id)
        if payload is None:
            return
        for fwd in self.forwards.values():
            if fwd.channel.id() == channel_id:
                fwd.channel.log(payload, log_time=time.time_ns())
                return

    def close(self) -> None:
        for fwd in self.forwards.values():
            fwd.channel.close()


class ViewBridge:
    """A node that subscribes to the rig's topics on `handle` and logs them to `channels`."""

    def __init__(self, handle: NodeHandle, channels: ViewChannels) -> None:
        self.h = handle
        self.channels = channels
        self.forwards = channels.forwards
        self.errors = 0
        for topic, fwd in self.forwards.items():
            handle.create_subscription(fwd.source_type, topic, lambda m, f=fwd: self._on_message(f, m), fwd.qos)

    def _on_message(self, fwd: _Forward, msg: Message) -> None:
        if not fwd.latched and not fwd.channel.has_sinks():
            return  # nobody watches this channel: no serialisation, no JPEG encoding (latched ones are kept for replay)
        if fwd.msg_type is CompressedImage and isinstance(msg, Image):
            try:
                msg = compress_image(msg, self.channels.jpeg_quality)
            except ValueError as e:  # e.g. a 16UC1 depth image on a colour topic: say so once, keep running
                if self.errors == 0:
                    self.h.logger.warning("live view: %s: %s", fwd.source_topic, e)
                self.errors += 1
                return
        self.channels.log(fwd, serialize(msg))
