#!/usr/bin/env bash
# The project's test command (README "Tests"; CI runs it through .ci/run): builds or reuses one environment
# per package set (a1111, forge), then runs ruff once and pytest in each set. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

if ! command -v chromium >/dev/null 2>&1; then   # the browser tests drive Debian's chromium
  echo "[tests] installing chromium (Debian package)" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null
fi

if ! command -v redis-server >/dev/null 2>&1; then   # the many-servers tests start a real Redis (Debian package)
  echo "[tests] installing redis-server (Debian package)" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q redis-server >/dev/null
fi

eval "$(bash tools/setup_envs.sh)"
export YOLO_CONFIG_DIR GARMENT_WORKER_PACKAGES
# This environment has the model worker's folder (setup_envs.sh built it): a test that finds it missing fails
# instead of skipping (tests/factories/fixtures.py worker_missing), so CI cannot pass without the worker.
export GARMENT_REQUIRE_WORKER=1
# Any hub, telemetry or download attempt must fail loudly instead of fetching.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 \
  YOLO_OFFLINE=true GRADIO_ANALYTICS_ENABLED=False DO_NOT_TRACK=1

# Bytecode: uv installs the environments without .pyc files, so a Python that may not write any compiles
# torch, transformers, gradio … from source at every start — about 5 s of CPU per process, and a session
# starts dozens (pytest itself, model workers, the command-line tests). The compiled files go to one cache
# folder outside the clone and the environments instead (PYTHONPYCACHEPREFIX): the work tree and the
# environments stay untouched, both sets share it (same interpreter, atomic writes), and Python checks each
# file against its source's mtime and size, so an edited module is compiled again.
STATE="${GARMENT_STATE_DIR:-$HOME/.cache/garment-studio}"
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX="${GARMENT_PYCACHE_DIR:-$STATE/pycache}"
mkdir -p "$PYTHONPYCACHEPREFIX"

status=0
echo "=== ruff"
"$GARMENT_A1111_VENV/bin/ruff" check . || status=1
"$GARMENT_A1111_VENV/bin/ruff" format --check . || status=1

# The two package sets run side by side, one core each (torch threads capped so they do not fight),
# which halves the wall time on a 2-core machine; their logs are printed one after the other.
REPORTS="$(mktemp -d)"
trap 'rm -rf "$REPORTS" "$PYTHONPYCACHEPREFIX$REPORTS"' EXIT  # with the bytecode of this run's temp copies
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
pids=()
for set in a1111 forge; do
  venv_var="GARMENT_${set^^}_VENV"
  "${!venv_var}/bin/python" -m pytest -p no:cacheprovider --basetemp="$REPORTS/tmp-$set" \
    --junitxml="$REPORTS/$set.xml" "$@" > "$REPORTS/$set.log" 2>&1 &
  pids+=($!)
done
for i in 0 1; do
  set=$([ "$i" = 0 ] && echo a1111 || echo forge)
  wait "${pids[$i]}" || status=1
  echo "=== pytest, package set $set"
  cat "$REPORTS/$set.log"
done

# One closing line over both sets, so a failure in the first set cannot hide behind a green second one.
"$GARMENT_A1111_VENV/bin/python" - "$REPORTS"/*.xml <<'PY' || status=1
import sys
import xml.etree.ElementTree as ET

totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for path in sys.argv[1:]:
    for suite in ET.parse(path).getroot().iter("testsuite"):
        for key in totals:
            totals[key] += int(suite.get(key, 0))
failed = totals["failures"] + totals["errors"]
passed = totals["tests"] - failed - totals["skipped"]
print(f"both sets: {passed} passed, {failed} failed, {totals['skipped']} skipped")

# The API fuzzing's floor is for the whole run (tests/test_rest_fuzz.py MIN_CALLS): the sets' calls added up.
names = ("fuzz_calls", "fuzz_floor")
props = [(p.get("name"), int(p.get("value"))) for path in sys.argv[1:]
         for p in ET.parse(path).getroot().iter("property") if p.get("name") in names]
fuzzed = [value for name, value in props if name == "fuzz_calls"]
floor = max((value for name, value in props if name == "fuzz_floor"), default=0)
if len(fuzzed) == len(sys.argv[1:]):  # the fuzzing test ran in every set (not filtered out)
    print(f"API fuzzing: {sum(fuzzed)} calls across both sets ({' + '.join(map(str, fuzzed))}); floor {floor}")
    if sum(fuzzed) < floor:
        sys.exit(1)
PY
exit $status
