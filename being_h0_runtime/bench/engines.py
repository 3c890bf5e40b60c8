"""What a benchmark trial runs: the scripted expert or an engine folder, identified by id and manifest checksum."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXPERT_ID = "scripted-expert"
#: `--engine` value meaning "the engine the launch profile's inference node runs"
PROFILE_ENGINE = "default"


@dataclass(frozen=True)
class EngineRef:
    """What a trial ran: id + checksum identify it in the results; policy is the inference override."""

    engine_id: str
    sha256: str
    path: str
    policy: dict[str, Any]
    #: what people call it: the engine directory's name (``being-h0-sim-small``)
    name: str = ""

    @property
    def label(self) -> str:
        return engine_label(self.name or self.engine_id, self.sha256)


def resolve_engine(spec: str, backend: str = "auto") -> EngineRef:
    """'expert' (the scripted virtual-rig expert) or an engine directory with manifest.json."""
    if spec == "expert":
        return EngineRef(EXPERT_ID, EXPERT_ID, "expert", {"kind": "expert"}, EXPERT_ID)
    from ..policy.engine_format import (
        MANIFEST_FILE,
        manifest_identity_text,
        read_manifest,
    )

    d = Path(spec).resolve()
    manifest = read_manifest(d)  # ConfigError names the file/field
    # the manifest without its `execution` advice: recording which executor to run keeps the engine's results
    text = (d / MANIFEST_FILE).read_bytes().decode("utf-8")
    sha = hashlib.sha256(manifest_identity_text(text).encode("utf-8")).hexdigest()
    return EngineRef(manifest.engine_id, sha, str(d), {"kind": "engine", "engine_dir": str(d), "backend": backend},
                     d.name)


def engine_label(name: str, sha256: str) -> str:
    """`name@<8 hex of the manifest's sha256>`: two exports with one name are never merged (the expert: its id)."""
    return name if sha256 == EXPERT_ID else f"{name}@{sha256[:8]}"


def engine_for(spec: str, profile: str = "sim") -> EngineRef:
    """`default` (the engine the profile's inference node runs, with its backend), `expert`, or an engine dir."""
    from ..config import ConfigError
    from ..launch import engine_of, load_profile

    if spec != PROFILE_ENGINE:
        return resolve_engine(spec)
    prof = load_profile(profile)
    engine_dir = engine_of(prof, Path(prof.base_dir))
    if engine_dir is None:
        raise ConfigError(f"{prof.source}: the inference node runs no engine directory (the scripted expert?); "
                          f"pass --engine DIR or --engine expert")
    backend = prof.nodes["inference"].params.get("policy", {}).get("backend", "auto") \
        if "inference" in prof.nodes else "auto"
    return resolve_engine(engine_dir, backend)
