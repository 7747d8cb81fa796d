#!/usr/bin/env bash
# End-to-end: gunicorn (2 sync workers) under `ldtap run`: templated routes, per-worker
# resources, an outbound call as a child client span, W3C traceparent continuation, 5xx as
# error, and no credentials exported. Usage: gunicorn.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$LDTAP_ROOT/scripts/lib/otlp_receiver.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
export PYTHONPATH="$LDTAP_ROOT/tests/e2e"
APPS="$LDTAP_ROOT/tests/e2e/apps"
GUNICORN=/usr/bin/gunicorn
[ -x "$GUNICORN" ] || die "$GUNICORN is missing (run scripts/setup.sh)"

SECRET_AUTH="authsecret5d1e"
SECRET_COOKIE="cookiesecret8b2c"
SECRET_QUERY="querysecret3e7f"
TRACE_ID="4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID="00f067aa0ba902b7"
ORDER_REQUESTS=20
FAILED=0

# The downstream service /proxy calls: not instrumented, so it adds no spans of its own.
BACKEND_PORT=$(free_port)
start_background BACKEND_PID "$LDTAP_TMP/backend.log" "$LDTAP_PYTHON" "$APPS/backend.py" "$BACKEND_PORT"
wait_for_port "$BACKEND_PORT" 20 "$BACKEND_PID" || die "backend did not start"
export BACKEND_PORT

# run_gunicorn MODE [ldtap run options...]: serves the app under ldtap, sends the test
# requests, greps the ring files for secrets, records worker pids, stops with SIGTERM.
run_gunicorn() {
    local mode=$1
    shift
    local port ldtap_pid dir="$LDTAP_TMP/$mode"
    port=$(free_port)
    mkdir -p "$dir"
    echo "$port" >"$dir/port"
    start_background ldtap_pid "$dir/ldtap.log" \
        "$BUILD/ldtap" run --service-name e2e-gunicorn --run-dir "$dir/run" "$@" -- \
        "$GUNICORN" -w 2 -k sync -b "127.0.0.1:$port" --chdir "$APPS" wsgi_app:app
    wait_for_port "$port" 30 "$ldtap_pid" || { cat "$dir/ldtap.log" >&2; die "$mode: gunicorn did not start"; }
    # Both workers must be up before the concurrent requests, or one gets them all.
    # gunicorn's master is ldtap's child; the workers are the master's children.
    local master="" workers=0 deadline=$((SECONDS + 30))
    while [ "$SECONDS" -lt "$deadline" ]; do
        master=$(ps -o pid= --ppid "$ldtap_pid" | head -n 1 | tr -d ' ' || true)
        [ -n "$master" ] && workers=$(ps -o pid= --ppid "$master" | grep -c . || true)
        [ "$workers" -ge 2 ] && break
        sleep 0.2
    done
    [ "$workers" -ge 2 ] || { echo "  FAIL $mode: gunicorn started $workers worker(s), not 2"; FAILED=1; }
    local base="http://127.0.0.1:$port"

    local transfers=() n
    for n in $(seq 1 "$ORDER_REQUESTS"); do
        transfers+=(-o "$dir/order-$n.json" "$base/orders/$n?slow") # the body names the worker
    done
    # Concurrent requests, so that while one sync worker sleeps the other accepts.
    curl -s --no-progress-meter --fail --parallel --parallel-max 4 -A e2e/orders "${transfers[@]}" ||
        { echo "  FAIL $mode: /orders requests failed"; FAILED=1; }
    curl -s --fail -A e2e/proxy -o "$dir/proxy.body" "$base/proxy" ||
        { echo "  FAIL $mode: /proxy failed"; FAILED=1; }
    curl -s --fail -A e2e/proxy-traced -H "traceparent: 00-$TRACE_ID-$PARENT_ID-01" \
        -o /dev/null "$base/proxy" || { echo "  FAIL $mode: traced /proxy failed"; FAILED=1; }
    local fail_status
    fail_status=$(curl -s -A e2e/fail -o /dev/null -w '%{http_code}' "$base/fail")
    [ "$fail_status" = 500 ] || { echo "  FAIL $mode: /fail answered $fail_status"; FAILED=1; }
    curl -s --fail -A e2e/login -H "Authorization: Bearer $SECRET_AUTH" -H "Cookie: session=$SECRET_COOKIE" \
        -o /dev/null "$base/login?password=$SECRET_QUERY" || { echo "  FAIL $mode: /login failed"; FAILED=1; }
    grep -q pong "$dir/proxy.body" 2>/dev/null || { echo "  FAIL $mode: /proxy did not reach the backend"; FAILED=1; }

    ps -o pid= --ppid "$master" | tr -d ' ' >"$dir/worker_pids" || true
    echo "  ..   $mode: gunicorn master $master, workers $(tr '\n' ' ' <"$dir/worker_pids")"

    # Credentials must not even reach the ring files (they are outside the process).
    sleep 0.3
    if [ "$(find "$dir/run" -type f 2>/dev/null | wc -l)" -eq 0 ]; then
        echo "  FAIL $mode: no ring file under --run-dir while gunicorn runs"
        FAILED=1
    elif grep -r -a -q -E "$SECRET_AUTH|$SECRET_COOKIE|$SECRET_QUERY" "$dir/run"; then
        echo "  FAIL $mode: a secret is in a ring file"
        FAILED=1
    else
        echo "  ok   $mode: no secret in the ring files"
    fi

    stop_pid "$ldtap_pid" TERM 30 || FAILED=1
    if [ "$STOP_STATUS" = 0 ]; then
        echo "  ok   $mode: ldtap exited 0 after SIGTERM (gunicorn's graceful stop)"
    else
        echo "  FAIL $mode: ldtap exited $STOP_STATUS after SIGTERM"
        FAILED=1
    fi
}

check_spans() {
    local mode=$1 file=$2
    "$LDTAP_PYTHON" - "$mode" "$file" "$(cat "$LDTAP_TMP/$mode/port")" "$BACKEND_PORT" \
        "$LDTAP_TMP/$mode/worker_pids" "$TRACE_ID" "$PARENT_ID" "$ORDER_REQUESTS" <<'EOF' || FAILED=1
import sys
from check_spans import Checker, load_spans, select
mode, path = sys.argv[1], sys.argv[2]
port, backend_port = int(sys.argv[3]), int(sys.argv[4])
workers = {int(line) for line in open(sys.argv[5]) if line.strip()}
trace_id, parent_id, orders = sys.argv[6], sys.argv[7], int(sys.argv[8])
c = Checker(f"{mode}: spans in {path}")
spans = load_spans(path)
c.equal(len(spans), orders + 2 + 2 + 1 + 1, "span count (orders, 2 proxy servers + 2 clients, fail, login)")
servers = [s for s in spans if s.kind == "server"]
clients = [s for s in spans if s.kind == "client"]
c.equal(len(clients), 2, "client span count")

order_spans = select(servers, attrs={"user_agent.original": "e2e/orders"})
c.equal(len(order_spans), orders, "/orders/<n> server spans")
c.equal({s.name for s in order_spans}, {"GET /orders/{id}"}, "/orders span names")
c.equal({s.attr("http.route") for s in order_spans}, {"/orders/{id}"}, "/orders http.route")
c.equal(sorted(s.attr("url.path") for s in order_spans),
        sorted(f"/orders/{n}" for n in range(1, orders + 1)), "/orders url.path values")
c.equal({s.attr("http.response.status_code") for s in order_spans}, {200}, "/orders status codes")
c.equal({s.attr("server.port") for s in servers}, {port}, "server.port of server spans")
pids = {s.resource.get("process.pid") for s in servers}
c.check(pids <= workers, "every server span's process.pid is a gunicorn worker", f"{pids} vs {workers}")
# Which worker accepts a connection is the kernel's choice; what must hold is that each span
# names the worker that really answered it (the response body says which).
import json, os
answered_by = {f"/orders/{n}": json.load(open(os.path.join(os.path.dirname(sys.argv[5]), f"order-{n}.json")))["worker"]
               for n in range(1, orders + 1)}
c.equal({s.attr("url.path"): s.resource.get("process.pid") for s in order_spans}, answered_by,
        "each /orders span's process.pid is the worker that answered it")
c.equal({s.resource.get("service.name") for s in spans}, {"e2e-gunicorn"}, "service.name")

def proxy_pair(agent, label):
    server = c.one(servers, f"{label} server span", attrs={"user_agent.original": agent})
    if server is None:
        return None, None
    c.equal(server.name, "GET /proxy", f"{label}: server span name")
    children = [s for s in clients if s.parent_span_id == server.span_id]
    c.equal(len(children), 1, f"{label}: client spans whose parent is the server span")
    if not children:
        return server, None
    client = children[0]
    c.equal(client.name, "GET", f"{label}: client span name")
    c.equal(client.trace_id, server.trace_id, f"{label}: client trace id = server trace id")
    c.equal(client.resource.get("process.pid"), server.resource.get("process.pid"),
            f"{label}: client span from the same worker")
    c.attributes(client, {
        "http.request.method": "GET", "url.full": f"http://127.0.0.1:{backend_port}/ping",
        "server.address": "127.0.0.1", "server.port": backend_port,
        "http.response.status_code": 200,
    }, f"{label} client")
    c.equal(client.status, "unset", f"{label}: client status")
    c.check(server.start <= client.start <= client.end <= server.end,
            f"{label}: client span inside its server span")
    return server, client

server, _ = proxy_pair("e2e/proxy", "/proxy")
if server is not None:
    c.equal(server.parent_span_id, "", "/proxy without traceparent: root span")
server, client = proxy_pair("e2e/proxy-traced", "/proxy with traceparent")
if server is not None:
    c.equal(server.trace_id, trace_id, "traceparent: server continues the caller's trace")
    c.equal(server.parent_span_id, parent_id, "traceparent: server parent = caller's span id")
if client is not None:
    c.equal(client.trace_id, trace_id, "traceparent: client span in the caller's trace")

fail = c.one(servers, "/fail server span", attrs={"user_agent.original": "e2e/fail"})
if fail is not None:
    c.equal(fail.attr("http.response.status_code"), 500, "/fail status code")
    c.equal(fail.status, "error", "/fail span status (5xx is an error)")
    c.equal(fail.name, "GET /fail", "/fail name")
ok_statuses = {s.status for s in servers if s is not fail}
c.equal(ok_statuses, {"unset"}, "status of the other server spans")

login = c.one(servers, "/login server span", attrs={"user_agent.original": "e2e/login"})
c.attributes(login, {"url.path": "/login", "http.route": "/login", "url.query": None},
             "/login")
c.finish()
EOF
}

echo "== gunicorn -w 2, OTLP/HTTP protobuf to the node receiver"
start_otlp_receiver RECEIVER_PID RECEIVER_PORT "$LDTAP_TMP/otlp.jsonl"
run_gunicorn otlp --endpoint "http://127.0.0.1:$RECEIVER_PORT"
wait_for_lines "$LDTAP_TMP/otlp.jsonl" 1 10 || true
check_spans otlp "$LDTAP_TMP/otlp.jsonl"
stop_pid "$RECEIVER_PID" TERM 10 || true

echo "== gunicorn -w 2, no endpoint: OTLP-JSON lines file"
run_gunicorn file --output "$LDTAP_TMP/file/traces.jsonl"
if [ -s "$LDTAP_TMP/file/traces.jsonl" ]; then
    check_spans file "$LDTAP_TMP/file/traces.jsonl"
else
    echo "  FAIL file: $LDTAP_TMP/file/traces.jsonl is missing or empty"
    FAILED=1
fi

echo "== credentials never leave the process"
exported=("$LDTAP_TMP/otlp.jsonl" "$LDTAP_TMP/otlp/ldtap.log" "$LDTAP_TMP/file/ldtap.log")
[ -f "$LDTAP_TMP/file/traces.jsonl" ] && exported+=("$LDTAP_TMP/file/traces.jsonl")
"$LDTAP_PYTHON" "$LDTAP_ROOT/tests/e2e/check_spans.py" absent "${exported[@]}" \
    -- "$SECRET_AUTH" "$SECRET_COOKIE" "$SECRET_QUERY" "password=" || FAILED=1

if [ "$FAILED" != 0 ]; then
    log "FAILED (set LDTAP_KEEP_TMP=1 to keep $LDTAP_TMP)"
    for log_file in "$LDTAP_TMP"/*/ldtap.log; do
        echo "--- $log_file" && tail -n 30 "$log_file"
    done
    exit 1
fi
log "passed"
