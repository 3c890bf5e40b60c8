"""Run a training-package entry point (``python -m being_h0_train....``) in a child process.

The runtime never imports ``being_h0_train`` (training depends on the runtime, not the reverse); the few
`being-h0` commands whose work is training code (``engine build``, ``convert tokenizer``,
``tokenizer encode|decode``) parse their arguments here and run that code as a program. Its output is
copied line by line to this process's ``sys.stdout`` / ``sys.stderr`` as it comes (a long build shows
its progress, and a caller that captures ``sys.stdout`` sees it), and its exit status is the command's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

#: the folder holding this runtime package: the child imports the training package from beside it
_PACKAGES_ROOT = str(Path(__file__).resolve().parent.parent)


def _copy_lines(src: IO[str], stream_name: str) -> None:
    for line in src:
        dst = getattr(sys, stream_name)  # looked up per line: a capturing caller may have replaced it
        dst.write(line)
        dst.flush()


def run_training_module(module: str, argv: list[str]) -> int:
    """``python -m <module> <argv>`` with this interpreter; returns its exit status."""
    if not module.startswith("being_h0_train."):
        raise ValueError(f"run_training_module: {module!r} is not a being_h0_train module")
    env = dict(os.environ, PYTHONUNBUFFERED="1")  # lines arrive as they are printed, not at exit
    if (Path(_PACKAGES_ROOT) / "being_h0_train").is_dir():  # a source checkout: the training code beside us
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGES_ROOT, env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen([sys.executable, "-m", module, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    errors = threading.Thread(target=_copy_lines, args=(proc.stderr, "stderr"), daemon=True)
    errors.start()
    try:
        _copy_lines(proc.stdout, "stdout")
        errors.join()
        return proc.wait()
    except KeyboardInterrupt:  # the child got the same Ctrl-C; make sure it is gone before we go
        proc.terminate()
        proc.wait()
        raise
