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
    assert "--baud" in out and "baseline" in out and "turnaround" in out


def test_tiny_run_reports_both_strategies(capsys: pytest.CaptureFixture[str]) -> None:
    rc = hand_link.main(["--cycles", "20", "--warmup", "2", "--no-wire-time", "--turnaround-ms", "0", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert report["batched"]["txn_per_cycle"] == pytest.approx(2.0)
    assert report["baseline"]["txn_per_cycle"] == pytest.approx(7.0)
    for key in ("hz", "cycle_p50_ms", "cycle_p99_ms", "txn_p50_ms", "txn_p99_ms"):
        assert report["batched"][key] > 0


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(SystemExit):
        hand_link.main(["--cycles", "3"])
    with pytest.raises(SystemExit):
        hand_link.main(["--baud", "12345"])
