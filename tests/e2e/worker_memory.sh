#!/usr/bin/env bash
# End-to-end: gunicorn (2 sync workers) under `ldtap run`; both workers allocate 1 MiB per
# /leak request at the same line, one keeps every block, the other frees it. The exit
# summary must flag the leaking worker's RSS growth as "growing" and not the other's, and
# list the leaking worker's allocation site as a leak suspect that is flat in the other
# worker (per-worker comparison), with its live estimate near what was leaked, and no
# suspect in the other worker. Usage: worker_memory.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
APPS="$LDTAP_ROOT/tests/e2e/apps"
GUNICORN=/usr/bin/gunicorn
[ -x "$GUNICORN" ] || die "$GUNICORN is missing (run scripts/setup.sh)"
LEAK_MIB=48
# A leak suspect must grow in 3 of 4 snapshot intervals (one a second) from the site's
# first allocation to the end of the process's life: the leak is spread over ~15 s, so
# that the idle seconds after it (before the stop) do not count for much.
LEAK_PACE_SECONDS=0.3
FAILED=0
fail() {
    echo "  FAIL $*"
    FAILED=1
}

PORT=$(free_port)
export CLAIM_FILE="$LDTAP_TMP/leaker.pid"
metrics_options=()
# grep -q on a pipe would stop reading early: SIGPIPE fails the pipeline (pipefail).
run_help=$("$BUILD/ldtap" run --help 2>&1 || true)
if grep -q -- --no-prometheus <<<"$run_help"; then
    metrics_options=(--no-prometheus)
fi
start_background LDTAP_PID "$LDTAP_TMP/ldtap.log" \
    "$BUILD/ldtap" run --service-name e2e-memory --run-dir "$LDTAP_TMP/run" --output "$LDTAP_TMP/traces.jsonl" \
    "${metrics_options[@]}" -- "$GUNICORN" -w 2 -k sync -b "127.0.0.1:$PORT" --chdir "$APPS" metrics_app:app
wait_for_port "$PORT" 30 "$LDTAP_PID" || { cat "$LDTAP_TMP/ldtap.log" >&2; die "gunicorn did not start"; }

# Rounds of concurrent naps until both workers answered (the master listens before its
# workers have booted, which takes seconds on a loaded machine): each creates its ring
# and gets an RSS baseline. Then the first /claim names the leaker. /leak requests go in
# pairs, which two sync workers share (one takes each while the other is busy), until the
# leaker has leaked LEAK_MIB: the other worker allocates and frees at the same line about
# as often, so the comparison between them means something.
"$LDTAP_PYTHON" - "$PORT" "$LEAK_MIB" "$LEAK_PACE_SECONDS" <<'PY' || fail "the client failed"
import sys, threading, time, urllib.request
port, target, pace = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
base = "http://127.0.0.1:%d" % port
def get(path):
    with urllib.request.urlopen(base + path, timeout=10) as response:
        return response.read().decode()
def concurrently(path, count):
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(get(path).split())) for _ in range(count)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return answers
workers = set()
deadline = time.time() + 30
while len(workers) < 2 and time.time() < deadline:
    workers.update(answer[-1] for answer in concurrently("/nap", 4))
print("  ..   workers that answered /nap:", " ".join(sorted(workers)))
print("  ..   " + get("/claim").strip())
leaked = skipped = 0
for _ in range(5000):
    for answer in concurrently("/leak", 2):
        if answer[0] == "leaked":
            leaked = max(leaked, int(answer[1]))
        else:
            skipped += 1
    if leaked >= target:
        break
    time.sleep(pace)
print("  ..   leaked %d MiB; the other worker allocated and freed %d MiB" % (leaked, skipped))
if skipped == 0:
    print("  FAIL the other worker never served /leak: nothing to compare with")
sys.exit(0 if leaked >= target and skipped > 0 else 1)
PY

LEAKER=$(cat "$CLAIM_FILE" 2>/dev/null || true)
MASTER=$(ps -o pid= --ppid "$LDTAP_PID" | head -n 1 | tr -d ' ' || true)
OTHER=$(ps -o pid= --ppid "$MASTER" | tr -d ' ' | grep -v -x "$LEAKER" | head -n 1 || true)
echo "  ..   gunicorn master $MASTER, leaking worker $LEAKER, other worker $OTHER"
sleep 1.5 # the drain samples each process about once a second

stop_pid "$LDTAP_PID" TERM 30 || fail "ldtap did not stop"
[ "$STOP_STATUS" = 0 ] || fail "ldtap exited $STOP_STATUS"
sed -n '/PROCESS/,/growing:/p' "$LDTAP_TMP/ldtap.log"

leaker_row=$(grep -E "^  pid $LEAKER " "$LDTAP_TMP/ldtap.log" || true)
other_row=$(grep -E "^  pid $OTHER " "$LDTAP_TMP/ldtap.log" || true)
if [ -z "$LEAKER" ] || [ -z "$leaker_row" ]; then
    fail "no summary row for the leaking worker (pid ${LEAKER:-unknown})"
elif [[ "$leaker_row" != *growing* ]]; then
    fail "the leaking worker is not flagged growing: $leaker_row"
else
    # "pid N worker FIRST MiB LAST MiB +GROWTH MiB +P% growing"
    growth=$(awk '{print $8}' <<<"$leaker_row" | tr -d '+')
    if awk -v growth="$growth" -v leak="$LEAK_MIB" 'BEGIN { exit !(growth >= leak * 0.8) }'; then
        echo "  ok   leaking worker $LEAKER grew by $growth MiB and is flagged growing"
    else
        fail "leaking worker grew by only $growth MiB after leaking $LEAK_MIB MiB"
    fi
fi
if [ -z "$OTHER" ] || [ -z "$other_row" ]; then
    fail "no summary row for the other worker (pid ${OTHER:-unknown})"
elif [[ "$other_row" == *growing* ]]; then
    fail "the steady worker is flagged growing: $other_row"
else
    echo "  ok   the other worker $OTHER is not flagged"
fi

# Leak suspects: "  N. SITE" then "     pid P  live X MiB  +Y MiB (R/s); flat in 1 other worker(s), e.g. pid Q"
sed -n '/^leak suspects/,/^$/p' "$LDTAP_TMP/ldtap.log"
leaker_suspect=$(grep -E "^     pid $LEAKER  live " "$LDTAP_TMP/ldtap.log" | head -n 1 || true)
if [ -z "$leaker_suspect" ]; then
    fail "no leak suspect in the leaking worker $LEAKER"
elif [[ "$leaker_suspect" != *"flat in 1 other worker(s), e.g. pid $OTHER"* ]]; then
    fail "the leaking worker's suspect is not compared with the other worker: $leaker_suspect"
else
    live=$(awk '{ for (i = 1; i < NF; i++) if ($i == "live") { print $(i + 1), $(i + 2); exit } }' <<<"$leaker_suspect")
    live_mib=$(awk -v value="${live% *}" -v unit="${live#* }" 'BEGIN {
        printf "%.1f", unit == "GiB" ? value * 1024 : unit == "MiB" ? value : unit == "KiB" ? value / 1024 : 0 }')
    if awk -v live="$live_mib" -v leak="$LEAK_MIB" 'BEGIN { exit !(live >= leak * 0.75 && live <= leak * 1.25) }'; then
        echo "  ok   leak suspect in worker $LEAKER: live $live (leaked $LEAK_MIB MiB), flat in worker $OTHER"
    else
        fail "the leaking worker's suspect estimates $live live, leaked $LEAK_MIB MiB (not within 25%)"
    fi
fi
if grep -qE "^     pid $OTHER  live " "$LDTAP_TMP/ldtap.log"; then
    fail "the steady worker $OTHER has a leak suspect: $(grep -E "^     pid $OTHER  live " "$LDTAP_TMP/ldtap.log")"
elif [ -n "$OTHER" ]; then
    echo "  ok   no leak suspect in the other worker $OTHER"
fi
sed -n '/^  PROCESS /,/^  saturation:/p' "$LDTAP_TMP/ldtap.log" |
    awk 'length($0) > 80 { bad = 1; print "  line over 80 columns: " $0 } END { exit bad }' ||
    fail "the memory table is wider than 80 columns"

if [ "$FAILED" != 0 ]; then
    log "FAILED (set LDTAP_KEEP_TMP=1 to keep $LDTAP_TMP)"
    tail -n 40 "$LDTAP_TMP/ldtap.log"
    exit 1
fi
log "passed"
