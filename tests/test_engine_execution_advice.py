"""An engine manifest's `execution` advice: validated like the rest of the manifest, written whole, and run by
the actuators a launch profile leaves unpinned (a profile's or an override's executor always wins)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from being_h0_runtime.bench.engines import resolve_engine
from being_h0_runtime.config import ConfigError
from being_h0_runtime.launch import (
    build_graph,
    close_graph,
    load_profile,
    with_engine_execution,
)
from being_h0_runtime.launcher import GraphLauncher
from being_h0_runtime.policy.engine_format import (
    MANIFEST_FILE,
    ExecutionAdvice,
    manifest_identity_text,
    read_manifest,
    verify_engine_dir,
    write_execution_advice,
)
from being_h0_runtime.policy.execution import RealTimeChunkingExecutor
from being_h0_runtime.transport.inproc import InprocContext

REPO = Path(__file__).resolve().parents[1]
ENGINE = REPO / "models" / "being-h0-sim-small"
RTC = {"recommended": "rtc", "params": {"delay_window": 5},
       "evidence": {"command": "being-h0 bench strategies --latency-ms 100", "figures": {"rtc@100ms": {"successes": 3}}}}


def manifest_only_engine(tmp_path: Path, execution: dict | None) -> Path:
    """A copy of the shipped manifest (no model files: enough for everything but loading the model)."""
    raw = json.loads((ENGINE / MANIFEST_FILE).read_text())
    raw.pop("execution", None)
    if execution is not None:
        raw["execution"] = execution
    d = tmp_path / "engine"
    d.mkdir()
    (d / MANIFEST_FILE).write_text(json.dumps(raw, indent=2))
    return d


def sim_profile(tmp_path: Path, engine: Path, pinned: dict[str, str]) -> Path:
    """launch/sim.yaml on `engine`, with an executor pinned only for the nodes in `pinned`."""
    raw = yaml.safe_load((REPO / "launch" / "sim.yaml").read_text())
    for name in ("arm", "hand"):
        raw["nodes"][name]["params"].pop("executor", None)
        if name in pinned:
            raw["nodes"][name]["params"]["executor"] = {"name": pinned[name]}
    raw["nodes"]["inference"]["params"]["policy"]["engine_dir"] = str(engine)
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_unpinned_actuators_run_the_manifest_recommendation_pinned_ones_their_own(tmp_path: Path) -> None:
    engine = manifest_only_engine(tmp_path, RTC)
    profile = load_profile(str(sim_profile(tmp_path, engine, pinned={"hand": "sync"})))
    over = with_engine_execution(profile, tmp_path)
    assert over["arm"]["executor"] == {"name": "rtc", "params": {"delay_window": 5}}
    assert "executor" not in over.get("hand", {})  # the profile pins sync for the hand: it wins
    # an override (bench --strategy, --set) wins too, also a dotted one
    assert with_engine_execution(profile, tmp_path, {"arm": {"executor": {"name": "async"}}})["arm"]["executor"] == \
        {"name": "async"}
    assert with_engine_execution(profile, tmp_path, {"arm": {"executor.name": "crossfade"}})["arm"] == \
        {"executor.name": "crossfade"}
    # the scripted expert has no manifest: nothing is added
    expert = with_engine_execution(profile, tmp_path, {"inference": {"policy": {"kind": "expert"}}})
    assert "arm" not in expert and "hand" not in expert


def test_build_graph_and_the_launcher_apply_the_advice(tmp_path: Path) -> None:
    engine = manifest_only_engine(tmp_path, RTC)
    profile = load_profile(str(sim_profile(tmp_path, engine, pinned={"hand": "ensemble"})))
    ctx = InprocContext()
    nodes = build_graph(profile, ctx, tmp_path / "run", only=["arm"])
    try:
        assert isinstance(nodes["arm"].executor, RealTimeChunkingExecutor)
        assert nodes["arm"].executor.delay_window == 5
    finally:
        close_graph(nodes)
        ctx.shutdown()
    launcher = GraphLauncher(profile, tmp_path / "run")  # what each node process gets in --params-json
    assert launcher.overrides["arm"]["executor"]["name"] == "rtc" and "hand" not in launcher.overrides


def test_an_engine_without_advice_changes_nothing(tmp_path: Path) -> None:
    engine = manifest_only_engine(tmp_path, None)
    profile = load_profile(str(sim_profile(tmp_path, engine, pinned={})))
    assert with_engine_execution(profile, tmp_path, {"task": {"time_limit_s": 5}}) == {"task": {"time_limit_s": 5}}
    ctx = InprocContext()
    nodes = build_graph(profile, ctx, tmp_path / "run", only=["arm"])
    try:
        assert nodes["arm"].executor.name == "async"  # the actuator's own default
    finally:
        close_graph(nodes)
        ctx.shutdown()


@pytest.mark.parametrize("execution, problem", [
    ({**RTC, "recommended": "act"}, "unknown execution strategy 'act'; choose one of"),
    ({**RTC, "params": {"delay_window": 0}}, "delay_window must be >= 1"),
    ({**RTC, "params": {"delay_windw": 5}}, "bad parameters"),
    ({"recommended": "rtc"}, "execution.evidence"),
])
def test_bad_advice_is_a_clear_error_naming_the_manifest_and_field(tmp_path: Path, execution: dict,
                                                                   problem: str) -> None:
    engine = manifest_only_engine(tmp_path, execution)
    with pytest.raises(ConfigError) as err:
        read_manifest(engine)
    assert str(engine / MANIFEST_FILE) in str(err.value) and "'execution" in str(err.value)
    assert problem in str(err.value)
    # and a launch on that engine stops before any node starts
    profile = load_profile(str(sim_profile(tmp_path, engine, pinned={})))
    with pytest.raises(ConfigError, match="execution"):
        GraphLauncher(profile, tmp_path / "run")


def test_writing_advice_keeps_the_engine_valid_its_identity_and_every_other_byte(tmp_path: Path) -> None:
    engine = tmp_path / "engine"
    shutil.copytree(ENGINE, engine, ignore=shutil.ignore_patterns("bench"))
    # start from the manifest without advice (the shipped engine carries its own measured advice)
    before = manifest_identity_text((engine / MANIFEST_FILE).read_text())
    (engine / MANIFEST_FILE).write_text(before)
    assert "execution" not in json.loads(before)
    write_execution_advice(engine, ExecutionAdvice.model_validate(RTC))
    after = (engine / MANIFEST_FILE).read_text()
    raw = json.loads(after)
    assert raw.pop("execution")["recommended"] == "rtc" and raw == json.loads(before)
    assert manifest_identity_text(after) == before  # the text without the advice is the old manifest, byte for byte
    verify_engine_dir(engine)  # checksums still hold: the manifest is not among its own files
    # the bench's engine identity (results are keyed by it) is unchanged; a real change still changes it
    assert resolve_engine(str(engine)).sha256 == resolve_engine(str(ENGINE)).sha256
    # replacing advice replaces it; nothing is left beside the manifest
    write_execution_advice(engine, ExecutionAdvice.model_validate({**RTC, "recommended": "ensemble", "params": {}}))
    assert read_manifest(engine).execution.recommended == "ensemble"  # type: ignore[union-attr]
    assert manifest_identity_text((engine / MANIFEST_FILE).read_text()) == before
    assert sorted(p.name for p in engine.glob("manifest*")) == [MANIFEST_FILE]
    edited = json.loads((engine / MANIFEST_FILE).read_text())
    edited["engine_id"] += "-retrained"
    (engine / MANIFEST_FILE).write_text(json.dumps(edited, indent=2))
    assert resolve_engine(str(engine)).sha256 != resolve_engine(str(ENGINE)).sha256


def test_advice_for_a_broken_engine_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    engine = tmp_path / "engine"
    engine.mkdir()
    (engine / MANIFEST_FILE).write_text('{"format_version": 1, "engine_id": ""}')
    with pytest.raises(ConfigError, match="manifest.json"):
        write_execution_advice(engine, ExecutionAdvice.model_validate(RTC))
    assert (engine / MANIFEST_FILE).read_text() == '{"format_version": 1, "engine_id": ""}'



def test_hand_placed_advice_is_part_of_the_identity_until_rewritten(tmp_path: Path) -> None:
    engine = manifest_only_engine(tmp_path, None)
    raw = json.loads((engine / MANIFEST_FILE).read_text())
    hand = json.dumps({"execution": RTC, **raw}, indent=2)  # advice first: not where the writer puts it
    (engine / MANIFEST_FILE).write_text(hand)
    assert manifest_identity_text(hand) == hand
    write_execution_advice(engine, ExecutionAdvice.model_validate(RTC))
    after = (engine / MANIFEST_FILE).read_text()
    assert json.loads(manifest_identity_text(after)) == raw and json.loads(after)["execution"]["recommended"] == "rtc"
