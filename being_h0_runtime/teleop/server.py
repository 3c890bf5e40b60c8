"""UDP receiver for teleop packets (schema.py): non-blocking, drained by the node's timer.

Security: bound to 127.0.0.1 by default.  Binding anywhere else requires a
token; packets without the right token are dropped and counted (never
acted on).  Malformed packets are dropped with the reason kept for
diagnostics.  Packets older than the newest accepted `seq` are dropped
(UDP may reorder).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

from .schema import MAX_PACKET_BYTES, AuthError, PacketError, TeleopFrame, decode


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass
class ServerStats:
    received: int = 0
    accepted: int = 0
    rejected_auth: int = 0
    malformed: int = 0
    reordered: int = 0
    last_error: str = ""
    senders: set = field(default_factory=set)


class UdpTeleopServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, token: str = "") -> None:
        if not is_loopback(host) and not token:
            raise ValueError(f"teleop server bound to {host!r} (not loopback) needs a token; "
                             "set 'token' or bind to 127.0.0.1")
        self.token = token
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((host, port))
        self.sock.setblocking(False)
        self.stats = ServerStats()
        self._last_seq = -1

    @property
    def address(self) -> tuple[str, int]:
        return self.sock.getsockname()

    def fileno(self) -> int:
        return self.sock.fileno()

    def poll(self, max_packets: int = 256) -> list[TeleopFrame]:
        """Every valid packet waiting in the socket, oldest first (never blocks)."""
        frames: list[TeleopFrame] = []
        for _ in range(max_packets):
            try:
                data, addr = self.sock.recvfrom(MAX_PACKET_BYTES + 1)
            except (BlockingIOError, InterruptedError):
                break
            self.stats.received += 1
            try:
                frame = decode(data, self.token)
            except AuthError as e:
                self.stats.rejected_auth += 1
                self.stats.last_error = f"{addr[0]}: {e}"
                continue
            except PacketError as e:
                self.stats.malformed += 1
                self.stats.last_error = f"{addr[0]}: {e}"
                continue
            if frame.seq >= 0:
                if frame.seq <= self._last_seq:
                    self.stats.reordered += 1
                    continue
                self._last_seq = frame.seq
            self.stats.accepted += 1
            self.stats.senders.add(addr[0])
            frames.append(frame)
        return frames

    def close(self) -> None:
        self.sock.close()
