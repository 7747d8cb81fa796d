#!/usr/bin/env bash
# Database tracing benchmarks (never pass/fail): pgbench -S TPS, a Python sqlite3 loop and
# redis-benchmark with and without ldtap (medians of alternating runs, ratio to plain), and
# callgrind instructions the shim adds per SQLite execution and per PQexec. Prints a table.
# Usage: scripts/bench_db.sh [BUILD_DIR]; LDTAP_BENCH_PAIRS (5), LDTAP_BENCH_SECONDS (5).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source scripts/lib/db_servers.sh
source scripts/lib/bench.sh

BUILD=$(resolve_build_dir "${1:-build}")
PAIRS=${LDTAP_BENCH_PAIRS:-5}
SECONDS_PER_RUN=${LDTAP_BENCH_SECONDS:-5}
make_temp_dir
clear_otel_environment
for tool in valgrind redis-benchmark gcc pkg-config "$PG_BIN/pgbench"; do
    command -v "$tool" >/dev/null || die "$tool is missing (run scripts/setup.sh)"
done
TABLE="$LDTAP_TMP/table"
: >"$TABLE"
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$TABLE"; }
# The summary goes to the run's log: its "dropped" total (ring full, export queue full, failed
# exports) says whether the collector kept up.
LDTAP_RUN=("$BUILD/ldtap" run --output /dev/null --no-prometheus --run-dir "$LDTAP_TMP/run")
dropped_in() { sed -n 's/^ldtap: .*dropped: \([0-9]*\)$/\1/p' "$1" | tail -n 1; }

CFLAGS=(-std=c11 -O2 -Wall -Wextra -Werror)
gcc "${CFLAGS[@]}" -o "$LDTAP_TMP/db_sqlite_calls" tests/bench/db_sqlite_calls.c -lsqlite3
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
gcc "${CFLAGS[@]}" $(pkg-config --cflags libpq) -o "$LDTAP_TMP/db_pq_calls" tests/bench/db_pq_calls.c \
    $(pkg-config --libs libpq)

start_postgres PG_PID PG_PORT "$LDTAP_TMP/pg"
CONNINFO="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"
"$PG_BIN/pgbench" -i -q -s 1 -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres >"$LDTAP_TMP/pgbench-init.log" 2>&1
start_redis REDIS_PID REDIS_PORT "$LDTAP_TMP/redis"

# span_count PROGRAM ARGS...: spans one traced run exports (to check that what callgrind
# measures is traced calls, not calls the shim let through untraced).
span_count() {
    "$BUILD/ldtap" run --output "$LDTAP_TMP/count.jsonl" --no-summary --no-prometheus \
        --run-dir "$LDTAP_TMP/run" -- "$@" >/dev/null
    "$LDTAP_PYTHON" tests/e2e/check_spans.py dump "$LDTAP_TMP/count.jsonl" | grep -c . || true
    rm -f "$LDTAP_TMP/count.jsonl"
}

# ---------------------------------------------------------------- callgrind ----
# shellcheck disable=SC2034 # both are used by name (callgrind_per_iteration's WRAPPER)
PLAIN=()
# shellcheck disable=SC2034
CALLGRIND_LDTAP=("${LDTAP_RUN[@]}" --no-summary --)
log "callgrind: sqlite3 bind+step+reset executions"
N=5000
plain=$(callgrind_per_iteration "$N" PLAIN "$LDTAP_TMP/db_sqlite_calls")
traced=$(callgrind_per_iteration "$N" CALLGRIND_LDTAP "$LDTAP_TMP/db_sqlite_calls")
spans=$(span_count "$LDTAP_TMP/db_sqlite_calls" 100)
row "sqlite3 execution, plain (Ir)" "$plain" "" "SELECT ?1 + 1, :memory:"
row "sqlite3 execution, added by shim (Ir)" $((traced - plain)) "" "N=$N vs 2N; $spans spans per 100 executions"

log "callgrind: PQexec round trips"
N=1000
plain=$(callgrind_per_iteration "$N" PLAIN "$LDTAP_TMP/db_pq_calls" "$CONNINFO")
traced=$(callgrind_per_iteration "$N" CALLGRIND_LDTAP "$LDTAP_TMP/db_pq_calls" "$CONNINFO")
spans=$(span_count "$LDTAP_TMP/db_pq_calls" 100 "$CONNINFO")
row "PQexec, plain (Ir, client only)" "$plain" "" "SELECT 1 over TCP"
row "PQexec, added by shim (Ir)" $((traced - plain)) "" "N=$N vs 2N; $spans spans per 100 calls"

# ---------------------------------------------------------------- throughput ----
# alternate NAME LABEL UNIT TARGET MEASURE_FUNCTION: PAIRS pairs of runs, plain then ldtap;
# MEASURE_FUNCTION plain|ldtap LOG prints one value (higher is better).
alternate() {
    local name=$1 label=$2 unit=$3 target=$4 measure=$5
    local samples="$LDTAP_TMP/$name.samples" pair value dropped=0 drops
    : >"$samples"
    "$measure" plain "$LDTAP_TMP/$name-warmup.log" >/dev/null # caches, first connection
    for pair in $(seq 1 "$PAIRS"); do
        for mode in plain ldtap; do
            value=$("$measure" "$mode" "$LDTAP_TMP/$name-$mode-$pair.log")
            [ -n "$value" ] || die "$name: no figure in $LDTAP_TMP/$name-$mode-$pair.log"
            echo "$mode $value" >>"$samples"
            log "$name $mode run $pair: $value $unit"
        done
        drops=$(dropped_in "$LDTAP_TMP/$name-ldtap-$pair.log")
        dropped=$((dropped + ${drops:-0}))
    done
    bench_ratio "$samples" "$label" "$unit" "$target" >>"$TABLE"
    row "$label: spans dropped" "$dropped" "" "ring full + export queue full, all $PAIRS ldtap runs"
}

# wrap MODE: the command prefix for a plain or an instrumented run.
wrap() { [ "$1" = plain ] || printf '%s\n' "${LDTAP_RUN[@]}" --; }

measure_pgbench() {
    local -a prefix
    mapfile -t prefix < <(wrap "$1")
    "${prefix[@]}" "$PG_BIN/pgbench" -n -S -c 1 -T "$SECONDS_PER_RUN" -h 127.0.0.1 -p "$PG_PORT" -U postgres \
        postgres >"$2" 2>&1
    sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$2" | tail -n 1
}

measure_sqlite_loop() {
    local -a prefix
    mapfile -t prefix < <(wrap "$1")
    "${prefix[@]}" "$LDTAP_PYTHON" tests/bench/db_sqlite_loop.py "$LDTAP_TMP/loop.sqlite3" 200000 2>"$2"
}

# redis-benchmark's GET and SET requests/s, summed.
measure_redis() {
    local -a prefix
    mapfile -t prefix < <(wrap "$1")
    "${prefix[@]}" redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -q -n 50000 -t get,set >"$2" 2>&1
    tr '\r' '\n' <"$2" | sed -n 's/^\(GET\|SET\): \([0-9.]*\) requests per second.*/\2/p' |
        awk '{ total += $1; n++ } END { if (n == 2) printf "%.0f\n", total }'
}

log "pgbench -S -c 1 -T $SECONDS_PER_RUN, $PAIRS pairs"
alternate pgbench "pgbench -S -c 1 (TPS)" "tps" ">= 0.95" measure_pgbench
log "Python sqlite3 loop, $PAIRS pairs"
alternate sqlite-loop "python sqlite3 loop (statements/s)" "stmt/s" ">= 0.90" measure_sqlite_loop
log "redis-benchmark -n 50000 -t get,set, $PAIRS pairs"
alternate redis "redis-benchmark get+set (req/s)" "req/s" ">= 0.95" measure_redis

stop_pid "$REDIS_PID" TERM 10 || true
stop_pid "$PG_PID" TERM 20 || true

echo
echo "ldtap database benchmarks ($(nproc) cores, $(uname -r)); instrumented: ldtap run --output /dev/null"
{
    printf 'measure\tvalue\ttarget\tnote\n'
    cat "$TABLE"
} | column -t -s $'\t'
