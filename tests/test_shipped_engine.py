"""The engine shipped in models/ (the virtual rig's default policy, built by `make train-default`).

Checks what a user relies on when `make run` loads it: the manifest validates and
every file matches its checksum, the recipe that built it is recorded, ONNX
Runtime agrees with the PyTorch reference shipped beside it, the profile picks
it by default, and it drives one virtual-rig episode to the toy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

REPO = Path(__file__).resolve().parents[1]
ENGINE = REPO / "models" / "being-h0-sim-small"


def test_manifest_and_checksums_validate_and_record_the_recipe():
    from being_h0_runtime.policy.engine import verify_engine_dir

    m = verify_engine_dir(ENGINE, expected_names=[f"fr3_joint{i}" for i in range(1, 8)], check_checksums=True)
    raw = json.loads((ENGINE / "manifest.json").read_text())
    pipeline = raw["training"]["pipeline"]
    for key in ("command", "episodes", "demo_seed_base", "steps", "seed", "backbone", "warmup_samples", "warmup_steps"):
        assert key in pipeline, key
    assert pipeline["command"] == "make train-default"
    assert m.action_spec.chunk_len == 16
    report = ENGINE / "bench" / "report.md"
    assert report.is_file(), "the success-rate report belongs beside the engine"


def test_onnxruntime_matches_the_pytorch_reference_on_a_rig_frame():
    from being_h0_runtime.policy.engine import load_engine_policy
    from being_h0_runtime.policy.spec import Observation
    from being_h0_runtime.sim.world import VirtualRig

    rig = VirtualRig("pick_place_toy", "seen", seed=5)
    try:
        rgb, _ = rig.render()
        proprio = np.r_[rig.arm_q(), rig.hand_closure()]
    finally:
        rig.close()
    ort_policy = load_engine_policy(ENGINE, backend="onnxruntime")
    obs = Observation(stamp=0.0, proprio=proprio, proprio_names=ort_policy.spec.names,
                      instruction="pick up the toy and put it in the box", image=rgb)
    ort = ort_policy.infer(obs)
    ref = load_engine_policy(ENGINE, backend="torch").infer(obs)
    assert ort.shape == ref.shape == (16, 13)
    assert np.all(np.isfinite(ort))
    np.testing.assert_allclose(ort, ref, atol=1e-3)  # radians / closure units after de-normalisation


def test_the_sim_profile_uses_the_shipped_engine_by_default():
    from being_h0_runtime.launch import load_profile

    policy = load_profile("sim").resolved_params("inference", Path("/tmp"))["policy"]
    assert policy["kind"] == "engine"
    assert Path(policy["engine_dir"]).resolve() == ENGINE.resolve()


@pytest.mark.slow
def test_one_short_episode_reaches_the_toy():
    from being_h0_runtime.operator import run_episode_inproc

    closest: list[float] = []

    def watch(ctx, nodes):
        rig = nodes["virtual_rig"].rig

        def sample():
            g, _ = rig.grasp_pose()
            toy, _ = rig.object_poses()["toy"]
            closest.append(float(np.linalg.norm(np.asarray(g) - np.asarray(toy))))

        ctx.create_node("probe").create_timer(0.1, sample)

    out = run_episode_inproc("sim", seed=0, time_limit_s=8.0, setup=watch)
    assert closest, "the probe never ran"
    # 8 s is enough for the learned policy to reach and close on the toy (the expert needs ~4 s)
    assert min(closest) < 0.03, f"closest approach {min(closest) * 100:.1f} cm; outcome {out}"
