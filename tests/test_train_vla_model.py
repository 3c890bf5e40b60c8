"""Being-H0 backbone: tokenizer extension, presets, embeddings, save/load, generation."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import InternVLForConditionalGeneration

from being_h0_runtime.policy.models.vla import make_internvl_config
from being_h0_runtime.policy.models.vla_tokenizer import (
    IMG_CONTEXT,
    MOT_END,
    MOT_START,
    add_being_h0_tokens,
    build_byte_tokenizer,
    motion_block_text,
    token_map_from_tokenizer,
)
from being_h0_train.vla import BeingH0Config, BeingH0Model, build_being_h0

torch.set_num_threads(1)  # shared 2-core box: multi-thread spin-waits are ~10x slower


@pytest.fixture(scope="module")
def tiny() -> BeingH0Model:
    return build_being_h0("tiny", seed=0)


def _prompt(m: BeingH0Model, n_tiles: int = 1) -> torch.Tensor:
    tm = m.token_map
    text = m.tokenizer("pick up the cup")["input_ids"]
    ids = [tm.img_start_id] + [tm.img_context_id] * (m.num_image_tokens * n_tiles) + [tm.img_end_id] + text + [tm.mot_start_id]
    return torch.tensor([ids])


def test_tokenizer_roundtrip_and_motion_ids(tmp_path):
    tok = build_byte_tokenizer()
    tm = add_being_h0_tokens(tok, 300)
    s = "grasp the mug " + motion_block_text([0, 7, 299]) + " ünïcode"
    ids = tok(s)["input_ids"]
    assert tok.decode(ids) == s
    mot = [i for i in ids if tm.is_motion(i)]
    assert tm.token_to_motion_ids(mot) == [0, 7, 299]
    assert tm.motion_to_token_ids([0, 7, 299]) == mot
    assert tok.convert_tokens_to_ids([MOT_START, MOT_END, IMG_CONTEXT]) == [tm.mot_start_id, tm.mot_end_id, tm.img_context_id]
    with pytest.raises(ValueError):
        tm.motion_to_token_ids([300])
    # idempotent; saved tokenizer reloads with the same map
    assert add_being_h0_tokens(tok, 300) == tm
    tok.save_pretrained(tmp_path)
    from being_h0_runtime.policy.models.vla_tokenizer import load_tokenizer

    tok2 = load_tokenizer(tmp_path)
    assert token_map_from_tokenizer(tok2) == tm
    assert tok2(s)["input_ids"] == ids
    with pytest.raises(ValueError):
        add_being_h0_tokens(tok, 100)  # already has more motion tokens


def test_embed_images_and_hidden_states(tiny):
    px = torch.randn(3, 3, tiny.image_size, tiny.image_size)
    img = tiny.embed_images(px)
    assert img.shape == (3, tiny.num_image_tokens, tiny.hidden_size)
    ids = _prompt(tiny)
    emb = tiny.build_inputs_embeds(ids, px[:1])
    ctx = ids[0] == tiny.token_map.img_context_id
    assert torch.allclose(emb[0, ctx], img[0])
    h = tiny.llm_hidden_states(emb)
    assert h.shape == (1, ids.shape[1], tiny.hidden_size)
    out = tiny(ids, px[:1], labels=ids)
    assert torch.allclose(out.hidden_states, h, atol=1e-5)
    assert out.logits.shape == (1, ids.shape[1], tiny.vocab_size)
    assert torch.isfinite(out.loss)
    with pytest.raises(ValueError, match="IMG_CONTEXT"):
        tiny.build_inputs_embeds(ids, px[:2])
    with pytest.raises(ValueError, match="tiles must be"):
        tiny.embed_images(torch.randn(1, 3, 64, 64))


def test_generate_matches_uncached_greedy(tiny):
    ids = _prompt(tiny)
    px = torch.randn(1, 3, tiny.image_size, tiny.image_size)
    gen = tiny.generate(ids, px, max_new_tokens=6, eos_token_ids=[-1])
    seq = ids
    ref = []
    with torch.no_grad():
        for _ in range(6):
            nxt = tiny(seq, px).logits[0, -1].argmax()
            ref.append(int(nxt))
            seq = torch.cat([seq, nxt.view(1, 1)], dim=1)
    assert gen[0].tolist() == ref
    allowed = tiny.token_map.motion_to_token_ids(range(10))
    g2 = tiny.generate(ids, px, max_new_tokens=4, eos_token_ids=[-1], allowed_token_ids=allowed)
    assert all(t in allowed for t in g2[0].tolist())


def test_left_padded_batch_generation_equals_single(tiny):
    a = _prompt(tiny)
    tm = tiny.token_map
    b = torch.cat([a[:, :-1], torch.tensor([[65, 66, tm.mot_start_id]])], dim=1)
    pad = b.shape[1] - a.shape[1]
    batch = torch.cat([torch.cat([torch.full((1, pad), tm.pad_id), a], 1), b])
    mask = torch.ones_like(batch)
    mask[0, :pad] = 0
    px = torch.randn(2, 3, tiny.image_size, tiny.image_size)
    g = tiny.generate(batch, px, attention_mask=mask, max_new_tokens=4, eos_token_ids=[-1])
    ga = tiny.generate(a, px[:1], max_new_tokens=4, eos_token_ids=[-1])
    gb = tiny.generate(b, px[1:], max_new_tokens=4, eos_token_ids=[-1])
    assert g[0].tolist() == ga[0].tolist()
    assert g[1].tolist() == gb[0].tolist()


def test_save_load_roundtrip(tiny, tmp_path):
    tiny.save_pretrained(tmp_path / "ckpt")
    files = {p.name for p in (tmp_path / "ckpt").iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "being_h0_config.json", "being_h0_token_map.json"} <= files
    m2 = BeingH0Model.from_pretrained(tmp_path / "ckpt")
    assert m2.config == tiny.config and m2.token_map == tiny.token_map
    ids = _prompt(tiny)
    px = torch.randn(1, 3, tiny.image_size, tiny.image_size)
    with torch.no_grad():
        assert torch.allclose(tiny(ids, px).logits, m2(ids, px).logits, atol=1e-5)


def test_load_plain_internvl_checkpoint_extends_vocab(tmp_path):
    """A user's InternVL '-hf' directory (no motion tokens) loads via the same path."""
    cfg = BeingH0Config.preset("tiny")
    tok = build_byte_tokenizer()
    tok.add_tokens(["<img>", "</img>", IMG_CONTEXT], special_tokens=True)  # as InternVL3 ships
    tm0 = type("TM", (), {})()
    tm0.eos_id, tm0.pad_id, tm0.img_context_id = tok.eos_token_id, tok.pad_token_id, tok.convert_tokens_to_ids(IMG_CONTEXT)
    hf_cfg = make_internvl_config(cfg, len(tok), tm0)
    plain = InternVLForConditionalGeneration(hf_cfg)
    d = tmp_path / "InternVL3-tiny-hf"
    plain.save_pretrained(d)
    tok.save_pretrained(d)
    m = BeingH0Model.from_pretrained(d, num_motion_tokens=40)
    assert m.token_map.num_motion_tokens == 40
    assert m.vocab_size >= len(m.tokenizer)
    assert m.token_map.img_context_id == tm0.img_context_id
    # original rows kept
    assert torch.equal(m.get_input_embeddings().weight[: len(tok)], plain.get_input_embeddings().weight)
    out = m(_prompt(m), torch.randn(1, 3, 112, 112))
    assert torch.isfinite(out.logits).all()


def test_rejects_original_internvl_chat_checkpoint(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "internvl_chat"}))
    with pytest.raises(ValueError, match="-hf"):
        BeingH0Model.from_pretrained(tmp_path)


@pytest.mark.parametrize(
    "preset,lo,hi,hidden",
    [("internvl3-1b", 0.85e9, 1.1e9, 896), ("internvl3-8b", 7.5e9, 8.4e9, 3584), ("internvl3-14b", 14.5e9, 15.5e9, 5120)],
)
def test_shaped_presets_parameter_counts(preset, lo, hi, hidden):
    cfg = BeingH0Config.preset(preset)
    tok = build_byte_tokenizer()
    tm = add_being_h0_tokens(tok, cfg.num_motion_tokens)
    from being_h0_runtime.policy.models.vla import _padded_vocab

    hf = make_internvl_config(cfg, _padded_vocab(len(tok), cfg), tm)
    with torch.device("meta"):
        m = InternVLForConditionalGeneration(hf)
    n = sum(p.numel() for p in m.parameters())
    assert lo < n < hi, n
    assert hf.text_config.hidden_size == hidden
    assert cfg.num_image_tokens == 256
    assert hf.vision_config.patch_size == (14, 14)


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="patch_size"):
        BeingH0Config.from_dict({**BeingH0Config.preset("tiny").to_dict(), "vision": {"image_size": 100, "patch_size": 14}})
    with pytest.raises(ValueError, match="unknown preset"):
        BeingH0Config.preset("gpt5")
