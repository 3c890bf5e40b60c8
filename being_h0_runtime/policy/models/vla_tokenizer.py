"""Offline text tokenizer for Being-H0, extended with motion and image tokens.

Why this exists: Being-H0 treats hand motion as a second language. The LLM
vocabulary is the text vocabulary plus one token per motion code of the
part-level GRQ motion tokenizer (``<motion_id_k>``), the block delimiters
``<MOT>`` / ``</MOT>``, and InternVL's image tokens ``<img>``, ``</img>``,
``<IMG_CONTEXT>``. Nothing may be downloaded, so for tiny/random-init models
we build a deterministic byte-level tokenizer (256 byte symbols, no merges)
with the ``tokenizers`` library and wrap it in a ``transformers`` fast
tokenizer, so ``save_pretrained`` / ``AutoTokenizer.from_pretrained`` work.
For a real InternVL3 checkpoint directory the checkpoint's own (Qwen2.5)
tokenizer is loaded and extended with the same function.

Public API
----------
- ``build_byte_tokenizer()`` -> fast tokenizer with Qwen-style chat specials.
- ``add_being_h0_tokens(tok, num_motion_tokens)`` -> ``TokenMap``; idempotent.
- ``TokenMap``: ids of all special tokens and the contiguous motion-id range;
  ``motion_to_token_ids`` / ``token_to_motion_ids`` convert code ids.
- ``load_tokenizer(dir)`` / ``token_map_from_tokenizer(tok)``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

IMG_START = "<img>"
IMG_END = "</img>"
IMG_CONTEXT = "<IMG_CONTEXT>"
MOT_START = "<MOT>"
MOT_END = "</MOT>"
EOS = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
TOKEN_MAP_FILE = "being_h0_token_map.json"


def motion_token(k: int) -> str:
    """The text form of motion code ``k`` (global id over all codebooks)."""
    return f"<motion_id_{k}>"


def _bytes_to_unicode() -> list[str]:
    """GPT-2's reversible byte->printable-char table, in byte order (0..255)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    table = dict(zip(bs, cs))
    return [chr(table[b]) for b in range(256)]


def build_byte_tokenizer() -> PreTrainedTokenizerFast:
    """A deterministic byte-level tokenizer: id ``b`` is byte ``b`` (0..255).

    Every string round-trips exactly; no file or network access is needed.
    Specials ``<|endoftext|>`` (eos/pad), ``<|im_start|>``, ``<|im_end|>``
    follow the Qwen2.5 chat format used by InternVL3.
    """
    vocab = {ch: i for i, ch in enumerate(_bytes_to_unicode())}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=EOS)
    fast.add_tokens([IM_START, IM_END], special_tokens=True)
    return fast


@dataclass(frozen=True)
class TokenMap:
    """Ids of Being-H0's extra tokens in one tokenizer.

    Motion codes ``0..num_motion_tokens-1`` map to the contiguous id range
    ``[motion_start_id, motion_start_id + num_motion_tokens)``.
    """

    vocab_size: int
    motion_start_id: int
    num_motion_tokens: int
    mot_start_id: int
    mot_end_id: int
    img_start_id: int
    img_end_id: int
    img_context_id: int
    eos_id: int
    pad_id: int

    def motion_to_token_ids(self, codes: Iterable[int]) -> list[int]:
        out = []
        for c in codes:
            c = int(c)
            if not 0 <= c < self.num_motion_tokens:
                raise ValueError(f"motion code {c} outside [0, {self.num_motion_tokens})")
            out.append(self.motion_start_id + c)
        return out

    def token_to_motion_ids(self, ids: Iterable[int]) -> list[int]:
        out = []
        for i in ids:
            i = int(i)
            if not self.is_motion(i):
                raise ValueError(f"token id {i} is not a motion token")
            out.append(i - self.motion_start_id)
        return out

    def is_motion(self, token_id: int) -> bool:
        return self.motion_start_id <= int(token_id) < self.motion_start_id + self.num_motion_tokens

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def add_being_h0_tokens(tok: PreTrainedTokenizerBase, num_motion_tokens: int) -> TokenMap:
    """Add image, motion-block and ``num_motion_tokens`` motion tokens (idempotent).

    Raises ``ValueError`` when the tokenizer already has a different number
    of motion tokens, or when the motion ids would not be contiguous.
    """
    if num_motion_tokens <= 0:
        raise ValueError(f"num_motion_tokens must be > 0, got {num_motion_tokens}")
    existing = tok.convert_tokens_to_ids(motion_token(num_motion_tokens))
    if existing is not None and existing != tok.unk_token_id:
        raise ValueError(
            f"tokenizer already has more than {num_motion_tokens} motion tokens ({motion_token(num_motion_tokens)} exists)"
        )
    vocab = tok.get_vocab()
    missing = [t for t in (IMG_START, IMG_END, IMG_CONTEXT, MOT_START, MOT_END) if t not in vocab]
    if missing:
        tok.add_tokens(missing, special_tokens=True)
    motion = [motion_token(k) for k in range(num_motion_tokens)]
    vocab = tok.get_vocab()
    motion_missing = [t for t in motion if t not in vocab]
    if motion_missing and len(motion_missing) != len(motion):
        raise ValueError("tokenizer has a partial set of motion tokens; cannot extend it contiguously")
    if motion_missing:
        tok.add_tokens(motion, special_tokens=True)
    return token_map_from_tokenizer(tok, num_motion_tokens)


def token_map_from_tokenizer(tok: PreTrainedTokenizerBase, num_motion_tokens: int | None = None) -> TokenMap:
    """Read the ``TokenMap`` of an already-extended tokenizer."""
    vocab = tok.get_vocab()
    if num_motion_tokens is None:
        num_motion_tokens = sum(1 for t in vocab if t.startswith("<motion_id_"))
    if num_motion_tokens == 0 or motion_token(0) not in vocab:
        raise ValueError("tokenizer has no <motion_id_k> tokens; call add_being_h0_tokens first")
    for t in (IMG_START, IMG_END, IMG_CONTEXT, MOT_START, MOT_END):
        if t not in vocab:
            raise ValueError(f"tokenizer lacks required token {t!r}")
    start = vocab[motion_token(0)]
    last = vocab.get(motion_token(num_motion_tokens - 1))
    if last != start + num_motion_tokens - 1:
        raise ValueError("motion token ids are not contiguous")
    eos = tok.eos_token_id if tok.eos_token_id is not None else vocab.get(EOS, 0)
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos
    return TokenMap(
        vocab_size=len(tok),
        motion_start_id=start,
        num_motion_tokens=num_motion_tokens,
        mot_start_id=vocab[MOT_START],
        mot_end_id=vocab[MOT_END],
        img_start_id=vocab[IMG_START],
        img_end_id=vocab[IMG_END],
        img_context_id=vocab[IMG_CONTEXT],
        eos_id=int(eos),
        pad_id=int(pad),
    )


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """Load a tokenizer saved with ``save_pretrained`` (offline only)."""
    path = Path(path)
    if not (path / "tokenizer.json").exists() and not (path / "tokenizer_config.json").exists():
        raise FileNotFoundError(f"{path}: no tokenizer.json / tokenizer_config.json")
    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


def motion_block_text(codes: Sequence[int]) -> str:
    """``<MOT><motion_id_a><motion_id_b>...</MOT>`` for a list of motion codes."""
    return MOT_START + "".join(motion_token(int(c)) for c in codes) + MOT_END
