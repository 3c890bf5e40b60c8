#!/usr/bin/env python3
"""Record what every `being-h0` command line does, to compare the CLI before and after a change.

    .venv/bin/python scripts/cli_snapshot.py record before.json       # on the old code
    .venv/bin/python scripts/cli_snapshot.py record after.json        # on the new code
    .venv/bin/python scripts/cli_snapshot.py compare before.json after.json

For every subcommand path it runs `PATH --help` three ways (plain, `--log-level INFO` before the path,
`--log-level INFO` after it) and a set of real, cheap invocations taken from the tests, README and
Makefile (error paths, empty datasets, calibration checks, doctor against a loopback address).  Each
runs as `python -m being_h0_runtime.cli ...` in a fresh process with its own config/data folders.
`compare` fails (exit 1) when an exit status differs; for real invocations it also prints any
difference in their output (help text may change, behaviour may not).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: every subcommand path of `being-h0` (top level, then the nested ones)
PATHS: list[list[str]] = [[]] + [[c] for c in (
    "run", "launch", "doctor", "config", "teleop", "bench", "dataset", "view", "record", "calibrate", "tokenizer",
    "convert", "engine")] + [
    ["bench", b] for b in ("latency", "dds", "hand-link", "e2e", "control-loop", "strategies", "teleop", "run",
                           "report")] + [
    ["dataset", d] for d in ("list", "inspect", "validate", "recover", "export", "lerobot", "import")] + [
    ["calibrate", c] for c in ("intrinsics", "hand-eye", "hand-range", "check")] + [
    ["tokenizer", "encode"], ["tokenizer", "decode"], ["convert", "vla"], ["convert", "tokenizer"],
    ["engine", "infer"], ["engine", "build"]]


def help_lines() -> list[list[str]]:
    out = []
    for path in PATHS:
        out += [[*path, "--help"], ["--log-level", "INFO", *path, "--help"]]
        if path:
            out.append([*path, "--log-level", "INFO", "--help"])
    return out


def real_lines(t: str, rig: str) -> list[list[str]]:
    """Real invocations (cheap ones); {T} is the scratch folder, {RIG} a rig profile on a loopback address."""
    lines = [
        [], ["nope"], ["--log-level", "INFO"], ["-h"],
        ["run", "--profile", "nope", "--transport", "inproc"],
        ["--log-level", "INFO", "run", "--profile", "nope", "--transport", "inproc"],
        ["--log-level=INFO", "run", "--profile", "nope", "--transport", "inproc"],
        ["run", "--log-level", "INFO", "--profile", "nope", "--transport", "inproc"],
        ["run", "--transport", "inproc", "--set", "armrate=3"],
        ["run", "--bogus"], ["launch"], ["launch", "nope"],
        ["doctor", "--no-stream-test"], ["--log-level", "INFO", "doctor", "--no-stream-test"], ["doctor", "--bogus"],
        ["doctor", "--profile", "nope"],
        ["doctor", "--profile", "{RIG}", "--no-stream-test", "--json"],
        ["doctor", "--no-stream-test", "--profile", "{RIG}", "--arm-ip", "127.0.0.3", "--json"],
        ["config"], ["config", "set", "nope", "x"], ["config", "set", "profile", "{RIG}"], ["config", "show"],
        ["doctor", "--no-stream-test", "--json"],
        ["teleop"], ["teleop", "--device", "nope"],
        ["bench"], ["bench", "nope"], ["bench", "report"], ["--log-level", "INFO", "bench", "report"],
        ["dataset"], ["dataset", "list", "{T}/empty"], ["dataset", "validate", "{T}/empty"],
        ["dataset", "list", "{T}/missing"], ["dataset", "list", "{T}/empty", "--json"],
        ["--log-level", "INFO", "dataset", "list", "{T}/empty"], ["dataset", "list", "{T}/empty", "--log-level", "INFO"],
        ["dataset", "import", "{T}/missing", "--out", "{T}/imp"],
        ["view"], ["view", "--domain-id", "1"],
        ["record", "--episodes", "0", "--out", "{T}/rec1"],
        ["--log-level", "INFO", "record", "--episodes", "0", "--out", "{T}/rec2"],
        ["record", "--episodes", "0", "--out", "{T}/rec3", "--log-level", "INFO"],
        ["record", "--teleop", "nope", "--episodes", "1", "--out", "{T}/rec4"],
        ["calibrate"], ["calibrate", "check", "--rig-dir", "{T}/cal"],
        ["calibrate", "check", "--rig-dir", "{T}/cal", "--needs", "hand_eye"],
        ["--log-level", "INFO", "calibrate", "check", "--rig-dir", "{T}/cal"],
        ["calibrate", "intrinsics", "--resolution", "640by480"],
        ["tokenizer"], ["tokenizer", "encode", "--tokenizer", "{T}/missing", "--motion", "{T}/x.npy"],
        ["convert"], ["convert", "tokenizer", "{T}/missing", "--out", "{T}/tok"],
        ["convert", "vla", "{T}/missing", "--out", "{T}/vla"],
        ["engine"], ["engine", "infer", "--engine", "{T}/missing", "--image", "{T}/x.png", "--task", "t",
                     "--state", "-0.1,0.2"],
        ["engine", "infer", "--engine", "{T}/missing", "--image", "{T}/x.png", "--task", "t", "--state=-0.1,0.2"],
        ["engine", "build", "--engine", "{T}/missing", "--backend", "onnx"],
    ]
    return [[a.replace("{T}", t).replace("{RIG}", rig) for a in line] for line in lines]


def _env(t: str) -> dict[str, str]:
    env = dict(os.environ, BEING_H0_CONFIG=f"{t}/cfg/config.yaml", XDG_DATA_HOME=f"{t}/data", MUJOCO_GL="egl",
               PYTHONPATH=str(REPO), COLUMNS="100")
    return env


def _run(argv: list[str], t: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "being_h0_runtime.cli", *argv], capture_output=True, text=True,
                          env=_env(t), cwd=REPO, timeout=300, stdin=subprocess.DEVNULL, check=False)
    return {"rc": proc.returncode, "stdout": proc.stdout.replace(t, "{T}"), "stderr": proc.stderr.replace(t, "{T}")}


def record(out: Path, jobs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="cli_snap_") as t:
        (Path(t) / "empty").mkdir()
        text = (REPO / "launch" / "rig.yaml").read_text()
        rig = Path(t) / "rig_loopback.yaml"
        rig.write_text(text.replace("ip: 172.16.0.2", "ip: 127.0.0.1"))
        result: dict[str, dict] = {}
        with ThreadPoolExecutor(jobs) as pool:  # help lines are independent
            helps = help_lines()
            for line, res in zip(helps, pool.map(lambda a: _run(a, t), helps)):
                result["help " + " ".join(line)] = res
        for line in real_lines(t, str(rig)):  # in order: config set, then doctor reads it
            result["real " + " ".join(line).replace(t, "{T}")] = _run(line, t)
            print(result["real " + " ".join(line).replace(t, "{T}")]["rc"], " ".join(line), flush=True)
    out.write_text(json.dumps(result, indent=1, sort_keys=True))
    print(f"{len(result)} command lines -> {out}")


_NOISE = re.compile(r"\d+\.\d+ ?(s|ms)\b|/tmp/being_h0_\w+|cli_snap_\w+")


def compare(before: Path, after: Path) -> int:
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    bad = 0
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            print(f"ONLY IN {'after' if key in b else 'before'}: {key}")
            continue
        if a[key]["rc"] != b[key]["rc"]:
            bad += 1
            print(f"EXIT {a[key]['rc']} -> {b[key]['rc']}: {key}\n  before: {a[key]['stderr'][-300:]!r}\n"
                  f"  after:  {b[key]['stderr'][-300:]!r}")
        elif key.startswith("real "):
            for stream in ("stdout", "stderr"):
                x, y = (_NOISE.sub("~", d[key][stream]) for d in (a, b))
                if x != y:
                    print(f"OUTPUT ({stream}) differs: {key}\n  before: {x[-400:]!r}\n  after:  {y[-400:]!r}")
    print(f"{len(a)} vs {len(b)} command lines; {bad} exit status difference(s)")
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    r = sub.add_parser("record", help="run every command line and save the results as JSON")
    r.add_argument("out", type=Path)
    r.add_argument("--jobs", type=int, default=2, help="help lines run this many at a time (default 2)")
    c = sub.add_parser("compare", help="compare two snapshots; exit 1 on an exit-status difference")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = ap.parse_args()
    if args.what == "record":
        record(args.out, args.jobs)
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
