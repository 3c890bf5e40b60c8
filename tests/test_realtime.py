"""Real-time scheduling and memory locking: granted where permitted, refused with a reason and a fix otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from being_h0_runtime.config import ConfigError, validate_model
from being_h0_runtime.realtime import RealtimeConfig, RealtimeStatus, apply_realtime, drop_realtime

REPO = Path(__file__).resolve().parents[1]


def _in_thread(fn):
    """Run fn in its own thread (scheduling is per thread: the test runner's thread is never raised)."""
    out: dict[str, object] = {}
    th = threading.Thread(target=lambda: out.update(result=fn()))
    th.start()
    th.join(10)
    return out["result"]


def test_priority_is_granted_to_the_calling_thread_or_refused_with_the_fix():
    def probe():
        st = apply_realtime(RealtimeConfig(priority=10))
        policy = os.sched_getscheduler(0)
        drop_realtime()
        return st, policy, os.sched_getscheduler(0)

    st, policy, after = _in_thread(probe)
    assert isinstance(st, RealtimeStatus)
    if st.priority == 10:
        assert policy == os.SCHED_FIFO and not st.refused
    else:
        assert policy == os.SCHED_OTHER and "RLIMIT_RTPRIO" in st.refused[0] and "fix:" in st.refused[0]
    assert after == os.SCHED_OTHER
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the caller's thread was never touched


def test_an_unprivileged_process_is_refused_both_and_keeps_running(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to an unprivileged user for the fault injection")
    code = (
        # import first: the interpreter's files may not be readable by the unprivileged user
        "import os, resource\n"
        "from being_h0_runtime.realtime import RealtimeConfig, apply_realtime\n"
        "resource.setrlimit(resource.RLIMIT_MEMLOCK, (4096, 4096))\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "st = apply_realtime(RealtimeConfig(priority=50, lock_memory=True))\n"
        "print(st.summary()); print('policy', os.sched_getscheduler(0))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "normal scheduling, memory not locked; refused: SCHED_FIFO 50" in res.stdout
    assert "mlockall" in res.stdout and "RLIMIT_MEMLOCK 4096" in res.stdout
    assert f"policy {os.SCHED_OTHER}" in res.stdout


def test_actuator_realtime_parameters_are_validated():
    from being_h0_runtime.nodes.actuator import ActuatorParams

    p = validate_model(ActuatorParams, {"scheduling": {"priority": 70, "lock_memory": True}}, "test")
    assert p.scheduling.priority == 70 and p.scheduling.lock_memory
    assert validate_model(ActuatorParams, {}, "test").scheduling.priority is None  # the virtual rig: normal
    with pytest.raises(ConfigError, match="scheduling.priority"):
        validate_model(ActuatorParams, {"scheduling": {"priority": 99}}, "test")
    with pytest.raises(ConfigError, match="scheduling.prio"):
        validate_model(ActuatorParams, {"scheduling": {"prio": 70}}, "test")


def test_the_rig_profile_asks_for_realtime_on_both_motion_nodes():
    from being_h0_runtime.launch import load_profile

    params = load_profile("rig").validate_nodes(Path("/tmp/run"))
    for node in ("arm", "hand"):
        assert params[node].scheduling.priority == 70 and params[node].scheduling.lock_memory
