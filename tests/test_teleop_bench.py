"""The latency benchmark runs end to end and reports p50/p99 with its baseline (no timing asserts)."""

from __future__ import annotations

import json

import pytest

from being_h0_runtime.bench.teleop_latency import main


def test_bench_reports_percentiles_and_baseline(capsys) -> None:
    assert main(["--packets", "20", "--rate", "200", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    for key in ("udp_path", "decode+retarget", "retarget_only", "device:keyboard", "device:spacemouse",
                "device:video", "device:video:input->frame"):
        assert res[key]["n"] == 20 and res[key]["p99_ms"] >= res[key]["p50_ms"] > 0
    assert res["ratio_p50_udp_vs_retarget"] > 0
    # a device's own share is part of its whole input -> command path
    for d in ("keyboard", "spacemouse", "video"):
        assert res[f"device:{d}:input->frame"]["p50_ms"] < res[f"device:{d}"]["p50_ms"]
    assert main(["--packets", "10", "--devices", "", "--json"]) == 0
    assert not [k for k in json.loads(capsys.readouterr().out) if k.startswith("device:")]
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0 and "retarget_only" in capsys.readouterr().out
