#!/usr/bin/env bash
# GPU readiness check (issue #18, item 6): 1B-shaped Being-H0 chunk latency per execution path + parity vs fp32.
#
#   scripts/gpu_check.sh [OUT.json] [extra gpu_check options]      # default OUT: gpu_check.json
#   scripts/gpu_check.sh --cpu-smoke                                # what runs without a GPU (tiny shape)
#
# Needs: Linux, an NVIDIA GPU, CUDA PyTorch (2.11 tested against), transformers 5.x, numpy; optional:
# onnxruntime (a CUDA build adds the ONNX Runtime CUDA row), onnx + pydantic (ONNX export / engine loader),
# tensorrt (TensorRT row), mujoco + pydantic + pyyaml (the closed-loop episode). No network: nothing is
# downloaded (the tokenizer and random weights are built locally). Wheels for missing optional packages can be
# shipped beside this script in scripts/wheels/ (at most 64 MiB; e.g. on a networked machine:
#   pip download --only-binary=:all: --no-deps -d scripts/wheels pydantic pydantic-core pyyaml mujoco onnx \
#       annotated-types typing-inspection
# ) and are installed offline, into the current environment, only for modules that do not import.
# The whole run is capped at 8 minutes; the JSON is rewritten after every row, so a cut-off run keeps its rows.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
py="${PYTHON:-python3}"
out="gpu_check.json"
if [[ $# -gt 0 && "$1" != -* ]]; then out="$1"; shift; fi
out="$(realpath -m "$out")"  # the run happens in the repository root

wheels="$here/wheels"
if [[ -d "$wheels" ]]; then
  size_mib=$(( $(du -sk "$wheels" | cut -f1) / 1024 ))
  if (( size_mib > 64 )); then
    echo "gpu_check: $wheels holds ${size_mib} MiB of wheels; the budget is 64 MiB" >&2
    exit 2
  fi
  need=()
  for pair in pydantic:pydantic yaml:pyyaml mujoco:mujoco onnx:onnx; do
    mod="${pair%%:*}"; pkg="${pair##*:}"
    "$py" -c "import $mod" 2>/dev/null || need+=("$pkg")
  done
  if (( ${#need[@]} )); then
    echo "gpu_check: installing ${need[*]} from $wheels (offline)"
    "$py" -m pip install --no-index --find-links "$wheels" "${need[@]}" || echo "gpu_check: offline install failed; those rows will say why they skip" >&2
  fi
fi

export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
export MUJOCO_GL="${MUJOCO_GL:-egl}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
cd "$repo"
exec timeout --signal=TERM --kill-after=10 480 "$py" -m being_h0_train.gpu_check --out "$out" "$@"
