"""A minimal Foxglove WebSocket client: what Foxglove itself does, for tests and snapshots.

Protocol (https://github.com/foxglove/ws-protocol): the server sends ``serverInfo`` and ``advertise``
(JSON text frames: channel id, topic, encoding, schemaName, schemaEncoding, schema); the client sends
``subscribe`` with its own subscription ids; the server then sends binary frames
``0x01 | u32 subscription id | u64 log time ns | payload`` (little endian).

Payloads are decoded from the advertised ``ros2msg`` schema text alone (mcap-ros2-support's dynamic decoder,
the same one that reads the recorded MCAP), never with this project's own message classes: a view that
only our own code can read would not be a Foxglove view.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass
from typing import Any

from typing_extensions import Self

#: foxglove-sdk >= 0.2x speaks "foxglove.sdk.v1"; older servers (foxglove_bridge) "foxglove.websocket.v1"
SUBPROTOCOLS = ("foxglove.sdk.v1", "foxglove.websocket.v1")
_MESSAGE_DATA = 0x01


@dataclass
class ReceivedMessage:
    topic: str
    schema_name: str
    log_time_ns: int
    payload: bytes
    message: Any  # decoded from the schema text


class FoxgloveClient:
    """Blocking client: `subscribe(topic)`, then `next_message()`."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        import inspect

        from websockets.sync.client import connect
        from websockets.typing import Subprotocol

        # newer websockets want `with connect(...)`; legacy=True keeps a plain connection object (13..16 lack it)
        direct = {"legacy": True} if "legacy" in inspect.signature(connect).parameters else {}
        self.ws = connect(url, subprotocols=[Subprotocol(s) for s in SUBPROTOCOLS], open_timeout=timeout_s,
                          proxy=None, max_size=64 << 20, **direct)
        self.subprotocol = self.ws.subprotocol
        self.server_info: dict[str, Any] | None = None
        self.channels: dict[int, dict[str, Any]] = {}  # channel id -> advertised channel
        self._subs: dict[int, dict[str, Any]] = {}  # subscription id -> channel
        self._decoders: dict[int, Any] = {}
        self._next_sub = 1
        self.errors: list[str] = []  # error status messages from the server

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- receiving ----------------------------------------------------------------
    def _handle_text(self, text: str) -> None:
        msg = json.loads(text)
        op = msg.get("op")
        if op == "serverInfo":
            self.server_info = msg
        elif op == "advertise":
            for ch in msg["channels"]:
                self.channels[ch["id"]] = ch
        elif op == "status" and msg.get("level", 0) >= 2:  # an error, e.g. "Unknown channel ID" on subscribe
            self.errors.append(msg.get("message", ""))
        elif op == "unadvertise":
            for cid in msg["channelIds"]:
                self.channels.pop(cid, None)

    def _recv(self, timeout_s: float) -> str | bytes | None:
        try:
            return self.ws.recv(timeout=max(timeout_s, 0.0))
        except TimeoutError:
            return None

    def topics(self) -> dict[str, dict[str, Any]]:
        return {ch["topic"]: ch for ch in self.channels.values()}

    def wait_for_topics(self, topics: list[str], timeout_s: float = 10.0) -> dict[str, dict[str, Any]]:
        """Read control messages until every topic in `topics` is advertised."""
        end = time.monotonic() + timeout_s
        while not set(topics) <= set(self.topics()):
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"not advertised within {timeout_s} s: {sorted(set(topics) - set(self.topics()))}; "
                                   f"advertised: {sorted(self.topics())}")
            frame = self._recv(left)
            if isinstance(frame, str):
                self._handle_text(frame)
        return self.topics()

    def subscribe(self, topic: str) -> int:
        ch = self.wait_for_topics([topic])[topic]
        if ch.get("schemaEncoding") != "ros2msg" or ch.get("encoding") != "cdr":
            raise ValueError(f"{topic}: expected cdr / ros2msg, got {ch.get('encoding')} / {ch.get('schemaEncoding')}")
        from mcap_ros2._dynamic import generate_dynamic

        sid = self._next_sub
        self._next_sub += 1
        self._subs[sid] = ch
        self._decoders[sid] = generate_dynamic(ch["schemaName"], ch["schema"])[ch["schemaName"]]
        self.ws.send(json.dumps({"op": "subscribe", "subscriptions": [{"id": sid, "channelId": ch["id"]}]}))
        return sid

    def next_message(self, topics: set[str] | None = None, timeout_s: float = 10.0) -> ReceivedMessage:
        """The next message on a subscribed channel (on one of `topics`, if given)."""
        end = time.monotonic() + timeout_s
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no message on {sorted(topics) if topics else 'any subscribed topic'} "
                                   f"within {timeout_s} s")
            frame = self._recv(left)
            if frame is None:
                continue
            if isinstance(frame, str):
                self._handle_text(frame)
                if self.errors:  # a refused subscription would otherwise look like a silent topic
                    raise RuntimeError(f"Foxglove server reported: {'; '.join(self.errors)}")
                continue
            if frame[0] != _MESSAGE_DATA:
                continue  # time, service responses, ...: not used here
            sid, log_time = struct.unpack_from("<IQ", frame, 1)
            ch = self._subs.get(sid)
            if ch is None or (topics and ch["topic"] not in topics):
                continue
            payload = bytes(frame[13:])
            return ReceivedMessage(ch["topic"], ch["schemaName"], log_time, payload, self._decoders[sid](payload))
