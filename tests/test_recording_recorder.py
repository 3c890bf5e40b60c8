"""RecorderNode: episodes readable by standard tools, operator controls, task-driven, interventions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from being_h0_runtime.msgs import Bool, TaskCommand, TaskStatus
from being_h0_runtime.nodes.recorder import RecorderNode, RecorderParams
from being_h0_runtime.recording.bag import iter_messages, load_metadata, scan
from being_h0_runtime.recording.compressed import CompressedImage, decompress_image
from being_h0_runtime.recording.episode import MCAP_METADATA_NAME, EpisodeMetadata
from being_h0_runtime.recording.synthetic import SyntheticRig
from being_h0_runtime.transport.inproc import InprocContext


def _setup(tmp_path: Path, **kw):
    ctx = InprocContext(start_time=100.0)
    rig = SyntheticRig(ctx)
    rec = RecorderNode(ctx.create_node("recorder"), RecorderParams(output_dir=tmp_path, min_free_bytes=0, **kw)).bring_up()
    return ctx, rig, rec


def test_episode_is_a_rosbag2_mcap_readable_by_standard_readers(tmp_path: Path) -> None:
    ctx, rig, rec = _setup(tmp_path, rig_id="rig7", calibration_id="cal-3")
    ctx.run_for(0.5)  # idle: nothing recorded
    ep = rec.start("pick", "pick up the toy", operator="alice")
    ctx.run_for(2.0)
    rec.mark(True, notes="clean grasp")
    assert rec.end(keep=True) == ep

    meta = load_metadata(ep)
    assert (meta.task_id, meta.instruction, meta.operator, meta.outcome) == ("pick", "pick up the toy", "alice", "success")
    assert (meta.rig_id, meta.calibration_id, meta.status) == ("rig7", "cal-3", "complete")
    assert meta.duration == pytest.approx(2.0)
    res = scan(ep)
    assert res.complete and not res.error
    assert EpisodeMetadata.from_mcap(res.metadata[MCAP_METADATA_NAME]).notes == "clean grasp"
    js = [r for r in res.messages if r.topic == "/joint_states"]
    assert 95 <= len(js) <= 102  # 50 Hz for 2 s
    assert all(100.5 <= r.log_time_ns * 1e-9 <= 102.5 for r in res.messages)
    # the latched camera_info published before the episode is replayed into it
    assert any(r.topic == "/camera/color/camera_info" for r in res.messages)

    # images went in as JPEG CompressedImage and decode back to the frame
    imgs = [m for t, _, m in iter_messages(ep, {"/camera/color/image_raw/compressed"})]
    assert 19 <= len(imgs) <= 21 and isinstance(imgs[0], CompressedImage)
    arr = decompress_image(imgs[0])
    assert arr.shape == (24, 32, 3) and abs(int(arr[20, 20, 1]) - int(arr[20, 20, 0])) < 6 and abs(int(arr[2, 2, 1]) - 200) < 12

    # rosbags (an independent reader) opens the folder via metadata.yaml and decodes with our schemas
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.EMPTY)
    with Reader(ep) as reader:
        for c in reader.connections:
            store.register(get_types_from_msg(c.msgdef.data, c.msgtype))
        counts = {c.topic: c.msgcount for c in reader.connections}
        assert counts["/joint_states"] == len(js)
        conn = next(c for c in reader.connections if c.topic == "/joint_states")
        _, _, raw = next(reader.messages(connections=[conn]))
        msg = store.deserialize_cdr(raw, conn.msgtype)
        assert list(msg.name)[:2] == ["fr3_joint1", "fr3_joint2"] and len(msg.position) == 13

    # mcap-ros2-support decodes every message from the ros2msg schema text alone
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    with open(next(ep.glob("*.mcap")), "rb") as f:
        n = sum(1 for _ in make_reader(f, decoder_factories=[DecoderFactory()]).iter_decoded_messages())
    assert n == len(res.messages)
    info = yaml.safe_load((ep / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["storage_identifier"] == "mcap" and info["message_count"] == n
    assert json.loads((ep / "episode.json").read_text())["outcome"] == "success"


def test_discard_pause_and_status_line(tmp_path: Path) -> None:
    ctx, rig, rec = _setup(tmp_path)
    first = rec.start("pick", "x")
    ctx.run_for(0.5)
    second = rec.discard(redo=True)
    assert not first.exists() and second is not None and second.exists()
    assert "REC" in rec.status_line() and "disk" in rec.status_line()
    ctx.run_for(0.5)
    rec.pause()
    assert rec.status_line().startswith("PAUSED")
    ctx.run_for(1.0)
    rec.resume()
    ctx.run_for(0.5)
    rec.end()
    meta = load_metadata(second)
    assert len(meta.pauses) == 1 and meta.pauses[0][1] - meta.pauses[0][0] == pytest.approx(1.0)
    t = [r.log_time_ns * 1e-9 for r in scan(second).messages if r.topic == "/joint_states"]
    p0, p1 = meta.pauses[0]
    assert not any(p0 < x < p1 for x in t)  # nothing written while paused
    assert rec.status_line().startswith("IDLE | kept 1")
    assert [p for p in tmp_path.iterdir() if p.is_dir()] == [second]


def test_task_status_drives_episodes_and_interventions_are_tagged(tmp_path: Path) -> None:
    ctx, rig, rec = _setup(tmp_path)
    rig.status.publish(TaskStatus(task_id="stack", instruction="stack the cubes", state="running", episode=1))
    ctx.run_for(1.0)
    assert rec.recording
    rig.intervention.publish(Bool(True))
    ctx.run_for(0.5)
    rig.intervention.publish(Bool(False))
    ctx.run_for(0.5)
    rig.status.publish(TaskStatus(task_id="stack", state="failed", episode=1, message="dropped cube"))
    ctx.run_for(0.1)
    assert not rec.recording
    # a second one via TaskCommand, marked success by the operator
    rig.cmd.publish(TaskCommand(command="start", task_id="stack", instruction="again", operator="bob"))
    ctx.run_for(0.5)
    rig.cmd.publish(TaskCommand(command="mark_success"))
    rig.cmd.publish(TaskCommand(command="stop"))
    ctx.run_for(0.1)
    eps = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert len(eps) == 2
    m1, m2 = (load_metadata(e) for e in eps)
    assert (m1.instruction, m1.outcome, m1.notes) == ("stack the cubes", "failure", "dropped cube")
    assert len(m1.interventions) == 1
    t0, t1 = m1.interventions[0]
    assert t1 - t0 == pytest.approx(0.5) and t0 == pytest.approx(m1.start_time + 1.0, abs=1e-6)
    assert (m2.instruction, m2.operator, m2.outcome, m2.interventions) == ("again", "bob", "success", [])


def test_bad_params_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="topics"):
        RecorderParams(output_dir=tmp_path, topics=["/nope"])
    with pytest.raises(ValueError, match="flush_interval_s"):
        RecorderParams(output_dir=tmp_path, flush_interval_s=-1)
    p = RecorderParams(output_dir=tmp_path, topics=["/custom:std_msgs/msg/String"])
    assert p.topics == ["/custom:std_msgs/msg/String"]
