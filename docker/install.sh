#!/bin/sh
# The osteocds image's install steps, in one place: the Dockerfile runs this script and so does
# tests/deploy/test_install_script.py, so the image and the test cannot drift apart.
#
#   install.sh wheels SRC_DIR   build the project wheel and every dependency wheel into WHEEL_DIR
#                               (builder stage: needs the package index, no compiler: all
#                               dependencies ship binary wheels)
#   install.sh install          create the virtual environment INSTALL_PREFIX from WHEEL_DIR only
#                               (final stage: no network, no build tools), the data directory and,
#                               unless SKIP_USER=1, the non-root user that owns it
#
# Variables (defaults are the image's):
#   WHEEL_DIR=/wheels  INSTALL_PREFIX=/opt/osteocds  DATA_DIR=/data  PYTHON=python3
#   APP_USER=osteocds  APP_UID=10001  SKIP_USER=0  KEEP_PIP=0
set -eu

WHEEL_DIR="${WHEEL_DIR:-/wheels}"
INSTALL_PREFIX="${INSTALL_PREFIX:-/opt/osteocds}"
DATA_DIR="${DATA_DIR:-/data}"
PYTHON="${PYTHON:-python3}"
APP_USER="${APP_USER:-osteocds}"
APP_UID="${APP_UID:-10001}"
SKIP_USER="${SKIP_USER:-0}"
KEEP_PIP="${KEEP_PIP:-0}"

log() { printf 'install.sh: %s\n' "$*" >&2; }

build_wheels() {
  src="$1"
  mkdir -p "$WHEEL_DIR"
  log "building wheels for $src into $WHEEL_DIR"
  # --only-binary :all: keeps compilers out of the build: a dependency without a wheel fails here.
  "$PYTHON" -m pip wheel --no-cache-dir --wheel-dir "$WHEEL_DIR" \
    --only-binary :all: "$src"
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
