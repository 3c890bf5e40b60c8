"""The hand link benchmark CLI runs end to end (tiny run, no wire time: a smoke test, not a timing)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from being_h0_runtime.bench import hand_link


def test_help_teaches() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "being_h0_runtime.bench.hand_link", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--baud" in out and "baseline" in out and "turnaround" in out and "--mode" in out and "--duplex" in out


def test_tiny_run_reports_legacy_and_fast_in_one_run(capsys: pytest.CaptureFixture[str]) -> None:
    rc = hand_link.main(
        ["--cycles", "20", "--warmup", "2", "--no-wire-time", "--turnaround-ms", "0", "--json", "--per-register",
         "--target-hz", "0", "--change-every", "2"]
    )
    report = json.loads(capsys.readouterr().out)
    assert rc == 0
    modes = report["modes"]
    assert modes["legacy"]["txn_per_cycle"] == pytest.approx(2.0)  # transactions, not attempts
    assert modes["per-register"]["txn_per_cycle"] == pytest.approx(7.0)
    # full span + ANGLE_SET (a retry on a very busy host adds a few bytes)
    assert modes["legacy"]["bytes_per_cycle"] == pytest.approx(9 + 86 + 20 + 9, abs=2.0)
    # fast: the target changes every 2nd cycle, so about every 2nd write is skipped
    assert 4 <= modes["fast"]["skipped_writes"] <= 11  # 10, less any 0.25 s refresh on a slow machine
    assert modes["fast"]["txn_per_cycle"] < 2.0
    assert report["fast_over_legacy"] > 0
    for mode in modes.values():
        assert mode["collisions"] == 0 and mode["fault"] == ""
        for key in ("hz", "cycle_p50_ms", "cycle_p99_ms", "wire_bound_hz"):
            assert mode[key] > 0


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(SystemExit):
        hand_link.main(["--cycles", "3"])
    with pytest.raises(SystemExit):
        hand_link.main(["--baud", "12345"])
    with pytest.raises(SystemExit):
        hand_link.main(["--change-every", "0"])


def test_json_output_through_the_cli_tree(capsys):
    """`being-h0 bench hand-link --json` (the tree adds its own callables to the namespace: never dumped)."""
    from being_h0_runtime.cli import main as cli_main

    assert cli_main(["bench", "hand-link", "--cycles", "10", "--warmup", "1", "--json"]) in (0, 1)
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(doc["modes"]) == {"legacy", "fast"} and doc["args"]["cycles"] == 10
