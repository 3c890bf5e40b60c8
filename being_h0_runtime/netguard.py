"""Loopback-only mode: refuse to contact any address outside 127.0.0.0/8 (and ::1).

Tests, CI, sim runs and benches must never send traffic to a rig's address: on a lab network
172.16.0.2 may be a real Franka.  Two layers:

* `check_destination` is called by the project's own code right before it hands an address to a
  library that opens connections in C/C++ (libfranka through franky), where a Python socket guard
  cannot see.  It raises when ``BEING_H0_LOOPBACK_ONLY=1`` is set and the address is not loopback.
* `install_socket_guard` wraps Python's socket connect/send calls so that any non-loopback
  destination raises `NonLoopbackTraffic` naming the address (tests/conftest.py installs it for
  the whole suite and sets the variable, so node processes spawned by tests inherit the rule).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

ENV = "BEING_H0_LOOPBACK_ONLY"


class NonLoopbackTraffic(ConnectionRefusedError):
    """An attempt to reach an address outside the machine while loopback-only mode is on."""


def loopback_only() -> bool:
    return os.environ.get(ENV, "") not in ("", "0", "false", "no")


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1, 'localhost' and unix-socket paths (no network at all)."""
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        try:  # a host name: loopback only if every address it resolves to is
            infos = _real_getaddrinfo(host, None)
        except OSError:
            return False
        return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos)


def check_destination(host: str, port: int | None, what: str) -> None:
    """Raise NonLoopbackTraffic if loopback-only mode is on and (host, port) leaves the machine."""
    if loopback_only() and not is_loopback_host(host):
        where = f"{host}:{port}" if port is not None else host
        raise NonLoopbackTraffic(f"{what}: refusing to contact {where}: {ENV}=1 allows only 127.0.0.0/8 and ::1 "
                                 f"(tests, CI and sim runs must never reach a rig's address)")


_real_getaddrinfo = socket.getaddrinfo
_ORIGINAL: dict[str, Any] = {}


def _destination(address: Any) -> str | None:
    """The host of an AF_INET/AF_INET6 address tuple; None for unix sockets and others."""
    if isinstance(address, tuple) and address and isinstance(address[0], str):
        return address[0]
    return None


def install_socket_guard() -> None:
    """Make socket.connect/connect_ex/sendto/sendmsg raise for non-loopback destinations (idempotent)."""
    if _ORIGINAL:
        return
    cls = socket.socket
    for name in ("connect", "connect_ex", "sendto", "sendmsg"):
        _ORIGINAL[name] = getattr(cls, name)

    def connect(self: socket.socket, address: Any) -> Any:
        _check_socket(self, address, "socket.connect")
        return _ORIGINAL["connect"](self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        _check_socket(self, address, "socket.connect_ex")
        return _ORIGINAL["connect_ex"](self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> Any:
        _check_socket(self, args[-1], "socket.sendto")
        return _ORIGINAL["sendto"](self, data, *args)

    def sendmsg(self: socket.socket, buffers: Any, *args: Any) -> Any:
        if len(args) >= 3:
            _check_socket(self, args[2], "socket.sendmsg")
        return _ORIGINAL["sendmsg"](self, buffers, *args)

    cls.connect, cls.connect_ex, cls.sendto, cls.sendmsg = connect, connect_ex, sendto, sendmsg  # type: ignore[method-assign]


def uninstall_socket_guard() -> None:
    for name, fn in _ORIGINAL.items():
        setattr(socket.socket, name, fn)
    _ORIGINAL.clear()


def _check_socket(sock: socket.socket, address: Any, what: str) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = _destination(address)
    if host is not None and not is_loopback_host(host):
        port = address[1] if len(address) > 1 else None
        raise NonLoopbackTraffic(f"{what} to {host}:{port}: tests may only contact 127.0.0.0/8 and ::1")
