"""``being-h0 engine``: use an engine folder directly.

  infer   one observation in, the action chunk out, through the same ``EnginePolicy`` object,
          pre-processing and backend that the inference node builds (``load_engine_policy``)::

              being-h0 engine infer --engine DIR --image frame.png --task "put the duck in the cup" \\
                  --state=0.1,-0.4,0,-2.1,0,1.9,0.7,0,0,0,0,0,0 --json

          ``--json`` prints {"actions": chunk_len x dims, "action_names", "engine_id", "backend", ...}.
          A state that starts with a minus sign works as ``--state=-0.1,...`` or ``--state -0.1,...``.
  build   add an ONNX model (``--backend onnx``) or a TensorRT plan (``--backend tensorrt``) to a
          converted engine, with a parity check against PyTorch (being_h0_train.official.onnx, run
          as a child process: the runtime does not import the training package).

Exit codes: 0 ok, 2 bad input (engine, image, state; the message names it), 1 parity failure.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .config import ConfigError


def _join_negative_values(argv: list[str], options: tuple[str, ...] = ("--state",)) -> list[str]:
    """argparse takes '-0.1,0.2' for an option; glue such a value to its option ('--state=-0.1,0.2')."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in options and i + 1 < len(argv) and argv[i + 1].startswith("-") and argv[i + 1][1:2].replace(".", "").isdigit():
            out.append(f"{a}={argv[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def parse_state(text: str, names: list[str]) -> np.ndarray:
    parts = [p for p in text.replace(" ", "").split(",") if p != ""]
    try:
        vals = np.asarray([float(p) for p in parts], np.float64)
    except ValueError:
        raise ConfigError(f"--state: {text!r} is not a comma-separated list of numbers") from None
    if vals.shape[0] != len(names):
        raise ConfigError(f"--state: {vals.shape[0]} values given, the engine needs {len(names)} ({', '.join(names)})")
    if not np.all(np.isfinite(vals)):
        raise ConfigError(f"--state: {text!r} holds a non-finite value")
    return vals


def load_image(path: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: image file not found")
    try:
        with Image.open(p) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError) as e:
        raise ConfigError(f"{p}: cannot read the image ({e})") from None


def cmd_infer(args: argparse.Namespace) -> int:
    import time

    from .policy.engine import EnginePolicy, load_engine_policy, read_manifest
    from .policy.factory import PolicyConfig, make_policy
    from .policy.spec import Observation

    read_manifest(args.engine)  # a missing or broken engine folder: one clear error before anything loads
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.dtype:  # an override the node does not offer; same loader, one backend option more
        policy = load_engine_policy(args.engine, backend=args.backend, device=args.device, dtype=args.dtype)
    else:  # exactly what the inference node builds from its PolicyConfig
        policy = make_policy(PolicyConfig(kind="engine", engine_dir=args.engine, backend=args.backend,
                                          device=args.device))
    assert isinstance(policy, EnginePolicy)
    names = list(policy.manifest.proprio.names)
    state = parse_state(args.state, names)
    image = load_image(args.image)
    obs = Observation(stamp=0.0, proprio=state, proprio_names=names, instruction=args.task, image=image)
    t0 = time.perf_counter()
    actions = policy.infer(obs)
    dt = time.perf_counter() - t0
    lat = None
    if args.repeat > 0:  # the first call above is the warm-up; these are timed like the node's control cycles
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            policy.infer(obs)
            times.append(time.perf_counter() - t)
        ms = np.asarray(times) * 1e3
        lat = {"n": len(ms), "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
               "mean_ms": float(ms.mean())}
    if args.json:
        print(json.dumps({"engine_id": policy.engine_id, "backend": policy.backend_name,
                          "action_names": list(policy.spec.names), "chunk_len": int(actions.shape[0]),
                          "actions": actions.astype(float).tolist(), "latency_s": dt,
                          "timings": policy.last_timings, "latency": lat}))
        return 0
    print(f"engine {policy.engine_id} backend {policy.backend_name}: chunk {actions.shape[0]} x {actions.shape[1]} "
          f"in {dt * 1e3:.1f} ms (first call)")
    if lat:
        print(f"chunk latency over {lat['n']} calls: p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, "
              f"mean {lat['mean_ms']:.1f} ms")
    print("step " + " ".join(f"{n[:10]:>10}" for n in policy.spec.names))
    for i, row in enumerate(actions):
        print(f"{i:4d} " + " ".join(f"{v:10.4f}" for v in row))
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    """The training package's builder (it traces the PyTorch model), run as a program: see training_entry."""
    from .training_entry import run_training_module

    return run_training_module("being_h0_train.official.onnx", [
        "--engine", str(args.engine), "--backend", args.backend, "--opset", str(args.opset), "--atol", repr(args.atol)])


class _StateParser(argparse.ArgumentParser):
    """A parser that reads `--state -0.1,...` as the option's value, wherever it sits in the tree."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        return super().parse_known_args(None if args is None else _join_negative_values(list(args)), namespace)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="being-h0 engine", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=_StateParser)
    inf = sub.add_parser("infer", help="one observation -> one action chunk (the inference node's code path)")
    inf.add_argument("--engine", required=True, help="engine folder")
    inf.add_argument("--image", required=True, help="RGB image file (PNG/JPEG)")
    inf.add_argument("--task", required=True, help="task instruction")
    inf.add_argument("--state", required=True,
                     help="comma-separated proprio values in the manifest's proprio order (13 for Being-H0: "
                          "7 Franka joints + 6 Inspire joints); write --state=-0.1,... when it starts with '-'")
    inf.add_argument("--backend", default="auto", choices=["auto", "tensorrt", "onnxruntime", "torch"])
    inf.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    inf.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"],
                     help="torch backend compute dtype (default: the manifest's)")
    inf.add_argument("--json", action="store_true", help="print JSON (key 'actions': chunk_len x dims)")
    inf.add_argument("--repeat", type=int, default=0, metavar="N",
                     help="after the first (warm-up) call, time N more and print p50/p99 chunk latency")
    inf.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: library default)")
    inf.set_defaults(func=cmd_infer)
    b = sub.add_parser("build", help="add an ONNX model or TensorRT plan to a converted engine (parity-checked)")
    b.add_argument("--engine", required=True, help="engine folder (from being-h0 convert vla)")
    b.add_argument("--backend", required=True, choices=["onnx", "tensorrt"])
    b.add_argument("--opset", type=int, default=17)
    b.add_argument("--atol", type=float, default=1e-4, help="max abs error vs PyTorch fp32 (ONNX); TensorRT uses 5e-2")
    b.set_defaults(func=cmd_build)
    return ap


def main(argv: list[str] | None = None) -> int:
    from .config import run_subcommand

    return run_subcommand(build_parser().parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    raise SystemExit(main())
