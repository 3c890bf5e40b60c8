"""Generation evaluation: valid rate of ``<MOT>...</MOT>`` blocks and motion errors.

A generated block is VALID when: it opens with ``<MOT>`` (the prompt's
assistant turn starts the response), closes with ``</MOT>``, contains only
motion tokens, has a length that is a positive multiple of the motion
tokenizer's tokens-per-step, and every id sits in its (part, group, stage)
slot. Valid blocks are decoded (GRQ decoder -> features -> MANO joints with
the ground-truth shape) and compared with the ground-truth window over the
common length: MPJPE, PA-MPJPE, MWTE in millimetres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from being_h0_runtime.policy.models.vla import BeingH0Model
from being_h0_runtime.policy.models.vla_tokenizer import TokenMap

from ..motion.mano import ManoLayer, default_mano
from ..tokenizer.metrics import features_to_joints, mpjpe, mwte, pa_mpjpe
from ..tokenizer.model import MotionTokenizer
from .data import MotionSample, SampleBuilder, collate_prompts


@dataclass
class ParsedMotion:
    valid: bool
    reason: str
    codes: list[int] | None = None


def parse_motion_block(ids: list[int], tm: TokenMap, motion_tok: MotionTokenizer) -> ParsedMotion:
    """Validate generated ids (response, with or without a leading ``<MOT>``)."""
    ids = [int(i) for i in ids]
    if ids and ids[0] == tm.mot_start_id:
        ids = ids[1:]
    if tm.mot_end_id not in ids:
        return ParsedMotion(False, "no </MOT>")
    body = ids[: ids.index(tm.mot_end_id)]
    if not body:
        return ParsedMotion(False, "empty block")
    if not all(tm.is_motion(i) for i in body):
        return ParsedMotion(False, "non-motion token inside block")
    codes = tm.token_to_motion_ids(body)
    try:
        motion_tok.ids_to_codes(torch.tensor([codes]))
    except ValueError as e:
        return ParsedMotion(False, str(e))
    return ParsedMotion(True, "ok", codes)


def valid_rate(parsed: list[ParsedMotion]) -> float:
    return float(np.mean([p.valid for p in parsed])) if parsed else 0.0


@torch.no_grad()
def score_motion(codes: list[int], sample: MotionSample, motion_tok: MotionTokenizer, mano: ManoLayer) -> dict[str, float]:
    """Decode motion code ids and compare with the sample's ground-truth joints (mm)."""
    feats = motion_tok.ids_to_features(torch.tensor([codes]))[0].double().numpy()
    n = min(len(feats), len(sample.features))
    pred = features_to_joints(feats[:n], motion_tok.layout, mano, betas=sample.betas)
    gt = sample.joints[:n]
    return {"mpjpe_mm": mpjpe(pred, gt), "pa_mpjpe_mm": pa_mpjpe(pred, gt), "mwte_mm": mwte(pred, gt)}


def slot_constraint(tm: TokenMap, motion_tok: MotionTokenizer, max_steps: int | None = None):
    """``allowed_fn`` for ``BeingH0Model.generate``: the i-th token of a block may only be a
    motion id of its (part, group, stage) slot, ``</MOT>`` only at a step boundary, and
    only ``</MOT>`` once ``max_steps`` steps have been generated."""
    c = motion_tok.cfg
    offsets = motion_tok.codes_to_ids(torch.zeros(1, 1, len(c.parts), c.num_groups, c.num_residual, dtype=torch.long))[0].tolist()
    ranges = [list(range(tm.motion_start_id + o, tm.motion_start_id + o + c.codebook_size)) for o in offsets]
    per = c.tokens_per_step

    def allowed(i: int) -> list[int]:
        if max_steps is not None and i >= max_steps * per:
            return [tm.mot_end_id]
        ids = ranges[i % per]
        return ids + [tm.mot_end_id] if (i % per == 0 and i > 0) else ids

    return allowed


@torch.no_grad()
def evaluate_generation(model: BeingH0Model, motion_tok: MotionTokenizer, samples: list[MotionSample],
                        batch_size: int = 8, mano: ManoLayer | None = None, constrained: bool | str = False) -> dict:
    """Instructional motion generation on ``samples``; returns valid rate and errors.

    ``constrained``: False (free decoding: the honest valid rate), True / "vocab"
    (motion tokens and ``</MOT>`` only) or "slots" (``slot_constraint``: always valid
    when a block closes within the budget).
    """
    mano = mano or default_mano()
    builder = SampleBuilder(model, motion_tok.cfg.tokens_per_step)
    tm = model.token_map
    model.eval()
    parsed: list[ParsedMotion] = []
    errs = {"mpjpe_mm": [], "pa_mpjpe_mm": [], "mwte_mm": []}
    allowed = list(range(tm.motion_start_id, tm.motion_start_id + tm.num_motion_tokens)) + [tm.mot_end_id] if constrained in (True, "vocab") else None
    steps = max(len(s.motion_codes) for s in samples) // motion_tok.cfg.tokens_per_step if samples else None
    allowed_fn = slot_constraint(tm, motion_tok, steps) if constrained == "slots" else None
    for i in range(0, len(samples), batch_size):
        chunk = samples[i:i + batch_size]
        items = [builder.build_prompt(s) for s in chunk]
        # the response starts with <MOT>: put it in the prompt so decoding starts inside the block
        for it in items:
            it["input_ids"] = torch.cat([it["input_ids"], torch.tensor([tm.mot_start_id])])
        batch = collate_prompts(items, tm.pad_id)
        max_new = max(len(it["response_ids"]) for it in items) + 1  # response = <MOT> codes </MOT>; <MOT> is in the prompt
        gen = model.generate(batch["input_ids"].to(model.device), batch["pixel_values"].to(model.device),
                             batch["attention_mask"].to(model.device), max_new_tokens=max_new,
                             eos_token_ids=[tm.mot_end_id, tm.eos_id], allowed_token_ids=allowed, allowed_fn=allowed_fn)
        for s, g in zip(chunk, gen.tolist()):
            p = parse_motion_block(g, tm, motion_tok)
            parsed.append(p)
            if not p.valid:
                continue
            for k, v in score_motion(p.codes, s, motion_tok, mano).items():
                errs[k].append(v)
    out = {"n": len(parsed), "valid_rate": valid_rate(parsed)}
    out.update({k: (float(np.mean(v)) if v else float("nan")) for k, v in errs.items()})
    reasons: dict[str, int] = {}
    for p in parsed:
        if not p.valid:
            reasons[p.reason] = reasons.get(p.reason, 0) + 1
    out["invalid_reasons"] = reasons
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    from ..motion.clip import list_clips, load_clip
    from ..motion.synthetic import SyntheticConfig, generate_clip

    ap = argparse.ArgumentParser(
        prog="python -m being_h0_train.vla.evaluate",
        description="Instructional motion generation eval of a Being-H0 checkpoint: valid rate of <MOT> blocks and "
                    "MPJPE / PA-MPJPE / MWTE (mm) of decoded motion against ground truth. Example: "
                    "python -m being_h0_train.vla.evaluate --checkpoint runs/vla/checkpoint "
                    "--motion-tokenizer runs/vla/motion_tokenizer --data-dir clips/")
    ap.add_argument("--checkpoint", required=True, help="BeingH0Model directory (e.g. <run>/checkpoint)")
    ap.add_argument("--motion-tokenizer", required=True, help="GRQ tokenizer directory used in training")
    ap.add_argument("--data-dir", help="canonical clips with frames; default: generated clips (--synthetic, --seed)")
    ap.add_argument("--synthetic", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1234, help="seed for generated clips (differs from training's 0)")
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--max-samples", type=int, default=32)
    ap.add_argument("--constrained", default="none", choices=["none", "vocab", "slots"],
                    help="none: free decoding (default); vocab: motion tokens + </MOT> only; slots: each position "
                         "limited to its (part, group, stage) motion ids")
    ap.add_argument("--mano", help="MANO .pkl/.npz (default: built-in synthetic hand)")
    ap.add_argument("--json", help="also write the report here")
    a = ap.parse_args(argv)
    if a.data_dir:
        clips = [load_clip(p) for p in list_clips(a.data_dir)]
    else:
        rng = np.random.default_rng(a.seed)
        clips = [generate_clip(rng, SyntheticConfig(num_frames=max(32, a.window))) for _ in range(a.synthetic)]
    mano = ManoLayer.from_file(a.mano) if a.mano else None
    motion_tok = MotionTokenizer.load(a.motion_tokenizer)
    model = BeingH0Model.from_pretrained(a.checkpoint)
    from .data import prepare_motion_samples

    samples = prepare_motion_samples(clips, motion_tok, a.window, mano)[: a.max_samples]
    rep = evaluate_generation(model, motion_tok, samples, mano=mano, constrained=False if a.constrained == "none" else a.constrained)
    print(json.dumps(rep, indent=2))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rep, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
