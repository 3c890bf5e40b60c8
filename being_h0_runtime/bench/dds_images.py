"""Benchmark: 640x480 RGB images between two processes over Cyclone DDS, fast path vs stock.

Run ``python -m being_h0_runtime.bench.dds_images --help``.

Two serialisation paths are measured in the same run, on the same machine,
with the same DDS QoS and the same sensor_msgs/Image wire bytes:

- fast:  `DdsContext` publish/subscribe (our CDR codec: the pixel buffer is
         one bytes copy) — what every node in this runtime uses;
- stock: cyclonedds-python's own IDL DataWriter/DataReader for the same
         ``sensor_msgs::msg::dds_::Image_`` type (packs sequence<uint8>
         element by element), converted to our Image on receipt.

For each path it prints serialise-only and deserialise-only time per image,
one-way latency (publisher stamps ``header.stamp`` with the wall clock just
before publishing; the receiver subtracts it after decoding; both processes
share the host clock) at a fixed rate, and throughput when publishing as fast
as possible; then the stock/fast ratios.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from typing import Any

import numpy as np

from ..msgs import Image
from ..msgs.cdr import deserialize
from ..msgs.convert import image_from_array
from ..transport.api import QoS
from .neighbours import cpu_burners


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


# ---------------------------------------------------------------------------------------------
# receiver process


def _receiver(mode: str, domain_id: int, topic: str, qos: QoS, conn: Any) -> None:
    """Receive images, record (receive wall time, latency); obey commands from the parent pipe."""
    latencies: list[float] = []
    received: list[float] = []

    def record(msg: Image) -> None:
        now = time.time()
        received.append(now)
        latencies.append(now - msg.header.stamp.to_sec())

    poll = (_fast_poller if mode == "fast" else _stock_poller)(domain_id, topic, qos, record)
    conn.send("ready")
    while True:
        poll()
        if conn.poll():
            cmd = conn.recv()
            if cmd == "count":
                conn.send(len(received))
            elif cmd == "reset":
                latencies.clear()
                received.clear()
                conn.send("ok")
            elif cmd == "report":
                conn.send((list(latencies), list(received)))
            elif cmd == "quit":
                break


def _fast_poller(domain_id: int, topic: str, qos: QoS, record: Any) -> Any:
    """This project's DDS adapter: a subscription on a node, spun briefly per poll."""
    from ..transport.dds import DdsContext

    ctx = DdsContext(domain_id=domain_id)
    node = ctx.create_node("bench_rx")
    node.create_subscription(Image, topic, record, qos)

    def poll() -> None:
        ctx.spin_once(0.005)

    return poll


def _stock_poller(domain_id: int, topic: str, qos: QoS, record: Any) -> Any:
    """Stock cyclonedds: a DataReader on a waitset, each sample converted to our Image as an adapter would."""
    from cyclonedds.core import (
        InstanceState,
        ReadCondition,
        SampleState,
        ViewState,
        WaitSet,
    )
    from cyclonedds.domain import DomainParticipant
    from cyclonedds.sub import DataReader, InvalidSample
    from cyclonedds.topic import Topic

    from ..transport.dds import dds_qos, dds_topic_name, ensure_domain, idl_type

    ensure_domain(domain_id)  # loopback only, as every participant of the project
    dp = DomainParticipant(domain_id)
    reader = DataReader(dp, Topic(dp, dds_topic_name(topic), idl_type(Image)), qos=dds_qos(qos, writer=False))
    waitset = WaitSet(dp)
    waitset.attach(ReadCondition(reader, SampleState.Any | ViewState.Any | InstanceState.Any))

    def poll() -> None:
        waitset.wait(5_000_000)
        for s in reader.take(N=64):
            if isinstance(s, InvalidSample):  # writer went away: no data
                continue
            # what an adapter on the stock path must do to hand nodes our Image
            record(Image(header=_stock_header(s.header), height=s.height, width=s.width, encoding=s.encoding,
                         is_bigendian=s.is_bigendian, step=s.step, data=bytes(s.data)))

    return poll


def _stock_header(h: Any) -> Any:
    from ..msgs import Header, Time

    return Header(stamp=Time(h.stamp.sec, h.stamp.nanosec), frame_id=h.frame_id)


# ---------------------------------------------------------------------------------------------
# publisher side


class _Sender:
    """Publishes an Image through one path; `send` stamps it just before publishing."""

    def __init__(self, mode: str, domain_id: int, topic: str, qos: QoS, frames: list[np.ndarray]) -> None:
        self.mode = mode
        # colour (rgb8) and, with --with-depth, an aligned 16-bit depth image: one send = one camera frame set
        self.msgs = [image_from_array(f, "rgb8" if f.ndim == 3 else "16UC1", frame_id="camera_color_optical_frame")
                     for f in frames]
        if mode == "fast":
            from ..transport.dds import DdsContext

            self._ctx = DdsContext(domain_id=domain_id)
            self._pub = self._ctx.create_node("bench_tx").create_publisher(Image, topic, qos)
        else:
            from cyclonedds.domain import DomainParticipant
            from cyclonedds.pub import DataWriter
            from cyclonedds.topic import Topic

            from ..transport.dds import dds_qos, dds_topic_name, ensure_domain, idl_type, to_idl

            ensure_domain(domain_id)  # loopback only, as every participant of the project
            self._dp = DomainParticipant(domain_id)
            self._writer = DataWriter(self._dp, Topic(self._dp, dds_topic_name(topic), idl_type(Image)),
                                      qos=dds_qos(qos, writer=True))
            self._samples = [to_idl(m) for m in self.msgs]

    def send(self) -> None:
        for msg in self.msgs if self.mode == "fast" else self._samples:
            t = time.time()  # each image stamped just before its own publish
            sec = int(t)
            msg.header.stamp.sec, msg.header.stamp.nanosec = sec, int((t - sec) * 1e9)
            if self.mode == "fast":
                self._pub.publish(msg)
            else:
                self._writer.write(msg)

    def close(self) -> None:
        if self.mode == "fast":
            self._ctx.shutdown()
        else:
            self._dp.__del__()


def _codec_times(frame: np.ndarray, repeats: int) -> dict[str, list[float]]:
    """Serialise-only / deserialise-only times (ms) of the same Image on both paths."""
    from ..transport.dds import idl_type, to_idl, wire_payload

    msg = image_from_array(frame, stamp=1.0, frame_id="camera_color_optical_frame")
    stock_sample = to_idl(msg)
    out: dict[str, list[float]] = {k: [] for k in ("fast_ser", "stock_ser", "fast_de", "stock_de")}
    wire = wire_payload(msg)
    stock_type = idl_type(Image)
    for i in range(repeats):
        t0 = time.perf_counter()
        wire = wire_payload(msg)
        t1 = time.perf_counter()
        deserialize(wire, Image)
        t2 = time.perf_counter()
        out["fast_ser"].append((t1 - t0) * 1e3)
        out["fast_de"].append((t2 - t1) * 1e3)
        if i < max(3, repeats // 5):  # the stock path is ~100x slower: fewer repeats keep the run short
            t0 = time.perf_counter()
            stock = stock_sample.serialize()
            stock = stock.ljust((len(stock) + 3) & ~3, b"\0")
            t1 = time.perf_counter()
            s = stock_type.deserialize(stock)
            bytes(s.data)
            t2 = time.perf_counter()
            out["stock_ser"].append((t1 - t0) * 1e3)
            out["stock_de"].append((t2 - t1) * 1e3)
            if stock != wire:
                raise AssertionError("stock and fast serialisations differ: the benchmark would compare apples to pears")
    return out


def _ask(conn: Any, command: str) -> Any:
    conn.send(command)
    return conn.recv()


def _wait_for_discovery(sender: Any, conn: Any) -> None:
    """Send until the receiver has something, then clear its records."""
    deadline = time.monotonic() + 20
    while True:
        sender.send()
        time.sleep(0.05)
        if _ask(conn, "count") > 0:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("receiver got no image within 20 s (discovery failed?)")
    _ask(conn, "reset")


def _latency_phase(sender: Any, conn: Any, rate: float, count: int) -> list[float]:
    """``count`` images at a fixed ``rate``; the receiver's latencies (s), then its records cleared."""
    period = 1.0 / rate
    next_t = time.perf_counter()
    for _ in range(count):
        next_t += period
        sender.send()
        delay = next_t - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    time.sleep(0.3)
    latencies, _ = _ask(conn, "report")
    _ask(conn, "reset")
    return latencies


def _throughput_phase(sender: Any, conn: Any, seconds: float) -> tuple[int, list[float]]:
    """Publish back to back for ``seconds``: (images sent, receive times)."""
    sent = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sender.send()
        sent += len(sender.msgs)
    time.sleep(0.5)
    _, received = _ask(conn, "report")
    return sent, received


def _run_path(mode: str, args: argparse.Namespace, frames: list[np.ndarray], qos: QoS) -> dict[str, Any]:
    topic = f"/bench/images_{mode}"
    spawn = mp.get_context("spawn")
    parent_conn, child_conn = spawn.Pipe()
    proc = spawn.Process(target=_receiver, args=(mode, args.domain_id, topic, qos, child_conn), daemon=True)
    proc.start()
    sender = _Sender(mode, args.domain_id, topic, qos, frames)
    try:
        if not parent_conn.poll(30):
            raise RuntimeError("receiver process did not start within 30 s")
        parent_conn.recv()
        _wait_for_discovery(sender, parent_conn)
        latencies = _latency_phase(sender, parent_conn, args.rate, args.count)
        sent, received = _throughput_phase(sender, parent_conn, args.burst_seconds)
        parent_conn.send("quit")
    finally:
        sender.close()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    span = (received[-1] - received[0]) if len(received) > 1 else float("nan")
    rate = (len(received) - 1) / span if len(received) > 1 else 0.0
    return {
        "lat_ms": [x * 1e3 for x in latencies],
        "lat_received": len(latencies),
        "thr_sent": sent,
        "thr_received": len(received),
        "img_s": rate,
        "mb_s": rate * sum(f.nbytes for f in frames) / len(frames) / 1e6,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m being_h0_runtime.bench.dds_images",
        description=__doc__.split("\n\n", 1)[1].split("Run ``")[0].strip() if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "example:\n  python -m being_h0_runtime.bench.dds_images --count 150 --rate 30\n\n"
            "Latencies are one-way (publish call to decoded message in the other process). On a loaded\n"
            "machine both paths slow down; compare the ratio, which is measured in the same run."
        ),
    )
    parser.add_argument("--count", type=int, default=150, help="images in the latency phase (default 150)")
    parser.add_argument("--rate", type=float, default=30.0, help="publish rate in the latency phase, Hz (default 30)")
    parser.add_argument("--burst-seconds", type=float, default=3.0,
                        help="length of the back-to-back throughput phase per path, s (default 3)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--reliability", choices=["best_effort", "reliable"], default="best_effort",
                        help="QoS reliability (default best_effort, as camera streams use)")
    parser.add_argument("--depth", type=int, default=4, help="KEEP_LAST depth (default 4)")
    parser.add_argument("--codec-repeats", type=int, default=50,
                        help="repeats of the serialise/deserialise-only timing (stock uses a fifth, min 3)")
    parser.add_argument("--domain-id", type=int, default=None,
                        help="DDS domain (default: derived from the pid, to stay off other runs' traffic)")
    parser.add_argument("--paths", default="fast,stock", help="comma list of paths to run (default fast,stock)")
    parser.add_argument("--with-depth", action="store_true",
                        help="publish an aligned 16-bit depth image after each colour image, as a RealSense "
                             "streams colour + depth (both at --rate; latencies cover both)")
    parser.add_argument("--burners", type=int, default=0, metavar="N",
                        help="run N CPU-burning processes beside both processes for the whole run (default 0)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    return run_parsed(parser.parse_args(argv), parser)


def run_parsed(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run with parsed options (`being-h0 bench` parses them in its own tree); parser.error on bad values."""
    if args.count < 2 or args.rate <= 0 or args.burst_seconds <= 0 or args.width < 1 or args.height < 1:
        parser.error("--count >= 2, --rate > 0, --burst-seconds > 0 and positive --width/--height are required")
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if not paths or set(paths) - {"fast", "stock"}:
        parser.error(f"--paths must name fast and/or stock, got {args.paths!r}")
    if args.domain_id is None:
        args.domain_id = 1 + os.getpid() % 200
    qos = QoS(args.reliability, args.depth, "volatile")
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (args.height, args.width, 3), dtype=np.uint8)
    frames = [frame] + ([rng.integers(300, 4000, (args.height, args.width), dtype=np.uint16)] if args.with_depth else [])
    mb = frame.nbytes / 1e6

    print(f"# {args.width}x{args.height} rgb8 ({mb:.2f} MB/image)"
          f"{' + 16UC1 depth (%.2f MB)' % (frames[1].nbytes / 1e6) if args.with_depth else ''}, "
          f"QoS {args.reliability} depth {args.depth}, domain {args.domain_id}, {os.cpu_count()} CPUs"
          f"{f', {args.burners} CPU-burning neighbour(s)' if args.burners else ''}", flush=True)
    codec = _codec_times(frame, args.codec_repeats)
    results = {}
    with cpu_burners(args.burners):
        for path in paths:
            print(f"# running {path} path ...", flush=True)
            results[path] = _run_path(path, args, frames, qos)

    print_table(paths, results, codec, args.count * len(frames))
    return 0


def print_table(paths: list[str], results: dict[str, dict[str, Any]], codec: dict[str, Any], count: int) -> None:
    header = (f"{'path':6} {'ser p50':>8} {'ser p99':>8} {'de p50':>8} {'lat p50':>8} {'lat p99':>8} "
              f"{'rx/sent':>9} {'img/s':>7} {'MB/s':>7} {'thr rx/sent':>12}")
    print(header)
    print("-" * len(header))
    for path in paths:
        r = results[path]
        ser, de = codec[f"{path}_ser"], codec[f"{path}_de"]
        print(f"{path:6} {_pct(ser, 50):8.2f} {_pct(ser, 99):8.2f} {_pct(de, 50):8.2f} "
              f"{_pct(r['lat_ms'], 50):8.2f} {_pct(r['lat_ms'], 99):8.2f} {r['lat_received']:>4}/{count:<4} "
              f"{r['img_s']:7.1f} {r['mb_s']:7.1f} {r['thr_received']:>5}/{r['thr_sent']:<6}")
    print("(ms; ser/de = serialise/deserialise only; lat = one-way publish->decoded at --rate; img/s, MB/s =\n"
          " receive rate publishing back to back)")
    if "fast" in results and "stock" in results:
        f, s = results["fast"], results["stock"]
        print(f"stock/fast ratio: serialise p50 x{_pct(codec['stock_ser'], 50) / _pct(codec['fast_ser'], 50):.0f}, "
              f"deserialise p50 x{_pct(codec['stock_de'], 50) / _pct(codec['fast_de'], 50):.0f}, "
              f"latency p50 x{_pct(s['lat_ms'], 50) / _pct(f['lat_ms'], 50):.1f}, "
              f"p99 x{_pct(s['lat_ms'], 99) / _pct(f['lat_ms'], 99):.1f}; "
              f"throughput fast/stock x{f['img_s'] / s['img_s'] if s['img_s'] else float('inf'):.1f}")


if __name__ == "__main__":
    sys.exit(main())
