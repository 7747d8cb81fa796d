#!/usr/bin/env bash
# Collector benchmark (never pass/fail): the whole drain pipeline (decode, metrics, summary,
# OTLP-JSON file export) fed by a producer process, with 1,000 routes x 10 status codes.
# Prints a table: spans/s per collector CPU second, CPU seconds per 10k spans, peak RSS,
# ring and queue drops at a fixed rate, and the top of a profile when perf can sample.
# Usage: scripts/bench_collector.sh [BUILD_DIR]; LDTAP_BENCH_SPANS (1000000), LDTAP_BENCH_RUNS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

BUILD=$(resolve_build_dir "${1:-build}")
BENCH="$BUILD/bench_collector_pipeline"
SPANS=${LDTAP_BENCH_SPANS:-1000000}
RUNS=${LDTAP_BENCH_RUNS:-3}
[ -x "$BENCH" ] || die "$BENCH is missing (build the bench_collector_pipeline target)"
make_temp_dir
clear_otel_environment

# field NAME LINE: the value of NAME=... in the benchmark's result line.
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }
# median of the numbers on stdin.
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

printf '%-44s %12s %12s %12s %10s %s\n' "case" "spans/CPU-s" "CPU s/10k" "spans/wall-s" "RSS MiB" "drops ring/queue"
# case LABEL ARGS...: RUNS runs; medians of the rates, the worst drops and RSS.
run_case() {
    local label=$1 line rate=() cost=() wall=() rss=0 ring=0 queue=0
    shift
    for _ in $(seq 1 "$RUNS"); do
        line=$("$BENCH" "$@" 2>"$LDTAP_TMP/producer.log" | tail -n 1)
        rate+=("$(field spans_per_cpu_s "$line")")
        cost+=("$(field cpu_s_per_10k "$line")")
        wall+=("$(field spans_per_wall_s "$line")")
        rss=$(( $(field maxrss_kb "$line") > rss ? $(field maxrss_kb "$line") : rss ))
        ring=$(( $(field dropped_ring_full "$line") > ring ? $(field dropped_ring_full "$line") : ring ))
        queue=$(( $(field dropped_queue_full "$line") > queue ? $(field dropped_queue_full "$line") : queue ))
    done
    printf '%-44s %12s %12s %12s %10s %s\n' "$label" "$(printf '%s\n' "${rate[@]}" | median)" \
        "$(printf '%s\n' "${cost[@]}" | median)" "$(printf '%s\n' "${wall[@]}" | median)" $((rss / 1024)) \
        "$ring/$queue"
}

run_case "HTTP flat out, 8 MiB ring" --count "$SPANS" --ring-size 8
run_case "HTTP + 20% DB flat out, 8 MiB ring" --count "$SPANS" --db-percent 20 --ring-size 8
run_case "SQLite loop statements flat out, 8 MiB ring" --count "$SPANS" --db-percent 100 --sqlite-loop --ring-size 8
run_case "Redis SET/GET (redis-benchmark) flat out, 8 MiB ring" --count "$SPANS" --db-percent 100 --redis --ring-size 8
run_case "HTTP prefilled (drain alone), 512 MiB ring" --count "$SPANS" --prefill --ring-size 512
run_case "HTTP 50k/s for 3 s, 4 MiB ring" --rate 50000 --seconds 3 --ring-size 4
run_case "HTTP 150k/s for 3 s, 4 MiB ring" --rate 150000 --seconds 3 --ring-size 4
echo "RSS includes the mapped ring (its size is in the case name). Collector CPU counts both"
echo "its threads (drain and export); the producer is another process. On a 2-core machine"
echo "producer and collector compete: wall rates are noisy, CPU figures less so."

# Where the time goes: perf's software clock works where hardware counters do not.
if perf record -e cpu-clock -o "$LDTAP_TMP/probe.data" -- true >/dev/null 2>&1; then
    perf record -e cpu-clock -F 2000 -o "$LDTAP_TMP/perf.data" -- "$BENCH" --count "$SPANS" --ring-size 8 \
        >/dev/null 2>&1
    echo
    echo "perf: top symbols (pid:thread; the producer is the other pid)"
    perf report -i "$LDTAP_TMP/perf.data" --no-children --sort pid,symbol 2>/dev/null | grep '%' | head -n 25
else
    log "perf cannot sample here; try: valgrind --tool=callgrind $BENCH --count 100000 --prefill --ring-size 64"
fi
