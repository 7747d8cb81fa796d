#!/usr/bin/env bash
# A damaged ring never stops `ldtap collect`: rings overwritten with random bytes, with
# random records, with a record length pointing outside the ring or past head, with head
# behind tail or far ahead, with a wrong data size, truncated (to half, to the header, to
# nothing) are each reported on stderr by name, and every intact ring beside them is still
# drained and exported, span for span. Then the same while the processes live: a ring gets
# random records, another is truncated to nothing under the attached collector, and the
# intact live ring keeps being exported. With an ASan build beside BUILD_DIR (BUILD_DIR-asan,
# as scripts/test.sh makes) the dead-ring part runs again under ASan.
# Usage: tests/e2e/ring_tamper.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
unset XDG_RUNTIME_DIR
T=$LDTAP_TMP


SHIM=$BUILD/libldtap.so
CFLAGS=(-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2)
gcc "${CFLAGS[@]}" -o "$T/probe" "$LDTAP_ROOT/tests/programs_shim/secure_probe.c"
gcc "${CFLAGS[@]}" -I"$LDTAP_ROOT/shim/ring" -o "$T/ring_tamper" "$LDTAP_ROOT/tests/programs_shim/ring_tamper.c"

# spans_of FILE SERVICE: spans of SERVICE in an OTLP-JSON lines file.
spans_of() {
    "$LDTAP_PYTHON" - "$1" "$2" <<'PY'
import json, sys
count = 0
try:
    lines = open(sys.argv[1]).read().splitlines()
except OSError:
    lines = []
for line in lines:
    for resource_spans in json.loads(line).get("resourceSpans", []):
        attributes = resource_spans.get("resource", {}).get("attributes", [])
        names = [a["value"].get("stringValue") for a in attributes if a["key"] == "service.name"]
        if names == [sys.argv[2]]:
            count += sum(len(scope.get("spans", [])) for scope in resource_spans.get("scopeSpans", []))
print(count)
PY
}

# make_ring DIR SERVICE: one finished process's ring (a server and a client span) in DIR;
# prints its path. Made in a staging directory first so the new file is easy to name.
make_ring() {
    local stage="$T/stage"
    rm -rf "$stage"
    mkdir -m 700 "$stage"
    OTEL_SERVICE_NAME=$2 LD_PRELOAD="$SHIM" LDTAP_RUN_DIR="$stage" LDTAP_HEAP_SAMPLE_BYTES=0 "$T/probe" >/dev/null
    local ring
    ring=$(find "$stage" -name '*.ring' | head -n 1)
    mv "$ring" "$1/"
    echo "$1/$(basename "$ring")"
}

# damage MODE FILE: ring_tamper's modes, plus truncation.
damage() {
    case $1 in
    truncated-half) truncate -s "$(($(stat -c %s "$2") / 2))" "$2" ;;
    truncated-header) truncate -s 4096 "$2" ;;
    truncated-empty) truncate -s 0 "$2" ;;
    *) "$T/ring_tamper" "$1" "$2" ;;
    esac
}

# named_in_stderr FILE RING: a line of FILE names RING's file.
named_in_stderr() { grep -q -F "$(basename "$2")" "$1"; }

DAMAGES=(garbage garbage-records length-outside length-past-head head-behind-tail head-far data-size
    truncated-half truncated-header truncated-empty)

# ---- rings of processes that have exited ----
# dead_rings LABEL LDTAP: two intact rings and one ring per kind of damage, one collector.
dead_rings() {
    local label=$1 ldtap=$2 directory="$T/$1" collector_pid status
    mkdir -m 700 "$directory"
    local good_a good_b victims=()
    good_a=$(make_ring "$directory" good-a)
    for damage_mode in "${DAMAGES[@]}"; do
        victims+=("$(make_ring "$directory" "victim-$damage_mode")")
        damage "$damage_mode" "${victims[-1]}"
    done
    good_b=$(make_ring "$directory" good-b)
    start_background collector_pid "$T/$label.err" env OTEL_BSP_SCHEDULE_DELAY=100 "$ldtap" collect \
        --run-dir "$directory" -o "$T/$label.jsonl" --no-prometheus
    # Until both intact rings are drained and every damaged one has been reported (a ring
    # whose header never validates is reported after 2 s of retries), at most 20 s.
    local deadline=$((SECONDS + 20)) pending
    while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$collector_pid" 2>/dev/null; do
        pending=0
        [ -e "$good_a" ] && pending=1
        [ -e "$good_b" ] && pending=1
        for victim in "${victims[@]}"; do named_in_stderr "$T/$label.err" "$victim" || pending=1; done
        [ "$pending" = 0 ] && break
        sleep 0.2
    done
    local alive=0
    kill -0 "$collector_pid" 2>/dev/null && alive=1
    stop_pid "$collector_pid" TERM 20 || true
    status=$STOP_STATUS
    check "$label: the collector kept running among damaged rings" test "$alive" = 1
    check "$label: it exits cleanly (status $status)" test "$status" = 0
    check "$label: no sanitizer report" bash -c "! grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' '$T/$label.err'"
    check "$label: intact ring good-a drained and exported ($(spans_of "$T/$label.jsonl" good-a) spans)" \
        test "$(spans_of "$T/$label.jsonl" good-a)" = 2
    check "$label: intact ring good-b drained and exported ($(spans_of "$T/$label.jsonl" good-b) spans)" \
        test "$(spans_of "$T/$label.jsonl" good-b)" = 2
    check "$label: intact rings removed once drained" test ! -e "$good_a" -a ! -e "$good_b"
    local index
    for index in "${!DAMAGES[@]}"; do
        check "$label: ring with damage '${DAMAGES[$index]}' reported by name" \
            named_in_stderr "$T/$label.err" "${victims[$index]}"
    done
    if [ "$FAILURES" != 0 ]; then
        echo "--- $label: collector stderr"
        cat "$T/$label.err"
    fi
}

dead_rings dead "$BUILD/ldtap"
if [ -x "$BUILD-asan/ldtap" ]; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        dead_rings dead-asan "$BUILD-asan/ldtap"
else
    echo "# no ASan build at $BUILD-asan: the dead-ring part ran once, without ASan"
fi

# ---- live processes: rings damaged under the attached collector ----
LIVE=$T/live
mkdir -m 700 "$LIVE" "$T/site"
echo hello >"$T/site/index.html"
start_background collector_pid "$T/live.err" env OTEL_BSP_SCHEDULE_DELAY=100 "$BUILD/ldtap" collect \
    --run-dir "$LIVE" -o "$T/live.jsonl" --no-prometheus
declare -A PORT PID
for service in live-good live-records live-truncated; do
    PORT[$service]=$(free_port)
    start_background "PID[$service]" "$T/$service.log" env OTEL_SERVICE_NAME=$service LD_PRELOAD="$SHIM" \
        LDTAP_RUN_DIR="$LIVE" LDTAP_HEAP_SAMPLE_BYTES=0 "$LDTAP_PYTHON" -m http.server --bind 127.0.0.1 \
        --directory "$T/site" "${PORT[$service]}"
done
requests() { # SERVICE COUNT
    local i
    for i in $(seq "$2"); do curl -s -o /dev/null "http://127.0.0.1:${PORT[$1]}/index.html?n=$i" || true; done
}
# wait_spans SERVICE COUNT: until COUNT spans of SERVICE were exported (at most 15 s).
wait_spans() {
    local deadline=$((SECONDS + 15))
    until [ "$(spans_of "$T/live.jsonl" "$1")" -ge "$2" ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
}
for service in live-good live-records live-truncated; do
    wait_for_port "${PORT[$service]}" 20 "${PID[$service]}"
    requests "$service" 5
done
for service in live-good live-records live-truncated; do wait_spans "$service" 5; done
check "live: all three rings attached and drained before the damage" \
    test "$(spans_of "$T/live.jsonl" live-records)" = 5 -a "$(spans_of "$T/live.jsonl" live-truncated)" = 5
records_ring=$(find "$LIVE" -name "${PID[live-records]}-*.ring" | head -n 1)
truncated_ring=$(find "$LIVE" -name "${PID[live-truncated]}-*.ring" | head -n 1)
"$T/ring_tamper" garbage-records "$records_ring"
truncate -s 0 "$truncated_ring"
sleep 0.5
requests live-good 5
wait_spans live-good 10
alive=0
kill -0 "$collector_pid" 2>/dev/null && alive=1
check "live: the collector survived a ring damaged under it" test "$alive" = 1
check "live: the intact live ring is still exported after the damage ($(spans_of "$T/live.jsonl" live-good) of 10)" \
    test "$(spans_of "$T/live.jsonl" live-good)" = 10
check "live: the ring with random records is reported by name" named_in_stderr "$T/live.err" "$records_ring"
check "live: the ring truncated under the collector is reported by name" named_in_stderr "$T/live.err" "$truncated_ring"
for service in live-good live-records live-truncated; do stop_pid "${PID[$service]}" TERM 10 || true; done
stop_pid "$collector_pid" TERM 20 || true
check "live: the collector exits cleanly (status $STOP_STATUS)" test "$STOP_STATUS" = 0
if [ "$alive" = 0 ] || [ "$STOP_STATUS" != 0 ]; then
    echo "--- live: collector stderr"
    cat "$T/live.err"
fi

echo
if [ "$FAILURES" = 0 ]; then
    echo "ring_tamper: all checks passed"
else
    echo "ring_tamper: $FAILURES check(s) failed"
fi
[ "$FAILURES" = 0 ]
