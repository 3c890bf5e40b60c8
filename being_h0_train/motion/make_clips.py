"""CLI: write synthetic canonical clips (see ``synthetic``)."""

from __future__ import annotations

from .synthetic import SyntheticConfig, generate_dataset


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m being_h0_train.motion.make_clips",
        description="Write synthetic hand-motion clips (canonical npz + json, with rendered frames) for tokenizer "
                    "and instruction-tuning runs without real data. Example: "
                    "python -m being_h0_train.motion.make_clips --out clips/ --num 64 --frames 64")
    ap.add_argument("--out", required=True, help="output directory (clip_00000.npz/.json, ...)")
    ap.add_argument("--num", type=int, default=32, help="number of clips (default 32)")
    ap.add_argument("--frames", type=int, default=64, help="frames per clip (default 64)")
    ap.add_argument("--size", type=int, default=112, help="square image size in pixels (default 112)")
    ap.add_argument("--no-frames", action="store_true", help="skip rendering (motion only)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    cfg = SyntheticConfig(num_frames=a.frames, width=a.size, height=a.size, focal=a.size * 120 / 112, render=not a.no_frames)
    paths = generate_dataset(a.out, a.num, a.seed, cfg)
    print(f"wrote {len(paths)} clips to {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
