"""Fast checks of the benchmark's statistics and task-definition validation (no simulation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from being_h0_runtime.bench import runner
from being_h0_runtime.bench.stats import (
    compare_rates,
    two_proportion_z_test,
    wilson_interval,
)
from being_h0_runtime.bench.tasks import (
    DEFAULT_TASKS_DIR,
    list_tasks,
    load_task,
    parse_task_spec,
)
from being_h0_runtime.config import ConfigError


@pytest.mark.parametrize("k,n,lo,hi", [
    # reference values: Wilson score interval, z = 1.959964 (e.g. statsmodels proportion_confint method="wilson")
    (17, 20, 0.639581, 0.947631),
    (10, 20, 0.299298, 0.700702),
    (0, 20, 0.0, 0.161125),
    (20, 20, 0.838875, 1.0),
    (2, 2, 0.342380, 1.0),
    (1, 10, 0.017876, 0.404150),
])
def test_wilson_interval_matches_reference_values(k, n, lo, hi):
    got = wilson_interval(k, n)
    assert got == pytest.approx((lo, hi), abs=2e-6)


@pytest.mark.parametrize("n", [5, 20, 37])
def test_wilson_interval_is_the_inverted_score_test(n):
    """Independent definition: the interval is {p : (k/n - p)^2 <= z^2 p (1 - p) / n}."""
    from scipy.optimize import brentq

    z = 1.959963984540054
    for k in range(1, n):
        ph = k / n
        f = lambda p, ph=ph: (ph - p) ** 2 - z * z * p * (1 - p) / n
        assert wilson_interval(k, n) == pytest.approx((brentq(f, 1e-12, ph), brentq(f, ph, 1 - 1e-12)), abs=1e-9)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_rate_comparison_p_values():
    # Fisher exact, two-sided, [[18, 2], [8, 12]]: p = 0.0021996 (R fisher.test; the sum of the
    # hypergeometric probabilities of all tables no more likely than the observed one)
    cmp = compare_rates(18, 20, 8, 20)
    assert cmp.test == "fisher"
    assert cmp.p_value == pytest.approx(0.0021996, rel=1e-3)
    assert cmp.difference == pytest.approx(0.5)
    # pooled z-test: 18/20 vs 8/20 -> pooled p 0.65, se 0.15083, z = 3.3150, p = 0.000917
    assert two_proportion_z_test(18, 20, 8, 20) == pytest.approx(0.000917, rel=2e-3)
    assert compare_rates(10, 20, 10, 20).p_value == pytest.approx(1.0)
    assert two_proportion_z_test(20, 20, 20, 20) == 1.0


def test_shipped_task_files_validate_and_only_sim_supported_ones_claim_the_virtual_rig():
    tasks = {t.id: t for t in list_tasks()}
    assert "pick_place_toy" in tasks
    pp = tasks["pick_place_toy"]
    assert pp.virtual and pp.variations == ["seen", "unseen", "clutter"] and pp.trials == 20
    from being_h0_runtime.sim.world import TASKS

    for t in tasks.values():
        assert t.virtual == (t.id in TASKS)
    assert [v for _, v in parse_task_spec("pick_place_toy")] == ["seen", "unseen", "clutter"]
    assert [v for _, v in parse_task_spec("pick_place_toy:clutter")] == ["clutter"]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / f"{name}.yaml"
    p.write_text(text)
    return p


GOOD = (DEFAULT_TASKS_DIR / "pick_place_toy.yaml").read_text()


@pytest.mark.parametrize("old,new,field", [
    ("time_limit_s: 60", "time_limit_s: -3", "time_limit_s"),
    ("variations: [seen, unseen, clutter]", "variations: [seen, sunny]", "<root>"),
    ("  sim_task: pick_place_toy", "  sim_task: stack_blocks", "scene"),
    ("trials: 20", "trials: 20\ntrails: 5", "trails"),
    ("  virtual: simulator", "  virtual: operator", "success.virtual"),
])
def test_bad_task_yaml_error_names_file_and_field(tmp_path, old, new, field):
    assert old in GOOD
    path = _write(tmp_path, "pick_place_toy", GOOD.replace(old, new))
    with pytest.raises(ConfigError) as e:
        load_task(str(path))
    msg = str(e.value)
    assert str(path) in msg and f"field '{field}'" in msg, msg


def test_task_lookup_errors_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="no task named 'nope'.*known: .*pick_place_toy"):
        load_task("nope")
    with pytest.raises(ConfigError, match="variation 'dark' is not in field 'variations'"):
        parse_task_spec("pick_place_toy:dark")
    path = _write(tmp_path, "other_name", GOOD)
    with pytest.raises(ConfigError, match="field 'id'.*must match the file name"):
        load_task(str(path))
    path = _write(tmp_path, "broken", "id: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_task(str(path))


def test_real_rig_only_task_is_refused_on_the_virtual_rig(tmp_path, capsys):
    import yaml

    task = yaml.safe_load((Path(__file__).resolve().parents[1] / "tasks" / "close_lid.yaml").read_text())
    task["id"], task["scene"]["sim_task"] = "real_only_lid", None  # a task with no virtual-rig scene
    path = tmp_path / "real_only_lid.yaml"
    path.write_text(yaml.safe_dump(task))
    rc = runner.main(["--tasks", str(path), "--engine", "expert", "--trials", "1",
                      "--results", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "out"), "--no-progress"])
    assert rc == 2
    assert "real-rig only" in capsys.readouterr().err
    assert not (tmp_path / "out" / "frames").exists()


def test_cli_help_teaches(capsys):
    with pytest.raises(SystemExit) as e:
        runner.main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "resumable" in text and "seed = base seed + i" in text and "example" in text


def test_bad_engine_dir_is_a_clear_error(tmp_path, capsys):
    rc = runner.main(["--tasks", "pick_place_toy:seen", "--engine", str(tmp_path / "missing"),
                      "--results", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "out")])
    assert rc == 2 and "engine directory not found" in capsys.readouterr().err
