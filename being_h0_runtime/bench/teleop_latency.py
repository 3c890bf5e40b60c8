"""Teleop latency: UDP input packet -> published arm/hand command, p50/p99, with a baseline.

What is measured (one process, real sockets, the real TeleopNode):

  udp_path      send a JSON packet on 127.0.0.1 -> the node drains the socket,
                decodes, retargets (hand calibration + One-Euro + clutch + IK)
                and publishes the 1-step ActionChunk -> a subscriber receives it.
  decode+retarget  the same work without the socket and without publishing.
  retarget_only    hand + arm retargeting alone on pre-decoded frames (the baseline).

The ratio udp_path / retarget_only says what the transport and plumbing add
on top of the unavoidable compute.  The node drains its socket from a timer,
so a deployed node adds up to one poll period (1/poll_rate_hz, default 4 ms)
on top of udp_path; that quantisation is a configuration choice and is
reported, not measured.

  python -m being_h0_runtime.bench.teleop_latency --packets 500 --rate 100
"""

from __future__ import annotations

import argparse
import json
import select
import sys
import time
from collections.abc import Sequence

import numpy as np


def _pct(x: list[float]) -> dict[str, float]:
    a = np.asarray(x) * 1e3
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "mean_ms": float(a.mean()), "n": int(a.size)}


def run(packets: int, rate_hz: float, warmup: int = 20) -> dict[str, object]:
    from ..msgs.being_h0 import ActionChunk
    from ..nodes.teleop import TeleopNode, TeleopParams
    from ..teleop.retarget import ArmRetargeter, HandCalibration, HandRetargeter, franka_kinematics
    from ..teleop.schema import decode
    from ..teleop.scripted import ScriptedOperator, UdpSender, reach_and_grasp
    from ..transport.inproc import InprocContext

    ctx = InprocContext()
    received: list[float] = []
    ctx.create_node("probe").create_subscription(ActionChunk, "/action_chunk",
                                                 lambda m: received.append(time.perf_counter()))
    node = TeleopNode(ctx.create_node("teleop"), TeleopParams(port=0))
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
    try:
        for k, pkt in enumerate(pkts):
            n0 = len(received)
            t0 = time.perf_counter()
            sender.send(pkt)
            while len(received) == n0:
                select.select([node.server.fileno()], [], [], 0.05)
                node.poll()
                ctx.deliver_pending()
                if time.perf_counter() - t0 > 1.0:
                    raise RuntimeError(f"packet {k} got no command within 1 s: {node.server.stats}")
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
                udp.append(received[-1] - t0)
                base.append(t2 - t1)
                dec.append(t3 - t2)
            time.sleep(max(0.0, 1.0 / rate_hz - (time.perf_counter() - t0)))
    finally:
        sender.close()
        node.close()

    res = {"udp_path": _pct(udp), "decode+retarget": _pct(dec), "retarget_only": _pct(base),
           "packet_bytes": len(pkts[0]), "rate_hz": rate_hz,
           "poll_period_ms": 1e3 / node.p.poll_rate_hz}
    res["ratio_p50_udp_vs_retarget"] = res["udp_path"]["p50_ms"] / res["retarget_only"]["p50_ms"]  # type: ignore[index]
    res["ratio_p99_udp_vs_retarget"] = res["udp_path"]["p99_ms"] / res["retarget_only"]["p99_ms"]  # type: ignore[index]
    res["max_sustainable_hz_p99"] = 1e3 / res["udp_path"]["p99_ms"]  # type: ignore[index]
    return res


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m being_h0_runtime.bench.teleop_latency", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--packets", type=int, default=500, help="measured packets (default 500; +20 warm-up)")
    p.add_argument("--rate", type=float, default=100.0, help="packet rate in Hz, like a hand tracker (default 100)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    a = p.parse_args(argv)
    if a.packets < 10 or a.rate <= 0:
        p.error("--packets must be >= 10 and --rate > 0")
    res = run(a.packets, a.rate)
    if a.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"teleop latency, {a.packets} packets at {a.rate:g} Hz, {res['packet_bytes']} B/packet")
    for key in ("udp_path", "decode+retarget", "retarget_only"):
        r = res[key]
        print(f"  {key:16s} p50 {r['p50_ms']:7.3f} ms   p99 {r['p99_ms']:7.3f} ms   mean {r['mean_ms']:7.3f} ms")
    print(f"  udp_path / retarget_only: p50 x{res['ratio_p50_udp_vs_retarget']:.2f}, "
          f"p99 x{res['ratio_p99_udp_vs_retarget']:.2f}")
    print(f"  + up to {res['poll_period_ms']:.1f} ms poll quantisation when the node runs on its timer")
    print(f"  sustainable rate at p99: {res['max_sustainable_hz_p99']:.0f} Hz (need >= 30 Hz)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
