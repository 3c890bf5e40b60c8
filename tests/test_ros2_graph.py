"""ROS 2 tools see our graph: a stock cyclonedds client with ROS 2 IDL types (not the project's codec).

The client is what a ROS 2 node or `ros2 node list` is on the wire: it discovers our topics, subscribes
to the camera image and /joint_states with ROS 2's default QoS (reliable, volatile, keep last 10), and
decodes `ros_discovery_info` (rmw_dds_common/msg/ParticipantEntitiesInfo) to find the node names.
The types below are written from the ROS 2 .msg definitions with cyclonedds.idl, on purpose
independent of being_h0_runtime.msgs.
"""

# no `from __future__ import annotations`: cyclonedds.idl reads the field annotations as types
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from conftest import sim_domain
from helpers.waiting import spin_until

pytest.importorskip("cyclonedds")

import cyclonedds.idl.annotations as annotate
from cyclonedds.builtin import (
    BuiltinDataReader,
    BuiltinTopicDcpsParticipant,
    BuiltinTopicDcpsPublication,
)
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct
from cyclonedds.idl.types import (
    array,
    bounded_str,
    float64,
    int32,
    sequence,
    uint8,
    uint32,
)
from cyclonedds.qos import Policy, Qos
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

# --- ROS 2 message types as rosidl generates them for DDS (type names `<pkg>::msg::dds_::<T>_`) -------------


@dataclass
@annotate.final
class Time(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: int32
    nanosec: uint32


@dataclass
@annotate.final
class Header(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    stamp: Time
    frame_id: str


@dataclass
@annotate.final
class Image(IdlStruct, typename="sensor_msgs::msg::dds_::Image_"):
    header: Header
    height: uint32
    width: uint32
    encoding: str
    is_bigendian: uint8
    step: uint32
    data: sequence[uint8]


@dataclass
@annotate.final
class JointState(IdlStruct, typename="sensor_msgs::msg::dds_::JointState_"):
    header: Header
    name: sequence[str]
    position: sequence[float64]
    velocity: sequence[float64]
    effort: sequence[float64]


@dataclass
@annotate.final
class RegionOfInterest(IdlStruct, typename="sensor_msgs::msg::dds_::RegionOfInterest_"):
    x_offset: uint32
    y_offset: uint32
    height: uint32
    width: uint32
    do_rectify: bool


@dataclass
@annotate.final
class CameraInfo(IdlStruct, typename="sensor_msgs::msg::dds_::CameraInfo_"):
    header: Header
    height: uint32
    width: uint32
    distortion_model: str
    d: sequence[float64]
    k: array[float64, 9]
    r: array[float64, 9]
    p: array[float64, 12]
    binning_x: uint32
    binning_y: uint32
    roi: RegionOfInterest


@dataclass
@annotate.final
class Gid(IdlStruct, typename="rmw_dds_common::msg::dds_::Gid_"):
    data: array[uint8, 16]  # Iron and newer (char[16]); Humble: char[24]


@dataclass
@annotate.final
class NodeEntitiesInfo(IdlStruct, typename="rmw_dds_common::msg::dds_::NodeEntitiesInfo_"):
    node_namespace: bounded_str[256]
    node_name: bounded_str[256]
    reader_gid_seq: sequence[Gid]
    writer_gid_seq: sequence[Gid]


@dataclass
@annotate.final
class ParticipantEntitiesInfo(IdlStruct, typename="rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_"):
    gid: Gid
    node_entities_info_seq: sequence[NodeEntitiesInfo]


#: rclcpp's default QoS for a subscription: reliable, volatile, keep last 10
ROS_DEFAULT_QOS = Qos(Policy.Reliability.Reliable(max_blocking_time=100_000_000), Policy.Durability.Volatile,
                      Policy.History.KeepLast(10))
#: what rmw_cyclonedds reads ros_discovery_info with: reliable, transient local, keep all
DISCOVERY_QOS = Qos(Policy.Reliability.Reliable(max_blocking_time=100_000_000), Policy.Durability.TransientLocal,
                    Policy.History.KeepAll)


def test_stock_ros2_client_lists_nodes_and_reads_camera_and_joint_states(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("ROS_DISTRO", raising=False)  # 16-byte gids (Iron and newer)
    from being_h0_runtime.launch import build_graph, close_graph, load_profile
    from being_h0_runtime.transport.dds import DdsContext, ensure_domain

    domain = sim_domain(47)
    profile = load_profile("sim")
    rig_ctx = DdsContext(domain_id=domain, graph_id="cccc0003")  # the virtual rig drives /clock on wall time
    node_ctx = DdsContext(domain_id=domain, use_sim_time=True, graph_id="cccc0003")
    contexts = [rig_ctx, node_ctx]
    rig = build_graph(profile, rig_ctx, tmp_path, {"virtual_rig": {"camera_rate_hz": 10}}, only=["virtual_rig"])
    graph = build_graph(profile, node_ctx, tmp_path, {"arm": {"executor": {"name": "async"}}},
                        only=["camera", "arm"])
    ensure_domain(domain)  # the project's loopback configuration for the raw participant too
    dp = DomainParticipant(domain)

    spin = partial(spin_until, contexts)

    try:
        # 1. discovery: topic and type names, and which of our writers offer what
        pubs = BuiltinDataReader(dp, BuiltinTopicDcpsPublication)
        parts = BuiltinDataReader(dp, BuiltinTopicDcpsParticipant)
        seen: dict[str, list] = {}
        participants: dict[bytes, bytes | None] = {}

        def discovered() -> bool:
            for ep in pubs.take(N=200):
                seen.setdefault(ep.topic_name, []).append(ep)
            for p in parts.take(N=50):
                participants[p.key.bytes] = p.qos[Policy.Userdata].data if Policy.Userdata in p.qos else None
            return {"rt/camera/color/image_raw", "rt/joint_states", "ros_discovery_info"} <= set(seen)

        assert spin(30, discovered), f"topics seen: {sorted(seen)}"
        assert seen["rt/camera/color/image_raw"][0].type_name == "sensor_msgs::msg::dds_::Image_"
        assert seen["rt/joint_states"][0].type_name == "sensor_msgs::msg::dds_::JointState_"
        assert seen["ros_discovery_info"][0].type_name == "rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_"
        ours = {c._participant.guid.bytes for c in contexts}
        spin(2, lambda: ours <= set(participants))
        for gid in ours:
            assert participants.get(gid) == b"enclave=/;", "participant USER_DATA must be rmw's enclave=/;"

        # 2. ROS 2 default-QoS subscribers receive the camera image and the joint states
        image_reader = DataReader(dp, Topic(dp, "rt/camera/color/image_raw", Image), qos=ROS_DEFAULT_QOS)
        js_reader = DataReader(dp, Topic(dp, "rt/joint_states", JointState), qos=ROS_DEFAULT_QOS)
        info_reader = DataReader(dp, Topic(dp, "rt/camera/color/camera_info", CameraInfo), qos=ROS_DEFAULT_QOS)
        images: list[Image] = []
        states: list[JointState] = []
        camera_infos: list[CameraInfo] = []

        def received() -> bool:
            images.extend(image_reader.take(N=10))
            states.extend(js_reader.take(N=100))
            camera_infos.extend(info_reader.take(N=10))
            return bool(images) and bool(states) and bool(camera_infos)

        assert spin(40, received), (f"default-QoS subscriber got {len(images)} images, {len(states)} joint states, "
                                    f"{len(camera_infos)} camera infos")
        # as realsense-ros: a CameraInfo with every frame, stamped like it (camera consumers pair them by stamp)
        spin(2, lambda: received() and len(images) >= 3)
        image_stamps = {(i.header.stamp.sec, i.header.stamp.nanosec) for i in images}
        assert any((c.header.stamp.sec, c.header.stamp.nanosec) in image_stamps for c in camera_infos)
        assert (camera_infos[-1].width, camera_infos[-1].height) == (320, 240) and camera_infos[-1].k[8] == 1.0
        img = images[-1]
        assert (img.width, img.height, img.encoding) == (320, 240, "rgb8")
        assert len(img.data) == img.step * img.height == 320 * 240 * 3
        arm_states = [s for s in states if len(s.name) == 7]
        assert arm_states, f"no 7-joint arm state among {[list(s.name) for s in states[:3]]}"
        assert len(arm_states[-1].position) == 7

        # 3. ros_discovery_info names our nodes, with the readers and writers each one owns
        info_reader = DataReader(dp, Topic(dp, "ros_discovery_info", ParticipantEntitiesInfo), qos=DISCOVERY_QOS)
        infos: dict[bytes, ParticipantEntitiesInfo] = {}

        def nodes_listed() -> bool:
            for s in info_reader.take(N=100):
                infos[bytes(s.gid.data)] = s
            names = {n.node_name for s in infos.values() for n in s.node_entities_info_seq}
            return {"virtual_rig", "camera", "arm"} <= names

        assert spin(15, nodes_listed), \
            f"ros_discovery_info listed {[list(i.node_entities_info_seq) for i in infos.values()]}"
        assert ours <= set(infos), "every participant publishes its own entities under its own gid"
        nodes = {n.node_name: n for s in infos.values() for n in s.node_entities_info_seq}
        assert all(n.node_namespace == "/" for n in nodes.values())
        camera_writers = {bytes(g.data) for g in nodes["camera"].writer_gid_seq}
        image_writer = next(ep.key.bytes for ep in seen["rt/camera/color/image_raw"])
        assert image_writer in camera_writers, "the camera node must own the image writer (ros2 node info)"
        arm_writers = {bytes(g.data) for g in nodes["arm"].writer_gid_seq}
        assert any(ep.key.bytes in arm_writers for ep in seen["rt/joint_states"])
        assert nodes["arm"].reader_gid_seq, "the arm node's readers (chunks, e-stop, /clock) are listed"
    finally:
        dp.__del__()
        close_graph(graph)
        close_graph(rig)
        for c in contexts:
            c.shutdown()


def test_gid_layout_follows_the_ros_distro() -> None:

    from being_h0_runtime.transport.ros_graph import (
        discovery_types,
        gid_size,
        ros_node_name,
    )

    assert gid_size("humble") == 24 and gid_size("foxy") == 24
    assert gid_size("jazzy") == 16 and gid_size("rolling") == 16 and gid_size("") == 16
    guid = bytes(range(16))
    for size in (16, 24):
        gid_t, node_t, info_t = discovery_types(size)
        info = info_t(gid=gid_t(data=list(guid + bytes(size - 16))), node_entities_info_seq=[
            node_t(node_namespace="/", node_name="arm", reader_gid_seq=[], writer_gid_seq=[])])
        raw = info.serialize()
        # CDR header (4) + gid (size) + seq length (4) + "/" (4 + 2 -> padded) + "arm" (4 + 4) + 2 empty seqs
        assert raw[4:4 + size] == guid + bytes(size - 16)
        assert info_t.deserialize(raw).node_entities_info_seq[0].node_name == "arm"
    assert ros_node_name("virtual-rig") == "virtual_rig" and ros_node_name("3d") == "_3d"
