"""Teleop latency: UDP input packet -> published arm/hand command, p50/p99, with a baseline.

What is measured (one process, real sockets, the real TeleopNode):

  udp_path      send a JSON packet on 127.0.0.1 -> the node drains the socket,
                decodes, retargets (hand calibration + One-Euro + clutch + IK)
                and publishes the 1-step ActionChunk -> a subscriber receives it.
  decode+retarget  the same work without the socket and without publishing.
  retarget_only    hand + arm retargeting alone on pre-decoded frames (the baseline).

  device:NAME   an operator input on a real device path -> the same published command:
                keyboard     a key written into a pty -> the device reads the terminal (cbreak)
                             -> jogged wrist -> packet -> UDP -> node -> command
                spacemouse   an HID report (documented byte layout) handed to the device (hidapi's read())
                             -> velocity integration -> packet -> UDP -> node -> command
                video        a video frame decoded by OpenCV -> the detector boundary (landmarks
                             injected: MediaPipe's model is not shipped, so its inference time,
                             typically 5-15 ms on a laptop CPU, is NOT included) -> pose -> ... -> command
                measured interleaved with the UDP baseline, on the same node, in the same run.

The ratio udp_path / retarget_only says what the transport and plumbing add
on top of the unavoidable compute.  The node drains its socket from a timer,
so a deployed node adds up to one poll period (1/poll_rate_hz, default 4 ms)
on top of udp_path; that quantisation is a configuration choice and is
reported, not measured.

  python -m being_h0_runtime.bench.teleop_latency --packets 500 --rate 100
  being-h0 bench teleop --packets 300 --devices keyboard,spacemouse,video
"""

from __future__ import annotations

import argparse
import json
import select
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np


def _pct(x: list[float]) -> dict[str, float]:
    a = np.asarray(x) * 1e3
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "mean_ms": float(a.mean()), "n": int(a.size)}


class _DeviceInput:
    """One device under test: `poke(k)` makes the operator act (timed from here), the device turns it into a frame."""

    def __init__(self, name: str, tmp: str) -> None:
        self.name = name
        self._close: list = []
        if name == "keyboard":
            self._keyboard()
        elif name == "spacemouse":
            self._spacemouse()
        elif name == "video":
            self._video_file(tmp)
        else:
            raise ValueError(f"unknown device {name!r}; one of keyboard, spacemouse, video")

    def _keyboard(self) -> None:
        import os
        import pty

        from ..teleop.devices.keyboard import KeyboardConfig, KeyboardDevice

        master, slave = pty.openpty()
        self.device = KeyboardDevice(KeyboardConfig(), fd=slave)
        self.device.handle_key(" ")  # clutch on
        keys = b"wsadrf"
        self.poke = lambda k: os.write(master, keys[k % 6: k % 6 + 1])
        self._close += [lambda: os.close(master), lambda: os.close(slave)]

    def _spacemouse(self) -> None:
        import struct

        from ..teleop.devices.spacemouse import SpaceMouseDevice

        class Replay:
            def __init__(self) -> None:
                self.queue: list[list[int]] = []

            def read(self, size: int) -> list[int]:
                return self.queue.pop(0) if self.queue else []

        replay = Replay()
        replay.queue += [[3, 1], [3, 0]]  # left button: clutch on
        self.device = SpaceMouseDevice(hid_device=replay)

        def push(k: int) -> None:  # full deflection along x, y, z in turn, both signs (as the keys do)
            axes = [0, 0, 0]
            axes[(k // 2) % 3] = 350 * (-1) ** k
            replay.queue.append(list(bytes([1]) + struct.pack("<3h", *axes)))

        self.poke = push

    def _video_file(self, tmp: str) -> None:
        import cv2

        from ..teleop.devices.webcam import (
            CameraDevice,
            HandObservation,
            WebcamConfig,
        )
        from ..teleop.handmodel import SyntheticHand

        path = f"{tmp}/hand.avi"
        w = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
        rng = np.random.default_rng(0)
        for _ in range(64):
            w.write(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
        w.release()
        hand = SyntheticHand()

        class Injected:  # the detector boundary: landmarks of a synthetic hand, moving with the frame
            def detect(self, rgb: np.ndarray, t_ms: int) -> HandObservation:
                img = np.zeros((21, 3))
                img[:, :2] = [0.4 + 0.2 * (rgb[0, 0, 0] / 255), 0.5]
                img[9, :2] = [img[0, 0], 0.4]
                return HandObservation(hand.keypoints(np.full(6, rgb[0, 0, 1] / 255)), img)

            def close(self) -> None:
                pass

        self.path = path
        self._video = lambda: CameraDevice(__import__("pathlib").Path(path),
                                           WebcamConfig(clutch="visible"), detector=Injected())
        self.device = self._video()
        self.poke = lambda k: None  # the next frame is the input

    def frame(self, now: float):
        if self.name == "keyboard":  # the pty hands the key over asynchronously: wait until the device has it
            before, t0 = self.device.presses, time.perf_counter()
            f = self.device.read(now)
            while self.device.presses == before and time.perf_counter() - t0 < 1.0:
                f = self.device.read(now)
            return f
        f = self.device.read(now)
        if f is None and self.name == "video":  # looped: reopen at the end of the file
            seq = self.device.seq
            self.device.close()
            self.device = self._video()
            self.device.seq = seq  # packets keep increasing sequence numbers
            f = self.device.read(now)
        return f

    def close(self) -> None:
        self.device.close()
        for fn in self._close:
            fn()


def run(packets: int, rate_hz: float, warmup: int = 20, devices: Sequence[str] = ()) -> dict[str, object]:
    # Longer than 60 lines on purpose: the timed paths (UDP through the node, decode + retarget,
    # retarget only, each device) are interleaved packet by packet over shared state (the probe's
    # receive times, the nodes' sockets) so they all see the same machine load; one loop, read in order.
    from ..msgs.being_h0 import ActionChunk
    from ..nodes.teleop import TeleopNode, TeleopParams
    from ..teleop.retarget import (
        ArmRetargeter,
        HandCalibration,
        HandRetargeter,
        franka_kinematics,
    )
    from ..teleop.schema import decode
    from ..teleop.scripted import ScriptedOperator, UdpSender, reach_and_grasp
    from ..transport.inproc import InprocContext

    ctx = InprocContext()
    received: list[float] = []
    ctx.create_node("probe").create_subscription(ActionChunk, "/action_chunk",
                                                 lambda m: received.append(time.perf_counter()))
    node = TeleopNode(ctx.create_node("teleop"), TeleopParams(port=0, stale_timeout_s=60)).bring_up()  # the bench pauses
    sender = UdpSender(*node.address)
    duration = packets / rate_hz
    op = ScriptedOperator(reach_and_grasp(duration=duration), noise_m=0.0005)
    pkts = [op.packet(k / rate_hz) for k in range(packets + warmup)]
    # the baselines run on their own retargeters, interleaved packet by packet with the UDP path so
    # that all three see the same machine load (this box is shared)
    ik, fk = franka_kinematics()
    frames = [decode(p) for p in pkts]
    hand_b, arm_b = HandRetargeter(HandCalibration.nominal()), ArmRetargeter(ik, fk, np.array(node.p.home_q))
    hand_d, arm_d = HandRetargeter(HandCalibration.nominal()), ArmRetargeter(ik, fk, np.array(node.p.home_q))
    udp: list[float] = []
    base: list[float] = []
    dec: list[float] = []
    import tempfile

    from ..teleop.schema import encode

    tmp = tempfile.TemporaryDirectory(prefix="teleop_bench_")
    inputs = [_DeviceInput(d, tmp.name) for d in devices]
    # each device gets its own teleop node (own socket, retargeters and filters), as it would on the rig
    dev_nodes = {d: TeleopNode(ctx.create_node(f"teleop_{d}"), TeleopParams(port=0, stale_timeout_s=60)).bring_up() for d in devices}
    dev_senders = {d: UdpSender(*n.address) for d, n in dev_nodes.items()}
    dev_lat: dict[str, list[float]] = {d: [] for d in devices}
    dev_read: dict[str, list[float]] = {d: [] for d in devices}  # input -> frame ready (the device's own share)

    def wait_command(n0: int, t0: float, what: str, dnode: TeleopNode) -> float:
        while len(received) == n0:
            select.select([dnode.server.fileno()], [], [], 0.05)
            dnode.poll()
            ctx.deliver_pending()
            if time.perf_counter() - t0 > 1.0:
                raise RuntimeError(f"{what} got no command within 1 s: {dnode.server.stats}")
        return received[-1] - t0

    try:
        for k, pkt in enumerate(pkts):
            n0 = len(received)
            t0 = time.perf_counter()
            sender.send(pkt)
            latency = wait_command(n0, t0, f"packet {k}", node)
            t1 = time.perf_counter()
            f = frames[k]
            hand_b(f.keypoints, f.t)
            arm_b(f.wrist_pos, f.wrist_quat, f.clutch, f.t)
            t2 = time.perf_counter()
            g = decode(pkt)
            hand_d(g.keypoints, g.t)
            arm_d(g.wrist_pos, g.wrist_quat, g.clutch, g.t)
            t3 = time.perf_counter()
            if k >= warmup:
                udp.append(latency)
                base.append(t2 - t1)
                dec.append(t3 - t2)
            for inp in inputs:  # the operator acts on each device; time to the published command
                n0 = len(received)
                t0 = time.perf_counter()
                inp.poke(k)
                f = inp.frame(k / rate_hz)
                t_read = time.perf_counter() - t0
                dev_senders[inp.name].send(encode(f))
                lat = wait_command(n0, t0, f"device {inp.name} input {k}", dev_nodes[inp.name])
                if k >= warmup:
                    dev_lat[inp.name].append(lat)
                    dev_read[inp.name].append(t_read)
            time.sleep(max(0.0, 1.0 / rate_hz - (time.perf_counter() - t0)))
    finally:
        sender.close()
        node.close()
        for inp in inputs:
            inp.close()
            dev_senders[inp.name].close()
            dev_nodes[inp.name].close()
        tmp.cleanup()

    return _results(udp, dec, base, dev_lat, dev_read, len(pkts[0]), rate_hz, node.p.poll_rate_hz)


def _results(udp: list[float], dec: list[float], base: list[float], dev_lat: dict[str, list[float]],
             dev_read: dict[str, list[float]], packet_bytes: int, rate_hz: float,
             poll_rate_hz: float) -> dict[str, object]:
    res: dict[str, Any] = {"udp_path": _pct(udp), "decode+retarget": _pct(dec), "retarget_only": _pct(base),
                           "packet_bytes": packet_bytes, "rate_hz": rate_hz, "poll_period_ms": 1e3 / poll_rate_hz}
    for name, lat in dev_lat.items():
        res[f"device:{name}"] = _pct(lat)
        res[f"device:{name}:input->frame"] = _pct(dev_read[name])
    res["ratio_p50_udp_vs_retarget"] = res["udp_path"]["p50_ms"] / res["retarget_only"]["p50_ms"]
    res["ratio_p99_udp_vs_retarget"] = res["udp_path"]["p99_ms"] / res["retarget_only"]["p99_ms"]
    res["max_sustainable_hz_p99"] = 1e3 / res["udp_path"]["p99_ms"]
    return res


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m being_h0_runtime.bench.teleop_latency", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--packets", type=int, default=500, help="measured packets (default 500; +20 warm-up)")
    p.add_argument("--rate", type=float, default=100.0, help="packet rate in Hz, like a hand tracker (default 100)")
    p.add_argument("--devices", default="keyboard,spacemouse,video",
                   help="device paths to measure beside the UDP baseline (comma-separated; '' for none)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = build_parser()
    return run_parsed(p.parse_args(argv), p)


def run_parsed(a: argparse.Namespace, p: argparse.ArgumentParser) -> int:
    """Run with parsed options (`being-h0 bench` parses them in its own tree); p.error on bad values."""
    if a.packets < 10 or a.rate <= 0:
        p.error("--packets must be >= 10 and --rate > 0")
    devices = [d for d in a.devices.split(",") if d]
    res = run(a.packets, a.rate, devices=devices)
    if a.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"teleop latency, {a.packets} packets at {a.rate:g} Hz, {res['packet_bytes']} B/packet")
    for key in ("udp_path", "decode+retarget", "retarget_only",
                *(k for d in devices for k in (f"device:{d}", f"device:{d}:input->frame"))):
        r = res[key]
        print(f"  {key:30s} p50 {r['p50_ms']:7.3f} ms   p99 {r['p99_ms']:7.3f} ms   mean {r['mean_ms']:7.3f} ms")
    print(f"  udp_path / retarget_only: p50 x{res['ratio_p50_udp_vs_retarget']:.2f}, "
          f"p99 x{res['ratio_p99_udp_vs_retarget']:.2f}")
    print(f"  + up to {res['poll_period_ms']:.1f} ms poll quantisation when the node runs on its timer")
    print(f"  sustainable rate at p99: {res['max_sustainable_hz_p99']:.0f} Hz (need >= 30 Hz)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
