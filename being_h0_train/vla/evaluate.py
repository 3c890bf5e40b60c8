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

from ..motion.mano import ManoLayer, default_mano
from ..tokenizer.metrics import features_to_joints, mpjpe, mwte, pa_mpjpe
from ..tokenizer.model import MotionTokenizer
from .data import MotionSample, SampleBuilder, collate_prompts
from .model import BeingH0Model
from .tokenizer import TokenMap


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


@torch.no_grad()
def evaluate_generation(model: BeingH0Model, motion_tok: MotionTokenizer, samples: list[MotionSample],
                        batch_size: int = 8, mano: ManoLayer | None = None, constrained: bool = False) -> dict:
    """Instructional motion generation on ``samples``; returns valid rate and errors."""
    mano = mano or default_mano()
    builder = SampleBuilder(model, motion_tok.cfg.tokens_per_step)
    tm = model.token_map
    model.eval()
    parsed: list[ParsedMotion] = []
    errs = {"mpjpe_mm": [], "pa_mpjpe_mm": [], "mwte_mm": []}
    allowed = list(range(tm.motion_start_id, tm.motion_start_id + tm.num_motion_tokens)) + [tm.mot_end_id] if constrained else None
    for i in range(0, len(samples), batch_size):
        chunk = samples[i:i + batch_size]
        items = [builder.build_prompt(s) for s in chunk]
        # the response starts with <MOT>: put it in the prompt so decoding starts inside the block
        for it in items:
            it["input_ids"] = torch.cat([it["input_ids"], torch.tensor([tm.mot_start_id])])
        batch = collate_prompts(items, tm.pad_id)
        max_new = max(len(it["response_ids"]) for it in items) + 1
        gen = model.generate(batch["input_ids"].to(model.device), batch["pixel_values"].to(model.device),
                             batch["attention_mask"].to(model.device), max_new_tokens=max_new,
                             eos_token_ids=[tm.mot_end_id, tm.eos_id], allowed_token_ids=allowed)
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
