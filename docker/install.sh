#!/bin/sh
# The osteocds image's install steps, in one place: the Dockerfile runs this script and so does
# tests/deploy/test_install_script.py, so the image and the test cannot drift apart.
#
#   install.sh wheels SRC_DIR   build the project wheel and every dependency wheel into WHEEL_DIR
#                               (builder stage: needs the package index; the dependencies ship
#                               binary wheels; with COMPILE=1 the project wheel is the compiled
#                               build of setup.py, which needs a C compiler and the Python headers)
#   install.sh install          create the virtual environment INSTALL_PREFIX from WHEEL_DIR only
#                               (final stage: no network, no build tools), the data directory and,
#                               unless SKIP_USER=1, the non-root user that owns it
#
# Variables (defaults are the image's):
#   WHEEL_DIR=/wheels  INSTALL_PREFIX=/opt/osteocds  DATA_DIR=/data  PYTHON=python3
#   APP_USER=osteocds  APP_UID=10001  SKIP_USER=0  KEEP_PIP=0  COMPILE=1
set -eu

WHEEL_DIR="${WHEEL_DIR:-/wheels}"
INSTALL_PREFIX="${INSTALL_PREFIX:-/opt/osteocds}"
DATA_DIR="${DATA_DIR:-/data}"
PYTHON="${PYTHON:-python3}"
APP_USER="${APP_USER:-osteocds}"
APP_UID="${APP_UID:-10001}"
SKIP_USER="${SKIP_USER:-0}"
KEEP_PIP="${KEEP_PIP:-0}"
COMPILE="${COMPILE:-1}"

log() { printf 'install.sh: %s\n' "$*" >&2; }

build_wheels() {
  src="$1"
  mkdir -p "$WHEEL_DIR"
  log "building wheels for $src into $WHEEL_DIR"
  # --only-binary :all: keeps compilers out of the build: a dependency without a wheel fails here.
  "$PYTHON" -m pip wheel --no-cache-dir --wheel-dir "$WHEEL_DIR" \
    --only-binary :all: "$src"
  if [ "$COMPILE" = "1" ]; then
    compiled_wheel "$src"
  fi
}

# The project wheel again, compiled by mypyc (setup.py, OSTEOCDS_COMPILE=1), in place of the pure
# one. The compiler runs in a throw-away environment holding the dependency wheels just built (so
# it type-checks against the same libraries as a development checkout) and the `compile` extra.
compiled_wheel() {
  src="$1"
  tools="$(mktemp -d)"
  "$PYTHON" -m venv "$tools/venv"
  tool_requirements="$("$PYTHON" -c 'import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print(" ".join(tomllib.load(f)["project"]["optional-dependencies"]["compile"]))' \
    "$src/pyproject.toml")"
  log "compiling the project wheel ($tool_requirements)"
  # shellcheck disable=SC2046,SC2086  # one argument per wheel file and per requirement
  "$tools/venv/bin/python" -m pip install --no-cache-dir --quiet \
    $(find "$WHEEL_DIR" -name '*.whl' ! -name 'osteocds-*') $tool_requirements wheel
  rm -f "$WHEEL_DIR"/osteocds-*.whl
  OSTEOCDS_COMPILE=1 "$tools/venv/bin/python" -m pip wheel --no-cache-dir --no-deps \
    --no-build-isolation --wheel-dir "$WHEEL_DIR" "$src"
  rm -rf "$tools"
}

create_user() {
  if [ "$SKIP_USER" = "1" ]; then
    log "SKIP_USER=1: not creating user $APP_USER"
    return
  fi
  if ! id "$APP_USER" >/dev/null 2>&1; then
    groupadd --system --gid "$APP_UID" "$APP_USER"
    useradd --system --uid "$APP_UID" --gid "$APP_UID" --no-create-home \
      --home-dir "$DATA_DIR" --shell /usr/sbin/nologin "$APP_USER"
  fi
}

install_venv() {
  log "creating $INSTALL_PREFIX from $WHEEL_DIR (offline)"
  "$PYTHON" -m venv "$INSTALL_PREFIX"
  "$INSTALL_PREFIX/bin/python" -m pip install --no-cache-dir --no-index \
    --find-links "$WHEEL_DIR" osteocds
  if [ "$KEEP_PIP" != "1" ]; then
    # The running service never installs anything; fewer tools, less to patch.
    "$INSTALL_PREFIX/bin/python" -m pip uninstall --yes --quiet pip
  fi
  "$INSTALL_PREFIX/bin/osteocds" --help >/dev/null
  mkdir -p "$DATA_DIR"
  create_user
  if [ "$SKIP_USER" != "1" ]; then
    chown "$APP_UID:$APP_UID" "$DATA_DIR"
  fi
  chmod 0750 "$DATA_DIR"
  log "installed osteocds into $INSTALL_PREFIX; data directory $DATA_DIR"
}

case "${1:-}" in
  wheels) build_wheels "${2:?usage: install.sh wheels SRC_DIR}" ;;
  install) install_venv ;;
  *) echo "usage: install.sh wheels SRC_DIR | install.sh install" >&2; exit 2 ;;
esac
