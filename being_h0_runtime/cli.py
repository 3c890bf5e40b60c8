"""`being-h0`: run the Being-H0 rig runtime.

Common commands:

  being-h0 run                       one pick-and-place episode on the virtual rig
                                     (one process per node over Cyclone DDS)
  being-h0 run --transport inproc    the same episode in one deterministic process
  being-h0 run --profile rig         an episode on the real rig (operator judges success)
  being-h0 launch sim                start the graph and keep it running (s starts an episode, q quits)
  being-h0 doctor --profile rig      check devices, permissions, calibration, disk
  being-h0 bench ...                 benchmarks (latency, dds, hand-link, e2e, control-loop, strategies, load, run, report)
  being-h0 dataset ...               list / inspect / validate / export recorded episodes
  being-h0 view --domain-id N --graph-id X   live Foxglove view of a running graph (or: run/launch --view)

While `run`, `launch`, `record` or `bench run` is in the foreground, one key
(no Enter on a terminal; Enter-terminated lines from a pipe) does:
  s start   a abort episode   e/space e-stop (arm and hand hold until r)   r reset
  y mark success   n mark failure   x re-record   q quit   h help
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Any

from . import interrupts
from .commands import COMMANDS
from .commands.tree import (
    DEFAULT_LOG_LEVEL,
    GLOBAL_OPTIONS,
    TeachingFormatter,
    add_lazy_subparsers,
)

EPILOG = """\
global options (--log-level) go before the subcommand or after it:
  being-h0 --log-level INFO record --episodes 5
  being-h0 record --episodes 5 --log-level INFO

every subcommand teaches its own use: being-h0 COMMAND --help, being-h0 bench run --help
"""


def build_parser() -> argparse.ArgumentParser:
    """The whole `being-h0` parser tree; each subcommand's parser is built when it is chosen."""
    ap = argparse.ArgumentParser(prog="being-h0", description=__doc__, epilog=EPILOG,
                                 formatter_class=TeachingFormatter)
    for flag, settings in GLOBAL_OPTIONS:
        ap.add_argument(flag, default=DEFAULT_LOG_LEVEL, **settings)
    sub = add_lazy_subparsers(ap, dest="top_command")
    for module in COMMANDS:
        importlib.import_module(f"{__package__}.commands.{module}").register(sub)
    return ap


def _stack_dump_on_sigusr1() -> None:
    """`kill -USR1 <pid>` prints every thread's Python stack to stderr: what a hung launch is waiting on."""
    import faulthandler
    import signal

    if hasattr(signal, "SIGUSR1"):
        try:
            faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)
        except (AttributeError, ValueError, OSError, RuntimeError):  # no real stderr (embedded, captured)
            pass


def main(argv: list[str] | None = None) -> int:
    """Parse once, run the chosen subcommand; exit 2 on a usage or configuration error."""
    interrupts.install()  # Ctrl-C and SIGTERM stop cleanly and cannot be swallowed (interrupts.py)
    _stack_dump_on_sigusr1()
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level, format="%(name)s %(levelname)s %(message)s")
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # `being-h0 ... | head`: the reader left; no traceback, and none again when Python flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports it
    except KeyboardInterrupt:
        interrupts.acknowledge()
        if getattr(args, "interrupt_propagates", False):
            raise  # these commands have always let Ctrl-C end the process by the signal
        return 130
    except Exception as err:
        # imported here, not at the top: `being-h0 --help` stays free of pydantic and numpy
        from .config import ConfigError

        if not isinstance(err, ConfigError):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2


def __getattr__(name: str) -> Any:
    """Names older code imported from here, now in their subcommand's module."""
    moved = {"doctor_args_from_profile": "doctor", "_overrides_for_policy": "policy_args"}
    if name in moved:
        module = importlib.import_module(f"{__package__}.commands.{moved[name]}")
        return getattr(module, name.lstrip("_"))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    sys.exit(main())
