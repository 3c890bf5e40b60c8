"""A foot switch on the arm node's serial port stops the whole graph (arm and hand) within a control cycle."""

from __future__ import annotations

import os
import time
import tty

from being_h0_runtime.operator import run_episode_inproc

os.environ.setdefault("MUJOCO_GL", "egl")


def test_pedal_press_latches_arm_and_hand_and_is_relayed_on_estop(pty_pair):
    master, slave = pty_pair
    tty.setraw(slave)
    port = os.ttyname(slave)
    pressed_at: dict[str, float] = {}

    def setup(ctx, nodes):
        arm = nodes["arm"]
        timer = None

        def press():
            timer.cancel()
            os.write(master, b"\x01")  # the pedal's "pressed" byte
            deadline = time.monotonic() + 2.0  # the footswitch thread reads it in real time
            while not arm.estop.is_latched and time.monotonic() < deadline:
                time.sleep(0.001)
            pressed_at["t"] = ctx.now()

        timer = ctx.create_node("pedal").create_timer(3.0, press)

    holder = {}

    def capture(ctx, nodes):
        holder["nodes"] = nodes
        setup(ctx, nodes)

    from being_h0_runtime.policy.expert import with_expert

    over = with_expert({"virtual_rig": {"camera_rate_hz": 0, "hand_baudrate": None}})
    over["arm"]["footswitch"] = {"port": port, "protocol": "byte"}
    out = run_episode_inproc("sim", seed=3, overrides=over, setup=capture, time_limit_s=6.0)
    nodes = holder["nodes"]
    assert "t" in pressed_at and nodes["arm"].estop.is_latched
    assert nodes["hand"].estop.is_latched, "the pedal must reach the hand node through /estop"
    assert nodes["arm"].holding and nodes["hand"].holding
    # an e-stop holds the episode (it resumes after a reset); left held, it runs out of time and says why
    assert out.state == "timeout" and "held by e-stop" in out.message and "footswitch" in out.message
