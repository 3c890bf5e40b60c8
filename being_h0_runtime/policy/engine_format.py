"""The engine folder format: ``manifest.json``'s schema and the directory checks.

An engine is a directory written by ``python -m being_h0_train.export``::

    manifest.json        ``EngineManifest`` (format version, engine id,
                         I/O names/shapes/dtypes, action spec + normalisation,
                         proprio names + normalisation, image/tiling settings,
                         prompt template, versions, training settings, sha256 of
                         every file; optionally the recommended chunk executor
                         and its evidence, ``execution``)
    model.onnx           whole inference graph (vision + projector + LLM prefill
                         over image/instruction/proprio/query tokens + action head)
    model.plan           optional TensorRT engine built from model.onnx on the target GPU
    torch/               optional post-training checkpoint for the PyTorch backend
    tokenizer/           tokenizer files (tokenizer.json used by the runtime)
    parity_report.json   ONNX Runtime (and TensorRT) vs PyTorch parity

This module is the contract between the training package (which writes engine
folders) and the runtime (which reads them): both import it, and it imports
neither the backends nor the engine-backed policy, so no import cycle can form
through it. ``verify_engine_dir`` refuses a bad folder with a ``ConfigError``
naming the file and the field: unsupported format version, schema errors, a
file listed in the manifest that is missing, a checksum mismatch, or an action
spec lacking what the rig expects.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import Field, model_validator

from ..config import ConfigError, StrictModel, validate_model
from .preprocess import IMAGENET_MEAN, IMAGENET_STD
from .spec import ActionSpec

MANIFEST_FILE = "manifest.json"
PARITY_FILE = "parity_report.json"
FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = (1,)
BACKEND_NAMES = ("tensorrt", "onnxruntime", "torch")
DType = Literal["float32", "float16", "bfloat16", "int64", "int32"]


class TensorSpec(StrictModel):
    name: str
    #: ints are fixed; strings name a dynamic axis ("tiles", "text_len")
    shape: list[int | str]
    dtype: DType


class ImageSpec(StrictModel):
    size: int = Field(gt=0)
    max_tiles: int = Field(ge=1)
    use_thumbnail: bool
    num_image_tokens: int = Field(gt=0)
    mean: list[float] = Field(default_factory=lambda: list(IMAGENET_MEAN), min_length=3, max_length=3)
    std: list[float] = Field(default_factory=lambda: list(IMAGENET_STD), min_length=3, max_length=3)
    #: "bilinear": float half-pixel bilinear (this project's engines); "pil_bicubic": PIL BICUBIC on the uint8
    #: image, as torchvision's Resize on PIL input (official Being-H0 checkpoints)
    resize: Literal["bilinear", "pil_bicubic"] = "bilinear"
    channel_order: Literal["RGB"] = "RGB"
    #: camera (height, width) used for warm-up / TensorRT opt profile; None = one tile
    warmup_hw: list[int] | None = None


class PromptSpec(StrictModel):
    prefix: str
    suffix: str
    tokenizer_file: str
    tokenizer_files: list[str] = Field(default_factory=list)
    #: tokenise like ``tokenizer(prompt)`` (post-processor specials added); official checkpoints
    add_special_tokens: bool = False

    @model_validator(mode="after")
    def _check(self) -> PromptSpec:
        if "{instruction}" not in self.suffix:
            raise ValueError("suffix must contain '{instruction}'")
        return self


class ProprioSpec(StrictModel):
    names: list[str] = Field(min_length=1)
    mean: list[float]
    std: list[float]

    @model_validator(mode="after")
    def _check(self) -> ProprioSpec:
        n = len(self.names)
        if len(self.mean) != n or len(self.std) != n:
            raise ValueError(f"mean/std need {n} entries (one per proprio name)")
        if min(self.std) <= 0:
            raise ValueError("std entries must be > 0")
        return self


class OnnxEntry(StrictModel):
    file: str
    opset: int
    external_data: list[str] = Field(default_factory=list)


class TorchEntry(StrictModel):
    dir: str
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"


class TensorRTEntry(StrictModel):
    file: str
    precision: Literal["fp32", "fp16", "bf16"]
    tensorrt_version: str
    device_name: str = ""
    #: input name -> [min, opt, max] shapes of the optimisation profile
    profile: dict[str, list[list[int]]] = Field(default_factory=dict)


class BackendEntries(StrictModel):
    onnxruntime: OnnxEntry | None = None
    torch: TorchEntry | None = None
    tensorrt: TensorRTEntry | None = None


class ParitySummary(StrictModel):
    file: str = PARITY_FILE
    passed: bool
    max_abs_err: float
    min_cosine: float
    atol: float


class ExecutionEvidence(StrictModel):
    """Where an execution recommendation came from: enough to rerun the measurement and read its figures."""

    #: the command that measured it (e.g. ``being-h0 bench strategies --latency-ms 100 400 --seeds 5``)
    command: str = Field(min_length=1)
    measured_utc: str = ""
    #: one line for people: what won and why
    summary: str = ""
    #: per measured setting (``"ensemble@100ms"``): success count, episodes, jerk, boundary step, task time
    figures: dict[str, dict[str, float]] = Field(default_factory=dict)


class ExecutionAdvice(StrictModel):
    """The chunk execution strategy this engine runs best with, and the measurement that says so.

    Arm/hand nodes whose launch profile does not pin an ``executor`` run this one
    (``launch.with_engine_execution``); a profile entry or ``--set`` that names one wins.
    """

    #: an executor name (policy/execution/: sync | async | ensemble | crossfade | rtc)
    recommended: str
    #: that executor's parameters (e.g. rtc's ``delay_window``)
    params: dict[str, Any] = Field(default_factory=dict)
    evidence: ExecutionEvidence

    @model_validator(mode="after")
    def _buildable(self) -> ExecutionAdvice:
        # built once here, so a typo fails when the manifest is read, not in an actuator's constructor
        from .execution import make_executor

        make_executor(self.recommended, **self.params)  # ValueError names the strategy and the choices
        return self


class EngineManifest(StrictModel):
    format_version: int
    engine_id: str = Field(min_length=1)
    created_utc: str = ""
    model: dict[str, Any] = Field(default_factory=dict)
    action_spec: ActionSpec
    proprio: ProprioSpec
    image: ImageSpec
    prompt: PromptSpec
    inputs: list[TensorSpec] = Field(min_length=1)
    outputs: list[TensorSpec] = Field(min_length=1)
    output_normalized: bool = True
    backends: BackendEntries
    files: dict[str, str] = Field(min_length=1)
    versions: dict[str, str] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict)
    parity: ParitySummary | None = None
    #: recommended chunk executor (written by ``being-h0 bench strategies --write-manifest``); None = no advice
    execution: ExecutionAdvice | None = None

    @model_validator(mode="after")
    def _check(self) -> EngineManifest:
        spec = self.action_spec
        if not spec.mean or not spec.std:
            raise ValueError("action_spec.mean and action_spec.std (normalisation) are required")
        out = self.outputs[0]
        if out.shape != [1, spec.chunk_len, spec.dims]:
            raise ValueError(f"outputs[0].shape {out.shape} != [1, chunk_len={spec.chunk_len}, dims={spec.dims}]")
        names = {t.name for t in self.inputs}
        if names != {"pixel_values", "input_ids", "proprio"}:
            raise ValueError(f"inputs must be pixel_values, input_ids, proprio; got {sorted(names)}")
        for path in self.files:
            pp = PurePosixPath(path)
            if pp.is_absolute() or ".." in pp.parts:
                raise ValueError(f"files: {path!r} must be a relative path inside the engine directory")
        if not any(getattr(self.backends, b) for b in BACKEND_NAMES):
            raise ValueError("backends: at least one of tensorrt, onnxruntime, torch is required")
        return self

    def referenced_files(self) -> dict[str, str]:
        """field -> file path for every file the runtime will open (must all be checksummed)."""
        refs = {"prompt.tokenizer_file": self.prompt.tokenizer_file}
        b = self.backends
        if b.onnxruntime:
            refs["backends.onnxruntime.file"] = b.onnxruntime.file
            for i, f in enumerate(b.onnxruntime.external_data):
                refs[f"backends.onnxruntime.external_data.{i}"] = f
        if b.tensorrt:
            refs["backends.tensorrt.file"] = b.tensorrt.file
        return refs


# ----------------------------------------------------------------------------- validation
def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_manifest(engine_dir: str | Path) -> EngineManifest:
    """Parse + schema-validate ``manifest.json`` (no file checks)."""
    d = Path(engine_dir)
    path = d / MANIFEST_FILE
    if not d.is_dir():
        raise ConfigError(f"{d}: engine directory not found")
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (not an engine directory)") from None
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    fv = raw.get("format_version")
    if fv not in SUPPORTED_FORMAT_VERSIONS:
        raise ConfigError(f"{path}: field 'format_version': unsupported value {fv!r} "
                          f"(this runtime reads {list(SUPPORTED_FORMAT_VERSIONS)}); re-export the engine")
    return validate_model(EngineManifest, raw, str(path))


#: how ``write_execution_advice`` appends the advice: always the manifest's last key, at the top level
_EXECUTION_ENTRY = ',\n  "execution": '


def manifest_identity_text(text: str) -> str:
    """The manifest's text without its ``execution`` advice: what identifies the engine (the bench keys results
    by its sha256). Advice says how to run an engine, not what it is: recording it must not turn the engine into
    a new one. A manifest without advice is its own identity, byte for byte; advice placed in a layout other than
    ``write_execution_advice``'s (a hand edit) leaves the whole text as the identity."""
    raw = json.loads(text)
    if not isinstance(raw, dict) or "execution" not in raw:
        return text
    at = text.rfind(_EXECUTION_ENTRY)
    if at < 0:
        return text
    try:
        _, end = json.JSONDecoder().raw_decode(text, at + len(_EXECUTION_ENTRY))
        base = text[:at] + text[end:]
        if json.loads(base) == {k: v for k, v in raw.items() if k != "execution"}:
            return base
    except ValueError:
        pass
    return text


def write_execution_advice(engine_dir: str | Path, advice: ExecutionAdvice) -> Path:
    """Set the manifest's ``execution`` block (replacing any), leaving every other byte as it was.

    The advice goes in as the last key, so the manifest without it - the engine's
    identity (``manifest_identity_text``) - is unchanged. The result is validated
    as a whole before anything is written, and written next to the manifest then
    renamed over it: a reader sees the old manifest or the new one, never half of
    one. ``manifest.json`` is not among its own ``files`` checksums, so the engine
    stays valid.
    """
    d = Path(engine_dir)
    path = d / MANIFEST_FILE
    read_manifest(d)  # the engine must be valid before we touch it (ConfigError names the problem)
    base = manifest_identity_text(path.read_text())
    base_raw = json.loads(base)
    if "execution" in base_raw:  # advice laid out by hand: rewrite the rest in the exporter's layout
        base_raw.pop("execution")
        base = json.dumps(base_raw, indent=2)
    cut = len(base[:base.rstrip().rfind("}")].rstrip())  # just after the last value of the top-level object
    block = json.dumps(advice.model_dump(mode="json"), indent=2).replace("\n", "\n  ")
    text = base[:cut] + _EXECUTION_ENTRY + block + base[cut:]
    validate_model(EngineManifest, json.loads(text), str(path))
    if manifest_identity_text(text) != base:
        raise AssertionError(f"{path}: writing the advice would change the engine's identity")  # a bug here, not input
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def verify_engine_dir(
    engine_dir: str | Path,
    expected_names: list[str] | tuple[str, ...] | None = None,
    check_checksums: bool = True,
) -> EngineManifest:
    """Validate an engine directory; raise ``ConfigError`` naming file and field on any problem."""
    d = Path(engine_dir)
    m = read_manifest(d)
    mpath = d / MANIFEST_FILE
    for field, rel in m.referenced_files().items():
        if rel not in m.files:
            raise ConfigError(f"{mpath}: field '{field}': {rel!r} is not listed in 'files' (no checksum)")
    if m.backends.torch:
        tdir = m.backends.torch.dir.rstrip("/") + "/"
        if not any(f.startswith(tdir) for f in m.files):
            raise ConfigError(f"{mpath}: field 'backends.torch.dir': no files under {tdir!r} are listed in 'files'")
    for rel, digest in m.files.items():
        p = d / rel
        if not p.is_file():
            raise ConfigError(f"{p}: missing (listed in {mpath} field 'files')")
        if check_checksums:
            got = sha256_file(p)
            if got != digest:
                raise ConfigError(f"{p}: sha256 mismatch (manifest {mpath} field 'files.{rel}' says {digest[:16]}..., "
                                  f"file has {got[:16]}...); the engine is corrupt or was modified")
    if expected_names is not None:
        missing = [n for n in expected_names if n not in m.action_spec.names]
        if missing:
            raise ConfigError(f"{mpath}: field 'action_spec.names': engine produces {m.action_spec.names} "
                              f"but the rig expects {list(expected_names)} (missing {missing})")
    return m
