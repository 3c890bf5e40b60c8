"""Reading a RealSense recording with colour and depth paired by their recorded timestamps.

Why not `rs.pipeline` for recordings: its syncer pairs frames by *arrival*, and decides that a stream
has gone quiet by wall-clock time. Each sensor of a playback device hands its frames over on its own
thread, so on a busy machine depth can arrive several frames after colour. The syncer then drops
colour frames it gave up on and pairs a later colour frame with an old depth frame (seen in the suite:
colour frame 5 delivered with depth frame 0, frames 0-4 gone). A recording fixes what belongs
together: frames with the same timestamp. This reader opens each sensor itself, keeps the frames
that are waiting for their partner, and hands out pairs in order; `rs.align` still gets a real
frameset (composed by a processing block), so alignment is the SDK's own.

Back-pressure without Python in the SDK's threads: the sensors write into an `rs.frame_queue` (C++),
never into a Python callback. A Python callback that waits for room would hold the playback's read
thread, and `pause`/`resume`/`stop` wait for that thread while the caller holds the GIL the callback
needs: a deadlock that the SDK ends after a 10 s flush timeout. Instead, in non-real-time playback the
consumer pauses the playback when `HIGH_WATER` frames wait and resumes it when few are left, and
`hold()` pauses it before the consumer stops pulling for a while: a slow consumer slows the playback
and nothing is dropped. Real-time playback never pauses; a consumer that falls behind loses the oldest
frames, as with a live camera.
"""

from __future__ import annotations

import collections
from typing import Any

#: frames waiting (queued, or paired and not yet taken) at which non-real-time playback is paused, and resumed
HIGH_WATER, LOW_WATER = 8, 2
#: the SDK-side queue of a non-real-time playback: never full. The queue *blocks* the playback's reader
#: when full, and `resume()` (in `start()` and in `_throttle`) waits for that reader while the playback
#: reads ahead at full speed (measured: up to 33 frames before `resume()` returns on a loaded 2-core
#: machine). A full queue there is a deadlock: the reader waits for room, `resume()` for the reader, and
#: the only consumer is the caller of `resume()` (seen in the suite: a 150-frame recording, capacity 64).
#: A queue's capacity is only a bound (std::deque), so this costs nothing; what it holds stays bounded by
#: the recording and, in practice, by the HIGH_WATER pause.
QUEUE_CAPACITY = 1 << 20
#: real-time playback paces its reads by the recording's timestamps and is never paused by the consumer
REAL_TIME_QUEUE_CAPACITY = 4
#: colour frames kept waiting for their depth partner before the oldest goes on without one
MAX_WAITING = 30


class RecordingReader:
    """A `.db3`/`.bag` recording, read sensor by sensor; a small stand-in for the pipeline in the grabber.

    It offers what the grabber uses of `rs.pipeline` and its active profile (`try_wait_for_frames`,
    `stop`, `get_device`, `get_streams`), plus `finished()` (the playback reached the end and every
    pair was handed out) and `hold()`. Every method is called from the one grabber thread.
    """

    def __init__(self, rs: Any, path: str, *, real_time: bool, want_depth: bool) -> None:
        self._rs = rs
        self._real_time = real_time
        self._ctx = rs.context()
        self._device = self._ctx.load_device(path)  # RuntimeError on a file the SDK cannot read
        self._playback = self._device.as_playback()
        self._playback.set_real_time(real_time)
        self._streams: dict[Any, Any] = {}
        self._sensors: list[tuple[Any, list[Any]]] = []
        for sensor in self._device.query_sensors():
            profiles = [p for p in sensor.get_stream_profiles()
                        if p.stream_type() not in self._streams
                        and (p.stream_type() == rs.stream.color or (want_depth and p.stream_type() == rs.stream.depth))]
            if profiles:
                self._streams.update({p.stream_type(): p for p in profiles})
                self._sensors.append((sensor, profiles))
        self._has_depth = rs.stream.depth in self._streams
        fps = max((p.fps() for p in self._streams.values()), default=30) or 30
        self._tolerance_ms = 0.5 * 1000.0 / fps  # colour and depth of one moment: within half a frame
        self._queue: Any = None
        self._colors: collections.deque[Any] = collections.deque()  # waiting for depth, oldest first
        self._depths: collections.deque[Any] = collections.deque()
        self._ready: collections.deque[tuple[Any, Any | None]] = collections.deque()
        self._paused = False
        self._started = False
        self.unpaired = 0  # colour frames that never met their depth frame
        #: of those, colour frames handed out without depth at the end of the recording (see `_flush_at_end`)
        self.depth_lost_at_end = 0
        self._composed: Any = None
        self._composer: Any = None
        self._pair: list[Any] = []

    # -- what the grabber's profile handling reads

    def get_device(self) -> Any:
        return self._device

    def get_streams(self) -> list[Any]:
        return list(self._streams.values())

    # -- streaming

    def start(self) -> None:
        if self._started:
            return
        capacity = REAL_TIME_QUEUE_CAPACITY if self._real_time else QUEUE_CAPACITY
        self._queue = self._rs.frame_queue(capacity, keep_frames=True)
        self._composed = self._rs.frame_queue(2, keep_frames=True)
        self._composer = self._rs.processing_block(self._compose)
        self._composer.start(self._composed)
        # the playback reads on as soon as one sensor starts, and frames of a sensor not started yet
        # are lost: paused until every sensor is listening
        self._playback.pause()
        for sensor, profiles in self._sensors:
            sensor.open(profiles)
            sensor.start(self._queue)
        self._started = True
        self._playback.resume()

    def stop(self) -> None:
        if self._started:
            for sensor, _ in self._sensors:
                for step in (sensor.stop, sensor.close):
                    try:
                        step()
                    except RuntimeError:
                        pass  # the playback already stopped it (end of file, or the file went away)
            self._started = False
        self._colors.clear()
        self._depths.clear()
        self._ready.clear()

    def hold(self) -> None:
        """The consumer will not pull for a while: pause a non-real-time playback now, not at HIGH_WATER."""
        if not self._real_time and self._started and not self._paused:
            self._playback.pause()
            self._paused = True

    def finished(self) -> bool:
        """The playback is at its end and nothing is left to hand out."""
        if self._ready or (self._queue is not None and self._queue.size()):
            return False
        try:
            return bool(self._playback.current_status() == self._rs.playback_status.stopped)
        except RuntimeError:
            return False

    def try_wait_for_frames(self, timeout_ms: int) -> tuple[bool, Any]:
        """The next pair as an SDK frameset (colour, and depth when recorded), as the pipeline's call."""
        remaining = max(1, int(timeout_ms))
        while not self._ready:
            self._throttle()
            ok, frame = self._queue.try_wait_for_frame(remaining)
            if not ok:
                if not self._flush_at_end():
                    return False, None
                break
            frame.keep()
            is_depth = frame.get_profile().stream_type() == self._rs.stream.depth
            (self._depths if is_depth else self._colors).append(frame)
            self._pair_up()
            remaining = 1  # frames already queued are taken at once; an empty queue ends this call
        color, depth = self._ready.popleft()
        self._throttle()
        self._pair = [color] if depth is None else [color, depth]
        self._composer.invoke(color)
        fs = self._composed.wait_for_frame(max(1000, int(timeout_ms)))
        self._pair = []
        return True, fs.as_frameset()

    # -- internals

    def _throttle(self) -> None:
        if self._real_time or not self._started:
            return
        # frames waiting for a partner are not counted: only more reading can pair them
        backlog = self._queue.size() + len(self._ready)
        if not self._paused and backlog >= HIGH_WATER:
            self._playback.pause()
            self._paused = True
        elif self._paused and backlog <= LOW_WATER:
            self._playback.resume()
            self._paused = False

    def _flush_at_end(self) -> bool:
        """At the end of the recording, hand out colour frames still waiting for depth, without it.

        The SDK sometimes drops the last frame(s) of a playback that was paused and resumed near its end
        (measured: 1 in ~150-300 readings of a 6-frame recording on a loaded 2-core machine, always the
        final depth frame; the file holds it). Its colour frame would otherwise wait forever: the colour
        image is kept, with no depth, and counted in `depth_lost_at_end`.
        """
        if not self._colors or (self._queue is not None and self._queue.size()):
            return False
        try:
            stopped = self._playback.current_status() == self._rs.playback_status.stopped
        except RuntimeError:
            return False
        if not stopped:
            return False
        while self._colors:
            self._ready.append((self._colors.popleft(), None))
            self.unpaired += 1
            self.depth_lost_at_end += 1
        self._depths.clear()
        return True

    def _compose(self, frame: Any, source: Any) -> None:
        source.frame_ready(source.allocate_composite_frame(self._pair))

    def _pair_up(self) -> None:
        """Move matched (colour, depth) pairs to the ready queue, oldest first."""
        if not self._has_depth:
            while self._colors:
                self._ready.append((self._colors.popleft(), None))
            return
        while self._colors and self._depths:
            c_ts = self._colors[0].get_timestamp()
            d_ts = self._depths[0].get_timestamp()
            if abs(c_ts - d_ts) <= self._tolerance_ms:
                self._ready.append((self._colors.popleft(), self._depths.popleft()))
            elif d_ts < c_ts:
                self._depths.popleft()  # a depth frame whose colour frame was not recorded
            else:
                self._colors.popleft()  # its depth frame was not recorded: depth is already past it
                self.unpaired += 1
        while len(self._colors) > MAX_WAITING:  # depth stopped coming: do not hold colour without bound
            self._colors.popleft()
            self.unpaired += 1
        while len(self._depths) > MAX_WAITING:  # colour stopped coming: depth alone is of no use
            self._depths.popleft()
