#!/usr/bin/env bash
# End-to-end: `ldtap top` in a real terminal (tmux) against `ldtap run` of a web server
# taking requests: the route row appears with its count and rate, q quits, Ctrl-C quits,
# and both leave the terminal as they found it; without a terminal it prints one snapshot.
# Usage: top.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
command -v tmux >/dev/null || die "tmux is missing (scripts/setup.sh installs it)"
FAILED=0
fail() {
    echo "  FAIL $*"
    FAILED=1
}
ok() { echo "  ok   $*"; }

SITE="$LDTAP_TMP/site"
mkdir -p "$SITE"
printf 'hello\n' >"$SITE/hello.txt"
APP_PORT=$(free_port)
METRICS_PORT=$(free_port)
URL="http://127.0.0.1:$METRICS_PORT/metrics"
start_background app_pid "$LDTAP_TMP/app.log" "$BUILD/ldtap" run --service-name e2e-top --run-dir "$LDTAP_TMP/run" \
    --output "$LDTAP_TMP/traces.jsonl" --prometheus "127.0.0.1:$METRICS_PORT" -- \
    "$LDTAP_PYTHON" -m http.server --bind 127.0.0.1 --directory "$SITE" "$APP_PORT"
wait_for_port "$APP_PORT" 20 "$app_pid" || { cat "$LDTAP_TMP/app.log" >&2; die "the app did not start"; }
wait_for_port "$METRICS_PORT" 20 "$app_pid" || die "no Prometheus endpoint"

# Steady traffic while top watches, so the rate column has something to show.
start_background client_pid "$LDTAP_TMP/client.log" bash -c \
    "while :; do curl -s -o /dev/null http://127.0.0.1:$APP_PORT/hello.txt; sleep 0.1; done"

# ---- no terminal: one snapshot ----
snapshot=$("$BUILD/ldtap" top --url "$URL" --interval 0.5 </dev/null | cat)
if grep -Eq '^e2e-top +/hello\.txt +[0-9]+ +[0-9]+\.[0-9]' <<<"$snapshot"; then
    ok "non-tty snapshot has the route row: $(grep '/hello.txt' <<<"$snapshot" | tr -s ' ')"
else
    fail "non-tty snapshot: $snapshot"
fi
widest=$(awk '{ if (length($0) > max) max = length($0) } END { print max }' <<<"$snapshot")
[ "$widest" -le 80 ] && ok "the snapshot fits 80 columns (widest line: $widest)" || fail "a line is $widest columns wide"

# ---- a terminal, 80x24, in a private tmux server ----
SOCKET="ldtap-top-$$"
TMUX_CMD=(tmux -L "$SOCKET" -f /dev/null)
# After top exits the pane reports its status and the terminal modes top must have restored.
"${TMUX_CMD[@]}" new-session -d -s top -x 80 -y 24 \
    "stty sane; $BUILD/ldtap top --url $URL --interval 0.5; echo TOP-EXIT=\$?; stty -a | tr ' ;' '\n\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\n' ' '; echo; sleep 120"
tmux_pid=$("${TMUX_CMD[@]}" display-message -p '#{pid}')
LDTAP_BACKGROUND_PIDS+=("$tmux_pid")

# wait_for_screen PATTERN SECONDS: polls the pane until PATTERN (grep -E) is on it.
wait_for_screen() {
    local deadline=$((SECONDS + $2))
    while [ "$SECONDS" -lt "$deadline" ]; do
        SCREEN=$("${TMUX_CMD[@]}" capture-pane -p -t top)
        grep -Eq "$1" <<<"$SCREEN" && return 0
        sleep 0.2
    done
    return 1
}
SCREEN=""
if wait_for_screen '^e2e-top +/hello\.txt +[0-9]+ +[1-9][0-9]*\.[0-9]' 20; then
    ok "the route row shows a count and a non-zero rate: $(grep '/hello.txt' <<<"$SCREEN" | tr -s ' ')"
else
    fail "no route row with a rate on the screen:"
    printf '%s\n' "$SCREEN" | sed 's/^/    | /'
fi
grep -q '^PID ' <<<"$SCREEN" && ok "the worker table is on the screen" || fail "no worker table"
"${TMUX_CMD[@]}" send-keys -t top q
if wait_for_screen 'TOP-EXIT=0' 10; then
    ok "q quits with status 0"
else
    fail "q did not quit top:"
    printf '%s\n' "$SCREEN" | sed 's/^/    | /'
fi
wait_for_screen 'icanon' 5 || true # the modes line follows the status line
if grep -q '^icanon echo' <<<"$SCREEN" && ! grep -q 'ldtap top - ' <<<"$SCREEN"; then
    ok "terminal restored after q: canonical mode and echo back, alternate screen left"
else
    fail "terminal not restored after q:"
    printf '%s\n' "$SCREEN" | sed 's/^/    | /'
fi

# Ctrl-C (SIGINT from the terminal) must restore the terminal too.
"${TMUX_CMD[@]}" new-window -t top -n interrupt \
    "stty sane; $BUILD/ldtap top --url $URL --interval 0.5; echo TOP-EXIT=\$?; stty -a | tr ' ;' '\n\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\n' ' '; echo; sleep 120"
sleep 1.5
"${TMUX_CMD[@]}" send-keys -t top:interrupt C-c
deadline=$((SECONDS + 10))
SCREEN=""
while [ "$SECONDS" -lt "$deadline" ] && ! grep -q 'icanon' <<<"$SCREEN"; do
    sleep 0.2
    SCREEN=$("${TMUX_CMD[@]}" capture-pane -p -t top:interrupt)
done
if grep -q 'TOP-EXIT=' <<<"$SCREEN" && grep -q '^icanon echo' <<<"$SCREEN"; then
    ok "Ctrl-C quits and restores the terminal ($(grep -o 'TOP-EXIT=[0-9]*' <<<"$SCREEN"))"
else
    fail "after Ctrl-C:"
    printf '%s\n' "$SCREEN" | sed 's/^/    | /'
fi

"${TMUX_CMD[@]}" kill-server 2>/dev/null || true
stop_pid "$client_pid" TERM 5 || true
stop_pid "$app_pid" INT 20 || fail "ldtap run did not stop on SIGINT"
[ "$FAILED" = 0 ] || die "some checks failed"
log "all checks passed"
