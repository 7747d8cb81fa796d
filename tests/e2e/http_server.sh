#!/usr/bin/env bash
# End-to-end: `ldtap run -- python3 -m http.server` exports exactly the expected server spans
# over OTLP protobuf, OTLP JSON and to the local OTLP-JSON file, leaves responses and exit
# status untouched, and never exports a query string. Usage: http_server.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$LDTAP_ROOT/scripts/lib/otlp_receiver.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
export PYTHONPATH="$LDTAP_ROOT/tests/e2e"
SECRET_QUERY="qsecret7f3a9c"

# A site with known files.
SITE="$LDTAP_TMP/site"
mkdir -p "$SITE"
printf 'hello from ldtap e2e\n' >"$SITE/hello.txt"
printf '{"items": [1, 2, 3]}\n' >"$SITE/data.json"

# The four requests every run makes; each has its own User-Agent so the span checks can
# tell them apart. Saves status line + headers (minus Date and Server, which carry the
# time and the Python version) and body per request under DIR.
make_requests() {
    local port=$1 dir=$2 base="http://127.0.0.1:$1"
    mkdir -p "$dir"
    request "$dir" 1 -A e2e/get "$base/hello.txt"
    request "$dir" 2 -A e2e/query "$base/data.json?token=$SECRET_QUERY&page=2"
    request "$dir" 3 -A e2e/missing "$base/missing.txt"
    # HEAD: with -I curl would also write the headers as the "body"; there is none.
    request "$dir" 4 -A e2e/head -I "$base/hello.txt"
    : >"$dir/4.body"
    local file
    for file in "$dir"/*.head; do
        grep -v -i -E '^(date|server):' "$file" >"$file.stable" || true
    done
}

request() {
    local dir=$1 n=$2 status=0
    shift 2
    curl -s -D "$dir/$n.head" -o "$dir/$n.body" "$@" || status=$?
    if [ "$status" != 0 ]; then
        echo "  FAIL $dir: request $n (curl $*) failed with curl exit $status"
        FAILED=1
    fi
}

# run_server MODE STOP_SIGNAL [ldtap run options...]: one server run (MODE "baseline" runs
# it without ldtap), four requests, then STOP_SIGNAL; sets RUN_STATUS.
RUN_STATUS=""
run_server() {
    local mode=$1 signal=$2
    shift 2
    local port server_pid
    port=$(free_port)
    mkdir -p "$LDTAP_TMP/$mode"
    local server=("$LDTAP_PYTHON" -m http.server --bind 127.0.0.1 --directory "$SITE" "$port")
    if [ "$mode" = baseline ] || [ "$mode" = baseline-int ]; then
        start_background server_pid "$LDTAP_TMP/$mode/server.log" "${server[@]}"
    else
        start_background server_pid "$LDTAP_TMP/$mode/server.log" \
            "$BUILD/ldtap" run --service-name e2e-http-server --run-dir "$LDTAP_TMP/run-$mode" "$@" -- "${server[@]}"
    fi
    wait_for_port "$port" 20 "$server_pid" || { cat "$LDTAP_TMP/$mode/server.log" >&2; die "$mode: server did not start"; }
    make_requests "$port" "$LDTAP_TMP/$mode/responses"
    if [ "$mode" != baseline ] && [ "$mode" != baseline-int ]; then
        # The query string is cut inside the process: not even the ring file may hold it.
        local rings
        rings=$(find "$LDTAP_TMP/run-$mode" -type f 2>/dev/null | wc -l || true)
        if [ "$rings" -eq 0 ]; then
            echo "  FAIL $mode: no ring file under --run-dir while the server runs"
            FAILED=1
        elif grep -r -a -q -F "$SECRET_QUERY" "$LDTAP_TMP/run-$mode"; then
            echo "  FAIL $mode: the query string is in a ring file"
            FAILED=1
        else
            echo "  ok   $mode: $rings ring file(s) under --run-dir, no query string in them"
        fi
    fi
    # Let the server finish writing its last response before it is told to stop.
    sleep 0.3
    stop_pid "$server_pid" "$signal" 20 || { FAILED=1; echo "  FAIL $mode: did not stop on SIG$signal"; }
    RUN_STATUS=$STOP_STATUS
    echo "  ..   $mode: exit status $RUN_STATUS after SIG$signal"
    # Port of this run, for the span checks.
    echo "$port" >"$LDTAP_TMP/$mode/port"
}

# check_spans MODE FILE FORMAT: the exact spans of the four requests; FORMAT is what the
# receiver must have decoded (protobuf|json), or "file" for ldtap's own OTLP-JSON file.
check_spans() {
    local mode=$1 file=$2 format=$3 port
    port=$(cat "$LDTAP_TMP/$mode/port")
    "$LDTAP_PYTHON" - "$mode" "$file" "$port" "$format" <<'EOF' || FAILED=1
import re, sys
from check_spans import Checker, load_requests, load_spans, select
mode, path, port, format_ = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = Checker(f"{mode}: spans in {path}")
requests = load_requests(path)
c.check(len(requests) >= 1, "at least one export request", len(requests))
if format_ != "file":
    c.equal({r.get("_meta", {}).get("format") for r in requests}, {format_}, "receiver decoded format")
if format_ == "protobuf":
    c.check(all(r["_meta"].get("reencodedEqual") for r in requests),
            "protobuf re-encodes to the same bytes (no unknown fields, canonical encoding)")
spans = load_spans(path)
c.equal(len(spans), 4, "span count")
c.equal(sorted(s.kind for s in spans), ["server"] * 4, "kinds")

def common(span, label, method, path_, status):
    if not c.check(span is not None, f"{label}: span exists"):
        return
    c.attributes(span, {
        "http.request.method": method, "url.path": path_, "url.scheme": "http",
        "http.route": path_, "http.response.status_code": status,
        "server.address": "127.0.0.1", "server.port": port,
        "network.peer.address": "127.0.0.1", "network.protocol.version": "1.1",
        "url.query": None, "url.full": None,
    }, label)
    c.equal(span.name, f"{method} {path_}", f"{label}: name")
    c.equal(span.status, "unset", f"{label}: status (4xx is not an error on a server span)")
    c.check(re.fullmatch(r"[0-9a-f]{32}", span.trace_id), f"{label}: 32-hex trace id", span.trace_id)
    c.check(re.fullmatch(r"[0-9a-f]{16}", span.span_id), f"{label}: 16-hex span id", span.span_id)
    c.equal(span.parent_span_id, "", f"{label}: root span")
    c.check(0 < span.start <= span.end, f"{label}: 0 < start <= end", (span.start, span.end))
    c.equal(span.resource.get("service.name"), "e2e-http-server", f"{label}: resource service.name")
    c.check(isinstance(span.resource.get("process.pid"), int), f"{label}: resource process.pid",
            span.resource.get("process.pid"))

def by_agent(agent):
    found = select(spans, attrs={"user_agent.original": agent})
    c.equal(len(found), 1, f"spans with user_agent.original {agent}")
    return found[0] if found else None

common(by_agent("e2e/get"), "GET file", "GET", "/hello.txt", 200)
common(by_agent("e2e/query"), "GET with query", "GET", "/data.json", 200)
common(by_agent("e2e/missing"), "GET 404", "GET", "/missing.txt", 404)
common(by_agent("e2e/head"), "HEAD", "HEAD", "/hello.txt", 200)
c.equal(len({s.trace_id for s in spans}), 4, "distinct trace ids")
c.equal(len({s.resource.get("process.pid") for s in spans}), 1, "one process")
c.finish()
EOF
}

# check_same_responses MODE: headers (minus Date/Server) and bodies equal the baseline's.
check_same_responses() {
    local mode=$1 n
    for n in 1 2 3 4; do
        if cmp -s "$LDTAP_TMP/baseline/responses/$n.head.stable" "$LDTAP_TMP/$mode/responses/$n.head.stable" &&
            cmp -s "$LDTAP_TMP/baseline/responses/$n.body" "$LDTAP_TMP/$mode/responses/$n.body"; then
            echo "  ok   $mode: response $n byte-identical to the uninstrumented server's"
        else
            echo "  FAIL $mode: response $n differs from the uninstrumented server's"
            diff "$LDTAP_TMP/baseline/responses/$n.head.stable" "$LDTAP_TMP/$mode/responses/$n.head.stable" || true
            FAILED=1
        fi
    done
}

expect_status() {
    local what=$1 actual=$2 expected=$3
    if [ "$actual" = "$expected" ]; then
        echo "  ok   $what: exit status $actual"
    else
        echo "  FAIL $what: exit status $actual, expected $expected"
        FAILED=1
    fi
}

FAILED=0
echo "== uninstrumented baseline"
run_server baseline TERM
BASELINE_TERM=$RUN_STATUS
run_server baseline-int INT
BASELINE_INT=$RUN_STATUS
[ "$(cat "$LDTAP_TMP/baseline/responses/1.body")" = "hello from ldtap e2e" ] || die "baseline server did not serve hello.txt"
grep -q ' 404' "$LDTAP_TMP/baseline/responses/3.head" || die "baseline server did not answer 404"

echo "== OTLP/HTTP protobuf to the node receiver (OTEL_EXPORTER_OTLP_ENDPOINT), stopped with SIGTERM"
start_otlp_receiver RECEIVER_PID RECEIVER_PORT "$LDTAP_TMP/protobuf.jsonl"
OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RECEIVER_PORT" run_server protobuf TERM
expect_status "protobuf run (SIGTERM)" "$RUN_STATUS" "$BASELINE_TERM"
check_same_responses protobuf
wait_for_lines "$LDTAP_TMP/protobuf.jsonl" 1 10 || true
check_spans protobuf "$LDTAP_TMP/protobuf.jsonl" protobuf
stop_pid "$RECEIVER_PID" TERM 10 || true

echo "== OTLP/HTTP JSON (--endpoint --protocol http/json), stopped with SIGINT"
start_otlp_receiver RECEIVER_PID RECEIVER_PORT "$LDTAP_TMP/json.jsonl"
run_server json INT --endpoint "http://127.0.0.1:$RECEIVER_PORT" --protocol http/json
expect_status "json run (SIGINT)" "$RUN_STATUS" "$BASELINE_INT"
check_same_responses json
wait_for_lines "$LDTAP_TMP/json.jsonl" 1 10 || true
check_spans json "$LDTAP_TMP/json.jsonl" json
stop_pid "$RECEIVER_PID" TERM 10 || true

echo "== no endpoint: OTLP-JSON lines file and summary, stopped with SIGTERM"
run_server file TERM --output "$LDTAP_TMP/file/traces.jsonl"
expect_status "file run (SIGTERM)" "$RUN_STATUS" "$BASELINE_TERM"
check_same_responses file
if [ -s "$LDTAP_TMP/file/traces.jsonl" ]; then
    check_spans file "$LDTAP_TMP/file/traces.jsonl" file
else
    echo "  FAIL file: $LDTAP_TMP/file/traces.jsonl is missing or empty"
    FAILED=1
fi
# ldtap's own stderr: the server's lines minus Python's access log (which does log queries).
grep -v -E '^127\.0\.0\.1 - - ' "$LDTAP_TMP/file/server.log" >"$LDTAP_TMP/file/ldtap-stderr.txt" || true
for route in "GET /hello.txt" "GET /data.json" "GET /missing.txt" "HEAD /hello.txt"; do
    # One request each and no errors: "  GET /hello.txt   1   0   p50 p95 p99".
    if grep -q -E "^ *$route +1 +0 " "$LDTAP_TMP/file/ldtap-stderr.txt"; then
        echo "  ok   file: summary on stderr has '$route' with count 1, 0 errors"
    else
        echo "  FAIL file: summary on stderr has no '$route' line with count 1, 0 errors"
        FAILED=1
    fi
done

echo "== keep-alive: three requests on one connection (http.server --protocol HTTP/1.1)"
KEEPALIVE_PORT=$(free_port)
mkdir -p "$LDTAP_TMP/keepalive"
start_background KEEPALIVE_PID "$LDTAP_TMP/keepalive/server.log" \
    "$BUILD/ldtap" run --service-name e2e-http-server --run-dir "$LDTAP_TMP/run-keepalive" \
    --output "$LDTAP_TMP/keepalive/traces.jsonl" -- \
    "$LDTAP_PYTHON" -m http.server --protocol HTTP/1.1 --bind 127.0.0.1 --directory "$SITE" "$KEEPALIVE_PORT"
wait_for_port "$KEEPALIVE_PORT" 20 "$KEEPALIVE_PID" || die "keep-alive server did not start"
connects=$(curl -s -A e2e/keepalive -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\n' \
    "http://127.0.0.1:$KEEPALIVE_PORT/hello.txt" "http://127.0.0.1:$KEEPALIVE_PORT/data.json" \
    "http://127.0.0.1:$KEEPALIVE_PORT/missing.txt" | awk '{ total += $1 } END { print total }')
sleep 0.3
stop_pid "$KEEPALIVE_PID" INT 20 || FAILED=1
if [ "$connects" = 1 ]; then
    echo "  ok   keepalive: curl made 3 requests over 1 connection"
else
    echo "  FAIL keepalive: curl opened $connects connections for 3 requests"
    FAILED=1
fi
"$LDTAP_PYTHON" - "$LDTAP_TMP/keepalive/traces.jsonl" <<'EOF' || FAILED=1
import sys
from check_spans import Checker, load_spans
c = Checker("keepalive: spans")
spans = load_spans(sys.argv[1])
c.equal(sorted(s.name for s in spans), ["GET /data.json", "GET /hello.txt", "GET /missing.txt"],
        "one server span per request on the kept-alive connection")
c.equal(len({s.attr("network.peer.port") for s in spans}), 1, "all from one client port (one connection)")
c.equal(sorted(s.attr("http.response.status_code") for s in spans), [200, 200, 404], "status codes")
c.finish()
EOF

echo "== the query string never leaves the process"
exported=("$LDTAP_TMP/protobuf.jsonl" "$LDTAP_TMP/json.jsonl")
[ -f "$LDTAP_TMP/file/traces.jsonl" ] && exported+=("$LDTAP_TMP/file/traces.jsonl")
"$LDTAP_PYTHON" "$LDTAP_ROOT/tests/e2e/check_spans.py" absent "${exported[@]}" "$LDTAP_TMP/file/ldtap-stderr.txt" \
    -- "$SECRET_QUERY" "token=" "page=2" || FAILED=1

if [ "$FAILED" != 0 ]; then
    log "FAILED (set LDTAP_KEEP_TMP=1 to keep $LDTAP_TMP)"
    for log_file in "$LDTAP_TMP"/*/server.log; do
        echo "--- $log_file" && tail -n 20 "$log_file"
    done
    exit 1
fi
log "passed"
