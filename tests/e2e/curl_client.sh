#!/usr/bin/env bash
# End-to-end: `ldtap run -- curl URL` against an uninstrumented server gives one client span
# per request, and curl's exit code passes through ldtap. Usage: curl_client.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$LDTAP_ROOT/scripts/lib/otlp_receiver.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
export PYTHONPATH="$LDTAP_ROOT/tests/e2e"
FAILED=0

SITE="$LDTAP_TMP/site"
mkdir -p "$SITE"
printf 'x marks the spot\n' >"$SITE/x"
PORT=$(free_port)
start_background SERVER_PID "$LDTAP_TMP/server.log" \
    "$LDTAP_PYTHON" -m http.server --bind 127.0.0.1 --directory "$SITE" "$PORT"
wait_for_port "$PORT" 20 "$SERVER_PID" || die "the uninstrumented server did not start"

# traced_curl NAME EXPECTED_STATUS [ldtap run options...] -- [curl args...]: runs curl under
# ldtap in the foreground and checks ldtap's exit status is curl's.
traced_curl() {
    local name=$1 expected=$2
    shift 2
    local ldtap_options=()
    while [ "$1" != -- ]; do
        ldtap_options+=("$1")
        shift
    done
    shift
    local status=0
    "$BUILD/ldtap" run --service-name e2e-curl --run-dir "$LDTAP_TMP/run-$name" "${ldtap_options[@]}" -- \
        curl "$@" >"$LDTAP_TMP/$name.stdout" 2>"$LDTAP_TMP/$name.stderr" || status=$?
    if [ "$status" = "$expected" ]; then
        echo "  ok   $name: ldtap exited $status, as curl does"
    else
        echo "  FAIL $name: ldtap exited $status, expected curl's $expected"
        tail -n 20 "$LDTAP_TMP/$name.stderr"
        FAILED=1
    fi
}

check_client_span() {
    local name=$1 file=$2 path=$3 status=$4 error=$5
    "$LDTAP_PYTHON" - "$name" "$file" "$PORT" "$path" "$status" "$error" <<'EOF' || FAILED=1
import re, sys
from check_spans import Checker, load_spans
name, path, port, url_path, status, error = sys.argv[1:7]
port, status = int(port), int(status)
c = Checker(f"{name}: spans in {path}")
spans = load_spans(path)
c.equal(len(spans), 1, "span count")
if spans:
    span = spans[0]
    c.equal(span.kind, "client", "kind")
    c.equal(span.name, "GET", "name")
    c.attributes(span, {
        "http.request.method": "GET", "url.full": f"http://127.0.0.1:{port}{url_path}",
        "server.address": "127.0.0.1", "server.port": port,
        "http.response.status_code": status, "http.route": None,
    }, "client span")
    c.equal(span.status, error, "status (client: >= 400 is an error)")
    c.check(re.fullmatch(r"[0-9a-f]{32}", span.trace_id), "32-hex trace id", span.trace_id)
    c.equal(span.parent_span_id, "", "root span (curl serves no request)")
    c.check(0 < span.start <= span.end, "0 < start <= end", (span.start, span.end))
    c.equal(span.resource.get("service.name"), "e2e-curl", "resource service.name")
    c.equal(span.resource.get("process.executable.name", "curl"), "curl",
            "resource process.executable.name (when present)")
c.finish()
EOF
}

echo "== curl GET 200, OTLP-JSON file"
traced_curl ok 0 --output "$LDTAP_TMP/ok.jsonl" -- -s -o "$LDTAP_TMP/x.body" "http://127.0.0.1:$PORT/x"
cmp -s "$LDTAP_TMP/x.body" "$SITE/x" && echo "  ok   ok: body intact" || { echo "  FAIL ok: body differs"; FAILED=1; }
check_client_span ok "$LDTAP_TMP/ok.jsonl" /x 200 unset

echo "== curl --fail on a 404 exits 22 through ldtap, OTLP protobuf to the node receiver"
start_otlp_receiver RECEIVER_PID RECEIVER_PORT "$LDTAP_TMP/missing.jsonl"
traced_curl missing 22 --endpoint "http://127.0.0.1:$RECEIVER_PORT" -- -s --fail -o /dev/null "http://127.0.0.1:$PORT/nothing-here"
wait_for_lines "$LDTAP_TMP/missing.jsonl" 1 10 || true
check_client_span missing "$LDTAP_TMP/missing.jsonl" /nothing-here 404 error
stop_pid "$RECEIVER_PID" TERM 10 || true

echo "== keep-alive: curl fetches two URLs over one connection to a keep-alive server"
BACKEND_PORT=$(free_port)
start_background BACKEND_PID "$LDTAP_TMP/backend.log" "$LDTAP_PYTHON" "$LDTAP_ROOT/tests/e2e/apps/backend.py" "$BACKEND_PORT"
wait_for_port "$BACKEND_PORT" 20 "$BACKEND_PID" || die "the keep-alive server did not start"
traced_curl keepalive 0 --output "$LDTAP_TMP/keepalive.jsonl" -- -s -o /dev/null -o /dev/null \
    -w '%{num_connects}\n' "http://127.0.0.1:$BACKEND_PORT/ping" "http://127.0.0.1:$BACKEND_PORT/other"
"$LDTAP_PYTHON" - "$LDTAP_TMP/keepalive.jsonl" "$BACKEND_PORT" "$(awk '{ total += $1 } END { print total }' "$LDTAP_TMP/keepalive.stdout")" <<'EOF' || FAILED=1
import sys
from check_spans import Checker, load_spans
path, port, connects = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = Checker("keepalive: spans")
c.equal(connects, 1, "connections curl opened for 2 requests")
spans = load_spans(path)
c.equal(sorted((s.kind, s.attr("url.full"), s.attr("http.response.status_code")) for s in spans),
        [("client", f"http://127.0.0.1:{port}/other", 404), ("client", f"http://127.0.0.1:{port}/ping", 200)],
        "one client span per request on the kept-alive connection")
c.finish()
EOF

echo "== connection refused: curl's exit 7 passes through"
CLOSED_PORT=$(free_port)
traced_curl refused 7 --output "$LDTAP_TMP/refused.jsonl" -- -s -o /dev/null "http://127.0.0.1:$CLOSED_PORT/"
refused_spans=$("$LDTAP_PYTHON" "$LDTAP_ROOT/tests/e2e/check_spans.py" dump "$LDTAP_TMP/refused.jsonl" | grep -c . || true)
if [ "$refused_spans" = 0 ]; then
    echo "  ok   refused: no span for a request that was never sent"
else
    echo "  FAIL refused: $refused_spans span(s) for a request that was never sent"
    FAILED=1
fi

if [ "$FAILED" != 0 ]; then
    log "FAILED (set LDTAP_KEEP_TMP=1 to keep $LDTAP_TMP)"
    exit 1
fi
log "passed"
