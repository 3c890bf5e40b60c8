"""Kill post-training half way with SIGTERM, resume it, compare with a run that was never interrupted.

    python scripts/check_resume.py --steps 2000            # tiny model, synthetic data, CPU

Runs `python -m being_h0_train.posttrain.train` three times in child processes (the real command
line, real signals): A trains --steps straight; B is sent SIGTERM once its checkpoint at steps/2
exists (it saves where it is and exits 143); B is then run again with --resume.  Prints whether
A's and B's final weights are bit-identical, else the largest difference.  Exit 0 when bitwise equal.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _train(out: Path, steps: int, extra: list[str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "being_h0_train.posttrain.train", "--synthetic", "4", "--backbone", "tiny",
           "--max-tiles", "1", "--train-mode", "full", "--chunk-len", "4", "--head-hidden", "32",
           "--proprio-hidden", "32", "--batch-size", "2", "--steps", str(steps), "--save-every", "100",
           "--no-augment", "--val-fraction", "0", "--quiet", "--out", str(out), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="check_resume_"))
    shutil.rmtree(work / "a", ignore_errors=True)
    shutil.rmtree(work / "b", ignore_errors=True)
    t0 = time.monotonic()
    if _train(work / "a", a.steps, []).wait() != 0:
        print("error: the uninterrupted run failed", file=sys.stderr)
        return 2
    t_a = time.monotonic() - t0
    half = work / "b" / "checkpoints" / f"step_{a.steps // 2:07d}"
    b = _train(work / "b", a.steps, [])
    while not half.exists() and b.poll() is None:
        time.sleep(0.05)
    b.send_signal(signal.SIGTERM)
    code = b.wait()
    stopped = sorted(p.name for p in (work / "b" / "checkpoints").iterdir())
    print(f"B stopped with exit {code} (143 = SIGTERM, saved); checkpoints: {stopped}")
    if code != 128 + signal.SIGTERM:
        print("error: the run did not stop on SIGTERM as it should", file=sys.stderr)
        return 2
    if _train(work / "b", a.steps, ["--resume"]).wait() != 0:
        print("error: the resumed run failed", file=sys.stderr)
        return 2
    import torch
    from safetensors.torch import load_file

    final = f"checkpoints/step_{a.steps:07d}/trainable.safetensors"
    wa, wb = load_file(str(work / "a" / final)), load_file(str(work / "b" / final))
    diff = max(float((wa[k].double() - wb[k].double()).abs().max()) for k in wa)
    same = all(torch.equal(wa[k], wb[k]) for k in wa) and wa.keys() == wb.keys()
    print(f"{a.steps} steps straight ({t_a:.0f} s) vs stopped at {stopped[-1]} + resumed: "
          + ("bit-identical weights" if same else f"weights differ, max |diff| {diff:.3g}"))
    return 0 if same else 1


if __name__ == "__main__":
    os.environ.setdefault("MUJOCO_GL", "egl")
    sys.exit(main())
