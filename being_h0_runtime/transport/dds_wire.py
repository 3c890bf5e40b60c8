"""DDS names, QoS, payloads and domains, exactly as rmw_cyclonedds does them (see ``dds.py``'s docstring).

Split from ``dds.py`` (which holds the node API's entities and context, and re-exports these names): what
goes on the wire (topic mangling, zero-padded CDR, QoS policies, the graph partition rule) and the one
Cyclone domain configuration per process.
"""

from __future__ import annotations

from typing import Any

from cyclonedds.domain import Domain
from cyclonedds.qos import Policy, Qos

from ..msgs import Message
from ..msgs.cdr import serialized_parts
from .api import QoS, normalise_topic
from .dds_network import LOOPBACK, DdsNetwork, cyclone_config_xml


class DdsError(RuntimeError):
    pass


def dds_topic_name(topic: str) -> str:
    """ROS 2 topic name -> DDS topic name, as rmw_cyclonedds mangles it ('/estop' -> 'rt/estop')."""
    return "rt" + normalise_topic(topic)


def wire_payload(msg: Message) -> bytes:
    """The exact bytes we hand to DDS for `msg`: ROS 2 CDR, zero-padded to a multiple of 4."""
    parts = serialized_parts(msg)
    size = sum(len(p) for p in parts)
    if size & 3:
        parts.append(b"\x00" * (-size & 3))
    return parts[0] if len(parts) == 1 else b"".join(parts)


def dds_qos(qos: QoS, *, writer: bool, partition: str | None = None) -> Qos:
    """Our QoS -> cyclonedds QoS (XCDR1 data representation, as ROS 2 uses).

    partition: the graph's DDS partition for graph-scoped topics (see `is_graph_scoped`).
    """
    policies: list[Any] = [
        Policy.Reliability.Reliable(max_blocking_time=100_000_000) if qos.reliability == "reliable"
        else Policy.Reliability.BestEffort,
        Policy.History.KeepLast(qos.depth),
        Policy.Durability.TransientLocal if qos.durability == "transient_local" else Policy.Durability.Volatile,
        Policy.DataRepresentation(use_cdrv0_representation=True),
    ]
    if writer and qos.durability == "transient_local":
        # Cyclone keeps durability_service.history samples for late joiners (default 1): make it `depth`
        policies.append(Policy.DurabilityService(cleanup_delay=0, history=Policy.History.KeepLast(qos.depth),
                                                 max_samples=-1, max_instances=-1, max_samples_per_instance=-1))
    if partition:
        policies.append(Policy.Partition([partition]))
    return Qos(*policies)


def is_graph_scoped(topic: str) -> bool:
    """Topics that can move the rig or change its safety state live in the graph's partition.

    Decided by name, in this one place, so a publisher and a subscriber of the same topic can never
    disagree (a QoS-based flag would let one side forget it, and an e-stop would silently vanish):
    ``/estop``, every ``.../command`` topic and every ``...action_chunk`` topic.
    """
    topic = normalise_topic(topic)
    return topic == "/estop" or topic.endswith("/command") or topic.endswith("action_chunk")


#: Cyclone domains this process has configured: domain id -> (configuration XML, Domain entity)
_DOMAINS: dict[int, tuple[str | None, Domain | None]] = {}


def ensure_domain(domain_id: int, network: DdsNetwork = LOOPBACK) -> None:
    """Create this process's Cyclone domain `domain_id` with the project's configuration for `network`.

    Must run before the first participant on that domain (raw `DomainParticipant`s included: the
    benchmarks and the stock-client tests call it too).  One process keeps one configuration per
    domain; asking for another one is an error, not a silent mix.
    """
    xml = cyclone_config_xml(network)
    known = _DOMAINS.get(domain_id)
    if known is not None:
        if known[0] != xml:
            raise DdsError(f"DDS domain {domain_id} is already configured in this process for another network "
                           f"({known[0]!r}); use one network per domain and process")
        return
    _DOMAINS[domain_id] = (xml, Domain(domain_id, xml) if xml is not None else None)
