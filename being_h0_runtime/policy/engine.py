"""The engine-backed ``Policy``: an engine folder loaded on a backend.

``load_engine_policy(dir, backend, device, expected_names)`` validates the
directory (``engine_format.verify_engine_dir``) and returns an ``EnginePolicy``.
A model file the backend cannot load is refused with a ``ConfigError`` too.
The graph outputs *normalised* actions; this module (de)normalises with the
manifest's statistics, so every backend shares one code path for units.
Nothing here imports torch unless the torch or TensorRT backend is chosen.

The folder format itself (``EngineManifest`` and friends) lives in
``engine_format`` so that the backends and the training package's exporter can
import it without importing this module; its names are re-exported here for
the callers that always imported them from ``policy.engine``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ConfigError
from .backends import create_backend, cuda_available, pick_backend
from .base import Policy, PolicyError
from .engine_format import (  # noqa: F401 - re-exported: the engine folder format's public names
    BACKEND_NAMES,
    FORMAT_VERSION,
    MANIFEST_FILE,
    PARITY_FILE,
    SUPPORTED_FORMAT_VERSIONS,
    BackendEntries,
    DType,
    EngineManifest,
    ExecutionAdvice,
    ExecutionEvidence,
    ImageSpec,
    OnnxEntry,
    ParitySummary,
    PromptSpec,
    ProprioSpec,
    TensorRTEntry,
    TensorSpec,
    TorchEntry,
    read_manifest,
    sha256_file,
    verify_engine_dir,
    write_execution_advice,
)
from .preprocess import PromptEncoder, TilePreprocessor
from .spec import Observation


# ----------------------------------------------------------------------------- policy
class EnginePolicy(Policy):
    """Pre-process -> backend -> de-normalise. Thread-compatible, not thread-safe."""

    def __init__(self, manifest: EngineManifest, engine_dir: Path, backend: Any) -> None:
        self.manifest = manifest
        self.engine_dir = engine_dir
        self.backend = backend
        self.spec = manifest.action_spec
        self.engine_id = manifest.engine_id
        im = manifest.image
        self.tiles = TilePreprocessor(im.size, im.max_tiles, im.use_thumbnail, tuple(im.mean), tuple(im.std), im.resize)
        self.prompt = PromptEncoder(engine_dir / manifest.prompt.tokenizer_file, manifest.prompt.suffix,
                                    add_special_tokens=manifest.prompt.add_special_tokens)
        self._a_mean = np.asarray(self.spec.mean, np.float32)
        self._a_std = np.asarray(self.spec.std, np.float32)
        self._p_mean = np.asarray(manifest.proprio.mean, np.float32)
        self._p_std = np.asarray(manifest.proprio.std, np.float32)
        self._proprio_names = list(manifest.proprio.names)
        self._order_cache: tuple[tuple[str, ...], np.ndarray] | None = None
        self.last_timings: dict[str, float] = {}

    @property
    def backend_name(self) -> str:
        return str(getattr(self.backend, "name", type(self.backend).__name__))

    def _proprio(self, obs: Observation) -> np.ndarray:
        names = tuple(obs.proprio_names)
        if self._order_cache is None or self._order_cache[0] != names:
            missing = [n for n in self._proprio_names if n not in names]
            if missing:
                raise PolicyError(f"engine {self.engine_id} needs proprio {missing}; observation has {list(names)}")
            self._order_cache = (names, np.asarray([names.index(n) for n in self._proprio_names]))
        q = np.asarray(obs.proprio, np.float32)[self._order_cache[1]]
        return ((q - self._p_mean) / self._p_std)[None].astype(np.float32)

    def prepare(self, obs: Observation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Observation -> (pixel_values (T,3,S,S), input_ids (1,L), proprio (1,P) normalised)."""
        if obs.image is None:
            raise PolicyError(f"engine {self.engine_id} needs a camera image; observation has none")
        return self.tiles(obs.image), self.prompt(obs.instruction), self._proprio(obs)

    def infer(self, obs: Observation) -> np.ndarray:
        t0 = time.perf_counter()
        pv, ids, pr = self.prepare(obs)
        t1 = time.perf_counter()
        out = np.asarray(self.backend.run(pv, ids, pr), dtype=np.float32)
        t2 = time.perf_counter()
        if out.shape != (1, self.spec.chunk_len, self.spec.dims):
            raise PolicyError(f"engine {self.engine_id}: backend returned {out.shape}, "
                              f"expected (1, {self.spec.chunk_len}, {self.spec.dims})")
        if not np.all(np.isfinite(out)):
            raise PolicyError(f"engine {self.engine_id}: backend returned non-finite actions")
        acts = out[0] * self._a_std + self._a_mean if self.manifest.output_normalized else out[0]
        self.last_timings = {"preprocess_s": t1 - t0, "model_s": t2 - t1}
        return acts.astype(np.float32, copy=False)

    def dummy_observation(self, instruction: str = "warm up") -> Observation:
        hw = self.manifest.image.warmup_hw or [self.manifest.image.size, self.manifest.image.size]
        img = np.full((hw[0], hw[1], 3), 127, np.uint8)
        return Observation(stamp=0.0, proprio=np.asarray(self._p_mean, np.float64), proprio_names=self._proprio_names,
                           instruction=instruction, image=img)

    def warmup(self, iterations: int = 3, obs: Observation | None = None) -> None:
        """Run a few inferences (allocations, autotuning, graph capture) before the first real cycle."""
        ob = obs or self.dummy_observation()
        for _ in range(max(1, iterations)):
            self.infer(ob)


def resolve_device(device: str) -> str:
    if device in ("cpu", "cuda"):
        return device
    if device != "auto":
        raise ConfigError(f"device: {device!r} is not one of auto, cpu, cuda")
    return "cuda" if cuda_available() else "cpu"


def load_engine_policy(
    engine_dir: str | Path,
    backend: str = "auto",
    device: str = "auto",
    expected_names: list[str] | tuple[str, ...] | None = None,
    check_checksums: bool = True,
    **backend_options: Any,
) -> EnginePolicy:
    """Validate ``engine_dir`` and load it with ``backend`` on ``device``.

    backend "auto" picks TensorRT (CUDA, manifest has a plan, tensorrt
    importable) > ONNX Runtime > PyTorch. ``backend_options`` go to the
    backend (e.g. ``compile=True`` for torch, ``intra_op_threads`` for ORT).
    """
    d = Path(engine_dir)
    m = verify_engine_dir(d, expected_names, check_checksums)
    dev = resolve_device(device)
    name = pick_backend(m, backend, dev, d)
    be = create_backend(name, m, d, dev, **backend_options)
    return EnginePolicy(m, d, be)
