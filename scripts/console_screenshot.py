"""Drive `being-h0 launch sim` in a real terminal (tmux) and save what the operator sees.

    python scripts/console_screenshot.py --out docs/console

writes launch_session.txt (tmux capture-pane) and launch_session.png (that text rendered in a
monospace font). The session: start an episode, latch the e-stop, reset it, abort, quit.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tmux(sock: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True, check=True).stdout


def wait_for(sock: str, pattern: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = tmux(sock, "capture-pane", "-p", "-J")
        if re.search(pattern, text):
            return text
        time.sleep(0.3)
    raise SystemExit(f"error: {pattern!r} did not appear within {timeout_s} s; screen:\n{text}")


def render_png(text: str, path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    lines = text.rstrip("\n").splitlines()
    try:
        font = ImageFont.truetype("DejaVuSansMono.ttf", 14)
    except OSError:
        font = ImageFont.load_default()
    lh = 18
    width = 16 + int(max(font.getlength(ln) for ln in lines)) + 8
    img = Image.new("RGB", (width, 16 + lh * len(lines)), (30, 30, 30))
    draw = ImageDraw.Draw(img)
    for i, ln in enumerate(lines):
        colour = (120, 170, 255) if ln.startswith("──") else (255, 120, 110) if "E-STOP" in ln \
            else (140, 220, 140) if ln.startswith("pick_place_toy |") else (220, 220, 220)
        draw.text((8, 8 + lh * i), ln, font=font, fill=colour)
    tmp = path.with_suffix(".tmp.png")
    img.save(tmp)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "console")
    ap.add_argument("--domain-id", type=int, default=200, help="DDS domain for the graph (sim range 102..231)")
    args = ap.parse_args(argv)
    sock = f"bh0-shot-{os.getpid()}"
    run_dir = tempfile.mkdtemp(prefix="being_h0_shot_")
    env = f"PYTHONPATH={shlex.quote(str(REPO))} MUJOCO_GL=egl TERM=xterm"
    cmd = (f"cd {shlex.quote(str(REPO))} && {env} {shlex.quote(sys.executable)} -m being_h0_runtime.cli launch sim "
           f"--domain-id {args.domain_id} --run-dir {run_dir}; echo; echo \"[launch exited with code $?]\"; sleep 60")
    tmux(sock, "new-session", "-d", "-x", "150", "-y", "34", cmd)
    try:
        wait_for(sock, r"graph up", 90)
        wait_for(sock, r"\| idle \|[^\n]*loop \d+ Hz", 20)
        tmux(sock, "send-keys", "s")
        wait_for(sock, r"\| running \| episode 1 \|[^\n]*infer", 30)
        time.sleep(3)
        tmux(sock, "send-keys", "e")
        wait_for(sock, r"E-STOP LATCHED", 10)
        time.sleep(2)
        latched = tmux(sock, "capture-pane", "-p", "-J")
        tmux(sock, "send-keys", "s")  # refused, with the reason
        time.sleep(1)
        tmux(sock, "send-keys", "r")
        wait_for(sock, r"\| running \|[^\n]*e-stop clear", 10)
        time.sleep(3)
        tmux(sock, "send-keys", "a")
        wait_for(sock, r"\| aborted \|", 10)
        tmux(sock, "send-keys", "q")
        screen = wait_for(sock, r"launch exited with code", 30)
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
    def clean(t: str) -> str:
        return "\n".join(ln.rstrip() for ln in t.rstrip().splitlines()).replace(run_dir, "/tmp/being_h0_launch_x")

    text = (f"── while the e-stop is latched (s, e pressed) ──\n{clean(latched)}\n\n"
            f"── at the end (r, a, q pressed) ──\n{clean(screen)}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "launch_session.txt").write_text(text + "\n")
    render_png(text, args.out / "launch_session.png")
    print(f"wrote {args.out / 'launch_session.txt'} and {args.out / 'launch_session.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
