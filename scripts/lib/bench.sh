# Helpers for ldtap's benchmark scripts: instruction counts under callgrind (the difference
# of two iteration counts, so start-up and exit cancel) and medians of alternating plain and
# instrumented runs. Source after common.sh. Benchmarks report; they never pass or fail.

# callgrind_ir OUT WRAPPER PROGRAM [ARGS...]: runs `WRAPPER... valgrind --tool=callgrind
# PROGRAM ARGS` and prints the total instructions (Ir). WRAPPER names an array: empty, or
# `ldtap run ... --`, which preloads the shim into valgrind's guest.
callgrind_ir() {
    local out=$1
    local -n __wrapper=$2
    shift 2
    "${__wrapper[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >"$out.log" 2>&1 ||
        { cat "$out.log" >&2; die "callgrind failed: $*"; }
    awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

# callgrind_per_iteration N WRAPPER PROGRAM [ARGS...]: instructions per iteration of a
# program whose first argument is its iteration count: (Ir(2N) - Ir(N)) / N.
CALLGRIND_SEQUENCE=0
callgrind_per_iteration() {
    local n=$1 wrapper=$2 program=$3
    shift 3
    local once twice
    CALLGRIND_SEQUENCE=$((CALLGRIND_SEQUENCE + 1))
    once=$(callgrind_ir "$LDTAP_TMP/callgrind.$CALLGRIND_SEQUENCE.n" "$wrapper" "$program" "$n" "$@")
    twice=$(callgrind_ir "$LDTAP_TMP/callgrind.$CALLGRIND_SEQUENCE.2n" "$wrapper" "$program" $((2 * n)) "$@")
    echo $(((twice - once) / n))
}

# bench_ratio SAMPLES LABEL UNIT TARGET: one table row from a file of "plain VALUE" and
# "ldtap VALUE" lines (higher is better: throughput): both medians, ldtap/plain, each pair.
bench_ratio() {
    "$LDTAP_PYTHON" - "$@" <<'EOF'
import statistics
import sys
path, label, unit, target = sys.argv[1:5]
values = {"plain": [], "ldtap": []}
for line in open(path):
    mode, value = line.split()
    values[mode].append(float(value))
plain, ldtap = values["plain"], values["ldtap"]
if not plain or len(plain) != len(ldtap):
    print(f"{label}\tn/a\t{target}\tno samples or unpaired samples ({len(plain)} vs {len(ldtap)})")
    sys.exit(0)
ratio = statistics.median(ldtap) / statistics.median(plain)
pairs = ", ".join(f"{b / a:.3f}" for a, b in zip(plain, ldtap))
print(f"{label}: plain ({unit})\t{statistics.median(plain):.0f}\t\tmedian of {len(plain)}")
print(f"{label}: ldtap ({unit})\t{statistics.median(ldtap):.0f}\t\tmedian of {len(ldtap)}")
print(f"{label}: ldtap / plain\t{ratio:.3f}\t{target}\tpairs: {pairs}")
EOF
}
