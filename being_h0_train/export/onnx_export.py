"""ONNX export of the whole Being-H0 post-training inference graph, and its parity check.

One graph: vision encoder + projector, LLM prefill over
[chat prefix, image tokens, instruction, proprio token, action queries], and
the action head. Inputs (batch 1, the control loop's shape):

- ``pixel_values`` (tiles, 3, S, S) float32 - dynamic ``tiles`` (InternVL tiling)
- ``input_ids``    (1, text_len) int64     - dynamic ``text_len`` (instruction)
- ``proprio``      (1, P) float32          - normalised proprioception

Output ``actions`` (1, chunk_len, A) float32, normalised (the runtime
de-normalises with the manifest's statistics).

The legacy TorchScript exporter (``dynamo=False``) is used: it needs no
``onnxscript`` and, because the model builds its 4-D causal mask
explicitly, the traced graph has no shape-specialised mask logic.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from being_h0_runtime.policy.models.posttrain import PostTrainModel
from being_h0_runtime.policy.preprocess import PromptEncoder, TilePreprocessor

INPUT_NAMES = ("pixel_values", "input_ids", "proprio")
OUTPUT_NAME = "actions"
EXTERNAL_DATA_BYTES = 1_500_000_000  # beyond this the weights go to model.onnx.data (protobuf 2 GB limit)


class InferenceGraph(nn.Module):
    """Batch-1 view of ``PostTrainModel`` with the engine's input layout."""

    def __init__(self, model: PostTrainModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor, input_ids: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values.unsqueeze(0), input_ids, proprio)


@dataclass
class OnnxExportInfo:
    path: Path
    opset: int
    external_data: list[str] = field(default_factory=list)
    seconds: float = 0.0


def example_inputs(model: PostTrainModel, tiles: int = 1, text: str = "pick up the toy", seed: int = 0
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    s = model.image_size
    prompt = PromptEncoder(model.backbone.tokenizer.backend_tokenizer, model.prompt_suffix)
    ids = torch.from_numpy(np.array(prompt(text)))
    pv = torch.randn(tiles, 3, s, s, generator=g)
    pr = torch.randn(1, model.cfg.proprio_dim, generator=g)
    return pv, ids, pr


def export_onnx(model: PostTrainModel, path: str | Path, opset: int = 17) -> OnnxExportInfo:
    """Trace ``model`` to ``path`` with dynamic tiles / text_len; large models get one external data file."""
    import time

    import onnx

    t0 = time.monotonic()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    graph = InferenceGraph(model.eval())
    # trace with 2 tiles so no size-1 dimension gets specialised away
    args = example_inputs(model, tiles=2)
    nbytes = sum(p.numel() * p.element_size() for p in model.parameters())
    with tempfile.TemporaryDirectory(prefix="being_h0_onnx_") as tmp:
        raw = Path(tmp) / "model.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph, args, str(raw), dynamo=False, opset_version=opset,
                input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
                dynamic_axes={"pixel_values": {0: "tiles"}, "input_ids": {1: "text_len"}},
                do_constant_folding=True,
            )
        external: list[str] = []
        if nbytes > EXTERNAL_DATA_BYTES or any(p.name != "model.onnx" for p in Path(tmp).iterdir()):
            proto = onnx.load(str(raw), load_external_data=True)
            data_name = path.name + ".data"
            onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                            location=data_name, size_threshold=1024)
            external = [data_name]
        else:
            shutil.copyfile(raw, path)
    onnx.checker.check_model(str(path))
    return OnnxExportInfo(path, opset, external, time.monotonic() - t0)


class OrtCpuRunner:
    """An exported graph on ONNX Runtime's CPU provider, called as the engine backends are: the parity reference run."""

    def __init__(self, path: str | Path) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(self, pv: np.ndarray, ids: np.ndarray, pr: np.ndarray) -> np.ndarray:
        return self.session.run([OUTPUT_NAME], {"pixel_values": pv, "input_ids": ids, "proprio": pr})[0]


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 and nb == 0:
        return 1.0
    return float(a @ b / max(na * nb, 1e-30))


def parity_cases(model: PostTrainModel, seed: int = 0) -> list[dict[str, Any]]:
    """Camera-like images with 1 tile and the most tiles, short and long instructions."""
    rng = np.random.default_rng(seed)
    s = model.image_size
    tiles = TilePreprocessor(s, model.max_tiles, model.use_thumbnail)
    prompt = PromptEncoder(model.backbone.tokenizer.backend_tokenizer, model.prompt_suffix)
    shapes = [(s, s)]
    if model.max_tiles > 1:
        shapes.append((s, s * model.max_tiles))  # widest grid the tiling allows
    texts = ["pick", "pick up the toy and put it in the box, then open the drawer slowly"]
    cases = []
    for (h, w) in shapes:
        for text in texts:
            img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            cases.append({"image_hw": [h, w], "instruction": text, "pixel_values": tiles(img),
                          "input_ids": np.array(prompt(text)),
                          "proprio": rng.standard_normal((1, model.cfg.proprio_dim)).astype(np.float32)})
    return cases


def compare(ref: np.ndarray, got: np.ndarray) -> dict[str, float]:
    d = np.abs(ref.astype(np.float64) - got.astype(np.float64))
    return {"max_abs_err": float(d.max()), "mean_abs_err": float(d.mean()), "cosine": _cos(ref, got),
            "ref_abs_max": float(np.abs(ref).max())}


def check_parity(model: PostTrainModel, runners: dict[str, Any], atol: float = 1e-4, min_cosine: float = 0.9999,
                 seed: int = 0) -> dict[str, Any]:
    """Run every case through PyTorch and each runner (``run(pv, ids, proprio)``); report errors."""
    cases = parity_cases(model, seed)
    report: dict[str, Any] = {"reference": "pytorch float32 eager (PostTrainModel)", "atol": atol,
                              "min_cosine_required": min_cosine, "output": "normalised actions", "backends": {}}
    with torch.no_grad():
        refs = [InferenceGraph(model.eval())(torch.from_numpy(c["pixel_values"]), torch.from_numpy(c["input_ids"]),
                                             torch.from_numpy(c["proprio"])).numpy() for c in cases]
    passed_all = True
    for name, runner in runners.items():
        rows = []
        for c, ref in zip(cases, refs):
            got = runner.run(c["pixel_values"], c["input_ids"], c["proprio"])
            row = {"image_hw": c["image_hw"], "tiles": int(c["pixel_values"].shape[0]),
                   "text_len": int(c["input_ids"].shape[1]), **compare(ref, got)}
            rows.append(row)
        worst = max(r["max_abs_err"] for r in rows)
        cos = min(r["cosine"] for r in rows)
        ok = bool(worst <= atol and cos >= min_cosine and all(math.isfinite(r["max_abs_err"]) for r in rows))
        passed_all &= ok
        report["backends"][name] = {"passed": ok, "max_abs_err": worst, "min_cosine": cos, "cases": rows}
    report["passed"] = passed_all
    return report
