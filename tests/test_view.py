"""Live Foxglove view: a WebSocket client subscribes, receives and decodes what the rig publishes.

The client (`being_h0_runtime.view.client`) speaks the Foxglove WebSocket protocol by hand and decodes
payloads from the advertised ros2msg schema text with mcap-ros2-support, never with this project's classes.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("foxglove")
pytest.importorskip("websockets")
pytest.importorskip("mcap_ros2")

from being_h0_runtime.msgs import ActionChunk, EStop, Image, JointState, TaskStatus
from being_h0_runtime.msgs.convert import header, image_from_array, joint_state
from being_h0_runtime.recording.msgdef import full_msg_definition
from being_h0_runtime.rig import ARM_JOINT_NAMES, HAND_DOF_NAMES
from being_h0_runtime.transport.api import (
    COMMAND_QOS,
    ESTOP_QOS,
    JOINT_STATE_QOS,
    LATCHED_QOS,
    SENSOR_PUB_QOS,
)
from being_h0_runtime.transport.inproc import InprocContext
from being_h0_runtime.view.client import FoxgloveClient
from being_h0_runtime.view.layout import (
    LAYOUT_TOPICS,
    layout_json,
    recorded_topic_names,
)
from being_h0_runtime.view.live import LiveView

REPO = Path(__file__).resolve().parents[1]
ARM = list(ARM_JOINT_NAMES)
CAMERA = "/camera/color/image_raw"


def test_image() -> np.ndarray:
    """240x320 rgb8: left half red, right half a horizontal ramp in green (JPEG keeps flat areas near-exact)."""
    img = np.zeros((240, 320, 3), np.uint8)
    img[:, :160] = (200, 30, 30)
    img[:, 160:, 1] = np.linspace(0, 255, 160, dtype=np.uint8)[None, :]
    return img


test_image.__test__ = False  # a helper, not a test


class Rig:
    """An in-process publisher of the rig's topics plus a live view attached to the same context."""

    def __init__(self, images: str = "jpeg") -> None:
        self.ctx = InprocContext()
        self.view = LiveView("127.0.0.1", 0, images, out=io.StringIO())
        self.view.attach(self.ctx)
        n = self.ctx.create_node("rig")
        self.image = n.create_publisher(Image, CAMERA, SENSOR_PUB_QOS)
        self.joints = n.create_publisher(JointState, "/joint_states", JOINT_STATE_QOS)
        self.estop = n.create_publisher(EStop, "/estop", ESTOP_QOS)
        self.status = n.create_publisher(TaskStatus, "/task/status", LATCHED_QOS)
        self.chunk = n.create_publisher(ActionChunk, "/action_chunk", COMMAND_QOS)

    def spin(self) -> None:
        for _ in range(3):
            self.ctx.spin_once(0.0)

    def close(self) -> None:
        self.view.close()


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.close()


def _subscribe_and_wait(client: FoxgloveClient, *topics: str) -> None:
    for t in topics:
        client.subscribe(t)
    time.sleep(0.3)  # the server handles the subscribe op on its own thread


def test_client_receives_and_decodes_a_camera_frame_and_joint_states(rig: Rig) -> None:
    with FoxgloveClient(rig.view.url) as client:
        assert client.subprotocol in ("foxglove.sdk.v1", "foxglove.websocket.v1")
        _subscribe_and_wait(client, CAMERA + "/compressed", "/joint_states")
        rig.image.publish(image_from_array(test_image(), "rgb8", 12.5, "camera_color_optical_frame"))
        q = np.array([0.0, -0.3, 0.1, -2.0, 0.05, 1.8, 0.7])
        rig.joints.publish(joint_state(ARM, q, np.zeros(7), stamp=12.5))
        rig.spin()
        got = {}
        while len(got) < 2:
            m = client.next_message(timeout_s=5)
            got[m.topic] = m
    frame = got[CAMERA + "/compressed"]
    assert frame.schema_name == "sensor_msgs/msg/CompressedImage"
    assert frame.message.format == "rgb8; jpeg compressed bgr8"
    assert frame.message.header.frame_id == "camera_color_optical_frame"
    assert frame.message.header.stamp.sec == 12 and frame.message.header.stamp.nanosec == 500_000_000
    import cv2

    bgr = cv2.imdecode(np.frombuffer(bytes(frame.message.data), np.uint8), cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    assert rgb.shape == (240, 320, 3)
    red = rgb[20:220, 20:140].reshape(-1, 3).mean(axis=0)
    assert np.allclose(red, (200, 30, 30), atol=4), red
    ramp = rgb[120, 170:310, 1].astype(float)
    assert np.all(np.diff(ramp[::10]) > 0) and ramp[0] < 40 and ramp[-1] > 215  # the ramp survived, left to right
    assert np.abs(rgb.astype(int) - test_image().astype(int)).mean() < 3
    js = got["/joint_states"]
    assert js.schema_name == "sensor_msgs/msg/JointState"
    assert list(js.message.name) == ARM
    assert np.allclose(js.message.position, q) and len(js.message.velocity) == 7


def test_raw_images_arrive_pixel_exact() -> None:
    rig = Rig(images="raw")
    try:
        with FoxgloveClient(rig.view.url) as client:
            assert CAMERA + "/compressed" not in client.wait_for_topics([CAMERA])
            _subscribe_and_wait(client, CAMERA)
            rig.image.publish(image_from_array(test_image(), "rgb8", 1.0))
            rig.spin()
            m = client.next_message({CAMERA}, timeout_s=5)
    finally:
        rig.close()
    assert m.schema_name == "sensor_msgs/msg/Image" and m.message.encoding == "rgb8"
    arr = np.frombuffer(bytes(m.message.data), np.uint8).reshape(m.message.height, m.message.width, 3)
    assert np.array_equal(arr, test_image())


def test_a_client_connected_before_the_graph_subscribes_at_once_and_misses_no_topic() -> None:
    """As Foxglove does: connect while `run --view` is still starting its graph, subscribe to each channel the
    moment it is advertised.  (With channels created at attach time, foxglove-sdk 0.30 advertised some before it
    accepted subscriptions to them, and /arm/command stayed silent for a whole episode.)"""
    ctx = InprocContext()
    view = LiveView("127.0.0.1", 0, out=io.StringIO())
    try:
        with FoxgloveClient(view.url) as client:
            topics = ["/joint_states", "/arm/command", "/hand/command", "/action_chunk"]
            for t in topics:
                client.subscribe(t)
            view.attach(ctx)  # the graph comes up after the viewer connected
            n = ctx.create_node("rig")
            pubs = {t: n.create_publisher(JointState, t, COMMAND_QOS) for t in topics[:3]}
            chunk = n.create_publisher(ActionChunk, "/action_chunk", COMMAND_QOS)
            time.sleep(0.3)
            for t, p in pubs.items():
                p.publish(joint_state(ARM, np.full(7, 0.1), stamp=1.0))
            chunk.publish(ActionChunk(header=header(1.0), names=["a"], steps=1, dims=1, data=np.ones(1, np.float32)))
            for _ in range(3):
                ctx.spin_once(0.0)
            got = set()
            while got != set(topics):
                got.add(client.next_message(timeout_s=5).topic)
            assert client.errors == []
    finally:
        view.close()


def test_no_jpeg_work_while_nobody_watches_the_camera(rig: Rig) -> None:
    rig.image.publish(image_from_array(test_image(), "rgb8", 1.0))
    rig.spin()
    assert rig.view.channels.forwards[CAMERA].sent == 0  # no client: frame skipped before compression
    with FoxgloveClient(rig.view.url) as client:
        _subscribe_and_wait(client, CAMERA + "/compressed")
        rig.image.publish(image_from_array(test_image(), "rgb8", 2.0))
        rig.spin()
        client.next_message(timeout_s=5)
    assert rig.view.channels.forwards[CAMERA].sent == 1


def test_latched_estop_and_task_status_reach_a_viewer_that_connects_later(rig: Rig) -> None:
    rig.estop.publish(EStop(header=header(3.0), engaged=True, source="console:test", reason="operator key"))
    rig.status.publish(TaskStatus(header=header(3.0), task_id="pick_place_toy", state="running", episode=1))
    rig.spin()
    with FoxgloveClient(rig.view.url) as client:
        _subscribe_and_wait(client, "/estop", "/task/status")
        got = {}
        while len(got) < 2:
            m = client.next_message(timeout_s=5)
            got[m.topic] = m.message
    assert got["/estop"].engaged and got["/estop"].reason == "operator key"
    assert got["/task/status"].state == "running" and got["/task/status"].task_id == "pick_place_toy"


def test_action_chunk_decodes_from_the_advertised_schema(rig: Rig) -> None:
    data = np.arange(4 * 13, dtype=np.float32).reshape(4, 13) / 10
    names = ARM + list(HAND_DOF_NAMES)
    with FoxgloveClient(rig.view.url) as client:
        _subscribe_and_wait(client, "/action_chunk")
        rig.chunk.publish(ActionChunk(header=header(5.0), names=names, steps=4, dims=13, step_dt=0.1,
                                      data=data.ravel(), engine_id="expert", sequence=7))
        rig.spin()
        m = client.next_message({"/action_chunk"}, timeout_s=5).message
    assert (m.steps, m.dims, m.sequence, list(m.names)) == (4, 13, 7, names)
    assert np.allclose(np.asarray(m.data, np.float32).reshape(4, 13), data)


def test_channels_carry_the_recorded_mcap_topics_and_schemas(rig: Rig, tmp_path: Path) -> None:
    """Same topic names and byte-identical ros2msg schema text as a recorded episode: one layout serves both."""
    from mcap.reader import make_reader

    from being_h0_runtime.nodes.recorder import RecorderNode
    from being_h0_runtime.recording.bag import EpisodeWriter
    from being_h0_runtime.recording.episode import EpisodeMetadata

    ctx = InprocContext()
    rec = RecorderNode(ctx.create_node("recorder"), {"output_dir": tmp_path, "min_free_bytes": 0, "follow_task": False}).bring_up()
    ep = EpisodeWriter(tmp_path / "ep", EpisodeMetadata(episode_id="ep"))
    for topic, (cls, record_as) in rec.topics.items():
        ep.add_topic(record_as, cls)
    ep.close()
    with open(ep.mcap_path, "rb") as f:
        summary = make_reader(f).get_summary()
    recorded = {ch.topic: summary.schemas[ch.schema_id] for ch in summary.channels.values()}
    with FoxgloveClient(rig.view.url) as client:
        advertised = client.wait_for_topics(sorted(recorded))
    assert set(advertised) == set(recorded) == recorded_topic_names()
    for topic, schema in recorded.items():
        ch = advertised[topic]
        assert (ch["schemaName"], ch["schemaEncoding"], ch["encoding"]) == (schema.name, "ros2msg", "cdr"), topic
        assert ch["schema"] == schema.data.decode(), topic
    assert advertised["/joint_states"]["schema"] == full_msg_definition(JointState)


def test_shipped_layout_is_current_and_reads_only_recorded_topics() -> None:
    shipped = (REPO / "docs" / "foxglove_layout.json").read_text()
    assert shipped == layout_json(), "regenerate: python -m being_h0_runtime.view.layout > docs/foxglove_layout.json"
    assert set(LAYOUT_TOPICS) <= recorded_topic_names()
    text = json.dumps(json.loads(shipped))
    layout = json.loads(shipped)  # Foxglove's exported-layout format: every panel reachable, every leaf configured
    leaves: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, str):
            leaves.append(node)
            for tab in layout["configById"][node].get("tabs", []) if node.startswith("Tab!") else []:
                walk(tab["layout"])
        else:
            assert isinstance(node, dict) and node["direction"] in ("row", "column") and 0 < node["splitPercentage"] < 100
            walk(node["first"])
            walk(node["second"])

    walk(layout["layout"])
    assert sorted(leaves) == sorted(layout["configById"])
    assert {p.split("!")[0] for p in leaves} == {"Image", "Plot", "StateTransitions", "RawMessages", "DiagnosticsSummary",
                                                 "Tab"}
    scripts = {n["name"]: n["sourceCode"] for n in layout["userNodes"].values()}
    assert set(scripts) == {"joints by name", "action chunk by dimension"}
    assert all("export default function script" in code for code in scripts.values())
    for topic in re.findall(r'"(/[a-z_/]+?)[.\[\]"]', text):  # every topic a panel or script names
        assert topic in LAYOUT_TOPICS or topic.startswith("/studio_script/being_h0_"), topic


def test_view_on_another_address_warns_that_the_network_can_watch(capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from being_h0_runtime import netguard
    from being_h0_runtime.config import ConfigError

    # the suite runs loopback-only: a non-loopback view is refused before anything listens
    with pytest.raises(ConfigError, match=netguard.ENV):
        LiveView("0.0.0.0", 0, out=io.StringIO())
    # outside it, the user is warned first; 192.0.2.1 (TEST-NET-1) is no address of this machine, so nothing
    # ends up listening on a real network during the test either
    monkeypatch.setenv(netguard.ENV, "0")
    with pytest.raises(ConfigError, match="cannot listen on 192.0.2.1"):
        LiveView("192.0.2.1", 0, out=io.StringIO())
    err = capsys.readouterr().err
    assert "warning" in err and "anyone" in err and "192.0.2.1" in err


def test_busy_port_is_a_clear_error() -> None:
    from being_h0_runtime.config import ConfigError

    first = LiveView("127.0.0.1", 0, out=io.StringIO())
    try:
        with pytest.raises(ConfigError, match=rf"cannot listen on 127.0.0.1:{first.port}.*--view-port"):
            LiveView("127.0.0.1", first.port, out=io.StringIO())
    finally:
        first.close()


def test_being_h0_view_attaches_to_a_dds_graph_and_sees_only_its_commands() -> None:
    """`being-h0 view --domain-id N --graph-id X` in its own process; this process plays the graph over DDS.

    /arm/command lives in the graph's partition: a second graph on the same domain must not show up."""
    pytest.importorskip("cyclonedds")
    from conftest import sim_domain

    from being_h0_runtime.transport.dds import DdsContext

    domain, graph = sim_domain(57), "feedc0de"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "being_h0_runtime.cli", "view", "--domain-id", str(domain),
                             "--graph-id", graph, "--view-port", "0", "--duration", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    ours = DdsContext(domain_id=domain, graph_id=graph)
    other = DdsContext(domain_id=domain, graph_id="0badf00d")
    try:
        assert proc.stdout is not None
        url = None
        for _ in range(20):
            line = proc.stdout.readline()
            found = re.search(r"(ws://127\.0\.0\.1:\d+)", line)
            if found:
                url = found.group(1)
                break
        assert url, "being-h0 view printed no address"
        node, intruder = ours.create_node("arm_sim"), other.create_node("arm_sim")
        cmd = node.create_publisher(JointState, "/arm/command", COMMAND_QOS)
        js = node.create_publisher(JointState, "/joint_states", JOINT_STATE_QOS)
        foreign = intruder.create_publisher(JointState, "/arm/command", COMMAND_QOS)
        with FoxgloveClient(url) as client:
            _subscribe_and_wait(client, "/arm/command", "/joint_states")
            got: dict[str, object] = {}
            end = time.monotonic() + 30
            while len(got) < 2 and time.monotonic() < end:  # keep publishing until DDS discovery has matched
                foreign.publish(joint_state(ARM, np.full(7, 9.0), stamp=1.0))
                cmd.publish(joint_state(ARM, np.full(7, 0.25), stamp=1.0))
                js.publish(joint_state(ARM, np.full(7, 0.5), stamp=1.0))
                try:
                    m = client.next_message(timeout_s=0.3)
                except TimeoutError:
                    continue
                if m.topic == "/arm/command":
                    assert np.allclose(m.message.position, 0.25), "a foreign graph's command reached the view"
                got[m.topic] = m.message
        assert set(got) == {"/arm/command", "/joint_states"}
        assert np.allclose(got["/joint_states"].position, 0.5)
    finally:
        ours.shutdown()
        other.shutdown()
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.slow
def test_run_with_view_serves_the_episode_live(tmp_path: Path) -> None:
    """`being-h0 run --expert --view` over DDS processes: a client sees camera, joints, commands, chunks, the end."""
    pytest.importorskip("cyclonedds")
    pytest.importorskip("mujoco")
    from conftest import sim_domain

    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "being_h0_runtime.cli", "run", "--profile", "sim", "--expert",
                             "--seed", "1", "--run-dir", str(tmp_path), "--domain-id", str(sim_domain(58)),
                             "--view", "--view-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    topics = ["/camera/color/image_raw/compressed", "/joint_states", "/arm/command", "/hand/command",
              "/action_chunk", "/task/status"]
    counts = dict.fromkeys(topics, 0)
    states: list[str] = []
    try:
        assert proc.stdout is not None
        url = None
        for _ in range(10):
            found = re.search(r"(ws://127\.0\.0\.1:\d+)", proc.stdout.readline())
            if found:
                url = found.group(1)
                break
        assert url, "run --view printed no address"
        with FoxgloveClient(url) as client:
            for t in topics:
                client.subscribe(t)
            end = time.monotonic() + 180
            while time.monotonic() < end and not (states and states[-1] == "succeeded"):
                m = client.next_message(timeout_s=60)
                counts[m.topic] += 1
                if m.topic == "/task/status" and (not states or states[-1] != m.message.state):
                    states.append(m.message.state)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "running" in states and states[-1] == "succeeded", states
    assert all(n > 0 for n in counts.values()), (counts, out)


def _strip_types(ts: str) -> str:
    """Erase the TypeScript annotations our generated user scripts use (only those), leaving runnable JavaScript.
    Types do not change what the code does, so running the result tests the scripts' logic."""
    js = re.sub(r"^(import|type) [^\n]*\n", "", ts, flags=re.MULTILINE)
    js = re.sub(r"\(\s*event: [^)]*\)\s*: Output", "(event)", js)
    js = re.sub(r"(const \w+): [^=\n]+=", r"\1 =", js)
    return re.sub(r" as [A-Z]\w*(<[^>]*>)?", "", js)


def test_layout_user_scripts_key_joints_by_name_and_split_the_chunk(tmp_path: Path) -> None:
    """Run the layout's two user scripts (types erased) under node with the messages Foxglove would feed them."""
    import shutil

    from being_h0_runtime.view.layout import chunk_script, joints_script

    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed: the user scripts are TypeScript run by Foxglove")
    (tmp_path / "joints.mjs").write_text(_strip_types(joints_script()))
    (tmp_path / "chunk.mjs").write_text(_strip_types(chunk_script()))
    names = ARM + list(HAND_DOF_NAMES)
    driver = f"""
import joints from "./joints.mjs";
import chunk from "./chunk.mjs";
joints({{topic: "/joint_states", message: {{name: {json.dumps(ARM)}, position: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]}}}});
joints({{topic: "/hand/command", message: {{name: ["little", "ring"], position: [0.9, 0.8]}}}});
const j = joints({{topic: "/joint_states", message: {{name: ["little", "ring"], position: [0.5, 0.4]}}}});
const data = Array.from({{length: 3 * 13}}, (_, i) => i);
const c = chunk({{topic: "/action_chunk", message: {{names: {json.dumps(names)}, steps: 3, dims: 13, data}}}});
console.log(JSON.stringify({{j, c}}));
"""
    (tmp_path / "driver.mjs").write_text(driver)
    res = subprocess.run([node, str(tmp_path / "driver.mjs")], check=False, capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr + "\n" + (tmp_path / "joints.mjs").read_text()
    out = json.loads(res.stdout.replace("NaN", "null"))
    assert out["j"]["measured"]["fr3_joint3"] == 0.3 and out["j"]["measured"]["little"] == 0.5
    assert out["j"]["commanded"]["little"] == 0.9 and out["j"]["commanded"]["ring"] == 0.8
    assert out["j"]["commanded"]["fr3_joint1"] is None  # nothing commanded yet
    assert out["c"]["fr3_joint1"] == [0, 13, 26] and out["c"]["thumb_rotation"] == [12, 25, 38]
