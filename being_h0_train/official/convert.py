"""``being-h0 convert vla SRC --out DIR``: official Being-H0 checkpoint -> engine (Align) or backbone (pre-trained).

Streaming: shards are read one at a time (safetensors ``safe_open``, memory-mapped; ``.bin`` only with
``torch.load(weights_only=True, mmap=True)``), each tensor is renamed / split (fused InternViT qkv),
shape-checked against what ``config.json`` implies, cast to the served dtype and written to an output
shard before the next input shard is opened. Peak memory is about one input shard plus one output
shard, not the model (see ``ConvertResult.peak_rss_mib``).

Nothing is half-written: everything goes to a hidden temporary folder next to ``--out`` that is renamed
into place only after every tensor was checked and the manifest validated; on any error it is removed.

Align checkpoints (``enable_robot_alignment``) become an engine folder for ``being-h0 run --engine``,
``bench run`` and ``engine infer``: ``torch/`` (safetensors + ``official_vla.json``), ``tokenizer/``,
``manifest.json`` declaring the official prompt layout, special token ids, heads, dtype, source hashes,
the 13-D joint mapping and "no normalisation". Pre-trained checkpoints become a post-training backbone
folder (transformers InternVL format + the official tokenizer) that ``python -m being_h0_train.posttrain.train
--init-from DIR`` starts from, with action queries and heads newly initialised.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import resource
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from being_h0_runtime.policy.engine_format import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    EngineManifest,
    sha256_file,
    verify_engine_dir,
)
from being_h0_runtime.policy.preprocess import IMAGENET_MEAN, IMAGENET_STD
from being_h0_runtime.rig import ARM_JOINT_NAMES, HAND_DOF_NAMES

from .layout import (
    CheckpointError,
    OfficialVLASpec,
    expected_shapes,
    read_official_config,
)
from .shards import Shard, _stream_weights, find_shards, iter_tensors  # noqa: F401 - re-exported

ARCHITECTURE = "being-h0-official-align"
TORCH_DIR = "torch"
TOKENIZER_DIR = "tokenizer"
SOURCE_DIR = "source"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json",
                   "added_tokens.json", "generation_config.json")
NORM_FILES = ("stats.json", "norm_stats.json", "normalization.json")
CONTROL_RATE_HZ = 20.0  # the official Align data: chunk of 16 at 20 fps


def official_prompt_template(num_image_tokens: int, chunk_len: int) -> str:
    """``BeingVLAModel.get_action``'s prompt with ``{instruction}`` for the task (one 448 px tile)."""
    return ("<img>" + "<IMG_CONTEXT>" * num_image_tokens + "</img> {instruction} <PROP_CONTEXT>"
            + "".join(f" <ACTION_CHUNK_{i}>" for i in range(chunk_len)))


@dataclass
class ConvertResult:
    out: Path
    kind: str  # "engine" | "backbone"
    tensors: int
    bytes_written: int
    peak_rss_mib: float
    seconds: float
    dropped: list[str] = field(default_factory=list)


def peak_rss_mib() -> float:
    """Peak resident set size of this process (Linux ru_maxrss is KiB)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024.0 if sys.platform != "darwin" else r / (1024.0 * 1024.0)


# ----------------------------------------------------------------------------- reading shards
def read_tokenizer(src: Path, spec: OfficialVLASpec) -> tuple[Any, dict[str, Any], Any]:
    """(tokenizers.Tokenizer, token ids, the tokenizer to save as tokenizer.json when the checkpoint has none, else None)."""
    from tokenizers import Tokenizer

    tj = src / "tokenizer.json"
    if tj.is_file():
        try:
            tok = Tokenizer.from_file(str(tj))
        except Exception as e:  # noqa: BLE001 - the tokenizers library raises plain Exception
            raise CheckpointError(f"{tj}: cannot be read by the tokenizers library: {e}") from None
        built = None
    else:
        if not (src / "tokenizer_config.json").is_file():
            raise CheckpointError(f"{src}: no tokenizer (tokenizer.json or tokenizer_config.json + vocab.json/merges.txt)")
        try:
            from transformers import AutoTokenizer

            hf = AutoTokenizer.from_pretrained(str(src), local_files_only=True, use_fast=True)
            tok = hf.backend_tokenizer
        except Exception as e:  # noqa: BLE001
            raise CheckpointError(f"{src / 'tokenizer_config.json'}: cannot load the tokenizer: {e}") from None
        built = tok
    need = {"img_start": "<img>", "img_end": "</img>", "img_context": "<IMG_CONTEXT>"}
    if spec.align:
        need["prop_context"] = "<PROP_CONTEXT>"
    where = tj if tj.is_file() else src / "tokenizer_config.json"
    ids: dict[str, Any] = {}
    for key, t in need.items():
        i = tok.token_to_id(t)
        if i is None:
            raise CheckpointError(f"{where}: special token {t!r} is missing from the tokenizer")
        ids[key] = int(i)
    if spec.align:
        acts = []
        for i in range(spec.chunk_len):
            a = tok.token_to_id(f"<ACTION_CHUNK_{i}>")
            if a is None:
                raise CheckpointError(f"{where}: special token '<ACTION_CHUNK_{i}>' is missing from the tokenizer "
                                      f"(config.json action_chunk_length={spec.chunk_len})")
            acts.append(int(a))
        ids["action_chunk"] = acts
    flat = [v for v in ids.values() if isinstance(v, int)] + list(ids.get("action_chunk", []))
    if max(flat) >= spec.text.vocab_size:
        raise CheckpointError(f"{where}: special token id {max(flat)} >= llm vocab_size {spec.text.vocab_size} "
                              "in config.json (tokenizer and model do not match)")
    return tok, ids, built


# ----------------------------------------------------------------------------- conversion
def _dtype(name: str) -> Any:
    import torch

    table = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
    if name not in table:
        raise CheckpointError(f"weights dtype {name!r} is not one of {sorted(table)}")
    return table[name]


def _source_hashes(src: Path, shards: list[Shard]) -> dict[str, str]:
    files = ["config.json"] + [s.path.name for s in shards]
    files += [f for f in ("model.safetensors.index.json", "pytorch_model.bin.index.json") if (src / f).is_file()]
    return {f: sha256_file(src / f) for f in files}


def _versions() -> dict[str, str]:
    import platform

    out = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("torch", "transformers", "safetensors", "tokenizers"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            out[mod] = "absent"
    return out


def _copy_tokenizer(src: Path, dst: Path, built: Any) -> list[str]:
    dst.mkdir(parents=True, exist_ok=True)
    for f in TOKENIZER_FILES:
        if (src / f).is_file() and f != "generation_config.json":
            shutil.copyfile(src / f, dst / f)
    if built is not None:
        built.save(str(dst / "tokenizer.json"))
    return sorted(p.name for p in dst.iterdir() if p.is_file())


def _action_names(dim: int) -> tuple[list[str], list[str]]:
    if dim == len(ARM_JOINT_NAMES) + len(HAND_DOF_NAMES):
        return list(ARM_JOINT_NAMES) + list(HAND_DOF_NAMES), ["rad"] * len(ARM_JOINT_NAMES) + ["inspire"] * len(HAND_DOF_NAMES)
    return [f"a{i}" for i in range(dim)], [""] * dim


def declared_dtypes(spec: OfficialVLASpec) -> tuple[str, str]:
    """(weights dtype, RoPE table dtype) as the checkpoint declares them (config.json ``torch_dtype``).

    Weights keep the declared dtype ("keep what the checkpoint declares"; the releases declare bfloat16,
    which is also what the official server casts everything to). The official code can only build its
    language model in a half dtype (building in float32 raises), so transformers 4.43's precomputed RoPE
    tables always carry bf16 (or fp16) precision, even in a checkpoint saved after ``.float()``.
    """
    declared = spec.source_dtype if spec.source_dtype in ("bfloat16", "float16", "float32") else "bfloat16"
    return declared, declared if declared in ("bfloat16", "float16") else "bfloat16"


def convert_vla(src: str | Path, out: str | Path, weights_dtype: str = "declared", compute_dtype: str = "float32",
                force: bool = False, progress: bool = True, log: Callable[[str], None] = print) -> ConvertResult:
    """Convert an official checkpoint folder; see the module docstring. Raises CheckpointError on bad input."""
    import time

    t0 = time.monotonic()
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise CheckpointError(f"{src}: not a directory (expected an official Being-H0 checkpoint folder)")
    if out.exists() and not force and not (out.is_dir() and not any(out.iterdir())):
        raise CheckpointError(f"{out}: already exists and is not empty (pass --force to replace it)")
    spec = read_official_config(src)
    if spec.vision.pos_image_size != spec.vision.image_size:
        raise CheckpointError(f"{src / 'config.json'}: force_image_size {spec.vision.image_size} differs from "
                              f"vision_config.image_size {spec.vision.pos_image_size}; not supported")
    shards = find_shards(src)
    _tok, token_ids, built = read_tokenizer(src, spec)
    declared, rope_dtype = declared_dtypes(spec)
    weights_dtype = declared if weights_dtype == "declared" else weights_dtype
    spec.extra["rope_table_dtype"] = rope_dtype
    dtype = _dtype(weights_dtype)
    _dtype(compute_dtype)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.name}.partial-{os.getpid()}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    try:
        if spec.align:
            res = _convert_align(src, work, spec, shards, token_ids, built, dtype, weights_dtype, compute_dtype,
                                 progress, log)
        else:
            res = _convert_backbone(src, work, spec, shards, built, dtype, progress, log)
        if out.exists():
            shutil.rmtree(out)
        os.replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    res.out = out
    res.seconds = time.monotonic() - t0
    res.peak_rss_mib = peak_rss_mib()
    return res


def _convert_align(src: Path, work: Path, spec: OfficialVLASpec, shards: list[Shard], token_ids: dict[str, Any],
                   built: Any, dtype: Any, weights_dtype: str, compute_dtype: str, progress: bool,
                   log: Callable[[str], None]) -> ConvertResult:
    # Longer than 60 lines because most of it is the manifest: one literal, each field beside where it comes from.
    tdir = work / TORCH_DIR
    tdir.mkdir()
    expected = expected_shapes(spec, with_lm_head=False)
    wm, nbytes, dropped = _stream_weights(shards, spec, expected, tdir, dtype, lambda n: n, log, progress, src)
    spec.extra.update({"token_ids": token_ids, "weights_dtype": weights_dtype, "with_lm_head": False})
    spec.save(tdir)
    tok_files = _copy_tokenizer(src, work / TOKENIZER_DIR, built)
    stats_files = []
    for f in NORM_FILES:  # kept for reference; the official inference path does not read them
        if (src / f).is_file():
            (work / SOURCE_DIR).mkdir(exist_ok=True)
            shutil.copyfile(src / f, work / SOURCE_DIR / f)
            stats_files.append(f"{SOURCE_DIR}/{f}")
    names, units = _action_names(spec.action_dim)
    pnames, _ = _action_names(spec.proprio_dim)
    s = spec.vision.image_size
    files = {p.relative_to(work).as_posix(): sha256_file(p) for p in sorted(work.rglob("*")) if p.is_file()}
    src_hashes = _source_hashes(src, shards)
    digest = src_hashes["config.json"][:6] + next(iter(sorted(v for k, v in src_hashes.items() if k != "config.json")))[:6]
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    manifest = {
        "format_version": FORMAT_VERSION,
        "engine_id": f"being-h0-official-{src.resolve().name}-{digest}",
        "created_utc": created,
        "model": {
            "architecture": ARCHITECTURE,
            "layout": "official BeingVLAModel Align (BeingBeyond/Being-H, branch being-h0): prompt "
                      "'<img>' + N x '<IMG_CONTEXT>' + '</img> {task} <PROP_CONTEXT> <ACTION_CHUNK_0> .. "
                      f"<ACTION_CHUNK_{spec.chunk_len - 1}>', image tokens and proprio_encoder(state) spliced in, "
                      "action_decoder on the hidden state at each <ACTION_CHUNK_i>",
            "source": {"path": str(src.resolve()), "sha256": src_hashes},
            "weights_dtype": weights_dtype,
            "source_dtype": spec.source_dtype,
            "compute_dtype": compute_dtype,
            "rope_table_dtype": spec.extra["rope_table_dtype"],
            "token_ids": token_ids,
            "heads": {"proprio_encoder": [spec.proprio_dim, spec.head_hidden, spec.text.hidden_size],
                      "action_decoder": [spec.text.hidden_size, spec.head_hidden, spec.action_dim],
                      "gen_action_type": spec.gen_action_type},
            "normalisation": "none: the official deployed path (aligner/run_server.py -> BeingVLAModel.get_action) "
                             "feeds the raw state and returns raw actions (state_action_norm.py is empty; the "
                             "stats.json of preprocess_robot_data.py is not read at inference)",
            "declared_stats_files": stats_files,
            "joint_mapping": "state and action: [0:7] Franka joint positions fr3_joint1..7 (rad, absolute), "
                             "[7:13] Inspire hand joints little, ring, middle, index, thumb_bend, thumb_rotation "
                             "(absolute, the units of the official post-training data)",
            "spec": spec.to_dict(),
            "dropped_tensors": dropped[:50],
            "parameters_bytes": nbytes,
        },
        "action_spec": {"names": names, "units": units, "chunk_len": spec.chunk_len, "control_rate_hz": CONTROL_RATE_HZ,
                        "arm_mode": "joint", "absolute": True, "mean": [0.0] * spec.action_dim,
                        "std": [1.0] * spec.action_dim},
        "proprio": {"names": pnames, "mean": [0.0] * spec.proprio_dim, "std": [1.0] * spec.proprio_dim},
        "image": {"size": s, "max_tiles": 1, "use_thumbnail": False, "num_image_tokens": spec.num_image_tokens,
                  "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "resize": "pil_bicubic", "warmup_hw": None},
        "prompt": {"prefix": "", "suffix": official_prompt_template(spec.num_image_tokens, spec.chunk_len),
                   "tokenizer_file": f"{TOKENIZER_DIR}/tokenizer.json",
                   "tokenizer_files": [f"{TOKENIZER_DIR}/{f}" for f in tok_files], "add_special_tokens": True},
        "inputs": [
            {"name": "pixel_values", "shape": ["tiles", 3, s, s], "dtype": "float32"},
            {"name": "input_ids", "shape": [1, "text_len"], "dtype": "int64"},
            {"name": "proprio", "shape": [1, spec.proprio_dim], "dtype": "float32"},
        ],
        "outputs": [{"name": "actions", "shape": [1, spec.chunk_len, spec.action_dim], "dtype": "float32"}],
        "output_normalized": False,
        "backends": {"torch": {"dir": TORCH_DIR, "dtype": compute_dtype}},
        "files": files,
        "versions": _versions(),
        "training": {},
        "parity": None,
    }
    EngineManifest.model_validate(manifest)
    (work / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    verify_engine_dir(work, check_checksums=False)  # the digests were computed from these very files just above
    return ConvertResult(work, "engine", len(wm), nbytes, 0.0, 0.0, dropped)


def _convert_backbone(src: Path, work: Path, spec: OfficialVLASpec, shards: list[Shard], built: Any, dtype: Any,
                      progress: bool, log: Callable[[str], None]) -> ConvertResult:
    """Pre-trained checkpoint -> transformers InternVL folder + official tokenizer (post-training backbone)."""
    from dataclasses import replace

    from being_h0_runtime.policy.models.official import make_internvl_config
    from being_h0_runtime.policy.models.vla_config import BeingH0Config
    from being_h0_runtime.policy.models.vla_tokenizer import (
        IMG_CONTEXT,
        IMG_END,
        IMG_START,
        MOT_END,
        MOT_START,
    )

    tok, _, _ = read_tokenizer(src, spec)
    vocab = tok.get_vocab(with_added_tokens=True)
    n_motion = sum(1 for t in vocab if t.startswith("<motion_id_"))
    # this project's post-training names the motion-block markers <MOT> </MOT> (official: <mot> </mot>)
    need = len(vocab) + sum(1 for t in (IMG_START, IMG_END, IMG_CONTEXT, MOT_START, MOT_END) if t not in vocab)
    pad_to = ((need + 63) // 64) * 64 if need > spec.text.vocab_size else None
    expected = expected_shapes(spec, with_lm_head=True)
    rename = lambda n: "model." + n[len("vlm."):] if n.startswith("vlm.") else n
    wm, nbytes, dropped = _stream_weights(shards, spec, expected, work, dtype, rename, log, progress, src, pad_to)
    if pad_to:
        spec = replace(spec, text=replace(spec.text, vocab_size=pad_to))
    cfg = make_internvl_config(spec, "sdpa")
    cfg.architectures = ["InternVLForConditionalGeneration"]
    cfg.save_pretrained(str(work))
    _copy_tokenizer(src, work, built)
    if n_motion:
        BeingH0Config.from_internvl_config(cfg, num_motion_tokens=n_motion, name=src.resolve().name).save(work)
    (work / "being_h0_official_source.json").write_text(json.dumps(
        {"source": str(src.resolve()), "sha256": _source_hashes(src, shards), "spec": spec.to_dict(),
         "dropped_tensors": dropped[:50], "note": "official pre-trained Being-H0 backbone; post-training adds new "
                                                  "action queries, proprio projector and action head"}, indent=2))
    return ConvertResult(work, "backbone", len(wm), nbytes, 0.0, 0.0, dropped)
