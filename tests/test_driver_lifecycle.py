"""One lifecycle contract, checked against every driver that runs here.

The same checks run against the virtual rig's arm and camera (over the in-process
transport, with a stand-in rig node on the other end of the topics), the Inspire
hand over the protocol emulator on a pseudo-terminal, a RealSense playing back a
synthetic `.db3` through pyrealsense2, and the Franka arm with real franky
objects over a recorder of its link. What a node may rely on (drivers/base.py):
out-of-order calls raise a LifecycleError naming the driver, the call and the
state; stopping (hold, deactivate, close) is never refused; a failed configure()
leaves the driver unconfigured and may be retried.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from being_h0_runtime.drivers.base import (
    ARM_JOINT_NAMES,
    READY_Q,
    ArmCommand,
    CameraDriver,
    CameraFrame,
    CameraIntrinsics,
    Driver,
    DriverError,
    HandCommand,
    LifecycleError,
    LifecycleState,
    MotionDriver,
)

UNCONFIGURED, INACTIVE, ACTIVE, FINALIZED = (LifecycleState.UNCONFIGURED, LifecycleState.INACTIVE,
                                             LifecycleState.ACTIVE, LifecycleState.FINALIZED)
W, H = 32, 24


@dataclass
class Bench:
    """One driver kind under test and the device (or stand-in rig) behind it."""

    make: Callable[[], Driver]
    #: a command for write() (motion drivers), None for cameras
    command: Any
    #: True once `command` has reached the device
    received: Callable[[], bool]
    #: make the device have something new to read (sim topics need a publisher; real devices stream)
    produce: Callable[[], None] = lambda: None
    #: make the next configure() fail, then work again (None: this driver cannot fail to configure)
    break_device: Callable[[], None] | None = None
    heal_device: Callable[[], None] | None = None
    #: deliver pending messages (in-process transport); real devices need nothing
    settle: Callable[[], None] = lambda: None

    def wait(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
        """Generous wall-clock bound: the test machine is loaded."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            self.settle()
            if predicate():
                return True
            time.sleep(0.005)
        return False


# ------------------------------------------------------------------------------------------ benches


def _sim_arm() -> Iterator[Bench]:
    from being_h0_runtime.drivers.arm.sim import (
        SIM_ARM_COMMAND_TOPIC,
        SIM_ARM_STATE_TOPIC,
        SimArm,
    )
    from being_h0_runtime.msgs import JointState
    from being_h0_runtime.msgs.convert import joint_state
    from being_h0_runtime.transport.api import COMMAND_QOS, QoS
    from being_h0_runtime.transport.inproc import InprocContext

    ctx = InprocContext()
    rig = ctx.create_node("rig")
    commands: list[JointState] = []
    rig.create_subscription(JointState, SIM_ARM_COMMAND_TOPIC, commands.append, COMMAND_QOS)
    state_pub = rig.create_publisher(JointState, SIM_ARM_STATE_TOPIC, QoS("best_effort", 2))
    target = np.asarray(READY_Q) + 0.01

    def produce() -> None:
        state_pub.publish(joint_state(ARM_JOINT_NAMES, READY_Q, np.zeros(7), np.zeros(7), stamp=ctx.now()))

    def received() -> bool:  # an empty position is the rig's "hold", not a target
        return any(len(m.position) == 7 and np.allclose(m.position, target) for m in commands)

    yield Bench(make=lambda: SimArm(ctx.create_node("arm")), command=ArmCommand(q=target), received=received,
                produce=produce, settle=ctx.deliver_pending)
    ctx.shutdown()


def _sim_camera() -> Iterator[Bench]:
    from being_h0_runtime.drivers.camera.sim import (
        SIM_IMAGE_TOPIC,
        SIM_INFO_TOPIC,
        SimCamera,
    )
    from being_h0_runtime.msgs import CameraInfo, Image
    from being_h0_runtime.msgs.convert import camera_info, image_from_array
    from being_h0_runtime.transport.api import LATCHED_QOS, SENSOR_QOS
    from being_h0_runtime.transport.inproc import InprocContext

    ctx = InprocContext()
    rig = ctx.create_node("rig")
    image_pub = rig.create_publisher(Image, SIM_IMAGE_TOPIC, SENSOR_QOS)
    info_pub = rig.create_publisher(CameraInfo, SIM_INFO_TOPIC, LATCHED_QOS)
    stamp = [0.0]

    def produce() -> None:
        stamp[0] += 0.1
        info_pub.publish(camera_info(W, H, 30.0, 30.0, W / 2, H / 2, stamp=stamp[0]))
        image_pub.publish(image_from_array(np.zeros((H, W, 3), np.uint8), "rgb8", stamp[0], "cam"))

    yield Bench(make=lambda: SimCamera(ctx.create_node("camera")), command=None, received=lambda: False,
                produce=produce, settle=ctx.deliver_pending)
    ctx.shutdown()


def _inspire() -> Iterator[Bench]:
    from being_h0_runtime.drivers.hand import (
        FirstOrderHandPlant,
        InspireEmulator,
        InspireHand,
        InspireHandConfig,
    )
    from being_h0_runtime.drivers.hand.protocol import Register

    with InspireEmulator(FirstOrderHandPlant(max_rate=20000.0)) as emu:
        config = InspireHandConfig(port=emu.port, timeout_s=0.1, retries=2, fault_after=3)

        def set_silent(silent: bool) -> None:
            emu.faults.silent = silent

        yield Bench(make=lambda: InspireHand(config), command=HandCommand(position=np.full(6, 0.3)),
                    received=lambda: bool(np.all(emu.read_register(Register.ANGLE_SET) == 700)),
                    break_device=lambda: set_silent(True), heal_device=lambda: set_silent(False))


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("pyrealsense2")
    from being_h0_runtime.drivers.camera.realsense_record import record_synthetic_db3

    rng = np.random.default_rng(0)
    frames = [CameraFrame(stamp=10.0 + i / 30.0, color=rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
                          depth=np.full((H, W), 500, np.uint16)) for i in range(4)]
    intrinsics = CameraIntrinsics(width=W, height=H, fx=30.0, fy=30.0, cx=W / 2, cy=H / 2)
    return record_synthetic_db3(tmp_path_factory.mktemp("lifecycle") / "cam.db3", frames, intrinsics)


def _realsense(recording: Path, tmp_path: Path) -> Iterator[Bench]:
    from being_h0_runtime.drivers.camera.realsense import RealSenseCamera
    from being_h0_runtime.drivers.camera.realsense_config import RealSenseConfig

    path = tmp_path / "cam.db3"
    shutil.copy(recording, path)
    yield Bench(make=lambda: RealSenseCamera(RealSenseConfig(playback_file=str(path))), command=None,
                received=lambda: False, break_device=path.unlink,
                heal_device=lambda: shutil.copy(recording, path))


def _franka() -> Iterator[Bench]:
    pytest.importorskip("franky")
    from franka_recorder import RecordingConnection

    from being_h0_runtime.drivers.arm.franka import FrankaArm
    from being_h0_runtime.drivers.arm.franka_config import FrankaConfig

    conn = RecordingConnection()
    unreachable = [False]
    target = np.asarray(READY_Q) + 0.01

    def connect(config: FrankaConfig) -> RecordingConnection:
        if unreachable[0]:
            raise DriverError(f"Franka at {config.ip!r} is unreachable (test)")
        return conn

    def received() -> bool:
        return any(hasattr(m, "waypoints") and np.allclose(m.waypoints[0].target.position, target)
                   for m, _ in list(conn.moves))

    def set_unreachable(value: bool) -> None:
        unreachable[0] = value

    yield Bench(make=lambda: FrankaArm(FrankaConfig(ip="172.16.0.2", control_rate_hz=100.0),
                                       connection_factory=connect),
                command=ArmCommand(q=target), received=received,
                break_device=lambda: set_unreachable(True), heal_device=lambda: set_unreachable(False))


@pytest.fixture(params=["sim_arm", "sim_camera", "inspire", "realsense", "franka"])
def bench(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bench]:
    if request.param == "realsense":
        benches = _realsense(request.getfixturevalue("recording"), tmp_path)
    else:
        benches = {"sim_arm": _sim_arm, "sim_camera": _sim_camera, "inspire": _inspire, "franka": _franka}[
            request.param]()
    made: list[Driver] = []
    bench = next(benches)
    make = bench.make

    def make_and_track() -> Driver:  # every driver a test makes is closed after it, pass or fail
        made.append(make())
        return made[-1]

    bench.make = make_and_track
    yield bench
    for driver in made:
        driver.close()
    next(benches, None)


# ------------------------------------------------------------------------------------------ the contract


def _refused(driver: Driver, call: str, state: LifecycleState) -> Any:
    """pytest.raises for `call` refused in `state`, the message naming the driver, the call and the state."""
    return pytest.raises(LifecycleError, match=rf"^{re.escape(driver.driver_name)}: {call}\(\) .* it is {state.value};")


def _write(bench: Bench, driver: Driver) -> None:
    assert isinstance(driver, MotionDriver)
    driver.write(bench.command)


def test_out_of_order_calls_raise_and_stopping_is_always_allowed(bench: Bench) -> None:
    driver = bench.make()
    assert driver.lifecycle_state is UNCONFIGURED
    with _refused(driver, "read", UNCONFIGURED):
        driver.read()
    if bench.command is not None:
        with _refused(driver, "write", UNCONFIGURED):
            _write(bench, driver)
        driver.hold()  # nothing open: nothing to stop, no error
    else:
        with _refused(driver, "intrinsics", UNCONFIGURED):
            driver.intrinsics()  # type: ignore[attr-defined]
    driver.deactivate()
    if not driver.configure_on_activate:
        with pytest.raises(LifecycleError, match=r"activate\(\) .* unconfigured; call configure\(\) first"):
            driver.activate()
        assert driver.lifecycle_state is UNCONFIGURED
    driver.close()
    driver.close()  # a second close is harmless
    assert driver.lifecycle_state is FINALIZED
    for call in ("configure", "activate", "read"):
        with pytest.raises(LifecycleError, match=r"it is finalized; it was closed: create a new driver"):
            getattr(driver, call)()
    if bench.command is not None:
        driver.hold()
    driver.deactivate()
    assert not bench.received()


def test_full_lifecycle_and_reactivation(bench: Bench) -> None:
    driver = bench.make()
    driver.configure()
    driver.configure()  # already configured: a no-op
    assert driver.lifecycle_state is INACTIVE
    driver.read()  # reading never moves anything: allowed while inactive (as in ros2_control)
    if bench.command is not None:
        with _refused(driver, "write", INACTIVE):
            _write(bench, driver)
        assert not bench.received(), "a refused write must not reach the device"
    for round_ in range(2):  # activate, use, deactivate; then once more: deactivate is not the end
        driver.activate()
        driver.activate()
        assert driver.lifecycle_state is ACTIVE and driver.is_active
        if bench.command is not None:
            _write(bench, driver)
            assert bench.wait(bench.received), f"round {round_}: the command never reached the device"
            assert driver.read() is not None  # type: ignore[attr-defined]
        else:
            assert isinstance(driver, CameraDriver)
            bench.produce()
            assert bench.wait(lambda: driver.read() is not None), f"round {round_}: no frame"
            assert driver.intrinsics().width == W
        driver.deactivate()
        assert driver.lifecycle_state is INACTIVE
        if bench.command is not None:
            with _refused(driver, "write", INACTIVE):
                _write(bench, driver)
        driver.deactivate()  # not active: a no-op
    driver.close()
    assert driver.lifecycle_state is FINALIZED
    with _refused(driver, "read", FINALIZED):
        driver.read()


def test_a_failed_configure_leaves_the_driver_unconfigured_and_retryable(bench: Bench) -> None:
    if bench.break_device is None or bench.heal_device is None:
        pytest.skip("this driver cannot fail to configure (a virtual-rig twin subscribes to topics)")
    driver = bench.make()
    bench.break_device()
    with pytest.raises(DriverError) as err:
        driver.configure()
    assert not isinstance(err.value, LifecycleError)  # a device problem, not a caller's
    assert driver.lifecycle_state is UNCONFIGURED
    bench.heal_device()
    driver.configure()
    driver.activate()
    assert driver.is_active


def test_activate_configures_first_only_where_the_driver_says_so(bench: Bench) -> None:
    driver = bench.make()
    if driver.configure_on_activate:
        driver.activate()
        assert driver.lifecycle_state is ACTIVE
    else:
        with pytest.raises(LifecycleError):
            driver.activate()
        assert driver.lifecycle_state is UNCONFIGURED
