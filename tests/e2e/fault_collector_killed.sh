#!/usr/bin/env bash
# Fault: `ldtap collect` is killed with SIGKILL twice in the middle of a load and started
# again each time. Every span the programs made must reach the OTLP receiver (the official
# OpenTelemetry decoders) exactly once: what the dead collector had read but not yet
# delivered is still in the rings (the delivery ledger releases a record only once its
# span is delivered), and what it had delivered is not read again.
# Usage: fault_collector_killed.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$LDTAP_ROOT/scripts/lib/otlp_receiver.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
WORK=$LDTAP_TMP

gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -pthread -o "$WORK/span_burst" \
    "$LDTAP_ROOT/tests/programs_shim/span_burst.c"

RINGS=$WORK/rings
mkdir -m 0700 "$RINGS"
start_otlp_receiver RECEIVER_PID RECEIVER_PORT "$WORK/received.jsonl"

# Short batches: at any moment some spans are read but not yet acknowledged, which is
# what a kill must not lose (or send twice).
BATCH=64
start_collector() {
    start_background COLLECTOR_PID "$WORK/collector-$1.log" env OTEL_BSP_SCHEDULE_DELAY=300 \
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE=$BATCH "$BUILD/ldtap" collect --run-dir "$RINGS" \
        --endpoint "http://127.0.0.1:$RECEIVER_PORT" --no-prometheus
}

# The load: ROUNDS processes one after the other, each THREADS x EXCHANGES loopback HTTP
# exchanges (a client span and a server span each), so rings of live and of exited
# processes are both in play when the collector dies.
# LDTAP_FAULT_SCALE (scripts/reliability.sh) multiplies the load.
ROUNDS=$((24 * ${LDTAP_FAULT_SCALE:-1}))
THREADS=2
EXCHANGES=60
start_background LOAD_PID "$WORK/load.log" bash -c '
    for round in $(seq '"$ROUNDS"'); do
        LD_PRELOAD="'"$BUILD"'/libldtap.so" LDTAP_RUN_DIR="'"$RINGS"'" LDTAP_HEAP_SAMPLE_BYTES=0 \
            OTEL_SERVICE_NAME=burst "'"$WORK"'/span_burst" -t '"$THREADS $EXCHANGES"' || echo "round $round failed"
        sleep 0.15
    done
    echo load done'

start_collector 1
kills=0
for generation in 2 3; do
    # Kill once some spans were delivered (so some records were released and some were not).
    wait_for_lines "$WORK/received.jsonl" $((generation * 3)) 60 || true
    sleep "0.$((RANDOM % 10))"
    kill -KILL "$COLLECTOR_PID"
    stop_pid "$COLLECTOR_PID" KILL 5 || true
    [ "$STOP_STATUS" = 137 ] && kills=$((kills + 1))
    sleep 0.5 # the load goes on with no collector at all
    start_collector "$generation"
done
check "collector killed by SIGKILL twice mid-load and restarted" test "$kills" = 2

for _ in $(seq 600); do grep -q '^load done' "$WORK/load.log" && break; sleep 0.1; done
check "the load finished and every exchange was answered" \
    bash -c "grep -q '^load done' '$WORK/load.log' && ! grep -q failed '$WORK/load.log'"
expected=$((ROUNDS * THREADS * EXCHANGES * 2))

# Rings of exited processes are removed once all their spans are delivered.
for _ in $(seq 300); do
    [ -z "$(ls "$RINGS")" ] && break
    sleep 0.1
done
check "every ring drained, delivered and removed" test -z "$(ls "$RINGS")"
stop_pid "$COLLECTOR_PID" TERM 30
check "the last collector exits 0 on SIGTERM" test "$STOP_STATUS" = 0

eval "$("$LDTAP_PYTHON" "$LDTAP_ROOT/tests/e2e/export_counts.py" "$WORK/received.jsonl")"
echo "     expected=$expected received spans=$spans unique span ids=$unique_span_ids" \
    "in $(wc -l <"$WORK/received.jsonl") export requests"
check "no span lost: $unique_span_ids distinct spans == $expected made" test "$unique_span_ids" -eq "$expected"
duplicates=$((spans - unique_span_ids))
check "sent twice: only a batch in flight at each kill ($duplicates spans <= $kills x $BATCH)" \
    test "$duplicates" -le $((kills * BATCH))
check "no collector reported a dropped span or a corrupt ring" \
    bash -c "! grep -hiE 'dropped: [1-9]|lost|corrupt' '$WORK'/collector-*.log"

# One line for scripts/reliability.sh's table.
echo "RELIABILITY fault=\"collector SIGKILLed twice mid-load, restarted\" load=\"$ROUNDS processes x $THREADS threads x $EXCHANGES exchanges\"" \
    "produced=$expected delivered=$unique_span_ids dropped=0 lost=$((expected - unique_span_ids)) duplicated=$duplicates"
finish_checks
