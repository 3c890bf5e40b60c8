"""Convert a released GRVQ tokenizer (Being-H0-GRVQ-8K layout) into a safetensors tokenizer folder.

Release layout (SRC)::

    SRC/wrist/   <checkpoint>.pth  motion_args.json  [meta_mask.json]  [motion_meta.json]
    SRC/finger/  <checkpoint>.pth  motion_args.json  [meta_mask.json]  [motion_meta.json]

``<checkpoint>`` is the first of ``overfit.pth``, ``net_best_mpjpe.pth``,
``net_best_mpjpe_labeling.pth`` that exists (the official loader's order),
else the only ``*.pth`` in the folder. Its ``['net']`` entry is the
``ManoVQModel`` state dict. ``meta_mask.json`` (``{"meta_mask": [162
booleans]}``) says which MANO-162 dims feed the part; ``motion_meta.json``
(``{"mean": [...], "std": [...]}``) is the part's normaliser. The official
loader requires both; without them we fall back to the documented split and
no normalisation, and say so in the output config.

Safety: ``.pth`` files are opened only with ``torch.load(weights_only=True)``
(tensors, dicts, lists, numbers, strings); anything else in the pickle is
refused, never executed.

Output (DIR): ``tokenizer.safetensors`` + ``tokenizer_config.json``, written
into a temporary sibling folder and renamed into place at the end, so a
failed conversion leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .grvq import (
    DEFAULT_PART_INDICES,
    MANO162_DIM,
    PART_NAMES,
    OfficialMotionTokenizer,
    OfficialTokenizerConfig,
    PartConfig,
    PartModel,
)

CHECKPOINT_NAMES = ("overfit.pth", "net_best_mpjpe.pth", "net_best_mpjpe_labeling.pth")
#: official MotionArguments defaults for the fields that shape the network (used when motion_args.json omits one)
ARG_DEFAULTS: dict[str, Any] = {
    "code_dim": 512, "nb_code": 512, "down_t": 2, "stride_t": 2, "width": 512, "depth": 3,
    "dilation_growth_rate": 3, "output_emb_width": 512, "activate": "relu", "norm": None,
    "num_conv_layers": 1, "window_size": 64, "num_quantizers": 8, "num_quant_groups": 2,
    "shared_codebook": False, "quantizer_name": None, "motion_feat": "smpl263", "use_part": None, "fps": 20,
}
PART_DIMS = {"wrist": 9, "finger": 150}
#: codebook training state the official checkpoint carries and inference does not use
IGNORED_CODEBOOK_BUFFERS = ("initted", "cluster_size", "embed_avg")


class ConversionError(ValueError):
    """A bad input file; the message names the file and the problem."""


def safe_torch_load(path: Path) -> Any:
    """``torch.load`` restricted to plain data (weights_only); clear errors for truncated or hostile files."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConversionError(f"{path}: refused to unpickle: the file holds objects other than tensors and plain "
                              f"containers (possibly code to execute); only weights_only loading is allowed ({first})") from None
    except Exception as e:  # noqa: BLE001 - garbage bytes surface as any of a dozen exception types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConversionError(f"{path}: truncated or corrupt checkpoint ({first})") from None


def _read_json(path: Path, required: bool) -> Any:
    if not path.exists():
        if required:
            raise ConversionError(f"{path}: missing")
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConversionError(f"{path}: not valid JSON ({e})") from None


def find_checkpoint(part_dir: Path) -> Path:
    for name in CHECKPOINT_NAMES:
        if (part_dir / name).is_file():
            return part_dir / name
    found = sorted(part_dir.glob("*.pth"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise ConversionError(f"{part_dir}: no .pth checkpoint (expected one of {', '.join(CHECKPOINT_NAMES)})")
    raise ConversionError(f"{part_dir}: several .pth files and none named {', '.join(CHECKPOINT_NAMES)}: "
                          f"{', '.join(p.name for p in found)}")


def _part_indices(part: str, part_dir: Path, dim: int) -> tuple[list[int], str]:
    path = part_dir / "meta_mask.json"
    meta = _read_json(path, required=False)
    mask = meta.get("meta_mask") if isinstance(meta, dict) else None
    if mask is None:
        return DEFAULT_PART_INDICES[part], "default split (no meta_mask)"
    m = np.asarray(mask, dtype=bool)
    if m.shape != (MANO162_DIM,):
        raise ConversionError(f"{path}: 'meta_mask' has {m.size} entries, expected {MANO162_DIM}")
    idx = np.flatnonzero(m).tolist()
    if len(idx) != dim:
        raise ConversionError(f"{path}: 'meta_mask' selects {len(idx)} dims, the {part} model takes {dim}")
    return idx, "meta_mask.json"


def _normaliser(part_dir: Path, indices: list[int], dim: int) -> tuple[np.ndarray, np.ndarray] | None:
    path = part_dir / "motion_meta.json"
    meta = _read_json(path, required=False)
    if meta is None:
        return None
    try:
        mean = np.asarray(meta["mean"], np.float32)
        std = np.asarray(meta["std"], np.float32)
    except (KeyError, TypeError, ValueError) as e:
        raise ConversionError(f"{path}: needs numeric 'mean' and 'std' lists ({e})") from None
    if mean.shape != std.shape or mean.ndim != 1:
        raise ConversionError(f"{path}: 'mean' {mean.shape} and 'std' {std.shape} must be equal-length lists")
    if mean.size == MANO162_DIM:
        mean, std = mean[indices], std[indices]
    if mean.size != dim:
        raise ConversionError(f"{path}: 'mean'/'std' have {mean.size} entries, expected {MANO162_DIM} or {dim}")
    return mean, std


def read_part_config(part: str, part_dir: Path) -> tuple[PartConfig, str]:
    path = part_dir / "motion_args.json"
    raw = _read_json(path, required=True)
    if not isinstance(raw, dict):
        raise ConversionError(f"{path}: expected a JSON object")
    a = {**ARG_DEFAULTS, **raw}
    if a["quantizer_name"] != "group_residualvq":
        raise ConversionError(f"{path}: quantizer_name is {a['quantizer_name']!r}; only 'group_residualvq' "
                              "(the GRVQ-8K quantiser) is supported")
    if a["motion_feat"] != "mano162":
        raise ConversionError(f"{path}: motion_feat is {a['motion_feat']!r}; only 'mano162' is supported")
    if a["use_part"] != part:
        raise ConversionError(f"{path}: use_part is {a['use_part']!r} but the folder is {part}/")
    if a["norm"] not in (None, "None", ""):
        raise ConversionError(f"{path}: norm {a['norm']!r} is not supported (GRVQ-8K uses none)")
    dim = PART_DIMS[part]
    indices, split_source = _part_indices(part, part_dir, dim)
    try:
        cfg = PartConfig(
            name=part, input_dim=dim, indices=tuple(indices), width=int(a["width"]), depth=int(a["depth"]),
            down_t=int(a["down_t"]), stride_t=int(a["stride_t"]), dilation_growth_rate=int(a["dilation_growth_rate"]),
            output_emb_width=int(a["output_emb_width"]), code_dim=int(a["code_dim"]), nb_code=int(a["nb_code"]),
            num_quantizers=int(a["num_quantizers"]), num_groups=int(a["num_quant_groups"]),
            shared_codebook=bool(a["shared_codebook"]), activation=str(a["activate"]),
            num_conv_layers=int(a["num_conv_layers"]), window_size=int(a["window_size"]),
            normalize=(part_dir / "motion_meta.json").exists()).validate()
    except (TypeError, ValueError) as e:
        raise ConversionError(f"{path}: {e}") from None
    return cfg, split_source


def official_key_map(cfg: PartConfig) -> dict[str, str]:
    """Our parameter name -> the official ``ManoVQModel`` state-dict key, for one part."""
    m: dict[str, str] = {}
    n_stem = cfg.num_conv_layers

    def conv(ours: str, theirs: str) -> None:
        m[f"{ours}.weight"], m[f"{ours}.bias"] = f"{theirs}.weight", f"{theirs}.bias"

    def res_stack(ours: str, theirs: str) -> None:
        for j in range(cfg.depth):
            conv(f"{ours}.{j}.conv_dilated", f"{theirs}.model.{j}.conv1")
            conv(f"{ours}.{j}.conv_mix", f"{theirs}.model.{j}.conv2")

    enc, dec = "model.encoder.model", "model.decoder.model"
    for k in range(n_stem):  # conv, ReLU pairs
        conv(f"encoder.stem.{k}", f"{enc}.{2 * k}")
        conv(f"decoder.stem.{k}", f"{dec}.{2 * k}")
    s = 2 * n_stem
    for i in range(cfg.down_t):
        conv(f"encoder.levels.{i}.conv", f"{enc}.{s + i}.0")
        res_stack(f"encoder.levels.{i}.res", f"{enc}.{s + i}.1")
        res_stack(f"decoder.levels.{i}.res", f"{dec}.{s + i}.0")
        conv(f"decoder.levels.{i}.conv", f"{dec}.{s + i}.2")  # .1 is the parameter-free upsample
    conv("encoder.head", f"{enc}.{s + cfg.down_t}")
    conv("decoder.post", f"{dec}.{s + cfg.down_t}")
    conv("decoder.head", f"{dec}.{s + cfg.down_t + 2}")  # + 1 is a ReLU
    return m


def codebook_key(g: int, q: int) -> str:
    return f"model.quantizer.rvqs.{g}.layers.{q}._codebook.embed"


def convert_part(part: str, part_dir: Path) -> tuple[PartConfig, dict[str, torch.Tensor], dict[str, Any]]:
    if not part_dir.is_dir():
        raise ConversionError(f"{part_dir}: missing (a GRVQ release has wrist/ and finger/ folders)")
    cfg, split_source = read_part_config(part, part_dir)
    ckpt_path = find_checkpoint(part_dir)
    ckpt = safe_torch_load(ckpt_path)
    net = ckpt.get("net") if isinstance(ckpt, dict) else None
    if not isinstance(net, dict):
        raise ConversionError(f"{ckpt_path}: no ['net'] state dict (top-level keys: "
                              f"{sorted(ckpt)[:8] if isinstance(ckpt, dict) else type(ckpt).__name__})")
    if any(isinstance(k, str) and k.startswith("module.") for k in net):  # saved from DataParallel / DDP
        net = {k.removeprefix("module."): v for k, v in net.items()}
    if "encoder.model.0.weight" in net and "model.encoder.model.0.weight" not in net:  # inner model saved alone
        net = {f"model.{k}": v for k, v in net.items()}
    shapes = {k: tuple(v.shape) for k, v in PartModel(cfg).state_dict().items()}
    out: dict[str, torch.Tensor] = {}
    used: set[str] = set()

    def take(key: str, want: tuple[int, ...]) -> torch.Tensor:
        if key not in net:
            raise ConversionError(f"{ckpt_path}: missing tensor '{key}' (motion_args.json describes a network "
                                  "this checkpoint does not hold)")
        t = net[key]
        if not isinstance(t, torch.Tensor):
            raise ConversionError(f"{ckpt_path}: '{key}' is a {type(t).__name__}, not a tensor")
        if tuple(t.shape) != want:
            raise ConversionError(f"{ckpt_path}: tensor '{key}' has shape {tuple(t.shape)}, expected {want} "
                                  f"from {part_dir / 'motion_args.json'}")
        used.add(key)
        return t.detach().to(torch.float32).contiguous()

    for ours, theirs in official_key_map(cfg).items():
        out[ours] = take(theirs, shapes[ours])
    d = cfg.code_dim // cfg.num_groups
    books = torch.empty(cfg.num_groups, cfg.num_quantizers, cfg.nb_code, d)
    for g in range(cfg.num_groups):
        for q in range(cfg.num_quantizers):
            books[g, q] = take(codebook_key(g, q), (1, cfg.nb_code, d))[0]
            for buf in IGNORED_CODEBOOK_BUFFERS:
                used.add(codebook_key(g, q).replace(".embed", f".{buf}"))
    out["codebooks"] = books
    leftover = sorted(k for k in net if k not in used)
    if leftover:
        raise ConversionError(f"{ckpt_path}: unexpected tensors for the architecture in motion_args.json "
                              f"(e.g. {', '.join(map(str, leftover[:4]))}); refusing a partial conversion")
    norm = _normaliser(part_dir, list(cfg.indices), cfg.input_dim)
    if norm is not None:
        out["mean"], out["std"] = torch.from_numpy(norm[0].copy()), torch.from_numpy(norm[1].copy())
    else:
        out["mean"], out["std"] = torch.zeros(cfg.input_dim), torch.ones(cfg.input_dim)
    source = {"checkpoint": str(ckpt_path.name), "split": split_source,
              "normaliser": "motion_meta.json" if norm is not None else "none (no motion_meta.json)"}
    return cfg, out, source


def convert_tokenizer(src: Path | str, out: Path | str, overwrite: bool = False) -> OfficialMotionTokenizer:
    """Convert ``src`` (wrist/ + finger/) into ``out``; returns the loaded result."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise ConversionError(f"{src}: not a directory (expected a GRVQ release with wrist/ and finger/)")
    if out.exists() and not overwrite:
        raise ConversionError(f"{out}: already exists (pass --overwrite to replace it)")
    parts, state, sources = [], {}, {}
    for part in PART_NAMES:
        cfg, tensors, source = convert_part(part, src / part)
        parts.append(cfg)
        state.update({f"parts.{part}.{k}": v for k, v in tensors.items()})
        sources[part] = source
    if parts[0].window_size != parts[1].window_size:
        raise ConversionError(f"{src}: wrist window_size {parts[0].window_size} != finger {parts[1].window_size}")
    # one window is one second of motion (the official inference renders at fps = window_size)
    args_fps = _read_json(src / "wrist" / "motion_args.json", True).get("fps")
    cfg = OfficialTokenizerConfig(tuple(parts), float(parts[0].window_size),
                                  {"release": str(src.resolve()), "motion_args_fps": args_fps, **sources})
    model = OfficialMotionTokenizer(cfg)
    model.load_state_dict(state)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        model.save(tmp)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return model.eval()


__all__ = ["ConversionError", "convert_tokenizer", "official_key_map", "safe_torch_load"]
