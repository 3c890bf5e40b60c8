"""`being-h0 doctor`: check one launch profile's devices, permissions, calibration and disk before use.

The options are being_h0_runtime.doctor's own (its parser is adopted), plus --profile: the profile
fills in the device addresses, calibration folder and DDS interface; an option given on the
command line wins over the profile's value.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HELP = "check the rig before use (devices, permissions, calibration, disk)"
EXAMPLES = """\
  being-h0 doctor --profile rig                       the shipped real-rig profile
  being-h0 doctor --profile rig --no-stream-test --json
  being-h0 config set profile rig && being-h0 doctor  a default profile, set once
"""


def register(sub: Any) -> None:
    sub.add_lazy("doctor", HELP, build_parser)


def build_parser(prog: str) -> argparse.ArgumentParser:
    from ..doctor import build_parser as doctor_parser

    p = doctor_parser()
    p.prog = prog
    p.epilog = f"examples:\n{EXAMPLES}\nwithout being-h0 (explicit addresses, no profile):\n" + (p.epilog or "")
    p.add_argument("--profile", default=None,
                   help="launch profile whose devices to check (default: `profile` in the user configuration, "
                        "see `being-h0 config`; there is no implicit rig)")
    p.set_defaults(func=run)
    return p


def doctor_args_from_profile(profile: Any) -> list[str]:
    """Map a launch profile's device settings onto `being_h0_runtime.doctor` arguments."""
    from ..launch import REPO_ROOT

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


def run(args: argparse.Namespace) -> int:
    from ..doctor import run_parsed
    from ..launch import load_profile
    from ..user_config import default_profile

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
    given = {dest for dest, value in vars(args).items() if value is not None}
    for flag, value in zip(doc_args[::2], doc_args[1::2]):  # the profile fills what the command line left out
        dest = flag.lstrip("-").replace("-", "_")
        if dest not in given:
            setattr(args, dest, value)
    return int(run_parsed(args) or 0)
