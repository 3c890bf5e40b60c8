"""Real-time scheduling and memory locking for a control loop, when the machine permits them.

A 100 Hz loop on a shared machine misses deadlines for two reasons this module can remove: the
scheduler gives the CPU to a busy neighbour (SCHED_FIFO puts the loop's thread ahead of every
normal-priority process), and a page fault stalls a cycle (mlockall keeps the process resident).
Neither is always allowed: SCHED_FIFO needs root, CAP_SYS_NICE or an RLIMIT_RTPRIO grant (on a rig:
`@realtime - rtprio 98` in /etc/security/limits.d, as the libfranka docs set up), and mlockall needs
CAP_IPC_LOCK or an RLIMIT_MEMLOCK large enough for the process. What was refused is reported with
the reason and the fix, never raised: a loop without real-time priority still runs, with longer tails.

Scheduling is per thread on Linux: call `apply_realtime` from the thread that runs the loop.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
from dataclasses import dataclass, field

from pydantic import Field

from .config import StrictModel

MCL_CURRENT, MCL_FUTURE = 1, 2


class RealtimeConfig(StrictModel):
    """A loop's request; priority None = leave the scheduler alone (SCHED_OTHER)."""

    #: SCHED_FIFO priority 1..98 for the loop's thread (libfranka's own loop runs at 80 on a rig)
    priority: int | None = Field(None, ge=1, le=98)
    #: mlockall(MCL_CURRENT | MCL_FUTURE): no page faults in the loop
    lock_memory: bool = False


@dataclass
class RealtimeStatus:
    """What the loop got, in words an operator can act on."""

    priority: int | None = None  # granted SCHED_FIFO priority; None: normal scheduling
    memory_locked: bool = False
    refused: list[str] = field(default_factory=list)  # "what: why; fix"

    def summary(self) -> str:
        got = [f"SCHED_FIFO {self.priority}" if self.priority else "normal scheduling",
               "memory locked" if self.memory_locked else "memory not locked"]
        return ", ".join(got) + ("; refused: " + " | ".join(self.refused) if self.refused else "")


def apply_realtime(cfg: RealtimeConfig) -> RealtimeStatus:
    """Raise the calling thread to SCHED_FIFO and lock memory as `cfg` asks; report what was refused."""
    st = RealtimeStatus()
    if cfg.priority is not None:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(cfg.priority))
            st.priority = cfg.priority
        except (OSError, AttributeError) as err:
            soft, _hard = resource.getrlimit(resource.RLIMIT_RTPRIO)
            st.refused.append(f"SCHED_FIFO {cfg.priority}: {err} (RLIMIT_RTPRIO {soft}); fix: run with "
                              "CAP_SYS_NICE or add '<user> - rtprio 98' in /etc/security/limits.d/")
    if cfg.lock_memory:
        libc_name = ctypes.util.find_library("c")
        libc = ctypes.CDLL(libc_name, use_errno=True) if libc_name else None
        if libc is not None and libc.mlockall(MCL_CURRENT | MCL_FUTURE) == 0:
            st.memory_locked = True
        else:
            errno = ctypes.get_errno() if libc is not None else 0
            soft, _hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
            st.refused.append(f"mlockall: {os.strerror(errno) if errno else 'libc not found'} "
                              f"(RLIMIT_MEMLOCK {soft} bytes); fix: CAP_IPC_LOCK or "
                              "'<user> - memlock unlimited' in /etc/security/limits.d/")
    return st


def drop_realtime() -> None:
    """Back to normal scheduling for the calling thread (benchmarks compare both in one process)."""
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (OSError, AttributeError):
        pass
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        ctypes.CDLL(libc_name).munlockall()
