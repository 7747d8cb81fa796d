#!/usr/bin/env bash
# Configures and builds ldtap (build/ldtap, build/libldtap.so, unit tests, bench programs).
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake -D options...]
# LDTAP_TARGETS="ldtap ldtap_shim" builds only those targets (default: everything).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

build_dir=${1:-build}
shift || true
jobs=${LDTAP_JOBS:-2}

# RelWithDebInfo: optimised like a release (the shim's cost is what we measure) but with
# symbols, so sanitizer reports and callgrind profiles name functions.
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLDTAP_WERROR=ON "$@"
targets=()
for target in ${LDTAP_TARGETS:-}; do
    targets+=(--target "$target")
done
cmake --build "$build_dir" -j"$jobs" "${targets[@]}"
log "built $build_dir"
