"""Every command in the README's ```bash blocks is exercised by a test, so the README cannot go stale.

`PLAN` maps each README command (as written, `.venv/bin/` and the trailing comment dropped) to how it
runs here:

- ``Short(argv)``: run through the real CLI as a subprocess, as written or as a short variant (one
  episode instead of fifty); it must exit as stated and print what it says it prints.
- ``Missing(words)``: needs what this machine cannot have (a released checkpoint, a rig, a camera,
  MediaPipe, the SpaceMouse's hidapi) and runs exactly as written: it must fail with exit 2 and one
  clear line naming what is missing, never a traceback.
- ``Chain(argv)``: a step of the "Recording, training, benchmarking" block, run in the README's order
  in one folder (record -> inspect -> post-train -> export -> run -> bench run -> bench report).
- ``Covered(test)``: too long or interactive for this file; the named test runs the same command line
  (checked: the test exists and its source names the command's words).

A command the README gains without an entry here fails `test_every_readme_command_has_a_plan`, and an
entry the README lost fails it too.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


@dataclass(frozen=True)
class Short:
    argv: str
    rc: int = 0
    prints: str = ""


@dataclass(frozen=True)
class Missing:
    prints: str  # the words of the one-line error


@dataclass(frozen=True)
class Chain:
    argv: str
    rc: int = 0


@dataclass(frozen=True)
class Covered:
    test: str  # tests/FILE.py::FUNCTION
    words: tuple[str, ...] = ()  # what the test's source must name; default: the command's subcommand words


ENGINE = "models/being-h0-8b-align"
PLAN: dict[str, Short | Missing | Chain | Covered] = {
    # -- quick start
    "make run": Short("make -n run", prints="being-h0 run --profile sim"),
    "make test": Short("make -n test", prints="pytest"),
    "being-h0 run --transport inproc --seed 3": Short("being-h0 run --transport inproc --seed 3 --expert --time-limit 3",
                                                     rc=1, prints="pick_place_toy"),
    # over DDS, one process per node; -v streams the nodes' logs with their names
    "being-h0 run --set arm.rate_hz=200 -v": Short("being-h0 run --set arm.rate_hz=200 -v --expert --time-limit 3",
                                                   rc=1, prints="[arm] INFO arm (arm) up"),
    "being-h0 launch sim": Covered("tests/test_run_dds.py::test_launch_stops_cleanly_on_ctrl_c"),
    "being-h0 bench --help": Short("being-h0 bench --help", prints="hand-link"),
    "being-h0 doctor --profile rig": Covered("tests/test_cli.py::test_doctor_on_a_machine_without_hardware_fails_with_fixes"),
    # -- live view
    "being-h0 run --expert --view": Covered("tests/test_view.py::test_run_with_view_serves_the_episode_live"),
    # `launch` serves the view through the same code as `run` (cli: --view on both)
    "being-h0 launch sim --view": Covered("tests/test_view.py::test_run_with_view_serves_the_episode_live",
                                          words=("--view",)),
    "being-h0 view --domain-id 150 --graph-id 1a2b3c4d":
        Covered("tests/test_view.py::test_being_h0_view_attaches_to_a_dds_graph_and_sees_only_its_commands"),
    # -- released checkpoints, tokenizer and data (not downloadable here: each must say what is missing)
    "being-h0 convert vla ~/hf/Being-H0-8B-Align-2508 --out models/being-h0-8b-align":
        Missing("Being-H0-8B-Align-2508: not a directory"),
    f'being-h0 engine infer --engine {ENGINE} --image frame.png --task "Put the little white duck into the cup." '
    "--state=0.1,-0.4,0,-2.1,0,1.9,0.7,0,0,0,0,0,0 --json": Missing("engine directory not found"),
    f"being-h0 engine build --engine {ENGINE} --backend onnx": Missing("engine directory not found"),
    f"being-h0 engine build --engine {ENGINE} --backend tensorrt": Missing("engine directory not found"),
    f"being-h0 run --profile rig --engine {ENGINE}": Missing("engine directory not found"),
    "being-h0 convert vla ~/hf/Being-H0-1B-2508 --out models/being-h0-1b-backbone": Missing("not a directory"),
    "python -m being_h0_train.posttrain.train --init-from models/being-h0-1b-backbone --data data/pp --out runs/pp":
        Missing("data/pp: dataset directory not found"),
    "being-h0 convert tokenizer Being-H0-GRVQ-8K --out models/grvq-8k": Missing("Being-H0-GRVQ-8K: not a directory"),
    "being-h0 tokenizer encode --tokenizer models/grvq-8k --motion clip.npy --json": Missing("not a tokenizer folder"),
    "being-h0 tokenizer decode --tokenizer models/grvq-8k --motion clip.npy --json": Missing("not a tokenizer folder"),
    "being-h0 dataset import h0_post_train_db_2508 --out datasets/h0_post_train": Missing("h0_post_train_db_2508: not found"),
    "python -m being_h0_train.posttrain.train --data datasets/h0_post_train --out runs/h0_post":
        Missing("dataset directory not found"),
    # -- recording, training, benchmarking: one short chain, in the README's order
    "being-h0 record --episodes 50 --out demos/pp --export data/pp":
        Chain("being-h0 record --episodes 1 --out demos/pp --export data/pp"),
    "being-h0 dataset inspect demos/pp/<episode>": Chain("being-h0 dataset inspect demos/pp/{episode}"),
    "python -m being_h0_train.posttrain.train --data data/pp --out runs/pp":
        Chain("python -m being_h0_train.posttrain.train --data data/pp --out runs/pp --steps 2 --batch-size 2 --quiet"),
    "python -m being_h0_train.export --model runs/pp/final --out models/pp":
        Chain("python -m being_h0_train.export --model runs/pp/final --out models/pp"),
    # a 2-step model does not solve the task: the run must go through and report a failure (exit 1)
    "being-h0 run --engine models/pp": Chain("being-h0 run --engine models/pp --transport inproc --time-limit 3", rc=1),
    "being-h0 bench run --tasks pick_place_toy --engine models/pp --trials 20 --results r.sqlite --out bench":
        Chain("being-h0 bench run --tasks pick_place_toy --engine models/pp --trials 1 --results r.sqlite --out bench "
              "--time-limit 3"),
    "being-h0 bench report --results r.sqlite --out bench/report":
        Chain("being-h0 bench report --results r.sqlite --out bench/report"),
    "make train-default": Covered("tests/test_train_default_pipeline.py::"
                                  "test_pipeline_produces_a_loadable_engine_with_settings_in_its_manifest"),
    'make train-default TRAIN_ARGS="--recipe multitask"': Covered(
        "tests/test_train_default_pipeline.py::test_multitask_pipeline_records_trains_and_exports_every_task",
        ("multitask",)),
    "being-h0 bench language --engine models/being-h0-sim-multitask": Covered(
        "tests/test_bench_language.py::test_bench_language_runs_on_rig_scenes_and_writes_its_figures"),
    "being-h0 calibrate hand-eye --sim": Covered("tests/test_paths.py::"
                                                 "test_sim_hand_eye_from_the_repo_root_leaves_the_shipped_calibration_alone"),
    # -- teleoperation
    "being-h0 teleop --device keyboard": Covered("tests/test_teleop_cli.py::test_teleop_keyboard_in_a_terminal"),
    "being-h0 teleop --device spacemouse --scale 0.5": Missing("hidapi"),
    "being-h0 teleop --device webcam --model hand_landmarker.task": Missing("MediaPipe"),
    "being-h0 teleop --device video:hand.mp4 --model hand_landmarker.task": Missing("hand.mp4: video file not found"),
    "being-h0 teleop --device video:tests/fixtures/rendered_hand/hand.avi":
        Covered("tests/test_teleop_mediapipe.py::test_cli_teleop_runs_the_rendered_video"),
    "being-h0 record --teleop keyboard --episodes 5 --out demos/human --export data/human":
        Covered("tests/test_teleop_cli.py::test_record_teleop_keyboard_in_a_terminal"),
    "being-h0 run --expert --teleop keyboard --record demos/dagger":
        Covered("tests/test_teleop_cli.py::test_run_with_teleop_takeover_in_a_terminal"),
    "python -m being_h0_train.posttrain.train --data data/dagger --out runs/dagger --intervention-weight 3":
        Covered("tests/test_posttrain_intervention.py::test_cli_trains_with_intervention_weight"),
    "being-h0 bench teleop --packets 300": Short("being-h0 bench teleop --packets 20", prints="p99"),
}


def readme_commands(text: str) -> list[str]:
    """The commands of the README's ```bash blocks: continuation lines joined, comments and `.venv/bin/` dropped."""
    out: list[str] = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line and not line.startswith("#"):
                out.append(" ".join(line.replace(".venv/bin/", "").split()))
    return out


def _argv(command: str) -> list[str]:
    words = shlex.split(command)
    if words[0] == "being-h0":
        return [sys.executable, "-m", "being_h0_runtime.cli", *words[1:]]
    if words[0] == "python":
        return [sys.executable, *words[1:]]
    return words


def _run(command: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    home = cwd / ".home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "MUJOCO_GL": "egl",
           "PYTHONPATH": str(ROOT)}
    return subprocess.run(_argv(command), cwd=cwd if not command.startswith("make") else ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _plans(kind: type) -> list[tuple[str, object]]:
    return [(cmd, plan) for cmd, plan in PLAN.items() if isinstance(plan, kind)]


def test_every_readme_command_has_a_plan():
    commands = readme_commands(README.read_text())
    assert len(commands) >= 30, "the README's command blocks were not found"
    missing = [c for c in commands if c not in PLAN]
    stale = [c for c in PLAN if c not in commands]
    assert not missing, f"README commands no test exercises (add them to PLAN): {missing}"
    assert not stale, f"PLAN entries the README no longer has: {stale}"


@pytest.mark.parametrize("command,plan", _plans(Covered), ids=lambda x: x if isinstance(x, str) else "")
def test_covered_commands_are_run_by_the_named_test(command: str, plan: Covered):
    path, func = plan.test.split("::")
    src = (ROOT / path).read_text()
    fn = next((n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.FunctionDef) and n.name == func), None)
    assert fn is not None, f"{plan.test} does not exist"
    body = ast.get_source_segment(src, fn) or ""
    words = list(plan.words)
    if not words and not command.startswith("make"):  # make targets: the test calls the pipeline's own main()
        argv = shlex.split(command)[1:]
        words = argv[:next((i for i, w in enumerate(argv) if w.startswith("-")), len(argv))][:2]
    for word in words:
        assert word in body or f'"{word}"' in src, f"{plan.test} does not run `{command}` ({word!r} not in it)"


@pytest.mark.parametrize("command,plan", _plans(Missing), ids=lambda x: x if isinstance(x, str) else "")
def test_commands_needing_absent_artefacts_fail_with_one_clear_line(command: str, plan: Missing, tmp_path,
                                                                     monkeypatch, capsys):
    # in-process (the same `main` the console script calls): thirteen interpreters would cost more than the checks
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    words = shlex.split(command.replace("~/", str(tmp_path) + "/"))
    if words[0] == "being-h0":
        from being_h0_runtime.cli import main
    else:
        assert words[:2] == ["python", "-m"], command
        main = importlib.import_module(words[2]).main
        words = words[2:]
    try:
        rc = main(words[1:])
    except SystemExit as exc:  # argparse
        rc = exc.code
    err = "".join(capsys.readouterr())
    assert rc == 2, (rc, err[-2000:])
    assert "Traceback" not in err, err[-3000:]
    assert plan.prints in err, err[-2000:]


@pytest.mark.parametrize("command,plan", _plans(Short), ids=lambda x: x if isinstance(x, str) else "")
def test_short_variants_run(command: str, plan: Short, tmp_path):
    res = _run(plan.argv, tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode == plan.rc, (res.returncode, out[-3000:])
    assert "Traceback" not in out, out[-3000:]
    assert plan.prints in out, out[-2000:]


def test_recording_training_benchmarking_block_runs_in_order(tmp_path):
    episode = ""
    for command, plan in _plans(Chain):
        assert isinstance(plan, Chain)
        res = _run(plan.argv.format(episode=episode), tmp_path, timeout=600)
        out = res.stdout + res.stderr
        assert res.returncode == plan.rc, (plan.argv, res.returncode, out[-3000:])
        assert "Traceback" not in out, (plan.argv, out[-3000:])
        if command.startswith("being-h0 record"):
            episodes = sorted(p.name for p in (tmp_path / "demos/pp").iterdir() if p.is_dir())
            assert len(episodes) == 1, episodes
            episode = episodes[0]
    assert (tmp_path / "models/pp/manifest.json").is_file()
    assert (tmp_path / "r.sqlite").is_file()
    assert any((tmp_path / "bench/report").glob("*.md"))
