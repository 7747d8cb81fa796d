#!/usr/bin/env bash
# ldtap's whole test run (what .ci/run calls): setup, build, unit tests, the same under
# ASan+UBSan, the ring's stress test under TSan, libFuzzer harnesses for a short time each
# (replaying tests/fuzz/regressions too), every end-to-end script.
# Ends with "N passed, N failed" (suites) and a non-zero exit when anything failed.
# Environment: LDTAP_BUILD_DIR (default build; -asan, -tsan and -fuzz variants beside it),
# LDTAP_FUZZ_SECONDS (default 15), LDTAP_SKIP_SETUP=1, LDTAP_ONLY=e2e (just build + e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

BUILD=${LDTAP_BUILD_DIR:-build}
BUILD_ASAN="$BUILD-asan"
BUILD_FUZZ="$BUILD-fuzz"
FUZZ_SECONDS=${LDTAP_FUZZ_SECONDS:-15}
make_temp_dir
LOGS="$LDTAP_TMP/logs"
mkdir -p "$LOGS"

PASSED=0
FAILED=0
RESULTS=()

# suite NAME QUIET|LOUD CMD...: runs one suite. LOUD streams its output (test reports worth
# reading in a CI log); QUIET keeps it in a log file shown only when the suite fails.
suite() {
    local name=$1 mode=$2
    shift 2
    local log_file="$LOGS/${name//[^A-Za-z0-9_.-]/_}.log" start=$SECONDS status=0
    echo
    echo "=== $name"
    if [ "$mode" = LOUD ]; then
        # Into a file, followed by tail: a pipe to tee would hang the run if the suite left
        # a process behind that still holds the pipe open.
        : >"$log_file"
        "$@" >>"$log_file" 2>&1 &
        local suite_pid=$!
        tail -n +1 -f --pid="$suite_pid" "$log_file" &
        local tail_pid=$!
        wait "$suite_pid" || status=$?
        wait "$tail_pid" 2>/dev/null || true
    else
        "$@" >"$log_file" 2>&1 || status=$?
    fi
    local took=$((SECONDS - start))
    if [ "$status" = 0 ]; then
        PASSED=$((PASSED + 1))
        RESULTS+=("PASS  $name (${took}s)")
        echo "=== PASS $name (${took}s)"
    else
        FAILED=$((FAILED + 1))
        RESULTS+=("FAIL  $name (${took}s, exit $status)")
        if [ "$mode" = QUIET ]; then
            echo "--- last lines of $name's output:"
            tail -n 80 "$log_file"
        fi
        echo "=== FAIL $name (${took}s, exit $status)"
    fi
    return "$status"
}

# A suite that cannot run because what it needs failed to build: counted as failed.
not_run() {
    FAILED=$((FAILED + 1))
    RESULTS+=("FAIL  $1 (not run: $2)")
    echo "=== FAIL $1 (not run: $2)"
}

run_fuzzer() {
    local binary=$1 name
    name=$(basename "$binary")
    # libFuzzer writes new inputs into its first corpus dir: a scratch one, so the repo's
    # corpus (read-only here, second) is never modified by a test run.
    local scratch="$LDTAP_TMP/corpus-$name" corpora=()
    mkdir -p "$scratch"
    corpora+=("$scratch")
    [ -d "tests/fuzz/corpus/$name" ] && corpora+=("tests/fuzz/corpus/$name")
    # Inputs that once crashed (scripts/fuzz_long.sh keeps them): replayed first.
    [ -d "tests/fuzz/regressions/$name" ] && corpora+=("tests/fuzz/regressions/$name")
    "$binary" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$LDTAP_TMP/$name-" -print_final_stats=1 "${corpora[@]}"
}

if [ "${LDTAP_SKIP_SETUP:-0}" != 1 ]; then
    suite setup QUIET bash scripts/setup.sh || true
fi

if suite "build ($BUILD)" QUIET bash scripts/build.sh "$BUILD"; then
    if [ "${LDTAP_ONLY:-}" != e2e ]; then
        suite "unit tests" LOUD ctest --test-dir "$BUILD" --output-on-failure || true
    fi
    BUILD_OK=1
else
    BUILD_OK=0
    not_run "unit tests" "build failed"
    # The end-to-end tests need only ldtap and libldtap.so: a broken unit test must not
    # hide their results.
    if cmake --build "$BUILD" -j"${LDTAP_JOBS:-2}" --target ldtap ldtap_shim >/dev/null 2>&1; then
        echo "    (ldtap and libldtap.so did build: running the end-to-end tests anyway)"
        BUILD_OK=1
    fi
fi

if [ "${LDTAP_ONLY:-}" != e2e ]; then
    if suite "build ($BUILD_ASAN, ASan+UBSan)" QUIET bash scripts/build.sh "$BUILD_ASAN" -DLDTAP_SANITIZE=ON; then
        ASAN_BUILD_OK=1
        # detect_leaks stays on: the collector must not leak either.
        ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            suite "unit tests (ASan+UBSan)" LOUD ctest --test-dir "$BUILD_ASAN" --output-on-failure || true
    else
        not_run "unit tests (ASan+UBSan)" "sanitizer build failed"
    fi

    # The ring's producers and consumer under ThreadSanitizer: a standalone program
    # (Criterion does not start under TSan), the only target of the -tsan build.
    BUILD_TSAN="$BUILD-tsan"
    if LDTAP_TARGETS=ring_stress suite "build ($BUILD_TSAN, TSan)" QUIET bash scripts/build.sh "$BUILD_TSAN" \
        -DLDTAP_TSAN=ON -DLDTAP_TESTS=OFF; then
        TSAN_OPTIONS=halt_on_error=1 suite "ring stress (TSan)" LOUD "$BUILD_TSAN/ring_stress" || true
    else
        not_run "ring stress (TSan)" "TSan build failed"
    fi

    # Only the harnesses: a broken helper program elsewhere must not stop the fuzzing.
    fuzz_targets=""
    for fuzz_source in tests/fuzz/fuzz_*.c; do
        [ -e "$fuzz_source" ] && fuzz_targets+=" $(basename "$fuzz_source" .c)"
    done
    if LDTAP_TARGETS="$fuzz_targets" suite "build ($BUILD_FUZZ, libFuzzer)" QUIET bash scripts/build.sh "$BUILD_FUZZ" \
        -DCMAKE_C_COMPILER=clang -DLDTAP_FUZZ=ON -DLDTAP_TESTS=OFF; then
        for fuzz_source in tests/fuzz/fuzz_*.c; do
            [ -e "$fuzz_source" ] || continue
            fuzzer="$BUILD_FUZZ/$(basename "$fuzz_source" .c)"
            if [ -x "$fuzzer" ]; then
                suite "$(basename "$fuzzer") (${FUZZ_SECONDS}s)" QUIET run_fuzzer "$fuzzer" || true
                runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOGS/$(basename "$fuzzer")"*.log 2>/dev/null | tail -n 1 || true)
                echo "    $(basename "$fuzzer"): ${runs:-?} inputs executed"
            else
                not_run "$(basename "$fuzzer")" "not built"
            fi
        done
    else
        for fuzz_source in tests/fuzz/fuzz_*.c; do
            [ -e "$fuzz_source" ] && not_run "$(basename "$fuzz_source" .c)" "fuzz build failed"
        done
    fi
fi

# Scripts get an absolute build dir: some cd elsewhere or put it into LD_PRELOAD.
case "$BUILD" in
/*) BUILD_ABSOLUTE=$BUILD ;;
*) BUILD_ABSOLUTE="$PWD/$BUILD" ;;
esac
for script in tests/e2e/*.sh; do
    [ -e "$script" ] || continue
    name="e2e/$(basename "$script" .sh)"
    if [ "$BUILD_OK" = 1 ]; then
        # A hung server must not hang CI: timeout, then the script's trap stops its servers.
        suite "$name" LOUD timeout -k 15 480 bash "$script" "$BUILD_ABSOLUTE" || true
    else
        not_run "$name" "build failed"
    fi
done

# The collector again, built with ASan+UBSan, behind the end-to-end scripts that feed it the
# most varied input (the shim stays a plain build: it is loaded into uninstrumented programs).
if [ "${ASAN_BUILD_OK:-0}" = 1 ]; then
    case "$BUILD_ASAN" in
    /*) BUILD_ASAN_ABSOLUTE=$BUILD_ASAN ;;
    *) BUILD_ASAN_ABSOLUTE="$PWD/$BUILD_ASAN" ;;
    esac
    for name in ${LDTAP_ASAN_E2E:-http_server otlp_decode exceptions db_wire fault_collector_killed}; do
        [ -e "tests/e2e/$name.sh" ] || continue
        ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            suite "e2e/$name (collector under ASan+UBSan)" LOUD timeout -k 15 480 bash "tests/e2e/$name.sh" \
            "$BUILD_ASAN_ABSOLUTE" || true
    done
fi

echo
echo "=== results"
for line in "${RESULTS[@]}"; do
    echo "  $line"
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
