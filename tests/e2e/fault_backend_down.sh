#!/usr/bin/env bash
# Fault: the OTLP backend goes down while programs keep making spans. The receiver (the
# official OpenTelemetry decoders) answers 503, then 429 with Retry-After, then refuses
# connections, then recovers.
#  1. With a queue big enough for the outage: every span is delivered once after recovery,
#     retries follow the backoff and Retry-After, and the collector's memory stays bounded.
#  2. With a queue too small for it: what did not fit is counted and reported at exit, and
#     delivered + reported = made, exactly.
# Usage: fault_backend_down.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$LDTAP_ROOT/scripts/lib/otlp_receiver.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
WORK=$LDTAP_TMP

gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -pthread -o "$WORK/span_burst" \
    "$LDTAP_ROOT/tests/programs_shim/span_burst.c"

rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status" 2>/dev/null || echo 0; }

# run_outage NAME PHASES QUEUE ROUNDS [EXCHANGES]: a receiver playing PHASES, `ldtap collect`
# with a span queue of QUEUE, and ROUNDS processes of 2 threads x EXCHANGES (default 50)
# exchanges, two spans each, during the outage. Leaves the receiver's files in $WORK/NAME-*, the collector's log in
# $WORK/NAME-collector.log, and sets MADE, PEAK_RSS_GROWTH_KIB.
run_outage() {
    local name=$1 phases=$2 queue=$3 rounds=$4 exchanges=${5:-50}
    local rings="$WORK/$name-rings"
    mkdir -m 0700 "$rings"
    start_otlp_receiver RECEIVER_PID RECEIVER_PORT "$WORK/$name-received.jsonl" \
        --requests "$WORK/$name-requests.jsonl" --phases "$phases"
    start_background COLLECTOR_PID "$WORK/$name-collector.log" env OTEL_BSP_SCHEDULE_DELAY=200 \
        OTEL_BSP_MAX_QUEUE_SIZE="$queue" OTEL_BSP_MAX_EXPORT_BATCH_SIZE=128 OTEL_METRICS_EXPORTER=none \
        OTEL_LOGS_EXPORTER=none "$BUILD/ldtap" collect --run-dir "$rings" \
        --endpoint "http://127.0.0.1:$RECEIVER_PORT" --no-prometheus --export-deadline 20000
    sleep 0.3
    local rss_before peak=0 round
    rss_before=$(rss_kib "$COLLECTOR_PID")
    for round in $(seq "$rounds"); do
        LD_PRELOAD="$BUILD/libldtap.so" LDTAP_RUN_DIR="$rings" LDTAP_HEAP_SAMPLE_BYTES=0 OTEL_SERVICE_NAME=burst \
            "$WORK/span_burst" -t 2 "$exchanges" >/dev/null || fail "$name: load round $round failed"
        local rss
        rss=$(rss_kib "$COLLECTOR_PID")
        [ "$rss" -gt "$peak" ] && peak=$rss
        sleep 0.3
    done
    MADE=$((rounds * 2 * exchanges * 2))
    PEAK_RSS_GROWTH_KIB=$((peak - rss_before))
    # Recovery: wait until the phases ended and everything was either delivered or dropped.
    local deadline=$((SECONDS + 90))
    while [ "$SECONDS" -lt "$deadline" ]; do
        grep -q '^phase end' "$WORK/$name-received.jsonl.log" && [ -z "$(ls "$rings")" ] && break
        sleep 0.2
    done
    stop_pid "$COLLECTOR_PID" TERM 40
    check "$name: ldtap collect exits 0 after the outage" test "$STOP_STATUS" = 0
    stop_pid "$RECEIVER_PID" TERM 5 || true
}

# LDTAP_FAULT_SCALE (scripts/reliability.sh) multiplies the load (and the queue with it).
SCALE=${LDTAP_FAULT_SCALE:-1}

# ---- 1. an outage the queue can hold ----
run_outage held "503:2000,429:2500:1,closed:2500" $((4096 * SCALE)) $((10 * SCALE))
eval "$("$LDTAP_PYTHON" "$LDTAP_ROOT/tests/e2e/export_counts.py" "$WORK/held-received.jsonl")"
echo "     made=$MADE delivered=$spans distinct=$unique_span_ids; collector RSS grew by ${PEAK_RSS_GROWTH_KIB} KiB at most"
check "every span delivered after recovery ($unique_span_ids of $MADE)" test "$unique_span_ids" -eq "$MADE"
check "none delivered twice" test "$spans" -eq "$unique_span_ids"
check "the exit summary reports nothing dropped" grep -q 'dropped: 0$' "$WORK/held-collector.log"
# A span queue of 4096 holds about 13 MB: the collector grows by the queue, not by the load.
check "collector memory stayed bounded during the outage (+${PEAK_RSS_GROWTH_KIB} KiB <= 32 MiB)" \
    test "$PEAK_RSS_GROWTH_KIB" -le $((32768 * SCALE))
echo "RELIABILITY fault=\"backend 503, 429 Retry-After, refused; queue $((4096 * SCALE))\" load=\"$((10 * SCALE)) processes, 200 spans each\"" \
    "produced=$MADE delivered=$unique_span_ids dropped=0 lost=$((MADE - unique_span_ids)) duplicated=$((spans - unique_span_ids))"
"$LDTAP_PYTHON" - "$WORK/held-requests.jsonl" <<'EOF' || fail "held: retries did not respect backoff and Retry-After"
import json, sys
attempts = [json.loads(line) for line in open(sys.argv[1]) if '"/v1/traces"' in line]
statuses = [a["status"] for a in attempts]
print("     trace requests:", " ".join(f'{a["status"]}@{(a["timeMs"] - attempts[0]["timeMs"]) / 1000:.1f}s' for a in attempts[:12]))
assert 503 in statuses and 429 in statuses and statuses[-1] == 200, statuses
for previous, following in zip(attempts, attempts[1:]):
    gap = following["timeMs"] - previous["timeMs"]
    if previous["status"] == 429:
        # Retry-After: 1 was sent with every 429.
        assert gap >= 950, f"retried {gap} ms after a 429 with Retry-After: 1"
    elif previous["status"] == 503:
        # Exponential backoff from 1 s, with +-20% jitter.
        assert gap >= 780, f"retried {gap} ms after a 503"
print("ok   - held: retries waited at least the backoff after each 503 and Retry-After after each 429")
EOF

# ---- 2. an outage longer than queue and rings hold ----
# A full queue leaves records in their rings until a ring is half full; one process making
# 20,000 spans (about 8 MB of records in a 4 MiB ring) passes that, and from there what
# the queue cannot take is dropped and counted.
run_outage overflow "closed:6000" 256 1 $((5000 * SCALE))
eval "$("$LDTAP_PYTHON" "$LDTAP_ROOT/tests/e2e/export_counts.py" "$WORK/overflow-received.jsonl")"
reported=$(sed -n 's/^ldtap: .*; dropped: \([0-9]*\)$/\1/p' "$WORK/overflow-collector.log" | tail -n 1)
echo "     made=$MADE delivered=$spans distinct=$unique_span_ids reported dropped=${reported:-none}"
sed -n '/dropped (/p' "$WORK/overflow-collector.log" | sed 's/^/     /'
check "the queue overflowed: some spans were dropped (${reported:-none})" test "${reported:-0}" -gt 0
check "none delivered twice" test "$spans" -eq "$unique_span_ids"
check "nothing lost silently: delivered $spans + reported ${reported:-0} == made $MADE" \
    test $((spans + ${reported:-0})) -eq "$MADE"

echo "RELIABILITY fault=\"backend refusing for 6 s; queue 256, 4 MiB ring\" load=\"1 process, $((20000 * SCALE)) spans\"" \
    "produced=$MADE delivered=$unique_span_ids dropped=${reported:-0} lost=$((MADE - unique_span_ids - ${reported:-0})) duplicated=$((spans - unique_span_ids))"
finish_checks
