#!/usr/bin/env bash
# Re-measure every row of the README's "Tests and benchmarks" table in one run, with the exact commands the
# table names, and keep each command's full output.  Run it on an otherwise idle machine (the load average is
# logged before and after each command so a reader can tell an idle figure from a loaded one).
#
#   scripts/bench_table.sh                 # all rows, output in runs/bench_table/<UTC time>/
#   scripts/bench_table.sh OUT_DIR         # somewhere else
#   ROWS="dds hand-link" scripts/bench_table.sh   # only some rows
#
# About 20 minutes on a 2-core VM.  Everything stays on 127.0.0.1 (the benches use the loopback DDS config).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=${1:-runs/bench_table/$(date -u +%Y%m%dT%H%M%SZ)}
ROWS=${ROWS:-"dds dds-720p hand-link e2e control-loop control-loop-burners teleop latency strategies sim"}
mkdir -p "$OUT"
export MUJOCO_GL=${MUJOCO_GL:-egl}

row() {  # row NAME COMMAND...: run one command, log its output and the load around it
    local name=$1; shift
    case " $ROWS " in *" $name "*) ;; *) return 0 ;; esac
    {
        echo "### $name"
        echo "command: $*"
        echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)   cpus: $(nproc)   $(date -u +%FT%TZ)"
    } | tee "$OUT/$name.log"
    local t0=$SECONDS
    "$@" 2>&1 | tee -a "$OUT/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)   rc=$rc   $((SECONDS - t0)) s" | tee -a "$OUT/$name.log"
    echo
}

row dds                  "$BIN/being-h0" bench dds
row dds-720p             "$BIN/being-h0" bench dds --paths fast --width 1280 --height 720 --with-depth
row hand-link            "$BIN/being-h0" bench hand-link --per-register
row e2e                  "$BIN/being-h0" bench e2e --duration 60 --rounds 3 --out "$OUT/e2e"
row control-loop         "$BIN/being-h0" bench control-loop
row control-loop-burners "$BIN/being-h0" bench control-loop --rates 100 --duration 10 --realtime 80 --lock-memory --burners 2
row teleop               "$BIN/being-h0" bench teleop
row latency              "$BIN/being-h0" bench latency
row strategies           "$BIN/being-h0" bench strategies
row sim                  "$BIN/python" -m being_h0_runtime.sim.bench
echo "logs in $OUT"
