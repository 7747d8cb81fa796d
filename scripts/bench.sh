#!/usr/bin/env bash
# ldtap's benchmarks (never a pass/fail test): instructions the shim adds per call and per
# ring record (callgrind, N vs 2N so start-up cancels); instructions it adds per request
# served by real servers (nginx, gunicorn) and per iteration of a Python sqlite3 loop, each
# run under callgrind in one process with and without the shim (noise-free on a shared
# machine); and server CPU per request under wrk for gunicorn and nginx. Prints a table.
# Usage: scripts/bench.sh [BUILD_DIR]; LDTAP_BENCH_PAIRS (5), LDTAP_BENCH_SECONDS (5),
# LDTAP_BENCH_ONLY=callgrind|servers|wrk (one part only), LDTAP_BENCH_SERVERS (the
# callgrind server cases, default "nginx nginx-close gunicorn sqlite"),
# LDTAP_BENCH_BREAKDOWN=1 (also print, per case, the functions the added instructions go to),
# LDTAP_BENCH_WRK (the servers timed under wrk, default "gunicorn nginx").
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

BUILD=$(resolve_build_dir "${1:-build}")
PAIRS=${LDTAP_BENCH_PAIRS:-5}
SECONDS_PER_RUN=${LDTAP_BENCH_SECONDS:-5}
ONLY=${LDTAP_BENCH_ONLY:-}
SERVER_CASES=${LDTAP_BENCH_SERVERS:-nginx nginx-close gunicorn sqlite}
BREAKDOWN=${LDTAP_BENCH_BREAKDOWN:-0}
WRK_SERVERS=${LDTAP_BENCH_WRK:-gunicorn nginx}
make_temp_dir
clear_otel_environment
for tool in valgrind wrk nginx; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || die "$tool is missing (run scripts/setup.sh)"
done
TABLE="$LDTAP_TMP/table"
: >"$TABLE"

# row WHAT VALUE TARGET NOTE: one line of the final table.
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$TABLE"; }

# ---------------------------------------------------------------- callgrind ----
# The instrumented runs go through `ldtap run` (a real collector drains the ring, so no
# record is dropped for lack of room) which preloads libldtap.so into valgrind's guest.
LDTAP_RUN=("$BUILD/ldtap" run --output /dev/null --no-summary --no-prometheus --run-dir "$LDTAP_TMP/run")
# For the servers under wrk: with the summary (printed at exit, outside the measurement)
# so the number of spans can be checked against the requests sent.
LDTAP_RUN_SERVER=("$BUILD/ldtap" run --output /dev/null --run-dir "$LDTAP_TMP/run")

# instructions plain|ldtap PROGRAM ARGS...: total Ir of one callgrind run.
CALLGRIND_RUN=0
instructions() {
    local prefix=()
    [ "$1" = ldtap ] && prefix=("${LDTAP_RUN[@]}" --)
    shift
    CALLGRIND_RUN=$((CALLGRIND_RUN + 1))
    local out="$LDTAP_TMP/callgrind.$CALLGRIND_RUN"
    "${prefix[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" "$@" \
        >"$out.log" 2>&1 || { cat "$out.log" >&2; die "callgrind run failed: $*"; }
    sed -n 's/^summary: *\([0-9]*\).*/\1/p; s/^totals: *\([0-9]*\).*/\1/p' "$out" | head -n 1
}

# per_iteration N plain|ldtap PROGRAM ARGS...: (Ir(2N) - Ir(N)) / N, running PROGRAM N ARGS...
per_iteration() {
    local n=$1 mode=$2 program=$3
    shift 3
    local small large
    small=$(instructions "$mode" "$program" "$n" "$@")
    large=$(instructions "$mode" "$program" $((2 * n)) "$@")
    echo $(((large - small) / n))
}

if [ -z "$ONLY" ] || [ "$ONLY" = callgrind ]; then
    SOCKET_BENCH="$BUILD/bench_socket_calls"
    [ -x "$SOCKET_BENCH" ] || die "$SOCKET_BENCH is missing: build with scripts/build.sh"

    log "callgrind: send+recv on an untracked socketpair"
    N=20000
    plain=$(per_iteration "$N" plain "$SOCKET_BENCH" untracked)
    traced=$(per_iteration "$N" ldtap "$SOCKET_BENCH" untracked)
    # Each iteration is two calls (send, recv).
    row "untracked socket call, plain (Ir/call)" $((plain / 2)) "" "send+recv 64 B, socketpair"
    row "untracked socket call, added by shim (Ir/call)" $(((traced - plain) / 2)) "<= 15" ""

    log "callgrind: HTTP keep-alive exchanges on a traced 127.0.0.1 connection"
    N=2000
    plain=$(per_iteration "$N" plain "$SOCKET_BENCH" http)
    traced=$(per_iteration "$N" ldtap "$SOCKET_BENCH" http)
    row "HTTP exchange, plain (Ir/exchange)" "$plain" "" "4 calls: client+server span"
    # Sanity: every exchange must give a server and a client span, or the figure above
    # measures untraced calls.
    "$BUILD/ldtap" run --output "$LDTAP_TMP/exchanges.jsonl" --no-summary --run-dir "$LDTAP_TMP/run" -- \
        "$SOCKET_BENCH" 100 http
    spans=$("$LDTAP_PYTHON" tests/e2e/check_spans.py dump "$LDTAP_TMP/exchanges.jsonl" | grep -c . || true)
    note="framing + 2 records"
    [ "$spans" = 200 ] || note="MISMATCH: $spans spans for 100 exchanges (expected 200)"
    row "HTTP exchange, added by shim (Ir/exchange)" $((traced - plain)) "" "$note"

    RING_BENCH="$BUILD/bench_ring_record"
    if [ -x "$RING_BENCH" ]; then
        log "callgrind: ring records"
        N=20000
        committed=$(per_iteration "$N" plain "$RING_BENCH" commit)
        dropped=$(per_iteration "$N" plain "$RING_BENCH" drop)
        row "ring record, committed (Ir/record)" "$committed" "<= 200" "~384 B record"
        row "ring record, dropped: ring full (Ir/record)" "$dropped" "" ""
    else
        row "ring record (Ir/record)" "n/a" "<= 200" "$RING_BENCH not built"
    fi
fi

# ------------------------------------------------------- callgrind: servers ----
# One server process under callgrind answers N then 2N requests, plain and with the shim
# (an `ldtap run` collector drains its ring); the difference cancels start-up, exit and
# warm-up, so each figure is instructions per request of the process that served it.
# What the kernel does (syscalls, TCP) is not counted: the wrk figures below include it.

# write_nginx_config DIR PORT on|off: a static server for DIR/www/index.html (612 B), with
# a master and one worker (on) or one process doing everything (off, for callgrind).
write_nginx_config() {
    local dir=$1 port=$2 master=$3
    mkdir -p "$dir/www" "$dir/logs"
    head -c 612 /dev/zero | tr '\0' 'n' >"$dir/www/index.html"
    local user_line=""
    # As root nginx would run its worker as "nobody", which could not open a ring in
    # root's 0700 run dir: keep the worker as the current user.
    [ "$(id -u)" = 0 ] && user_line="user root;"
    cat >"$dir/nginx.conf" <<EOF
$user_line
daemon off;
master_process $master;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 256; }
http {
    access_log off;
    # One keep-alive connection carries every request of a callgrind run.
    keepalive_requests 1000000;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$port;
        root $dir/www;
    }
}
EOF
}

# ask_to_stop PID: SIGTERM, again every 20 s (nginx under valgrind now and then loses one,
# and a SIGKILL would leave no callgrind output), then stop_pid's own TERM and KILL.
still_running() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]; }
ask_to_stop() {
    local pid=$1 waited
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
        still_running "$pid" || break
        kill -TERM "$pid" 2>/dev/null || break
        waited=0
        while still_running "$pid" && [ "$waited" -lt 200 ]; do
            sleep 0.1
            waited=$((waited + 1))
        done
    done
    stop_pid "$pid" TERM 20 || true
}

# served_by CASE plain|ldtap N DIR: runs CASE under callgrind in DIR answering N requests
# (N loop iterations for sqlite) and prints the callgrind file of the process that served
# them. Instrumented runs export their spans to DIR/spans.jsonl so that their count can be
# checked (the collector is another process: its work is not in the figure).
served_by() {
    local case=$1 mode=$2 n=$3 dir=$4
    local -a prefix=()
    mkdir -p "$dir"
    [ "$mode" = ldtap ] && prefix=("$BUILD/ldtap" run --output "$dir/spans.jsonl" --no-summary --no-prometheus
        --run-dir "$LDTAP_TMP/run" --)
    local callgrind=(valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.%p")
    local port="" server_pid=""
    # Python's hash seed changes dict layouts, and with them instruction counts.
    case "$case" in
    sqlite)
        PYTHONHASHSEED=0 "${prefix[@]}" "${callgrind[@]}" "$LDTAP_PYTHON" tests/bench/db_sqlite_loop.py \
            "$dir/loop.sqlite3" "$n" >"$dir/run.log" 2>&1 || { cat "$dir/run.log" >&2; die "sqlite loop failed"; }
        ls "$dir"/callgrind.*
        return
        ;;
    nginx | nginx-close)
        port=$(free_port)
        write_nginx_config "$dir" "$port" off
        start_background server_pid "$dir/run.log" "${prefix[@]}" "${callgrind[@]}" /usr/sbin/nginx -p "$dir" \
            -e "$dir/logs/error.log" -c "$dir/nginx.conf"
        ;;
    gunicorn)
        port=$(free_port)
        PYTHONHASHSEED=0 start_background server_pid "$dir/run.log" "${prefix[@]}" "${callgrind[@]}" "$LDTAP_PYTHON" \
            /usr/bin/gunicorn --pid "$dir/master.pid" -w 1 -k sync -b "127.0.0.1:$port" \
            --chdir "$LDTAP_ROOT/tests/e2e/apps" --log-level warning wsgi_app:app
        ;;
    *) die "unknown case $case" ;;
    esac
    wait_for_port "$port" 300 "$server_pid" || { cat "$dir/run.log" >&2; die "$case did not start under callgrind"; }
    local how=keepalive path=/index.html
    [ "$case" = nginx-close ] && how=close
    # gunicorn's sync worker closes every connection itself.
    [ "$case" = gunicorn ] && how=close path=/
    "$LDTAP_PYTHON" tests/bench/http_requests.py "$port" "$path" "$n" "$how" ||
        die "$case: the requests failed (see $dir/run.log)"
    local master=""
    [ "$case" = gunicorn ] && master=$(cat "$dir/master.pid")
    ask_to_stop "$server_pid"
    local file
    for file in "$dir"/callgrind.*; do
        # gunicorn: the worker served the requests, not the master.
        [ -n "$master" ] && [ "$file" = "$dir/callgrind.$master" ] && continue
        echo "$file"
    done
}

total_instructions() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }

# bench_served CASE N LABEL TARGET NOTE: plain and instrumented runs at N and 2N.
bench_served() {
    local case=$1 n=$2 label=$3 target=$4 note=$5
    local -A file
    local mode count
    for mode in plain ldtap; do
        for count in "$n" $((2 * n)); do
            file[$mode$count]=$(served_by "$case" "$mode" "$count" "$LDTAP_TMP/$case-$mode-$count")
            [ -f "${file[$mode$count]}" ] || die "$case: no callgrind output for $mode $count"
        done
    done
    local plain traced added
    plain=$((($(total_instructions "${file[plain$((2 * n))]}") - $(total_instructions "${file[plain$n]}")) / n))
    traced=$((($(total_instructions "${file[ldtap$((2 * n))]}") - $(total_instructions "${file[ldtap$n]}")) / n))
    added=$((traced - plain))
    # Sanity: one span per request (two statements per sqlite iteration), or the figure
    # measures untraced calls.
    local spans expected=$((2 * n))
    [ "$case" = sqlite ] && expected=$((4 * n))
    spans=$("$LDTAP_PYTHON" tests/e2e/check_spans.py dump "$LDTAP_TMP/$case-ldtap-$((2 * n))/spans.jsonl" |
        grep -c . || true)
    [ "$spans" -ge "$expected" ] || note="MISMATCH: $spans spans, $expected expected; $note"
    row "$label, plain (Ir)" "$plain" "" "$note"
    row "$label, added by shim (Ir)" "$added ($(awk -v a="$added" -v p="$plain" 'BEGIN { printf "%+.1f%%", 100 * a / p }'))" \
        "$target" "N=$n vs 2N"
    if [ "$BREAKDOWN" = 1 ]; then
        log "$label: where the added instructions go (own instructions of each function, per iteration):"
        "$LDTAP_PYTHON" tests/bench/callgrind_breakdown.py "$n" "${file[plain$n]}" "${file[plain$((2 * n))]}" \
            "${file[ldtap$n]}" "${file[ldtap$((2 * n))]}" 25 >&2
    fi
}

if [ -z "$ONLY" ] || [ "$ONLY" = servers ]; then
    for case in $SERVER_CASES; do
        log "callgrind: $case, plain and with the shim, N and 2N"
        case "$case" in
        nginx) bench_served nginx 2000 "nginx keep-alive request" "<= +5%" "612 B static file" ;;
        nginx-close) bench_served nginx-close 1000 "nginx request, own connection" "" "612 B static file" ;;
        gunicorn) bench_served gunicorn 100 "gunicorn sync worker request" "<= +3%" "wsgi_app.py /" ;;
        sqlite) bench_served sqlite 2000 "python sqlite3 loop iteration" "<= +11%" "INSERT + point SELECT" ;;
        *) die "unknown LDTAP_BENCH_SERVERS case $case" ;;
        esac
    done
fi

# ---------------------------------------------------------------- wrk ----------
# CPU time (ns) of PID and all its descendants, from every live thread's schedstat
# (nanosecond resolution, unlike the 10 ms ticks of /proc/PID/stat).
cpu_ns_of_tree() {
    "$LDTAP_PYTHON" - "$1" <<'EOF'
import os, sys
root = int(sys.argv[1])
children = {}
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(ppid, []).append(int(entry))
total, todo = 0, [root]
while todo:
    pid = todo.pop()
    todo.extend(children.get(pid, []))
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
    except OSError:
        pass
print(total)
EOF
}

# CPU time (ns) of PID's own threads only (the collector, without its children).
cpu_ns_of_process() {
    local total=0 task
    for task in /proc/"$1"/task/*/schedstat; do
        total=$((total + $(cut -d' ' -f1 "$task")))
    done
    echo "$total"
}

# The server process under `ldtap run` is ldtap's child.
child_of() {
    local parent=$1 child="" tries=0
    while [ -z "$child" ] && [ "$tries" -lt 100 ]; do
        child=$(ps -o pid= --ppid "$parent" | head -n 1 | tr -d ' ' || true)
        [ -n "$child" ] || sleep 0.1
        tries=$((tries + 1))
    done
    [ -n "$child" ] || die "no child of $parent"
    echo "$child"
}

# measure NAME URL SERVER_ROOT_PID COLLECTOR_PID: one wrk run; appends
# "name server_ns_per_request collector_ns_per_request requests" to $LDTAP_TMP/samples.
measure() {
    local name=$1 url=$2 server=$3 collector=${4:-}
    local before after collector_before=0 collector_after=0 output requests
    before=$(cpu_ns_of_tree "$server")
    [ -n "$collector" ] && collector_before=$(cpu_ns_of_process "$collector")
    output=$(wrk -t1 -c8 -d"${SECONDS_PER_RUN}s" "$url")
    after=$(cpu_ns_of_tree "$server")
    [ -n "$collector" ] && collector_after=$(cpu_ns_of_process "$collector")
    requests=$(echo "$output" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
    if echo "$output" | grep -q -E 'Non-2xx|Socket errors: connect [1-9]'; then
        log "$name: wrk reported errors:"
        echo "$output" >&2
    fi
    [ -n "$requests" ] && [ "$requests" -gt 0 ] || die "$name: wrk completed no request"
    echo "$name $(((after - before) / requests)) $(((collector_after - collector_before) / requests)) $requests" \
        >>"$LDTAP_TMP/samples"
    log "$name: $requests requests, $(((after - before) / requests)) ns server CPU/request"
}

# bench_server LABEL URL_PATH TARGET START_FUNCTION: starts the server plain and under ldtap
# (on two ports, both kept running), alternates wrk runs between them PAIRS times.
bench_server() {
    local label=$1 url_path=$2 target=$3 start=$4
    local plain_port traced_port plain_pid traced_ldtap traced_server
    plain_port=$(free_port)
    traced_port=$(free_port)
    "$start" plain "$plain_port" plain_pid
    "$start" ldtap "$traced_port" traced_ldtap
    wait_for_port "$plain_port" 30 "$plain_pid"
    wait_for_port "$traced_port" 30 "$traced_ldtap"
    traced_server=$(child_of "$traced_ldtap")
    # Warm-up: worker start, Python imports, first rings.
    wrk -t1 -c8 -d1s "http://127.0.0.1:$plain_port$url_path" >/dev/null
    local warmup
    warmup=$(wrk -t1 -c8 -d1s "http://127.0.0.1:$traced_port$url_path" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
    echo "$label-warmup 0 0 ${warmup:-0}" >>"$LDTAP_TMP/samples"
    local pair
    for pair in $(seq 1 "$PAIRS"); do
        measure "$label-plain" "http://127.0.0.1:$plain_port$url_path" "$plain_pid"
        measure "$label-ldtap" "http://127.0.0.1:$traced_port$url_path" "$traced_server" "$traced_ldtap"
    done
    stop_pid "$plain_pid" TERM 20 || true
    stop_pid "$traced_ldtap" TERM 30 || true
    # Sanity: spans the shim recorded (decoded by the collector, plus records the ring had
    # no room for) against every request sent to the traced server: one each expected.
    local log_file="$LDTAP_TMP/$label-ldtap.log" decoded ring_full queue_full
    decoded=$(sed -n 's/^ldtap: \([0-9]*\) spans* decoded.*/\1/p; s/^ldtap: \([0-9]*\) spans* written.*/\1/p' "$log_file" | tail -n 1)
    ring_full=$(sed -n 's/.*dropped (ring full): \([0-9]*\).*/\1/p' "$log_file" | tail -n 1)
    queue_full=$(sed -n 's/.*dropped (export queue full): \([0-9]*\).*/\1/p' "$log_file" | tail -n 1)
    "$LDTAP_PYTHON" - "$LDTAP_TMP/samples" "$label" "$target" "${decoded:-0}" "${ring_full:-0}" "${queue_full:-0}" >>"$TABLE" <<'EOF'
import statistics, sys
path, label, target = sys.argv[1:4]
decoded, ring_full, queue_full = (int(v) for v in sys.argv[4:7])
spans = decoded + ring_full
samples = {"plain": [], "ldtap": []}
collector, requests = [], []
sent = 0
for line in open(path):
    name, server_ns, collector_ns, count = line.split()
    if name.startswith(label + "-") and name.endswith(("-ldtap", "-warmup")):
        sent += int(count)
    if name.startswith(label + "-") and not name.endswith("-warmup"):
        samples[name[len(label) + 1:]].append(int(server_ns))
        if name.endswith("-ldtap"):
            collector.append(int(collector_ns))
            requests.append(int(count))
plain, traced = statistics.median(samples["plain"]), statistics.median(samples["ldtap"])
n = len(samples["plain"])
print(f"{label}: server CPU/request, plain (µs)\t{plain / 1000:.1f}\t\tmedian of {n}")
print(f"{label}: server CPU/request, ldtap (µs)\t{traced / 1000:.1f}\t\tmedian of {n}")
print(f"{label}: server CPU/request added\t{(traced / plain - 1) * 100:+.1f}%\t{target}\t"
      f"runs: {', '.join(f'{(t / p - 1) * 100:+.1f}%' for p, t in zip(samples['plain'], samples['ldtap']))}")
print(f"{label}: collector CPU/request (µs)\t{statistics.median(collector) / 1000:.1f}\t\t"
      f"separate process; ~{int(statistics.median(requests))} req/run")
# wrk does not count the requests in flight when a run ends (up to 8 connections each).
slack = 8 * (len(samples["ldtap"]) + 1)
# The ring-full counter covers every record type (heap samples, saturation...), so with
# drops "recorded" is an upper bound: only a shortfall means requests went untraced.
print(f"{label}: spans recorded / requests sent\t{spans}/{sent}\t1 each\t"
      + ("ok (wrk leaves up to 8 a run uncounted)" if abs(spans - sent) <= slack
         else "ok: at least one each (ring-full drops include other record types)" if spans > sent
         else "MISMATCH: requests went untraced, so the CPU figure understates the cost"))
print(f"{label}: spans dropped, ring full / export queue full\t{ring_full}/{queue_full}\t0\t"
      f"{(ring_full + queue_full) / max(spans, 1) * 100:.1f}% of recorded")
EOF
}

start_gunicorn() {
    local mode=$1 port=$2 __var=$3
    local server=(/usr/bin/gunicorn -w 2 -k sync -b "127.0.0.1:$port" --chdir "$LDTAP_ROOT/tests/e2e/apps"
        --log-level warning wsgi_app:app)
    local -a prefix=()
    [ "$mode" = ldtap ] && prefix=("${LDTAP_RUN_SERVER[@]}" --)
    start_background "$__var" "$LDTAP_TMP/gunicorn-$mode.log" "${prefix[@]}" "${server[@]}"
}

start_nginx() {
    local mode=$1 port=$2 __var=$3
    local dir="$LDTAP_TMP/nginx-$mode"
    write_nginx_config "$dir" "$port" on
    local -a prefix=()
    [ "$mode" = ldtap ] && prefix=("${LDTAP_RUN_SERVER[@]}" --)
    start_background "$__var" "$LDTAP_TMP/nginx-$mode.log" "${prefix[@]}" /usr/sbin/nginx -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf"
}

if [ -z "$ONLY" ] || [ "$ONLY" = wrk ]; then
    : >"$LDTAP_TMP/samples"
    for server in $WRK_SERVERS; do
        case "$server" in
        gunicorn)
            log "wrk: gunicorn (2 sync workers), $PAIRS pairs of ${SECONDS_PER_RUN}s runs"
            bench_server gunicorn / "<= 3%" start_gunicorn
            ;;
        nginx)
            log "wrk: nginx (1 worker, static 612 B file), $PAIRS pairs of ${SECONDS_PER_RUN}s runs"
            bench_server nginx /index.html "<= 5%" start_nginx
            ;;
        *) die "unknown LDTAP_BENCH_WRK server $server" ;;
        esac
    done
fi

echo
echo "ldtap benchmarks ($(nproc) cores, $(uname -r)); instrumented runs: $BUILD/ldtap run --output /dev/null"
echo "(callgrind: also --no-summary; wrk: wrk -t1 -c8, ${SECONDS_PER_RUN}s runs, plain and ldtap alternating)"
{
    printf 'measure\tvalue\ttarget\tnote\n'
    cat "$TABLE"
} | column -t -s $'\t'
