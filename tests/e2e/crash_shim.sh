#!/usr/bin/env bash
# End-to-end checks of the shim's crash capture: CRASH records, the request span ended
# with the crash flag, and the program's own handlers and exit status unchanged (NULL
# dereference, own SIGSEGV handler, Python faulthandler, abort, other thread, forked
# child, full ring). Usage: tests/e2e/crash_shim.sh [BUILD_DIR]   (default build)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SHIM=$BUILD/libldtap.so
WORK=$(mktemp -d /tmp/ldtap-crash-shim.XXXXXX)
PORT=$((18000 + ($$ % 400) * 5 + 2000))
FAILURES=0

trap "[ -n \"${KEEP:-}\" ] || rm -rf \"\$WORK\"" EXIT
pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1"; FAILURES=$((FAILURES + 1)); }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }

[ -f "$SHIM" ] || { echo "no $SHIM: build the ldtap_shim target first"; exit 1; }
CFLAGS="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2"
gcc $CFLAGS -I"$ROOT/shim/ring" -o "$WORK/ring_dump" "$ROOT/tests/programs_shim/ring_dump.c" \
    "$ROOT/shim/ring/ring_reader.c" &&
    gcc $CFLAGS -fno-reorder-blocks-and-partition -pthread -o "$WORK/http_crash" "$ROOT/tests/programs_crash/http_crash.c" ||
    { echo "test programs failed to build"; exit 1; }

# Raw wait status of a command as "signal=N core=C exit=E" (python: bash hides the core bit).
status_of() {
    python3 -c 'import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status = os.waitpid(pid, 0)
print("signal=%d core=%d exit=%d" % (os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0,
      1 if os.WCOREDUMP(status) else 0, os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1))' "$@"
}

# Runs http_crash MODE with (run dir $2) or without (run dir "") the shim, sends one request,
# leaves the status in $WORK/$3.status and stderr in $WORK/$3.err.
run_crash() {
    local mode=$1 run=$2 name=$3 port=$((PORT + RANDOM % 1000))
    local preload=() ; [ -n "$run" ] && preload=(env LD_PRELOAD="$SHIM" LDTAP_RUN_DIR="$run" ${RING_SIZE:+LDTAP_RING_SIZE=$RING_SIZE})
    ( status_of "${preload[@]}" "$WORK/http_crash" "$port" "$mode" >"$WORK/$name.status" 2>"$WORK/$name.err" ) &
    local runner=$!
    for _ in $(seq 100); do grep -q listening "$WORK/$name.err" 2>/dev/null && break; sleep 0.05; done
    curl -s -m 5 -o /dev/null "http://127.0.0.1:$port/crash/here?secret=1"
    wait "$runner"
}

dump() { "$WORK/ring_dump" "$1"/*.ring 2>&1; }

# A pc of the crash record inside serve_request (the program printed its address; built
# without hot/cold splitting so abort()'s call stays inside the function).
crash_in_function() { # dump-file err-file
    local function_address pcs
    function_address=$(grep -oP 'crash_function=\K0x[0-9a-f]+' "$2")
    pcs=$(grep -oP '^crash .* pcs=\K\S+' "$1" | head -1)
    python3 -c 'import sys
f = int(sys.argv[1], 16)
sys.exit(0 if any(0 <= int(pc, 16) - f < 512 for pc in sys.argv[2].split(",")) else 1)' "$function_address" "$pcs"
}

ulimit -c 0 # the core bit must match the run without ldtap, whatever the limit

# ---- NULL dereference while serving a request ----
run_crash segv "" plain_segv
run_crash segv "$WORK/segv" segv
dump "$WORK/segv" >"$WORK/segv.dump"
check "segv: exit status unchanged ($(cat "$WORK/segv.status"))" \
    test "$(cat "$WORK/segv.status")" == "$(cat "$WORK/plain_segv.status")"
check "segv: status is signal 11" grep -q "signal=11" "$WORK/segv.status"
check "segv: CRASH record with signal 11, SEGV_MAPERR, address 0" \
    grep -qE '^crash signal=11 code=1 sender=0 addr=0x0 ' "$WORK/segv.dump"
check "segv: a crash pc lies in serve_request" crash_in_function "$WORK/segv.dump" "$WORK/segv.err"
span_id=$(grep -oP '^span kind=server .* id=\K[0-9a-f]+' "$WORK/segv.dump")
trace_id=$(grep -oP '^span kind=server trace=\K[0-9a-f]+' "$WORK/segv.dump")
check "segv: the request span ended with the crash flag" \
    grep -qE '^span kind=server .* flags=(64|72|[0-9]+) .*GET /crash/here HTTP' "$WORK/segv.dump"
flags=$(grep -oP '^span kind=server .* flags=\K[0-9]+' "$WORK/segv.dump")
check "segv: span flags include CRASHED (64): $flags" test $(( ${flags:-0} & 64 )) -eq 64
check "segv: crash names the request's trace and span" \
    grep -q "^crash .*trace=$trace_id id=$span_id " "$WORK/segv.dump"

# ---- the program's own SIGSEGV handler ----
run_crash handler "$WORK/handler" handler
dump "$WORK/handler" >"$WORK/handler.dump"
check "own handler: it ran and printed" grep -q "program handler ran" "$WORK/handler.err"
check "own handler: sigaction(SIGSEGV, NULL, &old) reports it, not the shim's" \
    grep -q "sigaction reports own handler" "$WORK/handler.err"
check "own handler: exit status 3" grep -q "exit=3" "$WORK/handler.status"
check "own handler: CRASH record flagged PROGRAM_HANDLER" grep -qE '^crash signal=11 .* flags=1 ' "$WORK/handler.dump"

# ---- abort() ----
run_crash abort "" plain_abort
run_crash abort "$WORK/abort" abort
dump "$WORK/abort" >"$WORK/abort.dump"
check "abort: exit status unchanged ($(cat "$WORK/abort.status"))" \
    test "$(cat "$WORK/abort.status")" == "$(cat "$WORK/plain_abort.status")"
check "abort: CRASH record with signal 6 sent by the process (SI_TKILL)" \
    grep -qE '^crash signal=6 code=-6 sender=[1-9]' "$WORK/abort.dump"
check "abort: a crash pc lies in serve_request" crash_in_function "$WORK/abort.dump" "$WORK/abort.err"

# ---- a thread other than main ----
run_crash thread "$WORK/thread" thread
dump "$WORK/thread" >"$WORK/thread.dump"
check "thread: status is signal 11" grep -q "signal=11" "$WORK/thread.status"
main_pid=$(grep -oP '^ring pid=\K[0-9]+' "$WORK/thread.dump")
check "thread: CRASH record from another thread, on its alternate stack (flags 0)" \
    grep -qE "^crash signal=11 code=1 .* tid=[0-9]+ .* flags=0 " "$WORK/thread.dump"
check "thread: not the main thread" bash -c "! grep -q 'tid=$main_pid ' <(grep '^crash' '$WORK/thread.dump')"
check "thread: its request span carries the crash flag" \
    bash -c "[ \$(( \$(grep -oP '^span kind=server .* flags=\K[0-9]+' '$WORK/thread.dump') & 64 )) -eq 64 ]"

# ---- a forked child ----
run_crash fork "" plain_fork
run_crash fork "$WORK/fork" fork
check "fork: child's status unchanged ($(grep -o 'child status.*' "$WORK/fork.err"))" \
    test "$(grep 'child status' "$WORK/fork.err")" == "$(grep 'child status' "$WORK/plain_fork.err")"
dump "$WORK/fork" >"$WORK/fork.dump" # one ring: the parent wrote nothing
check "fork: the child's own ring (ppid = the server) holds the CRASH record" \
    bash -c "grep -qE '^ring pid=[0-9]+ ppid=[0-9]+ ' '$WORK/fork.dump' && grep -q '^crash signal=11' '$WORK/fork.dump'"
check "fork: ...and the crashed request span" \
    bash -c "[ \$(( \$(grep -oP '^span kind=server .* flags=\K[0-9]+' '$WORK/fork.dump') & 64 )) -eq 64 ]"

# ---- a full ring ----
RING_SIZE=65536 run_crash fill "$WORK/fill" fill
dump "$WORK/fill" >"$WORK/fill.dump"
check "full ring: status is still signal 11" grep -q "signal=11" "$WORK/fill.status"
check "full ring: drops counted" grep -qE 'dropped_full=[1-9]' "$WORK/fill.dump"
run_crash fill "" plain_fill
check "full ring: exit status unchanged ($(cat "$WORK/fill.status"))" \
    test "$(cat "$WORK/fill.status")" == "$(cat "$WORK/plain_fill.status")"
# 3000 exchanges made 6000 span records, then the crash two more (the crashed request's
# span, the CRASH record): with no room left, each was counted as dropped, none lost.
fill_committed=$(grep -c '^span .*request=\[GET /fill ' "$WORK/fill.dump")
fill_dropped=$(grep -oP 'dropped_full=\K[0-9]+' "$WORK/fill.dump")
check "full ring: the crash's two records counted as dropped ($fill_dropped = 6000 - $fill_committed + 2)" \
    test "${fill_dropped:-0}" -eq $((6000 - fill_committed + 2))
check "full ring: no CRASH record made it in" bash -c "! grep -q '^crash' '$WORK/fill.dump'"

# ---- Python's faulthandler ----
py_plain=$(status_of python3 -X faulthandler -c 'import ctypes; ctypes.string_at(0)' 2>"$WORK/py_plain.err")
py_shim=$(LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$WORK/py status_of python3 -X faulthandler -c \
    'import ctypes; ctypes.string_at(0)' 2>"$WORK/py.err")
check "faulthandler: exit status unchanged ($py_shim)" test "$py_plain" == "$py_shim"
check "faulthandler: still prints its dump" grep -q "Fatal Python error: Segmentation fault" "$WORK/py.err"
check "faulthandler: with the Python stack" grep -q 'File "<string>", line 1 in <module>' "$WORK/py.err"
dump "$WORK/py" >"$WORK/py.dump"
check "faulthandler: one CRASH record, flagged PROGRAM_HANDLER" \
    test "$(grep -cE '^crash signal=11 .* flags=1 ' "$WORK/py.dump")" -eq 1
echo "$FAILURES failure(s)"
[ "$FAILURES" -eq 0 ]
