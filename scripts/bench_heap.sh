#!/usr/bin/env bash
# Heap-hook benchmarks (never pass/fail): instructions added per malloc+free pair
# (callgrind, N vs 2N), wall-clock ratios of a malloc/free-heavy C program and an
# allocation-heavy Python script (medians of alternating runs), the same programs under
# heaptrack, and the shim's memory overhead per process.
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
        preloaded+=("$(seconds env LD_PRELOAD="$SHIM" LDTAP_RUN_DIR="$RUN_DIR" "$@")")
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
