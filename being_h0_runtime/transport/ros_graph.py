"""What makes our DDS participants ROS 2 nodes to ROS 2 tools (`ros2 node list`, `ros2 node info`).

ROS 2 does not find nodes through DDS discovery alone.  Every rmw_cyclonedds participant

1. carries the participant USER_DATA ``enclave=<enclave>;`` (``enclave=/;`` by default) -- rmw's
   graph cache only registers participants that carry it;
2. publishes ``rmw_dds_common/msg/ParticipantEntitiesInfo`` on the DDS topic ``ros_discovery_info``
   (no ``rt/`` prefix: rmw creates it with ``avoid_ros_namespace_conventions``), reliable,
   transient-local, keep-last 1, whenever one of its nodes gains or loses a reader or a writer:
   the participant's gid and, per node, its namespace, name and the gids of its readers and writers.

A gid is the entity's 16-byte DDS GUID (prefix + entity id) zero-padded to ``RMW_GID_STORAGE_SIZE``:
24 bytes up to Humble, 16 from Iron on (rmw_dds_common 2.0 changed ``Gid.msg`` to ``char[16]``).
The two layouts share a type name but not a wire format, so the size follows ``$ROS_DISTRO`` (set by
every ROS 2 ``setup.bash``): foxy/galactic/humble -> 24, anything else or unset -> 16 (Jazzy, the
current LTS).  Formats checked against ros2/rmw_cyclonedds ``rmw_node.cpp`` and ros2/rmw_dds_common
``msg/*.msg``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct, make_idl_struct
from cyclonedds.idl import types as idl
from cyclonedds.pub import DataWriter
from cyclonedds.qos import Policy, Qos
from cyclonedds.topic import Topic

__all__ = ["DISCOVERY_TOPIC", "ENCLAVE_USER_DATA", "DiscoveryInfoWriter", "NodeEntities", "discovery_types",
           "gid_size", "participant_qos", "ros_node_name"]

#: the DDS topic rmw publishes node entities on (not mangled: no ``rt/`` prefix)
DISCOVERY_TOPIC = "ros_discovery_info"
#: participant USER_DATA rmw_cyclonedds sets for the default enclave ("/")
ENCLAVE_USER_DATA = b"enclave=/;"
#: distros whose rmw_gid_t stores 24 bytes (RMW_GID_STORAGE_SIZE before Iron)
_GID24_DISTROS = {"ardent", "bouncy", "crystal", "dashing", "eloquent", "foxy", "galactic", "humble"}
_NAME_BAD = re.compile(r"[^A-Za-z0-9_]")


def gid_size(distro: str | None = None) -> int:
    """Bytes in a ROS 2 gid for `distro` (default: ``$ROS_DISTRO``): 24 up to Humble, else 16."""
    if distro is None:
        distro = os.environ.get("ROS_DISTRO", "")
    return 24 if distro.strip().lower() in _GID24_DISTROS else 16


def ros_node_name(name: str) -> str:
    """`name` as a valid ROS 2 node name (letters, digits, underscores; not starting with a digit)."""
    out = _NAME_BAD.sub("_", name) or "node"
    return "_" + out if out[0].isdigit() else out


def participant_qos() -> Qos:
    """The participant QoS rmw_cyclonedds uses: USER_DATA ``enclave=/;``."""
    return Qos(Policy.Userdata(ENCLAVE_USER_DATA))


_TYPES: dict[int, tuple[type[IdlStruct], type[IdlStruct], type[IdlStruct]]] = {}


def discovery_types(size: int | None = None) -> tuple[type[IdlStruct], type[IdlStruct], type[IdlStruct]]:
    """(Gid, NodeEntitiesInfo, ParticipantEntitiesInfo) as rosidl generates them for DDS, for gid `size`."""
    size = gid_size() if size is None else size
    types = _TYPES.get(size)
    if types is None:
        ns = "rmw_dds_common::msg::dds_::"
        gid = make_idl_struct("Gid_", ns + "Gid_", {"data": idl.array[idl.uint8, size]})
        node = make_idl_struct("NodeEntitiesInfo_", ns + "NodeEntitiesInfo_", {
            "node_namespace": idl.bounded_str[256], "node_name": idl.bounded_str[256],
            "reader_gid_seq": idl.sequence[gid], "writer_gid_seq": idl.sequence[gid]})
        info = make_idl_struct("ParticipantEntitiesInfo_", ns + "ParticipantEntitiesInfo_", {
            "gid": gid, "node_entities_info_seq": idl.sequence[node]})
        types = _TYPES[size] = (gid, node, info)
    return types


@dataclass
class NodeEntities:
    """One node as ROS 2 tools list it: namespace, name and the GUIDs (16 bytes) of its readers/writers."""

    name: str
    namespace: str = "/"
    readers: list[bytes] = field(default_factory=list)
    writers: list[bytes] = field(default_factory=list)


class DiscoveryInfoWriter:
    """Publishes one participant's `ParticipantEntitiesInfo` on ``ros_discovery_info``, as rmw does."""

    def __init__(self, participant: DomainParticipant, size: int | None = None) -> None:
        self.size = gid_size() if size is None else size
        self._gid_t, self._node_t, self._info_t = discovery_types(self.size)
        self._participant_gid = participant.guid.bytes
        qos = Qos(Policy.Reliability.Reliable(max_blocking_time=100_000_000), Policy.History.KeepLast(1),
                  Policy.Durability.TransientLocal, Policy.DataRepresentation(use_cdrv0_representation=True))
        self._topic = Topic(participant, DISCOVERY_TOPIC, self._info_t)
        self._writer = DataWriter(participant, self._topic, qos=qos)
        self.last: Any = None

    def gid(self, guid: bytes) -> Any:
        if len(guid) != 16:
            raise ValueError(f"a DDS GUID has 16 bytes, got {len(guid)}")
        return self._gid_t(data=list(guid + b"\x00" * (self.size - 16)))

    def publish(self, nodes: Iterable[NodeEntities]) -> None:
        info = self._info_t(gid=self.gid(self._participant_gid), node_entities_info_seq=[
            self._node_t(node_namespace=n.namespace, node_name=ros_node_name(n.name),
                         reader_gid_seq=[self.gid(g) for g in n.readers],
                         writer_gid_seq=[self.gid(g) for g in n.writers])
            for n in nodes])
        self._writer.write(info)
        self.last = info
