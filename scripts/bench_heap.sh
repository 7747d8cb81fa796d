#!/usr/bin/env bash
# Heap-hook benchmarks (never pass/fail): instructions added per malloc+free pair
# (callgrind, N vs 2N) in total and per hook, also with jemalloc/tcmalloc preloaded after
# ldtap; wall-clock ratios of a malloc/free-heavy C program and an allocation-heavy Python
# script (medians of alternating runs), the Python script's callgrind instruction ratio
# (noise-free) and page faults, the same programs under heaptrack, and the shim's memory
# overhead per process.
# Usage: scripts/bench_heap.sh [BUILD_DIR]; LDTAP_BENCH_PAIRS (5 alternating runs each).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

BUILD=$(resolve_build_dir "${1:-build}")
SHIM=$BUILD/libldtap.so
PAIRS=${LDTAP_BENCH_PAIRS:-5}
make_temp_dir
[ -f "$SHIM" ] || die "$SHIM is missing: cmake --build $BUILD --target ldtap_shim"
command -v valgrind >/dev/null || die "valgrind is missing (run scripts/setup.sh)"
RUN_DIR=$LDTAP_TMP/rings
BENCH=$LDTAP_TMP/bench_malloc
gcc -std=c11 -O2 -Wall -Wextra -Werror -o "$BENCH" tests/bench/bench_malloc.c
# The reference: a pass-through preload with no accounting at all.
cat >"$LDTAP_TMP/passthrough.c" <<'C'
#include <stddef.h>
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
void *malloc(size_t size) { return __libc_malloc(size); }
void free(void *block) { __libc_free(block); }
C
gcc -O2 -fPIC -shared -o "$LDTAP_TMP/passthrough.so" "$LDTAP_TMP/passthrough.c"

# instructions PRELOAD N [ENV...]: callgrind's total for `bench_malloc pairs N`.
instructions() {
    local preload=$1 n=$2
    shift 2
    env "$@" LD_PRELOAD="$preload" LDTAP_RUN_DIR="$RUN_DIR" valgrind --tool=callgrind \
        --callgrind-out-file=/dev/null "$BENCH" pairs "$n" 2>&1 >/dev/null | grep -oP 'Collected : \K[0-9]+'
}
# per_pair PRELOAD N [ENV...]: (Ir(2N) - Ir(N)) / N: start-up and exit cancel.
per_pair() {
    local preload=$1 n=$2
    shift 2
    echo "scale=1; ($(instructions "$preload" $((2 * n)) "$@") - $(instructions "$preload" "$n" "$@")) / $n" | bc
}

echo "== instructions per malloc+free pair (callgrind, mixed sizes 16..1024 B) =="
for n in 100000 400000; do
    plain=$(per_pair "" "$n")
    bare=$(per_pair "$LDTAP_TMP/passthrough.so" "$n")
    shim=$(per_pair "$SHIM" "$n")
    counters=$(per_pair "$SHIM" "$n" LDTAP_HEAP_SAMPLE_BYTES=0)
    printf 'N=%-7s plain %6s | bare pass-through +%s | ldtap default rate +%s | ldtap counters only +%s\n' \
        "$n" "$plain" "$(echo "$bare - $plain" | bc)" "$(echo "$shim - $plain" | bc)" "$(echo "$counters - $plain" | bc)"
done

# hook_costs N: the shim's own instructions per call of its malloc and free hooks (their
# inlined parts included, glibc's not) and of everything else in libldtap.so (slow paths:
# folds and samples), from callgrind's per-function totals at N and 2N pairs.
shim_functions() { # N: "malloc free rest" instruction totals in libldtap.so
    local out=$LDTAP_TMP/callgrind.$1
    LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$RUN_DIR valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$BENCH" pairs "$1" >/dev/null 2>&1
    # Lines name "source:function [object]"; the object is left out when it repeats, so
    # the shim's lines are told by their source files (shim/...).
    callgrind_annotate --inclusive=no --threshold=100 "$out" 2>/dev/null |
        awk '$0 ~ /[ \/]shim\/[^ ]*:[A-Za-z_0-9]+( \[|$)/ { gsub(",", "", $1); n = $1 + 0
                 if ($0 ~ /:malloc( \[|$)/) m += n; else if ($0 ~ /:free( \[|$)/) f += n; else r += n }
             END { print m + 0, f + 0, r + 0 }'
}
n=200000
read -r malloc_1 free_1 rest_1 <<<"$(shim_functions $n)"
read -r malloc_2 free_2 rest_2 <<<"$(shim_functions $((2 * n)))"
printf 'per hook (N=%s): malloc %s, free %s, slow paths %s instructions per call\n' "$n" \
    "$(echo "scale=1; ($malloc_2 - $malloc_1) / $n" | bc)" "$(echo "scale=1; ($free_2 - $free_1) / $n" | bc)" \
    "$(echo "scale=2; ($rest_2 - $rest_1) / $n" | bc)"
for allocator in /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4; do
    [ -f "$allocator" ] || continue
    alone=$(per_pair "$allocator" 100000)
    after=$(per_pair "$SHIM:$allocator" 100000)
    printf '%s alone %s | ldtap then it +%s\n' "$(basename "$allocator")" \
        "$alone" "$(echo "$after - $alone" | bc)"
done

# seconds COMMAND...: wall-clock seconds of one run.
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

PY_SCRIPT=$LDTAP_TMP/alloc_heavy.py
cat >"$PY_SCRIPT" <<'PY'
# Allocation-heavy Python: small objects (obmalloc), strings and bytearrays (malloc).
data = []
for round in range(30):
    chunk = [{"id": i, "name": str(i) * 8, "tags": [i, i + 1]} for i in range(20000)]
    blobs = [bytearray(600 + (i % 7) * 100) for i in range(3000)]
    data.append(len(chunk) + len(blobs))
print(sum(data))
PY

# ratio NAME COMMAND...: medians of PAIRS alternating plain and ldtap runs, then heaptrack.
ratio() {
    local name=$1
    shift
    local plain=() preloaded=()
    for _ in $(seq "$PAIRS"); do
        plain+=("$(seconds "$@")")
        rm -rf "$RUN_DIR"
        preloaded+=("$(seconds env LD_PRELOAD="$SHIM" LDTAP_RUN_DIR="$RUN_DIR" ${RATIO_ENV:-} "$@")")
    done
    local plain_median ldtap_median heaptrack_seconds="n/a"
    plain_median=$(printf '%s\n' "${plain[@]}" | median)
    ldtap_median=$(printf '%s\n' "${preloaded[@]}" | median)
    if command -v heaptrack >/dev/null; then
        heaptrack_seconds=$(seconds heaptrack -o "$LDTAP_TMP/heaptrack.$name" "$@")
    fi
    printf '%-22s plain %6.3fs | ldtap %6.3fs (x%.3f) | heaptrack %ss (x%s)\n' "$name" "$plain_median" \
        "$ldtap_median" "$(echo "$ldtap_median / $plain_median" | bc -l)" "$heaptrack_seconds" \
        "$( [ "$heaptrack_seconds" = n/a ] && echo n/a || printf '%.2f' "$(echo "$heaptrack_seconds / $plain_median" | bc -l)")"
}

echo "== wall clock, medians of $PAIRS alternating runs (targets: C <= 1.25x, Python <= 1.02x) =="
ratio c_churn "$BENCH" churn 20000000
ratio python_alloc /usr/bin/python3 "$PY_SCRIPT"
# The same script with a 1 MiB ring: another address layout for CPython's arenas (below).
RATIO_ENV=LDTAP_RING_SIZE=1M ratio python_ring_1M /usr/bin/python3 "$PY_SCRIPT"

echo "== the Python script without the noise: callgrind instructions and page faults =="
python_instructions() { # PRELOAD: callgrind's total for the script (fixed hash seed: the same work)
    env LD_PRELOAD="$1" LDTAP_RUN_DIR="$RUN_DIR" PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        /usr/bin/python3 "$PY_SCRIPT" 2>&1 >/dev/null | grep -oP 'Collected : \K[0-9]+'
}
plain_instructions=$(python_instructions "")
shim_instructions=$(python_instructions "$SHIM")
printf 'instructions: plain %s | ldtap %s (x%.4f)\n' "$plain_instructions" "$shim_instructions" \
    "$(echo "$shim_instructions / $plain_instructions" | bc -l)"
# CPython's obmalloc maps and unmaps 1 MiB arenas; how many it churns through depends on
# where the kernel places them (a shift of the address layout by one page changes it by
# +-30%: see the README), which any preloaded library's mappings change.
faults() { # PRELOAD: median minor page faults of 5 runs
    for _ in 1 2 3 4 5; do
        env LD_PRELOAD="$1" LDTAP_RUN_DIR="$RUN_DIR" /usr/bin/time -f %R /usr/bin/python3 "$PY_SCRIPT" 2>&1 >/dev/null |
            tail -n 1
    done | median
}
echo "minor page faults (median of 5): plain $(faults "") | ldtap $(faults "$SHIM")" \
    "| ldtap, 1 MiB ring $(LDTAP_RING_SIZE=1M faults "$SHIM")"

echo "== memory overhead per process (python3 idle; the ring is a shared file mapping) =="
status_of() { # LD_PRELOAD: VmRSS and RssShmem of a small python3 after start-up, in KiB
    env LD_PRELOAD="$1" LDTAP_RUN_DIR="$RUN_DIR" LDTAP_HEAP_SAMPLE_BYTES=1 /usr/bin/python3 -c '
fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(fields["RssAnon"].split()[0], fields["RssFile"].split()[0], fields["RssShmem"].split()[0])'
}
read -r plain_anon plain_file plain_shm <<<"$(status_of "")"
read -r shim_anon shim_file shim_shm <<<"$(status_of "$SHIM")"
echo "RssAnon +$((shim_anon - plain_anon)) KiB, RssFile +$((shim_file - plain_file)) KiB (libldtap, libunwind)," \
    "RssShmem +$((shim_shm - plain_shm)) KiB (ring pages touched)"
