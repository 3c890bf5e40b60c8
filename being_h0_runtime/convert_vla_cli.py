"""``being-h0 convert vla SRC --out DIR``: its options here; the conversion (``being_h0_train.official.convert``)
runs as ``python -m being_h0_train.official.cli`` in a child process, as the runtime does not import training code.
"""

from __future__ import annotations

import argparse

#: the training-package program that converts
CONVERTER_PROGRAM = "being_h0_train.official.cli"

DESCRIPTION = """Convert an official Being-H0 VLA checkpoint folder (as released: config.json with
model_type "beingvla", model.safetensors or shards + index, or pytorch_model.bin, tokenizer files).

  Align (post-trained, e.g. Being-H0-8B-Align-2508)  -> an engine folder for
      being-h0 run --engine DIR, bench run, engine infer, engine build
  pre-trained (Being-H0-{1B,8B,14B}-2508)           -> a post-training backbone folder for
      python -m being_h0_train.posttrain.train --init-from DIR ...

Shards are converted one at a time (memory: about one shard, not the model); the peak RSS is printed.
.bin files are only read with torch.load(weights_only=True); a pickle that would run code is refused.

example:
  being-h0 convert vla ~/hf/Being-H0-8B-Align-2508 --out models/being-h0-8b-align
  being-h0 engine infer --engine models/being-h0-8b-align --image frame.png --task "put the duck in the cup" \\
      --state=0.1,-0.4,0,-2.1,0,1.9,0.7,0,0,0,0,0,0
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = DESCRIPTION
    p.add_argument("src", help="official checkpoint folder")
    p.add_argument("--out", required=True, help="output engine (Align) or backbone (pre-trained) folder")
    p.add_argument("--weights-dtype", default="declared", choices=["declared", "bfloat16", "float16", "float32"],
                   help="dtype of the stored weights (default: what config.json torch_dtype declares; the releases "
                        "declare bfloat16, which is also what the official server runs)")
    p.add_argument("--compute-dtype", default="float32", choices=["float32", "bfloat16", "float16"],
                   help="dtype the torch backend runs in (default float32 for CPU; bfloat16 on a GPU)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """The converter is training code (it builds the model): run it as a program, see training_entry."""
    from .training_entry import run_training_module

    argv = [str(args.src), "--out", str(args.out), "--weights-dtype", args.weights_dtype,
            "--compute-dtype", args.compute_dtype] + (["--force"] if args.force else []) \
        + (["--no-progress"] if args.no_progress else [])
    return run_training_module(CONVERTER_PROGRAM, argv)
