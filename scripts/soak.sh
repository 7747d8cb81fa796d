#!/usr/bin/env bash
# The long run behind CI's short one: every fault under a heavier load (the reliability
# table), CPython's regression modules whole under the shim (test_socket, test_asyncio,
# test_signal and the rest, not CI's subset), and each libFuzzer harness for minutes.
# Hours on two cores; never part of CI. Exits non-zero when any part failed.
# Usage: scripts/soak.sh [BUILD_DIR]   LDTAP_FAULT_SCALE (default 4), LDTAP_SOAK_FUZZ_SECONDS
#        (per harness, default 600), LDTAP_SOAK_SKIP="fuzz compat reliability" to leave parts out.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

BUILD=${1:-build}
skip=" ${LDTAP_SOAK_SKIP:-} "
failed=()
bash scripts/build.sh "$BUILD" >/dev/null || die "build failed"
BUILD=$(cd "$BUILD" && pwd)

if [[ $skip != *" reliability "* ]]; then
    log "reliability: every fault test, load x${LDTAP_FAULT_SCALE:-4}"
    LDTAP_SKIP_BUILD=1 bash scripts/reliability.sh "$BUILD" || failed+=(reliability)
fi
if [[ $skip != *" compat "* ]]; then
    log "compatibility: CPython's regression modules whole, with and without the shim"
    LDTAP_COMPAT_FULL=1 bash tests/e2e/shim_compat.sh "$BUILD" || failed+=(compat)
fi
if [[ $skip != *" fuzz "* ]]; then
    log "fuzzing: every harness for ${LDTAP_SOAK_FUZZ_SECONDS:-600} s"
    LDTAP_BUILD_DIR="$BUILD" bash scripts/fuzz_long.sh "${LDTAP_SOAK_FUZZ_SECONDS:-600}" || failed+=(fuzz)
fi

if [ "${#failed[@]}" -gt 0 ]; then
    log "failed: ${failed[*]}"
    exit 1
fi
log "soak passed"
