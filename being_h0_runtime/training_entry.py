"""Run a training-package entry point (``python -m being_h0_train....``) in a child process.

The runtime never imports ``being_h0_train`` (training depends on the runtime, not the reverse); the few
`being-h0` commands whose work is training code (``convert vla``, ``engine build``, ``convert tokenizer``,
``tokenizer encode|decode``) parse their arguments here and run that code as a program. Its output is
copied to this process's ``sys.stdout`` / ``sys.stderr`` as it comes (a long build shows
its progress, and a caller that captures ``sys.stdout`` sees it), and its exit status is the command's.
"""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

#: the folder holding this runtime package: the child imports the training package from beside it
_PACKAGES_ROOT = str(Path(__file__).resolve().parent.parent)


def _copy_stream(src: IO[bytes], stream_name: str) -> None:
    """Copy what the child writes as it arrives (not line by line: a progress bar redraws with '\\r')."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while True:
        chunk = src.read1(65536)  # type: ignore[attr-defined]
        text = decoder.decode(chunk, final=not chunk)
        if text:
            dst = getattr(sys, stream_name)  # looked up each time: a capturing caller may have replaced it
            dst.write(text)
            dst.flush()
        if not chunk:
            return


def run_training_module(module: str, argv: list[str]) -> int:
    """``python -m <module> <argv>`` with this interpreter; returns its exit status."""
    if not module.startswith("being_h0_train."):
        raise ValueError(f"run_training_module: {module!r} is not a being_h0_train module")
    env = dict(os.environ, PYTHONUNBUFFERED="1")  # lines arrive as they are printed, not at exit
    if (Path(_PACKAGES_ROOT) / "being_h0_train").is_dir():  # a source checkout: the training code beside us
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGES_ROOT, env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen([sys.executable, "-m", module, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    errors = threading.Thread(target=_copy_stream, args=(proc.stderr, "stderr"), daemon=True)
    errors.start()
    try:
        _copy_stream(proc.stdout, "stdout")
        errors.join()
        return proc.wait()
    except KeyboardInterrupt:  # the child got the same Ctrl-C; make sure it is gone before we go
        proc.terminate()
        proc.wait()
        raise
