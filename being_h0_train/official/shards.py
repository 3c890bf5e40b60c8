"""The official checkpoint's safetensors shards: finding them, reading them tensor by tensor, and streaming
every tensor - renamed, checked against config.json's shapes, converted - into output shards."""

from __future__ import annotations

import json
import os
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from being_h0_runtime.policy.models.official import WEIGHTS_INDEX

from .layout import (
    CheckpointError,
    OfficialVLASpec,
    fused_source_shape,
    map_name,
)

OUT_SHARD_BYTES = 2 << 30


@dataclass
class Shard:
    path: Path
    kind: str  # "safetensors" | "bin"


def find_shards(src: Path) -> list[Shard]:
    """The checkpoint's weight files, safetensors first (index, single), then .bin (index, single)."""
    for index, kind in (("model.safetensors.index.json", "safetensors"), ("pytorch_model.bin.index.json", "bin")):
        ip = src / index
        if ip.is_file():
            try:
                wm = json.loads(ip.read_text())["weight_map"]
                names = sorted(set(wm.values()))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
                raise CheckpointError(f"{ip}: not a valid weights index ({type(e).__name__}: {e})") from None
            shards = []
            for n in names:
                p = src / n
                if Path(n).is_absolute() or ".." in Path(n).parts:
                    raise CheckpointError(f"{ip}: shard name {n!r} points outside the checkpoint folder")
                if not p.is_file():
                    raise CheckpointError(f"{p}: shard listed in {ip.name} is missing")
                shards.append(Shard(p, kind))
            return shards
    for single, kind in (("model.safetensors", "safetensors"), ("pytorch_model.bin", "bin"), ("pytorch_model.pt", "bin")):
        if (src / single).is_file():
            return [Shard(src / single, kind)]
    raise CheckpointError(f"{src}: no weights found (model.safetensors[.index.json] or pytorch_model.bin[.index.json])")


def iter_tensors(shard: Shard) -> Iterator[tuple[str, Any]]:
    """(name, tensor) of one shard, lazily; CheckpointError naming the file when it is unreadable."""
    import torch

    if shard.kind == "safetensors":
        from safetensors import SafetensorError, safe_open

        try:
            f = safe_open(str(shard.path), framework="pt")
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"{shard.path}: not a readable safetensors file (truncated or corrupt?): {e}") from None
        with f:
            for k in f.keys():
                try:
                    t = f.get_tensor(k)
                except (SafetensorError, OSError, ValueError, RuntimeError) as e:
                    raise CheckpointError(f"{shard.path}: tensor {k!r} cannot be read (truncated or corrupt?): {e}") from None
                yield k, t
        return
    # .bin / .pt: never unpickle arbitrary objects -- weights_only refuses any global outside torch's allow-list
    if not zipfile.is_zipfile(shard.path):
        raise CheckpointError(f"{shard.path}: not a torch zip checkpoint (legacy or truncated file); "
                              "re-save it with torch.save or convert it to safetensors")
    try:
        sd = torch.load(str(shard.path), map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # noqa: BLE001 - pickle errors come in many types
        msg = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
        if "weights_only" in str(e) or "Unsupported global" in str(e) or "UnpicklingError" in type(e).__name__:
            raise CheckpointError(f"{shard.path}: refused to unpickle: the file holds objects other than tensors "
                                  f"(torch.load weights_only=True rejected it: {msg}). It may run code when loaded; "
                                  "only safetensors or plain tensor state dicts are accepted") from None
        raise CheckpointError(f"{shard.path}: cannot read the checkpoint (truncated or corrupt?): {msg}") from None
    if not isinstance(sd, dict):
        raise CheckpointError(f"{shard.path}: expected a state dict (name -> tensor), got {type(sd).__name__}")
    for k in list(sd):
        v = sd.pop(k)
        if not isinstance(v, torch.Tensor):
            raise CheckpointError(f"{shard.path}: entry {k!r} is a {type(v).__name__}, not a tensor")
        yield k, v


# ----------------------------------------------------------------------------- tokenizer


class _ShardWriter:
    """Collects converted tensors and writes them as output shards of about ``OUT_SHARD_BYTES`` each."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.weight_map: dict[str, str] = {}
        self.pending: dict[str, Any] = {}
        self.pending_bytes = 0
        self.total = 0
        self.names: list[str] = []

    def add(self, name: str, t: Any) -> None:
        self.pending[name] = t
        self.pending_bytes += t.numel() * t.element_size()
        if self.pending_bytes >= OUT_SHARD_BYTES:
            self.flush()

    def flush(self) -> None:
        from safetensors.torch import save_file

        if not self.pending:
            return
        name = f"model-{len(self.names) + 1:05d}.safetensors"
        save_file(self.pending, str(self.out_dir / name), metadata={"format": "pt"})
        for k in self.pending:
            self.weight_map[k] = name
        self.total += self.pending_bytes
        self.names.append(name)
        self.pending, self.pending_bytes = {}, 0

    def finish(self) -> dict[str, str]:
        """Rename to the transformers convention (model-0000i-of-0000n.safetensors) and write the index."""
        final: dict[str, str] = {}
        for i, n in enumerate(self.names, 1):
            new = f"model-{i:05d}-of-{len(self.names):05d}.safetensors"
            os.replace(self.out_dir / n, self.out_dir / new)
            final[n] = new
        weight_map = {k: final[v] for k, v in self.weight_map.items()}
        (self.out_dir / WEIGHTS_INDEX).write_text(
            json.dumps({"metadata": {"total_size": self.total}, "weight_map": weight_map}, indent=1))
        return weight_map


def _stream_weights(shards: list[Shard], spec: OfficialVLASpec, expected: dict[str, tuple[int, ...]], out_dir: Path,
                    dtype: Any, rename: Callable[[str], str], log: Callable[[str], None], progress: bool,
                    src: Path, pad_vocab_to: int | None = None) -> tuple[dict[str, str], int, list[str]]:
    """Read, map, check and write every tensor; returns (weight_map, bytes, dropped names)."""
    from tqdm import tqdm

    writer = _ShardWriter(out_dir)
    seen: dict[str, str] = {}
    dropped: list[str] = []
    bar = tqdm(total=sum(s.path.stat().st_size for s in shards), unit="B", unit_scale=True, desc="convert",
               disable=not progress, file=sys.stderr)
    for shard in shards:
        for name, tensor in iter_tensors(shard):
            for tname, part in _split_targets(shard, name, tensor, spec, dropped):
                if tname not in expected:
                    if tname == "lm_head.weight":  # Align engines do not need the LM head
                        dropped.append(name)
                        continue
                    raise CheckpointError(f"{shard.path}: tensor {name!r} is not expected by config.json "
                                          "(layer count or options differ from the weights)")
                if tuple(part.shape) != expected[tname]:
                    raise CheckpointError(f"{shard.path}: tensor {name!r} has shape {tuple(part.shape)}, config.json "
                                          f"implies {expected[tname]} (config and weights do not match)")
                if tname in seen:
                    raise CheckpointError(f"{shard.path}: tensor {name!r} also appears in {seen[tname]}")
                seen[tname] = str(shard.path.name)
                writer.add(rename(tname), _converted(shard, name, tname, part, dtype, pad_vocab_to))
        bar.update(shard.path.stat().st_size)
        writer.flush()  # never keep more than one input shard in memory
    bar.close()
    missing = [k for k in expected if k not in seen]
    if missing == ["lm_head.weight"] and spec.text.tie_word_embeddings:
        missing = []
    if missing:
        raise CheckpointError(f"{src}: {len(missing)} tensor(s) missing from the checkpoint, e.g. {missing[0]!r} "
                              f"(runtime name; files: {', '.join(s.path.name for s in shards)})")
    return writer.finish(), writer.total, dropped


def _split_targets(shard: Shard, name: str, tensor: Any, spec: OfficialVLASpec,
                   dropped: list[str]) -> list[tuple[str, Any]]:
    """(runtime name, tensor) pairs for one official tensor: none (dropped), one, or q/k/v of a fused qkv."""
    try:
        targets = map_name(name)
    except KeyError:
        raise CheckpointError(f"{shard.path}: unexpected tensor {name!r} (not part of the official BeingVLAModel "
                              "layout that config.json describes)") from None
    if targets is None:
        dropped.append(name)
        return []
    if len(targets) == 3:  # fused InternViT qkv -> q, k, v
        leaf = name.rsplit(".", 1)[-1]
        want = fused_source_shape(spec, leaf)
        if tuple(tensor.shape) != want:
            raise CheckpointError(f"{shard.path}: tensor {name!r} has shape {tuple(tensor.shape)}, config.json "
                                  f"implies {want} (config and weights do not match)")
        return list(zip(targets, tensor.chunk(3, dim=0)))
    return list(zip(targets, (tensor,)))


def _converted(shard: Shard, name: str, tname: str, part: Any, dtype: Any, pad_vocab_to: int | None) -> Any:
    """The tensor in the output dtype, finite, its vocabulary padded where post-training adds tokens."""
    t = part.to(dtype).contiguous()
    if not bool(t.isfinite().all()):
        raise CheckpointError(f"{shard.path}: tensor {name!r} holds NaN/Inf values")
    if pad_vocab_to and tname in ("vlm.language_model.embed_tokens.weight", "lm_head.weight") \
            and t.shape[0] < pad_vocab_to:  # room for the tokens post-training adds; mean-initialised
        import torch

        extra = t.float().mean(0, keepdim=True).expand(pad_vocab_to - t.shape[0], -1).to(dtype)
        t = torch.cat([t, extra], 0).contiguous()
    return t
