"""Being-H0 post-training model: frozen backbone + action queries + proprio token + MLP head.

Being-H0 (arXiv 2507.15597) post-trains for a robot by keeping the
pretrained VLA frozen and learning only a few modules that turn its last
hidden states into a whole action chunk in one forward pass:

    sequence = [chat prefix, <img>, image tokens, </img> + instruction + chat suffix,
                proprio token, action query 1 .. action query C]

- ``action_queries``: C learnable embeddings (one per chunk step) appended
  after the prompt; the LLM attends causally over image, instruction and
  proprio, and the hidden state at query k predicts step k.
- ``proprio_proj``: MLP (P -> H -> H) making one token from the normalised
  proprioception, injected at its own position before the queries.
- ``action_head``: Linear-ReLU-Linear on each query's hidden state -> A dims
  (normalised actions).
- loss: L1 on normalised actions (Being-H0 default), or L2 / smooth-L1.

Actions and proprio are normalised per dimension with statistics stored in
the model (``action_mean/std``, ``proprio_mean/std`` buffers) so that a
checkpoint, its ONNX export and the engine manifest carry the same numbers.
The model's ``forward`` works on normalised tensors; ``predict`` takes raw
proprio and returns raw actions.

The graph contains no data-dependent indexing: embeddings are concatenated
and the causal mask is built explicitly (4-D additive mask), which keeps it
exportable to ONNX/TensorRT with dynamic tile count and instruction length.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ..preprocess import PROMPT_PREFIX, PROMPT_SUFFIX
from .posttrain_config import PostTrainConfig
from .vla import BeingH0Model, build_being_h0
from .vla_config import BeingH0Config

HEADS_FILE = "heads.safetensors"
BACKBONE_DIR = "backbone"
STD_FLOOR = 1e-3


@dataclass
class NormStats:
    """Per-dimension normalisation statistics (raw = norm * std + mean)."""

    action_mean: np.ndarray
    action_std: np.ndarray
    proprio_mean: np.ndarray
    proprio_std: np.ndarray

    @classmethod
    def identity(cls, action_dim: int, proprio_dim: int) -> NormStats:
        return cls(np.zeros(action_dim, np.float32), np.ones(action_dim, np.float32),
                   np.zeros(proprio_dim, np.float32), np.ones(proprio_dim, np.float32))

    @classmethod
    def from_arrays(cls, actions: np.ndarray, proprio: np.ndarray, floor: float = STD_FLOOR) -> NormStats:
        """Mean/std over rows of (N, A) actions and (N, P) proprio; std floored at ``floor``."""
        a = np.asarray(actions, np.float64)
        p = np.asarray(proprio, np.float64)
        return cls(a.mean(0).astype(np.float32), np.maximum(a.std(0), floor).astype(np.float32),
                   p.mean(0).astype(np.float32), np.maximum(p.std(0), floor).astype(np.float32))

    def to_dict(self) -> dict[str, list[float]]:
        return {k: [float(x) for x in getattr(self, k)] for k in ("action_mean", "action_std", "proprio_mean", "proprio_std")}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NormStats:
        return cls(**{k: np.asarray(d[k], np.float32) for k in ("action_mean", "action_std", "proprio_mean", "proprio_std")})


def _mlp(i: int, hidden: int, o: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(i, hidden), nn.ReLU(), nn.Linear(hidden, o))


def build_backbone(cfg: PostTrainConfig) -> BeingH0Model:
    """The backbone named by ``cfg.backbone``: a preset (random init, seeded) or a local directory."""
    if Path(cfg.backbone).is_dir():
        return BeingH0Model.from_pretrained(cfg.backbone)
    return build_being_h0(BeingH0Config.preset(cfg.backbone), seed=cfg.backbone_seed)


class PostTrainModel(nn.Module):
    """See the module docstring. ``forward`` -> (B, chunk_len, action_dim) normalised actions."""

    def __init__(self, cfg: PostTrainConfig, backbone: BeingH0Model, stats: NormStats | None = None) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.backbone = backbone
        h = backbone.hidden_size
        self.action_queries = nn.Parameter(torch.randn(cfg.chunk_len, h) * 0.02)
        self.proprio_proj = _mlp(cfg.proprio_dim, cfg.proprio_hidden, h)
        self.action_head = _mlp(h, cfg.head_hidden, cfg.action_dim)
        stats = stats or NormStats.identity(cfg.action_dim, cfg.proprio_dim)
        for k, v in stats.to_dict().items():
            self.register_buffer(k, torch.tensor(v, dtype=torch.float32))
        enc = backbone.tokenizer.backend_tokenizer
        prefix = enc.encode(PROMPT_PREFIX, add_special_tokens=False).ids
        self.register_buffer("prefix_ids", torch.tensor([prefix], dtype=torch.long), persistent=False)
        self._lora = False
        self.set_train_mode(cfg.train_mode)

    # ----- configuration ------------------------------------------------------
    @property
    def image_size(self) -> int:
        return self.backbone.image_size

    @property
    def max_tiles(self) -> int:
        return self.cfg.max_tiles or self.backbone.config.max_dynamic_tiles

    @property
    def use_thumbnail(self) -> bool:
        return self.backbone.config.use_thumbnail if self.cfg.use_thumbnail is None else self.cfg.use_thumbnail

    @property
    def prompt_suffix(self) -> str:
        return PROMPT_SUFFIX

    def set_train_mode(self, mode: str) -> None:
        """Freeze per ``mode``; the vision tower and projector stay frozen unless mode is "full"."""
        for p in self.backbone.parameters():
            p.requires_grad_(mode == "full")
        if mode == "llm":
            for p in self.backbone.language_model.parameters():
                p.requires_grad_(True)
        elif mode == "lora":
            self._inject_lora()
        for m in (self.proprio_proj, self.action_head):
            for p in m.parameters():
                p.requires_grad_(True)
        self.action_queries.requires_grad_(True)

    def _inject_lora(self) -> None:
        if self._lora:
            return
        from peft import LoraConfig, inject_adapter_in_model

        c = self.cfg
        lcfg = LoraConfig(r=c.lora_r, lora_alpha=c.lora_alpha, lora_dropout=c.lora_dropout,
                          target_modules=list(c.lora_targets))
        inject_adapter_in_model(lcfg, self.backbone.language_model)
        for n, p in self.backbone.language_model.named_parameters():
            p.requires_grad_("lora_" in n)
        self._lora = True

    def merge_lora(self) -> None:
        """Fold LoRA deltas into the base weights and remove the adapter modules (for save/export)."""
        if not self._lora:
            return
        from peft.tuners.lora import LoraLayer

        lm = self.backbone.language_model
        for name, mod in list(lm.named_modules()):
            if isinstance(mod, LoraLayer):
                mod.merge()
                parent_name, _, child = name.rpartition(".")
                parent = lm.get_submodule(parent_name) if parent_name else lm
                setattr(parent, child, mod.get_base_layer())
        self._lora = False

    @property
    def stats(self) -> NormStats:
        return NormStats(*(getattr(self, k).detach().cpu().numpy().copy()
                           for k in ("action_mean", "action_std", "proprio_mean", "proprio_std")))

    def set_stats(self, stats: NormStats) -> None:
        for k, v in stats.to_dict().items():
            getattr(self, k).copy_(torch.tensor(v, dtype=torch.float32))

    # ----- forward --------------------------------------------------------------
    def forward(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        proprio: torch.Tensor,
        text_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One chunk per sample.

        pixel_values (B, T, 3, S, S) normalised tiles; input_ids (B, L) prompt
        suffix ids (instruction inside); proprio (B, P) normalised; text_mask
        (B, L) with 1 for real and 0 for padded suffix tokens (None: no pad).
        Returns (B, chunk_len, action_dim) normalised actions.
        """
        bb = self.backbone
        b, t = pixel_values.shape[0], pixel_values.shape[1]
        dtype = bb.get_input_embeddings().weight.dtype
        img = bb.embed_images(pixel_values.reshape(b * t, *pixel_values.shape[2:]))
        img = img.reshape(b, -1, img.shape[-1]).to(dtype)
        pre = bb.embed_tokens(self.prefix_ids).expand(b, -1, -1)
        txt = bb.embed_tokens(input_ids)
        prop = self.proprio_proj(proprio.to(self.action_queries.dtype)).unsqueeze(1).to(dtype)
        q = self.action_queries.to(dtype).unsqueeze(0).expand(b, -1, -1)
        x = torch.cat([pre, img, txt, prop, q], dim=1)
        seq = x.shape[1]
        if text_mask is None:
            pos = torch.arange(seq, device=x.device).unsqueeze(0).expand(b, -1)
            keep = None
        else:
            n_before = pre.shape[1] + img.shape[1]
            ones_a = torch.ones(b, n_before, dtype=torch.long, device=x.device)
            ones_b = torch.ones(b, 1 + q.shape[1], dtype=torch.long, device=x.device)
            keep = torch.cat([ones_a, text_mask.long(), ones_b], dim=1)
            pos = (keep.cumsum(-1) - 1).clamp_min(0)
        mask = self._causal_mask(seq, keep, x)
        hidden = bb.llm_hidden_states(x, attention_mask=mask, position_ids=pos)
        hq = hidden[:, -self.cfg.chunk_len:].to(self.action_queries.dtype)
        return self.action_head(hq)

    @staticmethod
    def _causal_mask(seq: int, keep: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        """Additive (B|1, 1, L, L) mask: causal, and padded keys hidden."""
        i = torch.arange(seq, device=x.device)
        allowed = (i.unsqueeze(0) <= i.unsqueeze(1)).unsqueeze(0).unsqueeze(0)  # (1,1,L,L)
        if keep is not None:
            allowed = allowed & keep.bool()[:, None, None, :]
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        neg = torch.full((), torch.finfo(x.dtype).min, dtype=x.dtype, device=x.device)
        return torch.where(allowed, zero, neg)

    # ----- losses / raw-unit helpers ---------------------------------------------
    def normalize_proprio(self, proprio: torch.Tensor) -> torch.Tensor:
        return (proprio - self.proprio_mean) / self.proprio_std

    def normalize_actions(self, actions: torch.Tensor) -> torch.Tensor:
        return (actions - self.action_mean) / self.action_std

    def denormalize_actions(self, actions: torch.Tensor) -> torch.Tensor:
        return actions * self.action_std + self.action_mean

    def loss(self, pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """Chunk loss on normalised actions; ``valid`` (B, C) masks steps past an episode's end."""
        kind = self.cfg.loss
        if kind == "l1":
            err = (pred - target).abs()
        elif kind == "l2":
            err = (pred - target) ** 2
        else:
            err = F.smooth_l1_loss(pred, target, reduction="none", beta=self.cfg.smooth_l1_beta)
        if valid is None:
            return err.mean()
        w = valid.to(err.dtype).unsqueeze(-1).expand_as(err)
        return (err * w).sum() / w.sum().clamp_min(1.0)

    @torch.no_grad()
    def predict(self, pixel_values: torch.Tensor, input_ids: torch.Tensor, proprio_raw: torch.Tensor,
                text_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Raw proprio in, raw actions (B, C, A) out."""
        out = self(pixel_values, input_ids, self.normalize_proprio(proprio_raw), text_mask)
        return self.denormalize_actions(out)

    # ----- parameters / persistence -----------------------------------------------
    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Trainable parameters + normalisation buffers (what a resume checkpoint stores)."""
        sd = {n: p.detach() for n, p in self.named_parameters() if p.requires_grad}
        for k in ("action_mean", "action_std", "proprio_mean", "proprio_std"):
            sd[k] = getattr(self, k)
        return {k: v.contiguous().cpu() for k, v in sd.items()}

    def load_trainable_state_dict(self, sd: dict[str, torch.Tensor]) -> None:
        own = dict(self.named_parameters())
        own.update({k: getattr(self, k) for k in ("action_mean", "action_std", "proprio_mean", "proprio_std")})
        missing = [k for k, p in own.items() if (getattr(p, "requires_grad", False) or k in sd) and k not in sd]
        unknown = [k for k in sd if k not in own]
        if unknown or missing:
            raise ValueError(f"checkpoint mismatch: unknown {unknown[:5]}, missing {missing[:5]}")
        with torch.no_grad():
            for k, v in sd.items():
                own[k].copy_(v.to(own[k].dtype))

    def head_state_dict(self) -> dict[str, torch.Tensor]:
        sd = {k: v for k, v in self.state_dict().items() if not k.startswith("backbone.")}
        return {k: v.contiguous().cpu() for k, v in sd.items()}

    def save_pretrained(self, directory: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Self-contained directory: posttrain_config.json, heads.safetensors, backbone/ (LoRA merged)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.merge_lora()
        cfg = self.cfg.replace(backbone=BACKBONE_DIR, train_mode="frozen" if self.cfg.train_mode == "lora" else self.cfg.train_mode)
        cfg.save(d)
        save_file(self.head_state_dict(), str(d / HEADS_FILE))
        self.backbone.save_pretrained(d / BACKBONE_DIR)
        (d / "norm_stats.json").write_text(json.dumps(self.stats.to_dict(), indent=2))
        if extra:
            (d / "training.json").write_text(json.dumps(extra, indent=2, default=str))
        return d

    @classmethod
    def from_pretrained(cls, directory: str | Path, dtype: torch.dtype | None = None) -> PostTrainModel:
        d = Path(directory)
        cfg = PostTrainConfig.load(d)
        bdir = d / cfg.backbone if not Path(cfg.backbone).is_absolute() else Path(cfg.backbone)
        backbone = BeingH0Model.from_pretrained(bdir, torch_dtype=dtype)
        model = cls(cfg.replace(backbone=str(bdir), train_mode="frozen"), backbone)
        sd = load_file(str(d / HEADS_FILE))
        missing, unexpected = model.load_state_dict(sd, strict=False)
        missing = [k for k in missing if not k.startswith("backbone.")]
        if missing or unexpected:
            raise ValueError(f"{d / HEADS_FILE}: missing {missing}, unexpected {unexpected}")
        return model.eval()


def build_posttrain_model(cfg: PostTrainConfig, stats: NormStats | None = None, seed: int = 0) -> PostTrainModel:
    """Backbone from ``cfg.backbone`` + freshly initialised heads (seeded)."""
    backbone = build_backbone(cfg.validate())
    torch.manual_seed(seed)
    return PostTrainModel(cfg, backbone, stats)
