"""`being-h0`: run the Being-H0 rig runtime.

Common commands:

  being-h0 run                       one pick-and-place episode on the virtual rig
                                     (one process per node over Cyclone DDS)
  being-h0 run --transport inproc    the same episode in one deterministic process
  being-h0 run --profile rig         an episode on the real rig (operator judges success)
  being-h0 launch sim                start the graph and keep it running (s starts an episode, q quits)
  being-h0 doctor --profile rig      check devices, permissions, calibration, disk
  being-h0 bench ...                 benchmarks (latency, dds, hand-link, e2e, control-loop, strategies, run, report)
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
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .config import ConfigError


def _overrides_for_policy(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    over: dict[str, dict[str, Any]] = {}
    if getattr(args, "engine", None):
        # a path typed on the command line is relative to the working directory (profile paths: to the profile)
        over["inference"] = {"policy": {"kind": "engine", "engine_dir": str(Path(args.engine).absolute()),
                                        "backend": args.backend}}
    elif getattr(args, "expert", False):
        from .policy.expert import with_expert

        over = with_expert()
    for item in getattr(args, "set", None) or []:
        key, _, value = item.partition("=")
        node, _, param = key.partition(".")
        if not node or not param or not _:
            raise ConfigError(f"--set {item!r}: expected NODE.PARAM=VALUE (VALUE is JSON or a plain string)")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        over.setdefault(node, {})[param] = parsed
    return over


def _print_status(st: Any, t0: float) -> None:
    print(f"[{time.monotonic() - t0:6.1f} s] episode {st.episode} {st.state:<9} task-time {st.elapsed:5.1f} s  {st.message}",
          flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    from .launch import load_profile

    profile = load_profile(args.profile)
    overrides = _overrides_for_policy(args)
    if getattr(args, "teleop", None):
        from .teleop.cli import run_with_teleop

        return run_with_teleop(args, overrides)
    if args.time_limit:
        overrides.setdefault("task", {})["time_limit_s"] = args.time_limit
    print(f"being-h0 run: profile {profile.name} ({profile.rig} rig), task {profile.task.task_id!r}, "
          f"seed {args.seed}, transport {args.transport}", flush=True)
    from .view.live import live_view_from_args

    view = args.view_session = live_view_from_args(args)  # --view: Foxglove live view (being_h0_runtime/view)
    try:
        return _run_episode(profile, args, overrides, view)
    finally:
        if view is not None:
            view.close()


def _run_episode(profile: Any, args: argparse.Namespace, overrides: dict[str, dict[str, Any]], view: Any) -> int:
    if args.transport == "inproc":
        from .operator import run_episode_inproc

        t0 = time.monotonic()
        last = {"state": ""}

        def on_status(st: Any) -> None:
            if st.state != last["state"]:
                last["state"] = st.state
                _print_status(st, t0)

        out = run_episode_inproc(args.profile, seed=args.seed, overrides=overrides, on_status=on_status,
                                 setup=(lambda ctx, nodes: view.attach(ctx)) if view else None)
    else:
        out = _run_dds(profile, args, overrides)
        if out is None:
            return 3
    verdict = "SUCCESS" if out.success else "FAILURE"
    print(f"outcome: {verdict} ({out.state}: {out.message}); {out.sim_seconds:.1f} s task time, "
          f"{out.wall_seconds:.1f} s wall", flush=True)
    return 0 if out.success else 1


def _run_dds(profile: Any, args: argparse.Namespace, overrides: dict[str, dict[str, Any]]):
    from .console import help_line
    from .launcher import GraphLauncher, report_deaths
    from .logs import add_run_log, verbose_level
    from .operator import EpisodeOutcome, OperatorConsole

    run_dir = Path(args.run_dir) if args.run_dir else Path(tempfile.mkdtemp(prefix="being_h0_run_"))
    add_run_log(run_dir)  # this process's log beside the node logs
    launcher = GraphLauncher(profile, run_dir, domain_id=args.domain_id, overrides=overrides,
                             log_level=verbose_level(args.log_level, args.verbose))  # -v: node logs at INFO
    print(f"starting {len(profile.nodes)} node processes (logs in {run_dir})", flush=True)
    print(launcher.network_summary(), flush=True)
    t0 = time.monotonic()
    from .console import LogTail, launch_streams_logs

    launcher.start(stream_logs=args.verbose and launch_streams_logs())  # a terminal shows them above the status line
    ctx = launcher.context(use_sim_time=profile.use_sim_time)
    if args.view_session is not None:
        args.view_session.attach(ctx)
    console = OperatorConsole(ctx.create_node("operator_console"), operator=os.environ.get("USER", "operator"))
    from .console import GraphConsole, graph_up

    gc = GraphConsole(console, profile.task.task_id, profile.task.instruction, episodes=1, base_seed=args.seed)
    if args.verbose and not launch_streams_logs():
        gc.tail = LogTail([c.log_path for c in launcher.children], logging.INFO)
    try:
        with gc.keys:
            # wait for the task node's latched status: the graph is up
            ready_deadline = time.monotonic() + args.startup_timeout
            while not graph_up(console):
                ctx.spin_once(0.1)
                if report_deaths(launcher, launcher.poll(), _latch(console, ctx)):
                    gc.line.close()
                    return _abort_dead(launcher, console, ctx)
                if time.monotonic() > ready_deadline:
                    gc.line.close()
                    print(f"error: the graph did not come up within {args.startup_timeout} s; see logs in {run_dir}")
                    return None
            time.sleep(0.5)
            for _ in range(10):
                ctx.spin_once(0.05)
            gc.line.message(f"graph up after {time.monotonic() - t0:.1f} s")
            gc.line.message(help_line())
            gc.start(1)
            while not gc.finished():
                ctx.spin_once(0.05)
                if report_deaths(launcher, launcher.poll(), _latch(console, ctx)):
                    gc.line.close()
                    return _abort_dead(launcher, console, ctx)
                gc.poll()
                if gc.quit and not console.finished(gc.episode):
                    quit_deadline = time.monotonic() + 2.0
                    while not console.finished(gc.episode) and time.monotonic() < quit_deadline:
                        ctx.spin_once(0.05)
                    break
            gc.line.update(gc.status(), force=True)
            gc.line.close()
        st = console.status
        return EpisodeOutcome(state=st.state, success=st.success, message=st.message, sim_seconds=st.elapsed,
                              wall_seconds=time.monotonic() - t0, episode=1, seed=args.seed, history=list(console.history))
    finally:
        codes = launcher.shutdown()
        ctx.shutdown()
        bad = {k: v for k, v in codes.items() if v not in (0, None, -2)}
        if bad:
            print(f"note: node exit codes {bad}", flush=True)


def _latch(console: Any, ctx: Any):
    """The e-stop callback for launcher.report_deaths: latch, and say when (graph time)."""
    def estop(reason: str) -> None:
        console.estop(reason)
        print(f"e-stop latched at graph time {ctx.now():.3f} s: {reason}", flush=True)
    return estop


def _abort_dead(launcher: Any, console: Any, ctx: Any) -> None:
    """The e-stop is latched (report_deaths): let it reach every node, then show the dead nodes' last words."""
    dead = launcher.dead()
    for _ in range(5):
        ctx.spin_once(0.05)
    for n, _ in dead:
        tail = launcher.tail(n)
        if tail:
            print(f"--- last lines of {n} ---\n{tail}", flush=True)


def cmd_launch(args: argparse.Namespace) -> int:
    from .launch import load_profile
    from .launcher import GraphLauncher, report_deaths
    from .operator import OperatorConsole

    profile = load_profile(args.profile)
    run_dir = Path(args.run_dir) if args.run_dir else Path(tempfile.mkdtemp(prefix="being_h0_launch_"))
    from .logs import add_run_log

    add_run_log(run_dir)  # this process's log beside the node logs
    launcher = GraphLauncher(profile, run_dir, domain_id=args.domain_id, overrides=_overrides_for_policy(args),
                             log_level=args.log_level)
    from .console import launch_streams_logs, run_launch

    print(f"launching {profile.name}: {', '.join(profile.nodes)} (logs in {run_dir}); q quits, Ctrl-C stops", flush=True)
    print(launcher.network_summary(), flush=True)
    from .view.live import live_view_from_args

    view = live_view_from_args(args)  # --view: Foxglove live view (being_h0_runtime/view)
    ctx = None
    try:  # from the first process on: a Ctrl-C at any moment still stops the graph in order
        launcher.start(stream_logs=launch_streams_logs())  # on a terminal the console shows them above its status line
        ctx = launcher.context(use_sim_time=profile.use_sim_time)
        console = OperatorConsole(ctx.create_node("launch_console"), operator=os.environ.get("USER", "operator"))
        if view is not None:
            view.attach(ctx)
        return run_launch(launcher, ctx, console, profile, args.log_level,
                          on_dead=lambda: _abort_dead(launcher, console, ctx),
                          is_dead=lambda: report_deaths(launcher, launcher.poll(), _latch(console, ctx)))
    except KeyboardInterrupt:
        print("\nCtrl-C: stopping the graph (actuators last)", flush=True)
        return 0
    finally:
        if view is not None:
            view.close()
        launcher.shutdown()
        if ctx is not None:
            ctx.shutdown()


def doctor_args_from_profile(profile: Any) -> list[str]:
    """Map a launch profile's device settings onto `being_h0_runtime.doctor` arguments."""
    from .launch import REPO_ROOT

    cal = next((e.params["calibration_dir"] for e in profile.nodes.values() if e.params.get("calibration_dir")),
               str(REPO_ROOT / "calibration" / profile.name))  # relative: to the profile file, as the nodes read it
    out = ["--calibration-dir", str(Path(profile.base_dir) / cal) if "${" not in cal else cal,
           "--dds-interface", profile.dds.interface]
    for entry in profile.nodes.values():
        opts = entry.params.get("options", {})
        backend = entry.params.get("backend")
        if entry.type == "arm" and backend == "franka" and opts.get("ip"):
            out += ["--arm-ip", str(opts["ip"])]
        elif entry.type == "hand" and opts.get("port") and "${" not in str(opts["port"]):
            out += ["--hand-port", str(opts["port"])]
        elif entry.type == "camera" and backend == "realsense":
            out += ["--camera-serial", str(opts.get("serial", ""))]
    return out


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import main as doctor_main
    from .launch import load_profile
    from .user_config import default_profile

    name = args.profile or default_profile()
    if not name:
        print("error: being-h0 doctor checks the devices of one launch profile, and contacts the addresses it "
              "names (e.g. the Franka's IP).\nSay which: `being-h0 doctor --profile rig` (or sim, or a YAML "
              "path), or set a default with `being-h0 config set profile rig`.", file=sys.stderr)
        return 2
    profile = load_profile(name)
    doc_args = doctor_args_from_profile(profile)
    what = {"--arm-ip": "Franka FCI at {}:1337", "--hand-port": "Inspire hand on {}"}
    targets = [what[flag].format(doc_args[i + 1]) for i, flag in enumerate(doc_args) if flag in what]
    print(f"doctor: profile {profile.name} ({profile.source}); will contact: {', '.join(targets) or 'no devices'}",
          flush=True)
    rest = [a for a in (args.rest or []) if a != "--"]
    return int(doctor_main(doc_args + rest) or 0)


def _delegate(module: str, argv: list[str]) -> int:
    mod = importlib.import_module(module)
    result = mod.main(argv)
    return int(result or 0)


BENCHES = {
    "latency": ("being_h0_runtime.bench.latency", "policy inference latency per backend (p50/p99)"),
    "dds": ("being_h0_runtime.bench.dds_images", "640x480 image latency/throughput over DDS vs stock serialisation"),
    "hand-link": ("being_h0_runtime.bench.hand_link", "Inspire serial read+write rate over a pty, legacy vs fast cycle"),
    "e2e": ("being_h0_runtime.bench.e2e", "camera frame -> first action applied, per stage, inproc vs DDS (plot)"),
    "control-loop": ("being_h0_runtime.bench.control_loop", "control loop period and e-stop-to-hold latency"),
    "strategies": ("being_h0_runtime.bench.strategies", "chunk execution strategies compared on the virtual rig"),
    "teleop": ("being_h0_runtime.bench.teleop_latency", "teleop input-to-command latency"),
    "run": ("being_h0_runtime.bench.runner", "success-rate trials (resumable, SQLite results)"),
    "report": ("being_h0_runtime.bench.report", "success-rate report with Wilson intervals and plots"),
}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="being-h0", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log-level", default="WARNING", help="Python log level for this process and node processes")
    sub = ap.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log-level", default=argparse.SUPPRESS, help="as the top-level --log-level")

    from .view.live import add_view_args

    def add_policy_args(p: argparse.ArgumentParser) -> None:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--engine", help="engine directory (default: the profile's policy)")
        g.add_argument("--expert", action="store_true", help="use the scripted virtual-rig expert")
        p.add_argument("--backend", default="auto", choices=["auto", "tensorrt", "onnxruntime", "torch"])
        p.add_argument("--set", action="append", metavar="NODE.PARAM=VALUE",
                       help="override a node parameter, e.g. --set arm.rate_hz=200 (repeatable)")

    run = sub.add_parser("run", parents=[common], help="run one task episode on a profile", description=cmd_run.__doc__ or
                         "Run one task episode and print the outcome; exit 0 on success.")
    run.add_argument("--profile", default="sim", help="launch profile name (launch/NAME.yaml) or path")
    run.add_argument("--transport", default="dds", choices=["dds", "inproc"],
                     help="dds: one process per node (default); inproc: one deterministic process")
    run.add_argument("--seed", type=int, default=0, help="scene seed (virtual rig)")
    run.add_argument("--time-limit", type=float, default=None, help="override the task time limit (s)")
    run.add_argument("--domain-id", type=int, default=None,
                     help="DDS domain (default: the profile's dds.domain_id; sim: a fresh one in 102..231)")
    run.add_argument("--run-dir", default=None, help="where node logs and runtime files go")
    run.add_argument("--startup-timeout", type=float, default=60.0)
    run.add_argument("--verbose", "-v", action="store_true", help="stream node logs to the terminal")
    add_policy_args(run)
    add_view_args(run)
    from .teleop.cli import add_run_args, register as register_teleop

    add_run_args(run)  # --teleop DEVICE: the operator may take over from the policy (DAgger)
    run.set_defaults(func=cmd_run)
    register_teleop(sub, [common])

    la = sub.add_parser("launch", parents=[common], help="start a profile's node graph (one process per node over DDS)")
    la.add_argument("profile", help="launch profile name (launch/NAME.yaml) or path")
    la.add_argument("--domain-id", type=int, default=None,
                    help="DDS domain (default: the profile's dds.domain_id; sim: a fresh one in 102..231)")
    la.add_argument("--run-dir", default=None)
    add_policy_args(la)
    add_view_args(la)
    la.set_defaults(func=cmd_launch)

    doc = sub.add_parser("doctor", help="check the rig before use (devices, permissions, calibration, disk)")
    doc.add_argument("--profile", default=None,
                     help="launch profile whose devices to check (default: `profile` in the user configuration, "
                          "see `being-h0 config`; there is no implicit rig)")
    doc.add_argument("rest", nargs=argparse.REMAINDER, help="extra arguments for the doctor")
    doc.set_defaults(func=cmd_doctor)

    from .user_config import add_parser as add_config_parser

    add_config_parser(sub)

    bench = sub.add_parser("bench", help="benchmarks and success-rate trials",
                           description="\n".join(f"  {k:<13} {v[1]}" for k, v in BENCHES.items()),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("which", choices=sorted(BENCHES), help="which benchmark")
    bench.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for that benchmark (try: --help)")
    bench.set_defaults(func=lambda a: _delegate(BENCHES[a.which][0], a.rest))

    ds = sub.add_parser("dataset", help="list / inspect / validate / export recorded episodes")
    ds.add_argument("rest", nargs=argparse.REMAINDER, help="dataset subcommand and arguments (try: --help)")
    ds.set_defaults(func=lambda a: _delegate("being_h0_runtime.recording.dataset_cli", a.rest))

    vw = sub.add_parser("view", help="live Foxglove view of a running graph (camera, joints, commands, safety, task)")
    vw.add_argument("rest", nargs=argparse.REMAINDER, help="--domain-id N --graph-id X (as run/launch print them)")
    vw.set_defaults(func=lambda a: _delegate("being_h0_runtime.view.live", a.rest))

    rec = sub.add_parser("record", help="record demonstrations (teleop or scripted operator)")
    rec.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the recorder (try: --help)")
    rec.set_defaults(func=lambda a: _delegate("being_h0_runtime.recording.record_cli", a.rest))

    cal = sub.add_parser("calibrate", help="camera intrinsics, hand-eye and hand-range calibration")
    cal.add_argument("rest", nargs=argparse.REMAINDER, help="calibration subcommand and arguments (try: --help)")
    cal.set_defaults(func=lambda a: _delegate("being_h0_runtime.calibration.cli", a.rest))

    from being_h0_runtime.tokenizer_cli import register_tokenizer

    register_tokenizer(sub)  # being-h0 tokenizer encode|decode
    for name, help_ in (("convert", "convert released Being-H0 artefacts (vla checkpoints, GRVQ tokenizer)"),
                        ("engine", "engine infer (one observation -> action chunk) / engine build (ONNX, TensorRT)")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("rest", nargs=argparse.REMAINDER, help="subcommand and arguments (try: --help)")
        p.set_defaults(func=lambda a, n=name: _delegate(DELEGATED[n], a.rest))
    return ap


DELEGATED = {
    "dataset": "being_h0_runtime.recording.dataset_cli",
    "record": "being_h0_runtime.recording.record_cli",
    "calibrate": "being_h0_runtime.calibration.cli",
    "view": "being_h0_runtime.view.live",
    "convert": "being_h0_runtime.convert_cli",
    "engine": "being_h0_runtime.engine_cli",
}


#: top-level options that take a value: `being-h0 --log-level INFO record ...` must not read INFO as the command
GLOBAL_VALUE_OPTIONS = ("--log-level",)


def _command_index(argv: list[str]) -> int | None:
    """Index of the subcommand in argv, skipping global options and their values."""
    i = 0
    while i < len(argv):
        if argv[i] in GLOBAL_VALUE_OPTIONS:
            i += 2
        elif argv[i].startswith("-"):
            i += 1
        else:
            return i
    return None


def _pop_global_options(rest: list[str]) -> tuple[dict[str, str], list[str]]:
    """Global options written after a delegated subcommand (`record ... --log-level INFO`), taken out."""
    found: dict[str, str] = {}
    out: list[str] = []
    i = 0
    while i < len(rest):
        opt, eq, value = rest[i].partition("=")
        if opt in GLOBAL_VALUE_OPTIONS and (eq or i + 1 < len(rest)):
            found[opt] = value if eq else rest[i + 1]
            i += 1 if eq else 2
        else:
            out.append(rest[i])
            i += 1
    return found, out


def _split_delegated(argv: list[str]) -> tuple[list[str], str | None, list[str]]:
    """argparse cannot pass `being-h0 bench run --trials 5` through REMAINDER; route those by hand."""
    i = _command_index(argv)
    if i is not None and argv[i] in DELEGATED:
        return argv[:i], DELEGATED[argv[i]], argv[i + 1:]
    if i is not None and argv[i] == "bench" and i + 1 < len(argv) and argv[i + 1] in BENCHES:
        return argv[:i], BENCHES[argv[i + 1]][0], argv[i + 2:]
    return argv, None, []


def _sigterm_as_interrupt() -> None:
    """SIGTERM (systemd, `timeout`, a supervisor) stops the graph as cleanly as Ctrl-C does."""
    import signal

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading_main():
        signal.signal(signal.SIGTERM, handler)


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _sigterm_as_interrupt()
    head, module, rest = _split_delegated(argv)
    if module is not None:
        top = argparse.ArgumentParser(add_help=False)
        top.add_argument("--log-level", default="WARNING")
        ns, _ = top.parse_known_args(head)
        late, rest = _pop_global_options(rest)
        logging.basicConfig(level=late.get("--log-level", ns.log_level), format="%(name)s %(levelname)s %(message)s")
        os.environ.setdefault("MUJOCO_GL", "egl")
        try:
            return _delegate(module, rest)
        except ConfigError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    first = _command_index(argv)
    if first is not None and argv[first] == "doctor":
        # doctor options pass through to being_h0_runtime.doctor (argparse REMAINDER cannot take leading --flags)
        dp = argparse.ArgumentParser(add_help=False)
        dp.add_argument("--profile", default=None)
        ns, extra = dp.parse_known_args(argv[first + 1:])
        if not any(a in ("-h", "--help") for a in extra):
            argv = argv[:first] + ["doctor", *(["--profile", ns.profile] if ns.profile else []), "--", *extra]
    ap = build_parser()
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(name)s %(levelname)s %(message)s")
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        return int(args.func(args) or 0)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
