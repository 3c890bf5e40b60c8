"""Cyclone DDS adapter across processes, and what it looks like on the wire.

- two processes exchange messages through `DdsContext` (spawned child nodes);
- a raw cyclonedds participant (stock IDL types, no code of ours on the
  data path) sees our topics as ``rt/<name>`` with rosidl type names, reads our
  payloads with the stock deserialiser, and its stock-serialised samples
  reach our nodes;
- with ``use_sim_time`` a child's timers follow /clock, not the wall clock;
- our fast serialisation of a 640x480 RGB Image is byte-identical to the stock
  cyclonedds IDL serialisation.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time

import numpy as np
import pytest

pytest.importorskip("cyclonedds")

from cyclonedds.builtin import BuiltinDataReader, BuiltinTopicDcpsPublication
from cyclonedds.domain import DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

from being_h0_runtime.msgs import Clock, Image, JointState, String, Time
from being_h0_runtime.msgs.convert import image_from_array, joint_state
from being_h0_runtime.transport import COMMAND_QOS, SENSOR_QOS, QoS
from being_h0_runtime.transport.dds import (
    DdsContext,
    ensure_domain,
    dds_qos,
    dds_topic_name,
    idl_type,
    to_idl,
    wire_payload,
)
from being_h0_runtime.rig import ARM_JOINT_NAMES

DOMAIN_ID = 1 + (os.getpid() + 101) % 200  # differs from the contract suite's id in the same run
JOINTS = list(ARM_JOINT_NAMES)
DEEP = QoS("reliable", 100)  # deep enough that a burst of 20 pings is never trimmed by KEEP_LAST


# ---------------------------------------------------------------------------------------------
# child processes (spawned: module-level functions)


def _echo_child(domain_id: int, deadline_s: float) -> None:
    """Echo /ping on /pong, publish joint states and small images until 'quit' arrives."""
    with DdsContext(domain_id=domain_id) as ctx:
        node = ctx.create_node("echo")
        pong = node.create_publisher(String, "/pong", DEEP)
        joints = node.create_publisher(JointState, "/joint_states", COMMAND_QOS)
        images = node.create_publisher(Image, "/camera/image", SENSOR_QOS)
        quit_flag = []

        def on_ping(msg: String) -> None:
            if msg.data == "quit":
                quit_flag.append(True)
            pong.publish(String(data=msg.data))

        node.create_subscription(String, "/ping", on_ping, DEEP)

        def tick() -> None:
            now = node.now()
            joints.publish(joint_state(JOINTS, np.arange(7) * 0.1, stamp=now))
            images.publish(image_from_array(np.full((48, 64, 3), 7, np.uint8), stamp=now, frame_id="cam"))

        node.create_timer(0.02, tick)
        end = time.monotonic() + deadline_s
        while not quit_flag and time.monotonic() < end:
            ctx.spin_once(0.05)


def _sim_child(domain_id: int, deadline_s: float) -> None:
    """A node on sim time: a 0.1 s timer reports node.now() on /tick."""
    with DdsContext(domain_id=domain_id, use_sim_time=True) as ctx:
        node = ctx.create_node("sim")
        ticks = node.create_publisher(String, "/tick", QoS("reliable", 100))
        quit_flag = []
        node.create_subscription(String, "/ping", lambda m: quit_flag.append(m.data == "quit")
                                 or ticks.publish(String(data="pong")), COMMAND_QOS)
        node.create_timer(0.1, lambda: ticks.publish(String(data=repr(node.now()))))
        end = time.monotonic() + deadline_s
        while not any(quit_flag) and time.monotonic() < end:
            ctx.spin_once(0.05)


def _start(target, deadline_s: float = 30.0) -> mp.Process:
    proc = mp.get_context("spawn").Process(target=target, args=(DOMAIN_ID, deadline_s), daemon=True)
    proc.start()
    return proc


def _spin_until(ctx: DdsContext, predicate, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < end:
        ctx.spin_once(0.02)
    return predicate()


@pytest.fixture(scope="module")
def echo_child():
    proc = _start(_echo_child)
    yield proc
    proc.join(10)
    if proc.is_alive():
        proc.kill()


# ---------------------------------------------------------------------------------------------


def test_two_processes_exchange_messages(echo_child) -> None:
    with DdsContext(domain_id=DOMAIN_ID) as ctx:
        node = ctx.create_node("parent")
        ping = node.create_publisher(String, "/ping", DEEP)
        pongs: list[str] = []
        states: list[JointState] = []
        images: list[Image] = []
        node.create_subscription(String, "/pong", lambda m: pongs.append(m.data), DEEP)
        node.create_subscription(JointState, "/joint_states", states.append, COMMAND_QOS)
        node.create_subscription(Image, "/camera/image", images.append, SENSOR_QOS)

        # discovery takes a moment: ping until the child answers
        end = time.monotonic() + 20
        while not pongs and time.monotonic() < end:
            ping.publish(String(data="hello"))
            _spin_until(ctx, lambda: bool(pongs), 0.2)
        assert "hello" in pongs, "no answer from the child process over DDS"
        for i in range(20):
            ping.publish(String(data=f"n{i}"))
        assert _spin_until(ctx, lambda: pongs[-1:] == ["n19"] and len(states) >= 5 and images, 10)
        tail = [p for p in pongs if p.startswith("n")]
        assert tail == [f"n{i}" for i in range(20)]  # reliable, in order, across processes
        js = states[-1]
        assert js.name == JOINTS and np.allclose(js.position, np.arange(7) * 0.1)
        assert abs(js.header.stamp.to_sec() - time.time()) < 5  # wall clock stamps
        img = images[-1]
        assert (img.height, img.width, img.encoding, img.header.frame_id) == (48, 64, "rgb8", "cam")
        assert img.data == bytes([7]) * 48 * 64 * 3


def test_wire_names_and_payloads_seen_by_raw_cyclonedds(echo_child) -> None:
    """A stock cyclonedds participant (stock IDL types, stock (de)serialiser) talks to our nodes."""
    ensure_domain(DOMAIN_ID)  # the project's loopback configuration; a raw participant would use Cyclone's defaults
    dp = DomainParticipant(DOMAIN_ID)
    try:
        # discovery data: topic and type names exactly as rmw_cyclonedds names them
        builtin = BuiltinDataReader(dp, BuiltinTopicDcpsPublication)
        seen: dict[str, str] = {}
        end = time.monotonic() + 20
        while time.monotonic() < end and not {"rt/joint_states", "rt/camera/image", "rt/pong"} <= set(seen):
            for ep in builtin.take(N=100):
                seen[ep.topic_name] = ep.type_name
            time.sleep(0.05)
        assert seen.get("rt/joint_states") == "sensor_msgs::msg::dds_::JointState_"
        assert seen.get("rt/camera/image") == "sensor_msgs::msg::dds_::Image_"
        assert seen.get("rt/pong") == "std_msgs::msg::dds_::String_"

        # stock reader decodes what our publisher wrote
        js_topic = Topic(dp, "rt/joint_states", idl_type(JointState))
        reader = DataReader(dp, js_topic, qos=dds_qos(COMMAND_QOS, writer=False))
        samples = []
        end = time.monotonic() + 10
        while not samples and time.monotonic() < end:
            samples = reader.take(N=10)
            time.sleep(0.02)
        assert samples, "stock reader got nothing on rt/joint_states"
        s = samples[-1]
        assert list(s.name) == JOINTS and np.allclose(s.position, np.arange(7) * 0.1)

        # stock writer (cyclonedds' own serialiser) -> our node -> /pong -> stock reader
        String_ = idl_type(String)
        writer = DataWriter(dp, Topic(dp, "rt/ping", String_), qos=dds_qos(DEEP, writer=True))
        pong_reader = DataReader(dp, Topic(dp, "rt/pong", String_), qos=dds_qos(DEEP, writer=False))
        got: list[str] = []
        end = time.monotonic() + 20
        while "raw-hello" not in got and time.monotonic() < end:
            writer.write(String_(data="raw-hello"))
            time.sleep(0.1)
            got += [x.data for x in pong_reader.take(N=100)]
        assert "raw-hello" in got
        writer.write(String_(data="quit"))
        time.sleep(0.2)
    finally:
        dp.__del__()
    echo_child.join(10)
    assert echo_child.exitcode == 0


def test_sim_time_follows_clock_across_processes() -> None:
    proc = _start(_sim_child)
    try:
        with DdsContext(domain_id=DOMAIN_ID) as ctx:
            node = ctx.create_node("simdriver")
            clock = node.create_publisher(Clock, "/clock", QoS("reliable", 1))
            ping = node.create_publisher(String, "/ping", COMMAND_QOS)
            ticks: list[float] = []
            pongs: list[str] = []

            def on_tick(m: String) -> None:
                (pongs if m.data == "pong" else ticks).append(m.data if m.data == "pong" else float(m.data))

            node.create_subscription(String, "/tick", on_tick, QoS("reliable", 100))
            end = time.monotonic() + 20
            while not pongs and time.monotonic() < end:
                ping.publish(String(data="hello"))
                _spin_until(ctx, lambda: bool(pongs), 0.2)
            assert pongs, "sim child did not come up"
            assert ticks == []  # no /clock yet: sim time is 0 and wall time passing fires nothing

            sim = 1000.0
            for _ in range(40):  # 2 s of sim time in 0.05 s steps
                sim += 0.05
                clock.publish(Clock(clock=Time.from_sec(sim)))
                _spin_until(ctx, lambda: False, 0.02)
            _spin_until(ctx, lambda: False, 0.3)
            n = len(ticks)
            _spin_until(ctx, lambda: False, 0.4)
            assert len(ticks) == n  # clock stopped: timers stop, whatever the wall clock does
            ping.publish(String(data="quit"))
            _spin_until(ctx, lambda: False, 0.2)
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    assert 15 <= len(ticks) <= 21, ticks
    assert all(1000.0 < t <= sim + 1e-6 for t in ticks)
    assert np.median(np.diff(ticks)) == pytest.approx(0.1, abs=0.011)


def test_fast_image_payload_equals_stock_idl_serialisation() -> None:
    rgb = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    img = image_from_array(rgb, stamp=12.5, frame_id="camera_color_optical_frame")
    stock = to_idl(img).serialize()
    stock = stock.ljust((len(stock) + 3) & ~3, b"\0")  # what cyclonedds' DataWriter.write sends
    ours = wire_payload(img)
    assert ours[:4] == b"\x00\x01\x00\x00"
    assert ours == stock
    odd = image_from_array(rgb[:3, :3], frame_id="x")  # 27 bytes of data: needs tail padding
    assert wire_payload(odd) == to_idl(odd).serialize().ljust(len(wire_payload(odd)), b"\0")
    assert len(wire_payload(odd)) % 4 == 0


def test_topic_name_mangling() -> None:
    assert dds_topic_name("/estop") == "rt/estop"
    assert dds_topic_name("estop") == "rt/estop"
    assert dds_topic_name("/camera/color/image_raw") == "rt/camera/color/image_raw"
    assert idl_type(Image).__idl_typename__ == "sensor_msgs::msg::dds_::Image_"


def test_shutdown_is_idempotent_and_final() -> None:
    ctx = DdsContext(domain_id=DOMAIN_ID)
    node = ctx.create_node("short_lived")
    node.create_publisher(String, "/short", COMMAND_QOS).publish(String(data="x"))
    ctx.shutdown()
    ctx.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        ctx.spin_once(0.0)
    with pytest.raises(RuntimeError, match="shut down"):
        node.create_publisher(String, "/short2", COMMAND_QOS)
    with pytest.raises(ValueError, match="domain"):
        DdsContext(domain_id=999)
