#!/usr/bin/env bash
# Long libFuzzer runs: builds every tests/fuzz/fuzz_*.c harness, runs each for a while,
# merges the inputs that add coverage into tests/fuzz/corpus/<harness>/ and copies every
# crash, leak, timeout or OOM input into tests/fuzz/regressions/<harness>/, which the short
# CI run (scripts/test.sh) replays. Ends with one line per harness and a non-zero exit when
# anything was found.
# Usage: scripts/fuzz_long.sh [SECONDS_PER_HARNESS (default 600)] [HARNESS...]
# Environment: LDTAP_BUILD_DIR (default build; the harnesses go to its -fuzz sibling, as
# in scripts/test.sh), LDTAP_JOBS (build parallelism).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

SECONDS_PER_HARNESS=${1:-600}
shift || true
case "$SECONDS_PER_HARNESS" in
'' | *[!0-9]*) die "SECONDS_PER_HARNESS must be a whole number of seconds, not '$SECONDS_PER_HARNESS'" ;;
esac
BUILD_FUZZ="${LDTAP_BUILD_DIR:-build}-fuzz"
make_temp_dir

harnesses=("$@")
if [ "${#harnesses[@]}" = 0 ]; then
    for source in tests/fuzz/fuzz_*.c; do
        harnesses+=("$(basename "$source" .c)")
    done
fi
for harness in "${harnesses[@]}"; do
    [ -f "tests/fuzz/$harness.c" ] || die "no harness tests/fuzz/$harness.c"
done

log "building ${#harnesses[@]} harnesses in $BUILD_FUZZ"
LDTAP_TARGETS="${harnesses[*]}" bash scripts/build.sh "$BUILD_FUZZ" -DCMAKE_C_COMPILER=clang -DLDTAP_FUZZ=ON \
    -DLDTAP_TESTS=OFF >"$LDTAP_TMP/build.log" 2>&1 || {
    tail -n 40 "$LDTAP_TMP/build.log" >&2
    die "the fuzz build failed"
}

SUMMARY=()
FOUND=0
for harness in "${harnesses[@]}"; do
    binary="$BUILD_FUZZ/$harness"
    corpus="tests/fuzz/corpus/$harness"
    regressions="tests/fuzz/regressions/$harness"
    scratch="$LDTAP_TMP/new-$harness"
    artifacts="$LDTAP_TMP/artifacts-$harness"
    mkdir -p "$corpus" "$scratch" "$artifacts"
    seeds=("$corpus")
    [ -d "$regressions" ] && seeds+=("$regressions")
    before=$(find "$corpus" -type f | wc -l)
    log "$harness: ${SECONDS_PER_HARNESS}s from $before corpus inputs"
    # New inputs go to a scratch directory first: only those that add coverage are merged
    # into the repository's corpus below, so it does not grow by every mutation kept.
    status=0
    "$binary" -max_total_time="$SECONDS_PER_HARNESS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$scratch" "${seeds[@]}" >"$LDTAP_TMP/$harness.log" 2>&1 || status=$?
    # A harness that crashes at once prints neither line.
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LDTAP_TMP/$harness.log" | tail -n 1) || true
    coverage=$(grep -oE 'cov: [0-9]+' "$LDTAP_TMP/$harness.log" | tail -n 1 | cut -d' ' -f2) || true
    "$binary" -merge=1 -timeout=10 -rss_limit_mb=2048 "$corpus" "$scratch" >"$LDTAP_TMP/$harness-merge.log" 2>&1 ||
        log "$harness: merging the new inputs failed (see below)"
    added=$(($(find "$corpus" -type f | wc -l) - before))

    found=""
    for artifact in "$artifacts"/*; do
        [ -e "$artifact" ] || continue
        mkdir -p "$regressions"
        # Named by content, so the same crasher found twice is kept once.
        name="$(basename "$artifact" | cut -d- -f1)-$(sha1sum "$artifact" | cut -c1-16)"
        cp "$artifact" "$regressions/$name"
        found+=" $regressions/$name"
    done
    if [ -n "$found" ] || [ "$status" != 0 ]; then
        FOUND=$((FOUND + 1))
        log "$harness: exit $status; inputs kept:${found:- none}"
        grep -E -A 30 '^==[0-9]+==ERROR|^SUMMARY|deadly signal|Timeout|out-of-memory' "$LDTAP_TMP/$harness.log" |
            head -n 60 >&2 || true
    fi
    SUMMARY+=("$(printf '%-24s %12s execs  cov %6s  +%d corpus  %s' "$harness" "${executions:-?}" "${coverage:-?}" \
        "$added" "${found:+FOUND:$found}")")
    log "${SUMMARY[-1]}"
done

echo
echo "=== long fuzz run: ${SECONDS_PER_HARNESS}s per harness"
printf '  %s\n' "${SUMMARY[@]}"
[ "$FOUND" = 0 ]
