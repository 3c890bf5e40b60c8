#!/usr/bin/env bash
# The Debian packages that `make run` and `make test` need, installed only when missing.
#
#   scripts/system_deps.sh                 check; as root install what is missing (apt-get, quiet);
#                                          otherwise print the exact command to run and exit 1
#   scripts/system_deps.sh --list          print every needed package with what needs it
#   scripts/system_deps.sh --missing       print the missing packages (one line, may be empty); exit 0
#
# For tests of this script (scripts/check_fresh_clone.sh):
#   SYSTEM_DEPS_FAKE_MISSING="pkg ..."     treat these packages as missing
#   SYSTEM_DEPS_DRY_RUN=1                  print the apt-get commands instead of running them
set -euo pipefail

# package | how to tell it is there without dpkg (lib: a library ldconfig knows, cmd: a command, file: a glob) | who needs it
DEPS=(
  "libusb-1.0-0|lib:libusb-1.0.so.0|pyrealsense2 (imported by the camera driver and its tests)"
  "libegl1|lib:libEGL.so.1|MuJoCo offscreen rendering (MUJOCO_GL=egl, the default)"
  "libegl-mesa0|lib:libEGL_mesa.so.0|MuJoCo: the Mesa EGL vendor (software rendering without a GPU)"
  "libgl1-mesa-dri|file:/usr/lib/*/dri/swrast_dri.so|MuJoCo: Mesa's llvmpipe driver behind EGL"
  "libopengl0|lib:libOpenGL.so.0|MuJoCo: PyOpenGL loads libOpenGL under EGL"
  "libosmesa6|lib:libOSMesa.so|MuJoCo with MUJOCO_GL=osmesa (no EGL at all)"
  "libglib2.0-0|lib:libglib-2.0.so.0|OpenCV / GStreamer-linked wheels"
  "procps|cmd:pgrep|tests: pgrep/pkill find node processes left behind"
)

present() {  # $1 package, $2 probe
  local pkg=$1 probe=$2
  case " ${SYSTEM_DEPS_FAKE_MISSING:-} " in *" $pkg "*) return 1 ;; esac
  if command -v dpkg-query >/dev/null 2>&1; then
    [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" == "install ok installed" ]] && return 0
  fi
  case $probe in
    lib:*) /sbin/ldconfig -p 2>/dev/null | grep -q "${probe#lib:}" ;;
    cmd:*) command -v "${probe#cmd:}" >/dev/null 2>&1 ;;
    file:*) compgen -G "${probe#file:}" >/dev/null ;;
  esac
}

missing() {
  local out=() entry pkg probe
  for entry in "${DEPS[@]}"; do
    IFS='|' read -r pkg probe _ <<<"$entry"
    present "$pkg" "$probe" || out+=("$pkg")
  done
  echo "${out[*]:-}"
}

run() {  # quiet: apt's progress is noise in `make test`; its errors still reach stderr
  if [[ -n "${SYSTEM_DEPS_DRY_RUN:-}" ]]; then echo "would run: $*"; else "$@" >/dev/null; fi
}

case "${1:-}" in
  --list)
    for entry in "${DEPS[@]}"; do IFS='|' read -r pkg _ why <<<"$entry"; printf '%-16s %s\n' "$pkg" "$why"; done
    exit 0 ;;
  --missing) missing; exit 0 ;;
  "") ;;
  *) echo "usage: $0 [--list|--missing]" >&2; exit 2 ;;
esac

need=$(missing)
[[ -z "$need" ]] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: missing system libraries for packages: $need" >&2
  echo "       (names are Debian's; install the equivalents with your system's package manager)" >&2
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "error: missing system packages: $need" >&2
  echo "run:   sudo apt-get update && sudo apt-get install -y --no-install-recommends $need" >&2
  exit 1
fi
echo "installing missing system packages: $need"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086  # $need is a list of package names
run apt-get update -qq
# shellcheck disable=SC2086
run apt-get install -y -qq --no-install-recommends $need
if [[ -z "${SYSTEM_DEPS_DRY_RUN:-}" ]]; then
  still=$(missing)
  if [[ -n "$still" ]]; then
    echo "error: still missing after apt-get install: $still" >&2
    exit 1
  fi
fi
