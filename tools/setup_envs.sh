#!/usr/bin/env bash
# Build (or reuse) one virtual environment per package set, plus the model worker's private
# package folder, outside the clone and keyed by the lock files' hash, so a second run is fast.
# Prints the environment variables the tests need (eval "$(tools/setup_envs.sh)").
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${GARMENT_STATE_DIR:-$HOME/.cache/garment-studio}"
export UV_CACHE_DIR="$STATE/uv-cache"   # same filesystem as the environments: uv hardlinks
UV="$STATE/uvtool/bin/uv"
PY="${GARMENT_PYTHON:-python3.11}"
log() { echo "[setup] $*" >&2; }

if [ ! -x "$UV" ]; then
  log "installing uv into $STATE/uvtool"
  "$PY" -m venv "$STATE/uvtool"
  "$STATE/uvtool/bin/pip" install -q --isolated uv==0.13.9 >&2
fi

sync_set() {  # $1 = package set name; echoes the venv path
  local set=$1 lock="$ROOT/requirements/$1.lock" nodeps="$ROOT/requirements/nodeps.txt"
  local key venv
  key=$(cat "$lock" "$nodeps" | sha256sum | cut -c1-12)
  venv="$STATE/venv-$set-$key"
  if [ ! -f "$venv/.complete" ]; then
    log "building environment $set ($venv)"
    rm -rf "$venv"
    "$UV" venv -q -p "$PY" "$venv" >&2
    "$UV" pip sync -q -p "$venv/bin/python" --offline "$lock" >&2 2>/dev/null \
      || "$UV" pip sync -q -p "$venv/bin/python" "$lock" >&2
    "$UV" pip install -q -p "$venv/bin/python" --no-deps -r "$nodeps" >&2
    touch "$venv/.complete"
  fi
  echo "$venv"
}

worker_folder() {
  local lock="$ROOT/requirements/worker.lock" key dir
  key=$(sha256sum "$lock" | cut -c1-12)
  dir="$STATE/worker-packages-$key"
  if [ ! -f "$dir/.complete" ]; then
    log "building the model worker's package folder ($dir)"
    rm -rf "$dir"
    "$UV" pip install -q -p "$PY" --no-deps --target "$dir" -r "$lock" >&2
    touch "$dir/.complete"
  fi
  echo "$dir"
}

A1111_VENV=$(sync_set a1111)
FORGE_VENV=$(sync_set forge)
WORKER_PACKAGES=$(worker_folder)

# Ultralytics writes settings at import and looks for a font before plotting: give it a
# ready folder so it never reaches for the network.
YOLO_DIR="$STATE/yolo-config"
mkdir -p "$YOLO_DIR/Ultralytics"
if [ ! -f "$YOLO_DIR/Ultralytics/Arial.ttf" ]; then
  font=$(find "$A1111_VENV" -name DejaVuSans.ttf | head -n 1)
  cp "$font" "$YOLO_DIR/Ultralytics/Arial.ttf"
  cp "$font" "$YOLO_DIR/Ultralytics/Arial.Unicode.ttf"
fi

cat <<VARS
export GARMENT_A1111_VENV="$A1111_VENV"
export GARMENT_FORGE_VENV="$FORGE_VENV"
export GARMENT_WORKER_PACKAGES="$WORKER_PACKAGES"
export YOLO_CONFIG_DIR="$YOLO_DIR"
VARS
