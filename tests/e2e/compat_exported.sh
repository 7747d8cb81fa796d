#!/usr/bin/env bash
# Programs that play process-level games, run plainly and under `ldtap run`: the same
# output and exit status both ways, and ldtap exports exactly the spans of what they did.
# shim_compat.sh checks these games' rings under LD_PRELOAD; this follows them through the
# collector to the OTLP-JSON file, and adds exec loops doing traced work in every image,
# the program's own signal handlers (SIGCHLD reaper, self-pipe, SIGPIPE, sigwaitinfo, a
# timer handler making HTTP exchanges) and closing every descriptor up to the real limit.
# Usage: compat_exported.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
WORK=$LDTAP_TMP

CFLAGS="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2"
gcc $CFLAGS -pthread -o "$WORK/process_games" "$LDTAP_ROOT/tests/programs_shim/process_games.c"
gcc $CFLAGS -o "$WORK/compat_games" "$LDTAP_ROOT/tests/programs_shim/compat_games.c"
RUN_DIR=$WORK/run
mkdir -m 0700 "$RUN_DIR"

# play NAME COMMAND...: runs COMMAND plainly and under `ldtap run` (quiet: the program's own
# output only), compares output and status, and loads the export counts of the traced run.
play() {
    local name=$1 plain traced
    shift
    plain=$("$@" 2>&1; echo "status=$?")
    traced=$("$BUILD/ldtap" run -q --no-prometheus --run-dir "$RUN_DIR" -o "$WORK/$name.jsonl" -- "$@" 2>&1
        echo "status=$?")
    if [ "$plain" == "$traced" ]; then
        pass "$name: same output and exit status under ldtap run"
        sed 's/^/     /' <<<"$traced" | grep -v '^     status=0$' | head -3
    else
        fail "$name: same output and exit status under ldtap run"
        diff <(echo "$plain") <(echo "$traced") | sed 's/^/     /'
    fi
    check "$name: ldtap run left nothing in its ring directory" test -z "$(ls -A "$RUN_DIR")"
    # Unset the previous game's per-path counts, then load this one's.
    local previous
    mapfile -t previous < <(compgen -v path_ || true)
    [ "${#previous[@]}" -eq 0 ] || unset "${previous[@]}"
    eval "$("$LDTAP_PYTHON" "$LDTAP_ROOT/tests/e2e/export_counts.py" "$WORK/$name.jsonl")"
}
count() { local name=path_$1; echo "${!name:-0}"; } # count PATH_OUTCOME: from the last play

play daemon "$WORK/process_games" daemon
check "daemon: the double-forked grandchild's 3 exchanges exported ($(count _daemon_ok) spans)" \
    test "$(count _daemon_ok)" -eq 6 -a "$spans" -eq 6

play closeall "$WORK/process_games" closeall
check "closeall: exchanges after close_range and after the close loop exported" \
    test "$(count _after_range_ok)" -eq 4 -a "$(count _after_loop_ok)" -eq 4
check "closeall: the 2 exchanges cut by the closes exported unanswered" \
    test "$(count _cut1_unanswered)" -eq 2 -a "$(count _cut2_unanswered)" -eq 2 -a "$spans" -eq 12

play spawn "$WORK/process_games" spawn
check "spawn: exchanges spanning vfork and posix_spawn exported" \
    test "$(count _vfork_ok)" -eq 2 -a "$(count _spawn_ok)" -eq 2 -a "$spans" -eq 4

play eintr "$WORK/process_games" eintr
check "eintr: the exchange interrupted by the program's SIGALRM handler exported once" \
    test "$(count _eintr_ok)" -eq 2 -a "$spans" -eq 2

play forkthreads "$WORK/process_games" forkthreads
check "forkthreads: 1,200 thread spans and 2 per forked child from 31 processes ($spans spans, $processes processes)" \
    test "$(count _thread_ok)" -eq 1200 -a "$(count _child_ok)" -eq 60 -a "$processes" -eq 31

GENERATIONS=20
play execloop "$WORK/compat_games" execloop "$GENERATIONS"
check "execloop: one exchange from each of the $((GENERATIONS + 1)) images of one process ($(count _exec_ok) spans)" \
    test "$(count _exec_ok)" -eq $((2 * (GENERATIONS + 1))) -a "$spans" -eq $((2 * (GENERATIONS + 1))) \
    -a "$processes" -eq 1

play signals "$WORK/compat_games" signals
check "signals: children reaped by the program's SIGCHLD handler exported (20 spans)" \
    test "$(count _child_ok)" -eq 20
check "signals: every main-loop exchange exported while a timer handler interrupted them ($(count _main_ok) of 610)" \
    test "$(count _main_ok)" -eq 610
check "signals: the handler's own exchanges exported whole ($(count _handler_ok) spans, an even number)" \
    test $(($(count _handler_ok) % 2)) -eq 0
check "signals: the request cut by EPIPE exported unanswered on both sides" test "$(count _pipe_unanswered)" -eq 2
check "signals: a connect interrupted by SIGALRM, completed in the background, traced (client and server)" \
    test "$(count _interrupted_ok)" -eq 2 -a "$(count _queued_ok)" -eq 2
check "signals: nothing else exported" \
    test "$spans" -eq $((20 + 610 + $(count _handler_ok) + 2 + 4)) -a "$unique_span_ids" -eq "$spans"

play closelimit "$WORK/compat_games" closelimit
check "closelimit: the request in flight when everything was closed exported unanswered" \
    test "$(count _cut_unanswered)" -eq 2
check "closelimit: exchanges after closing every descriptor up to the limit exported" \
    test "$(count _after_ok)" -eq 6 -a "$spans" -eq 8

finish_checks
