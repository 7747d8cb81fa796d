#!/usr/bin/env bash
# Fault: a traced server is killed with SIGKILL in the middle of a load. Every record it
# committed before dying must reach the local OTLP-JSON file: the ring header's
# committed_records (read through a hard link the collector cannot remove) against the
# spans `ldtap collect` wrote. Usage: fault_program_killed.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
WORK=$LDTAP_TMP

CFLAGS="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2"
gcc $CFLAGS -I"$LDTAP_ROOT/shim/ring" -o "$WORK/ring_counters" "$LDTAP_ROOT/tests/programs_shim/ring_counters.c"
gcc $CFLAGS -I"$LDTAP_ROOT/shim/ring" -o "$WORK/ring_dump" "$LDTAP_ROOT/tests/programs_shim/ring_dump.c" \
    "$LDTAP_ROOT/shim/ring/ring_reader.c"
counter() { "$WORK/ring_counters" "$2" | grep -oP "\b$1=\K[0-9]+"; } # counter NAME RING_FILE

RINGS=$WORK/rings
mkdir -m 0700 "$RINGS" "$WORK/site"
echo hello >"$WORK/site/a.txt"
PORT=$(free_port)
# LDTAP_FAULT_SCALE (scripts/reliability.sh) multiplies the load.
SCALE=${LDTAP_FAULT_SCALE:-1}
LOAD_CLIENTS=4
LOAD_PER_CLIENT=$((5000 * SCALE))
KILL_AFTER=$((2000 * SCALE)) # committed spans of the load before the kill

# The server starts before the collector: its first records (the first span and the
# module map the shim writes with it) can be counted by type in a copy of the ring.
start_background SERVER_PID "$WORK/server.log" env LD_PRELOAD="$BUILD/libldtap.so" LDTAP_RUN_DIR="$RINGS" \
    LDTAP_HEAP_SAMPLE_BYTES=0 OTEL_SERVICE_NAME=killed-server \
    "$LDTAP_PYTHON" -m http.server --bind 127.0.0.1 --directory "$WORK/site" "$PORT"
wait_for_port "$PORT" 20 "$SERVER_PID" || die "server did not start: $(cat "$WORK/server.log")"
curl -sf -o /dev/null "http://127.0.0.1:$PORT/a.txt" || die "first request failed"

RING=$(ls "$RINGS"/*.ring)
# A second name for the ring outside the ring directory: the collector unlinks the ring
# once it has drained it, and the final header counters are read afterwards through this.
ln "$RING" "$WORK/kept.ring"

# Records before the load, by type: every one committed so far, none consumed yet.
non_span_before=""
for _ in $(seq 100); do
    cp "$RING" "$WORK/copy.ring"
    dump=$("$WORK/ring_dump" "$WORK/copy.ring")
    committed=$(grep -oP '^counters committed=\K[0-9]+' <<<"$dump")
    spans=$(grep -c '^span ' <<<"$dump" || true)
    records=$(grep -cE '^(span|db|module|stack|sample|free|crash|log) ' <<<"$dump" || true)
    if [ "$spans" = 1 ] && [ "$records" = "$committed" ]; then
        non_span_before=$((committed - spans))
        break
    fi
    sleep 0.1
done
check "before the load: 1 span and its module map committed ($non_span_before other records)" \
    test -n "$non_span_before"
non_span_before=${non_span_before:-0}

start_background COLLECTOR_PID "$WORK/collector.log" "$BUILD/ldtap" collect --run-dir "$RINGS" \
    --output "$WORK/traces.jsonl" --no-prometheus
LOADERS=()
for i in $(seq "$LOAD_CLIENTS"); do
    start_background loader "$WORK/load-$i.txt" curl -s -o /dev/null -w '%{http_code}\n' \
        "http://127.0.0.1:$PORT/a.txt?client=$i&n=[1-$LOAD_PER_CLIENT]"
    LOADERS+=("$loader")
done

# Mid-load: once KILL_AFTER spans of the load are committed, while the clients still send.
killed_mid_load=false
for _ in $(seq 600); do
    if [ "$(counter committed "$WORK/kept.ring")" -ge $((KILL_AFTER + 1 + non_span_before)) ]; then
        kill -KILL "$SERVER_PID"
        killed_mid_load=true
        break
    fi
    sleep 0.05
done
stop_pid "$SERVER_PID" KILL 10 || true
check "server killed by SIGKILL mid-load (wait status $STOP_STATUS)" \
    test "$killed_mid_load" = true -a "$STOP_STATUS" = 137
for loader in "${LOADERS[@]}"; do wait "$loader" || true; done
answered=$(cat "$WORK"/load-*.txt | grep -c '^200$' || true)
refused=$(cat "$WORK"/load-*.txt | grep -vc '^200$' || true)
check "the load went on past the kill ($answered answered, $refused refused)" test "$refused" -gt 0

# The collector retires the ring once the dead process's records are all taken.
for _ in $(seq 200); do [ -e "$RING" ] || break; sleep 0.1; done
check "ring drained and removed by the collector" test ! -e "$RING"
stop_pid "$COLLECTOR_PID" TERM 30
check "ldtap collect exits 0 on SIGTERM" test "$STOP_STATUS" = 0
sed 's/^/     /' "$WORK/collector.log" | tail -4

committed=$(counter committed "$WORK/kept.ring")
dropped=$(counter dropped_ring_full "$WORK/kept.ring")
eval "$("$LDTAP_PYTHON" "$LDTAP_ROOT/tests/e2e/export_counts.py" "$WORK/traces.jsonl")"
expected=$((committed - non_span_before))
echo "     committed=$committed (of which $non_span_before module records) dropped=$dropped;" \
    "exported spans=$spans logs=$logs; clients got $answered answers"
check "nothing dropped at the ring" test "$dropped" = 0
check "every committed record exported: $spans spans + $logs log records == $expected" \
    test $((spans + logs)) -eq "$expected"
check "no span exported twice" test "$unique_span_ids" -eq "$spans"
summary_spans=$(grep -oP '^ldtap: \K[0-9]+(?= spans written to)' "$WORK/collector.log" || echo none)
check "summary reports the same count ($summary_spans)" test "$summary_spans" = "$spans"
# A span is committed after its response's last byte went out, so every exported load
# span was answered; an answer whose span was not yet committed at the kill is in flight
# on one of the LOAD_CLIENTS connections.
load_spans=$((spans - 1))
check "exported load spans ($load_spans) match the answers ($answered) within the clients in flight" \
    test "$load_spans" -le "$answered" -a "$answered" -le $((load_spans + LOAD_CLIENTS))

# One line for scripts/reliability.sh's table.
echo "RELIABILITY fault=\"traced server SIGKILLed mid-load\" load=\"python http.server, $LOAD_CLIENTS curl clients, kill after $KILL_AFTER spans\"" \
    "produced=$expected delivered=$((spans + logs)) dropped=$dropped lost=$((expected - spans - logs)) duplicated=$((spans - unique_span_ids))"
finish_checks
