"""The model, its inputs, parity against fp32 and one runner per execution path (torch, CUDA graph, engine)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from being_h0_runtime.rig import JOINT_NAMES as ACTION_NAMES  # noqa: F401 - the 13-D layout; rig needs no pydantic

#: minimum cosine similarity against fp32 for a row to count as "parity ok"
PARITY_MIN_COSINE = {"fp32": 0.9999, "bf16": 0.99, "fp16": 0.99}


# --------------------------------------------------------------------------- model and inputs
def build_model(preset: str, device: str, chunk_len: int) -> Any:
    """The post-training model (backbone + 16 action queries + heads), random weights, fp32 on ``device``."""
    import torch

    from being_h0_runtime.policy.models.posttrain import build_posttrain_model
    from being_h0_runtime.policy.models.posttrain_config import PostTrainConfig

    cfg = PostTrainConfig(backbone=preset, action_names=ACTION_NAMES, proprio_names=ACTION_NAMES,
                          chunk_len=chunk_len, max_tiles=1, use_thumbnail=False)
    with torch.device(device):  # initialise on the GPU: a 1B model on CPU first costs a minute
        model = build_posttrain_model(cfg)
    return model.float().eval()


def make_inputs(model: Any, seed: int = 0) -> dict[str, np.ndarray]:
    """One camera tile (normalised), the instruction's prompt ids and a proprio vector, as the engine takes them."""
    from being_h0_runtime.policy.preprocess import PromptEncoder, TilePreprocessor

    rng = np.random.default_rng(seed)
    s = model.image_size
    tiles = TilePreprocessor(s, 1, False)
    prompt = PromptEncoder(model.backbone.tokenizer.backend_tokenizer, model.prompt_suffix)
    image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    return {"pixel_values": tiles(image), "input_ids": np.array(prompt("pick up the toy and put it in the box")),
            "proprio": rng.standard_normal((1, model.cfg.proprio_dim)).astype(np.float32)}


def parity(ref: np.ndarray, got: np.ndarray, precision: str) -> tuple[dict[str, float], bool]:
    a, b = ref.astype(np.float64).ravel(), got.astype(np.float64).ravel()
    d = np.abs(a - b)
    cos = float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))
    ref_max = float(np.abs(a).max())
    out = {"max_abs_err": float(d.max()), "mean_abs_err": float(d.mean()), "rel_max_err": float(d.max() / max(ref_max, 1e-12)),
           "cosine": cos, "ref_abs_max": ref_max}
    return out, bool(np.all(np.isfinite(b)) and cos >= PARITY_MIN_COSINE[precision])


# --------------------------------------------------------------------------- the rows
def torch_runner(model: Any, inputs: dict[str, np.ndarray], device: str, dtype: Any) -> Callable[[], np.ndarray]:
    import torch

    pv = torch.from_numpy(inputs["pixel_values"]).unsqueeze(0)
    ids = torch.from_numpy(inputs["input_ids"])
    pr = torch.from_numpy(inputs["proprio"])
    if device == "cuda":
        pv, ids, pr = pv.pin_memory(), ids.pin_memory(), pr.pin_memory()

    def call() -> np.ndarray:
        with torch.inference_mode():
            out = model(pv.to(device, non_blocking=True).to(dtype), ids.to(device, non_blocking=True),
                        pr.to(device, non_blocking=True))
            return out.float().cpu().numpy()

    return call


def cuda_graph_runner(model: Any, inputs: dict[str, np.ndarray], dtype: Any) -> Callable[[], np.ndarray]:
    """Capture the forward once on static buffers; each call copies the inputs in and replays."""
    import torch

    host = {"pv": torch.from_numpy(inputs["pixel_values"]).unsqueeze(0).to(dtype).pin_memory(),
            "ids": torch.from_numpy(inputs["input_ids"]).pin_memory(),
            "pr": torch.from_numpy(inputs["proprio"]).pin_memory()}
    static = {k: v.cuda() for k, v in host.items()}
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side), torch.inference_mode():
        for _ in range(3):  # warm-up outside the graph (allocator, cuBLAS handles)
            model(static["pv"], static["ids"], static["pr"])
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.inference_mode(), torch.cuda.graph(graph):
        static_out = model(static["pv"], static["ids"], static["pr"])

    def call() -> np.ndarray:
        for k, buf in static.items():
            buf.copy_(host[k], non_blocking=True)
        graph.replay()
        return static_out.float().cpu().numpy()

    return call


def engine_runner(model: Any, backend: str, device: str, tmp: Path, opts: dict[str, Any]) -> tuple[Any, Callable]:
    """Export ``model`` to an engine directory and load it with ``backend``; returns (policy, run(inputs))."""
    from being_h0_runtime.policy.engine import load_engine_policy
    from being_h0_train.export import ExportOptions, build_engine

    eng = tmp / f"engine-{backend}"
    build_engine(model, eng, ExportOptions(require_parity=False, force=True, **opts), log=lambda *_: None)
    pol = load_engine_policy(eng, backend=backend, device=device, check_checksums=False)
    return pol, lambda x: np.asarray(pol.backend.run(x["pixel_values"], x["input_ids"], x["proprio"]))
