#!/usr/bin/env bash
# Re-resolve the lock files from the *.in files (run by hand after editing a *.in file).
set -euo pipefail
cd "$(dirname "$0")/../requirements"
UV="${UV:-uv}"
for set in a1111 forge; do
  "$UV" pip compile -q -p 3.11 --python-platform x86_64-manylinux_2_28 "$set.in" -o "$set.lock"
done
"$UV" pip compile -q -p 3.11 --no-deps worker.in -o worker.lock
