#!/usr/bin/env bash
# Prove that a clean clone sets itself up: `make`'s own install step finds the system libraries
# (scripts/system_deps.sh) and installs the Python packages from requirements-lock.txt.
#
#   scripts/check_fresh_clone.sh              clone HEAD into a temp folder, `make setup`, checks (a few minutes)
#   scripts/check_fresh_clone.sh run          ... then time `make run` in the clone too
#   scripts/check_fresh_clone.sh test ARGS    ... then time `make test TEST_ARGS="ARGS"` in the clone
#   KEEP=1 ...                                keep the clone (its path is printed)
#
# Checks, in order:
#  1. the dependency script's decision logic: with nothing missing it reports nothing; told that two
#     packages are missing it would run exactly `apt-get update` and `apt-get install` of those two
#     (dry run), and as a non-root user it stops with the exact command to run;
#  2. `ldconfig -p` before and after `make setup` in the clone: every library the script probes is
#     present afterwards (if some were missing before, make itself installed them: needs root);
#  3. the clone's venv holds the lock's versions exactly (torch the CPU build, no nvidia-* package),
#     and the packages whose wheels need those system libraries import and render.
# Prints the wall time of each make command.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
WHAT=${1:-setup}
shift || true
TMP=$(mktemp -d /tmp/being_h0_fresh.XXXXXX)
cleanup() { if [[ -z "${KEEP:-}" ]]; then rm -rf "$TMP"; else echo "kept $TMP"; fi; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
DEPS="$REPO/scripts/system_deps.sh"

echo "== 1. dependency script logic"
missing_now=$("$DEPS" --missing)
echo "missing on this machine now: ${missing_now:-nothing}"
fake=$(SYSTEM_DEPS_FAKE_MISSING="libusb-1.0-0 procps" SYSTEM_DEPS_DRY_RUN=1 "$DEPS" 2>&1 || true)
# the fake-missing list is added to what is really missing, in the script's own order
want=$(SYSTEM_DEPS_FAKE_MISSING="libusb-1.0-0 procps" "$DEPS" --missing)
[[ " $want " == *" libusb-1.0-0 "* && " $want " == *" procps "* ]] || fail "--missing ignored the fake list: '$want'"
grep -qx "would run: apt-get update -qq" <<<"$fake" || fail "no apt-get update in: $fake"
grep -qx "would run: apt-get install -y -qq --no-install-recommends $want" <<<"$fake" \
  || fail "expected to install exactly '$want', got: $fake"
[[ $(grep -c "^would run:" <<<"$fake") -eq 2 ]] || fail "unexpected commands: $fake"
if [[ -z "$missing_now" ]]; then
  SYSTEM_DEPS_DRY_RUN=1 "$DEPS" >"$TMP/none.out" 2>&1 || fail "nothing missing but the script failed"
  [[ ! -s "$TMP/none.out" ]] || fail "nothing missing but the script said: $(cat "$TMP/none.out")"
fi
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
  set +e
  msg=$(SYSTEM_DEPS_FAKE_MISSING="procps" setpriv --reuid=65534 --regid=65534 --clear-groups bash "$DEPS" 2>&1)
  rc=$?
  set -e
  [[ $rc -eq 1 ]] || fail "non-root with a missing package: exit $rc, want 1 ($msg)"
  grep -q "run:   sudo apt-get update && sudo apt-get install -y --no-install-recommends procps" <<<"$msg" \
    || fail "non-root message lacks the exact command: $msg"
fi
echo "ok: reports nothing when nothing is missing, installs exactly the missing list, names the command when not root"

echo "== 2. clean clone + make setup"
git clone -q "$REPO" "$TMP/clone"
echo "cloned $(git -C "$TMP/clone" rev-parse --short HEAD) into $TMP/clone"
/sbin/ldconfig -p >"$TMP/ldconfig.before"
t0=$SECONDS
make -C "$TMP/clone" setup
setup_s=$((SECONDS - t0))
/sbin/ldconfig -p >"$TMP/ldconfig.after"
for lib in libusb-1.0.so.0 libEGL.so.1 libEGL_mesa.so.0 libOpenGL.so.0 libOSMesa.so libglib-2.0.so.0; do
  grep -q "$lib" "$TMP/ldconfig.after" || fail "$lib not found by ldconfig after make setup"
  grep -q "$lib" "$TMP/ldconfig.before" || echo "installed by make: $lib"
done
[[ -z "$("$DEPS" --missing)" ]] || fail "still missing after make setup: $("$DEPS" --missing)"
echo "ok: ldconfig finds every probed library after make setup"

echo "== 3. the clone's venv matches the lock"
PYBIN="$TMP/clone/.venv/bin/python"
"$PYBIN" - "$TMP/clone/requirements-lock.txt" <<'PY'
import sys
from importlib.metadata import distributions
lock = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if line and not line.startswith("#"):
        name, _, version = line.partition("==")
        lock[name.lower().replace("_", "-")] = version
have = {d.metadata["Name"].lower().replace("_", "-"): d.version for d in distributions()}
wrong = {n: (v, have.get(n)) for n, v in lock.items() if have.get(n, "").split("+")[0] != v}
extra = sorted(n for n in have if n not in lock and n not in ("pip", "being-h0-runtime"))
cuda = sorted(n for n in have if n.startswith(("nvidia-", "triton")))
assert not wrong, f"versions differ from the lock (lock, installed): {wrong}"
assert not extra, f"installed but not in the lock: {extra}"
assert not cuda, f"CUDA packages installed: {cuda}"
assert have["torch"] == "2.13.0+cpu", have["torch"]
print(f"ok: {len(lock)} packages at the lock's versions, torch {have['torch']}")
PY
MUJOCO_GL=egl "$PYBIN" -c "
import pyrealsense2, cv2, mujoco
m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><light pos=\"0 0 1\"/><geom size=\".1\"/></worldbody></mujoco>')
d = mujoco.MjData(m); mujoco.mj_forward(m, d)
r = mujoco.Renderer(m, 32, 32); r.update_scene(d); img = r.render()
assert img.shape == (32, 32, 3)
print('ok: pyrealsense2 and cv2 import, MuJoCo renders offscreen through EGL')
"

echo "fresh clone: make setup ${setup_s} s"
if [[ "$WHAT" == run || "$WHAT" == test ]]; then
  t0=$SECONDS
  if [[ "$WHAT" == run ]]; then make -C "$TMP/clone" run; else make -C "$TMP/clone" test TEST_ARGS="$*"; fi
  echo "fresh clone: make $WHAT $((SECONDS - t0)) s after setup, $((SECONDS - t0 + setup_s)) s in all"
fi
