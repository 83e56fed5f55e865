#!/usr/bin/env bash
# Mutation testing of the modules that carry the exact promises (README "For developers"): mutmut mutates
# segmentation clean-up, trimap and box selection, the composite and kept-pixel check, and normals, runs the tests
# that reach each mutated function, and tools/mutation_score.py prints the score per module with every survivor
# not explained in tools/mutation-equivalent.md. Not part of every CI run: a full run takes about 5 minutes on a
# 2-core machine (see the README for the measured time).
#
# Usage: bash tools/mutation.sh [--keep] [MODULE ...]
#   MODULE: e.g. lib_garment.segment.trimap (default: all five). --keep reuses mutants/ from an earlier run
#   (mutmut then re-runs only what changed); without it the run starts afresh.
# The package set is the a1111 one (the modules under test are pure numpy/OpenCV; both sets give the same).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

keep=0
modules=()
for arg in "$@"; do
  if [ "$arg" = "--keep" ]; then keep=1; else modules+=("$arg"); fi
done

eval "$(bash tools/setup_envs.sh)"
export YOLO_CONFIG_DIR GARMENT_WORKER_PACKAGES
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 \
  YOLO_OFFLINE=true GRADIO_ANALYTICS_ENABLED=False DO_NOT_TRACK=1
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1  # one thread per mutant worker: mutmut runs them side by side
VENV="$GARMENT_A1111_VENV"

[ "$keep" = 1 ] || rm -rf mutants
patterns=()
for module in "${modules[@]}"; do patterns+=("$module.*"); done

log="$(mktemp)"
start=$(date +%s)
# mutmut draws a progress line many times a second; only its summary lines are kept.
"$VENV/bin/mutmut" run --max-children "${MUTMUT_CHILDREN:-2}" "${patterns[@]}" >"$log" 2>&1 || {
  tail -c 4000 "$log"
  exit 1
}
seconds=$(( $(date +%s) - start ))
tr '\r' '\n' <"$log" | grep -E '[0-9]+/[0-9]+ +🎉' | tail -n 1 || true  # the last progress line: the counts
tr '\r' '\n' <"$log" | grep -v '🎉' | tail -n 3 || true
rm -f "$log"
echo "mutmut run: ${seconds} s"
"$VENV/bin/python" tools/mutation_score.py "${modules[@]}"
