"""Which network a DDS graph uses: interface, domain id and graph isolation, decided by the project.

Why this exists: Cyclone DDS left to its defaults picks the first non-loopback interface and
multicasts discovery onto the lab network, so a `make run` on a laptop could discover a real rig's
graph on the same domain id and command its arm.  Every DDS participant this project creates
therefore gets a configuration generated here, never Cyclone's defaults and never the user's
``CYCLONEDDS_URI`` unless a profile asks for it (``interface: environment``).

The rules, in one place:

* The virtual rig (``rig: virtual``) is loopback only: unicast discovery to 127.0.0.1, no
  multicast, no other interface -- the same thing ROS 2 calls ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``.
  Its domain id is picked per launch from :data:`SIM_DOMAINS`.
* A real rig (``rig: real``) names its interface and pins its domain id inside :data:`RIG_DOMAINS`
  (ROS 2's portable range 0..101).  The two ranges do not overlap, so a sim graph and a rig graph
  can never share a domain, whatever interface either uses.
* Inside a domain, each launch gets its own graph id; command-carrying topics (action chunks, task
  commands, e-stop/reset) are published and read in the DDS partition ``being_h0.<graph id>``, so a
  second graph on the same domain and interface cannot move this graph's arm or hand.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "DdsNetwork",
    "LOOPBACK",
    "RIG_DOMAINS",
    "SIM_DOMAINS",
    "GRAPH_ID_ENV",
    "cyclone_config_xml",
    "graph_partition",
    "interface_addresses",
    "new_graph_id",
    "pick_sim_domain",
]

#: domain ids a real rig may pin (ROS 2's portable range: ports stay below the ephemeral range)
RIG_DOMAINS = range(0, 102)
#: domain ids a virtual-rig launch picks from, one per launch; disjoint from RIG_DOMAINS by construction
SIM_DOMAINS = range(102, 232)
#: the launcher hands its graph id to every node process through this variable
GRAPH_ID_ENV = "BEING_H0_GRAPH_ID"
#: set to a folder to make every participant write Cyclone's configuration trace there (debugging, tests)
TRACE_DIR_ENV = "BEING_H0_DDS_TRACE_DIR"

_LOOPBACK_NAMES = {"lo", "loopback", "localhost", "127.0.0.1"}
#: how many participants may share one machine's loopback graph (unicast discovery probes this many ports)
MAX_LOCAL_PARTICIPANTS = 64


class DdsNetwork(BaseModel):
    """The ``dds:`` section of a launch profile.

    interface: ``lo`` (default: loopback only), an interface name such as ``enp3s0``, an IPv4 address
        of this machine, or ``environment`` to use the user's ``CYCLONEDDS_URI`` unchanged.
    domain_id: pinned domain id (a real rig must pin one in 0..101); ``None`` picks one per launch
        from 102..231.
    isolation: ``partition`` (default) scopes command topics to the launch's graph; ``none`` turns
        that off (only for talking to foreign ROS 2 nodes that must send commands).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    interface: str = "lo"
    domain_id: int | None = Field(default=None, ge=0, le=232)
    isolation: Literal["partition", "none"] = "partition"

    @field_validator("interface")
    @classmethod
    def _non_empty(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("dds.interface is empty: use 'lo' (loopback only), an interface name or 'environment'")
        return v

    @property
    def loopback(self) -> bool:
        return self.interface in _LOOPBACK_NAMES or _is_loopback_address(self.interface)

    @property
    def from_environment(self) -> bool:
        return self.interface == "environment"

    def describe(self) -> str:
        if self.from_environment:
            return f"CYCLONEDDS_URI from the environment ({os.environ.get('CYCLONEDDS_URI', 'unset: Cyclone defaults')})"
        if self.loopback:
            return "loopback only (lo, 127.0.0.1, unicast discovery)"
        return f"interface {self.interface}"


LOOPBACK = DdsNetwork()


def _is_loopback_address(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def interface_addresses() -> dict[str, list[str]]:
    """This machine's interfaces and their IPv4 addresses (Linux; names only elsewhere)."""
    out: dict[str, list[str]] = {name: [] for _, name in socket.if_nameindex()}
    try:
        import fcntl
        import struct

        for name in out:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))  # SIOCGIFADDR
                except OSError:
                    continue
                out[name].append(socket.inet_ntoa(packed[20:24]))
    except ImportError:  # pragma: no cover - not Linux
        pass
    return out


def cyclone_config_xml(network: DdsNetwork, trace_dir: str | None = None) -> str | None:
    """Cyclone DDS configuration for `network`, or None to leave Cyclone to ``CYCLONEDDS_URI``.

    Loopback: one interface (127.0.0.1), multicast off, discovery by unicast to the local
    participant ports (ParticipantIndex auto), so nothing is ever sent outside 127.0.0.0/8.
    A named interface: that interface only, SPDP discovery by multicast on it (the ROS 2 default).
    """
    if trace_dir is None:
        trace_dir = os.environ.get(TRACE_DIR_ENV) or None
    tracing = ""
    if trace_dir:
        tracing = (f"<Tracing><Verbosity>config</Verbosity>"
                   f"<OutputFile>{trace_dir}/cyclonedds.${{CYCLONEDDS_PID}}.log</OutputFile></Tracing>")
    if network.from_environment:
        if not tracing:
            return None
        return f'<CycloneDDS><Domain Id="any">{tracing}</Domain></CycloneDDS>'
    if network.loopback:
        # Loopback's MTU is 64 KiB: large datagrams cut a 720p frame into ~50 packets instead of ~2000
        # (Cyclone's defaults, 14720 B messages of 1344 B fragments, are sized for Ethernet), and a
        # receive buffer that holds a colour + depth frame set keeps best-effort images from being dropped.
        general = ('<General><Interfaces><NetworkInterface address="127.0.0.1"/></Interfaces>'
                   "<AllowMulticast>false</AllowMulticast>"
                   "<MaxMessageSize>65500B</MaxMessageSize><FragmentSize>62000B</FragmentSize></General>"
                   '<Internal><SocketReceiveBufferSize min="default" max="16MB"/></Internal>')
        discovery = ("<Discovery><ParticipantIndex>auto</ParticipantIndex>"
                     f"<MaxAutoParticipantIndex>{MAX_LOCAL_PARTICIPANTS}</MaxAutoParticipantIndex>"
                     '<Peers><Peer address="127.0.0.1"/></Peers></Discovery>')
    else:
        key = "address" if _is_ip(network.interface) else "name"
        general = (f'<General><Interfaces><NetworkInterface {key}="{network.interface}" presence_required="true"/>'
                   "</Interfaces><AllowMulticast>spdp</AllowMulticast></General>")
        discovery = ""
    return f'<CycloneDDS><Domain Id="any">{general}{discovery}{tracing}</Domain></CycloneDDS>'


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def new_graph_id() -> str:
    """A fresh id for one launch: 8 hex digits (a name, not a secret)."""
    return secrets.token_hex(4)


def graph_partition(graph_id: str) -> str:
    return f"being_h0.{graph_id}"


def pick_sim_domain(seed: int | None = None) -> int:
    """A domain id for one virtual-rig launch, from SIM_DOMAINS (per process unless seeded)."""
    n = os.getpid() if seed is None else seed
    return SIM_DOMAINS.start + n % len(SIM_DOMAINS)
