#!/usr/bin/env bash
# End-to-end: Python tracebacks (plain, chained, exception groups) and native crashes become
# `exception` span events and OTLP log records: Flask/gunicorn, FastAPI/uvicorn (which logs
# after answering), a C server dying of SIGSEGV; and captured log lines of a threaded server
# carry their request's ids. Usage: exceptions.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$LDTAP_ROOT/scripts/lib/otlp_receiver.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
export PYTHONPATH="$LDTAP_ROOT/tests/e2e"
APPS="$LDTAP_ROOT/tests/e2e/apps"
for program in /usr/bin/gunicorn /usr/bin/uvicorn; do
    [ -x "$program" ] || die "$program is missing (run scripts/setup.sh)"
done
FAILED=0

# One receiver for all parts; each part has its own service.name.
start_otlp_receiver RECEIVER_PID RECEIVER_PORT "$LDTAP_TMP/otlp.jsonl"
export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RECEIVER_PORT"

# request LABEL EXPECTED_STATUS URL: one GET with user agent e2e/LABEL; checks the status.
request() {
    local label=$1 expected=$2 url=$3 status
    status=$(curl -s -m 10 -A "e2e/$label" -o /dev/null -w '%{http_code}' "$url" || true)
    if [ "$status" = "$expected" ]; then
        echo "  ok   $label: HTTP $status"
    else
        echo "  FAIL $label: HTTP $status, expected $expected"
        FAILED=1
    fi
}

# serve SERVICE PORT REQUESTS CMD...: runs CMD under `ldtap run` (protobuf to the receiver),
# calls the shell function REQUESTS with the server's base URL, then stops it with SIGTERM
# (ldtap drains and exports).
serve() {
    local service=$1 port=$2 requests=$3 ldtap_pid
    shift 3
    start_background ldtap_pid "$LDTAP_TMP/$service.log" \
        "$BUILD/ldtap" run --no-prometheus --protocol http/protobuf --service-name "$service" \
        --run-dir "$LDTAP_TMP/run-$service" -- "$@"
    wait_for_port "$port" 30 "$ldtap_pid" || { cat "$LDTAP_TMP/$service.log" >&2; die "$service did not start"; }
    sleep 0.5
    "$requests" "http://127.0.0.1:$port"
    sleep 0.5
    stop_pid "$ldtap_pid" TERM 30 || FAILED=1
    [ "$STOP_STATUS" = 0 ] || { echo "  FAIL $service: ldtap exited $STOP_STATUS after SIGTERM"; FAILED=1; }
}

# check SERVICE SPEC: the spans and log records of SERVICE against SPEC (JSON):
#   "spans": {LABEL: {...}}  the server spans of requests made with user agent e2e/LABEL:
#       "count" (default 1); "type", "message", "stack" (substrings): each carries exactly
#       one `exception` event with them and ERROR status; "error": true: ERROR status and no
#       event; otherwise UNSET status and no event.
#   "logs": {TYPE: [LABEL or ""]}  the log records whose exception.type is TYPE, one per
#       item: carrying the ids of LABEL's span, or none ("").
check() {
    "$LDTAP_PYTHON" - "$LDTAP_TMP/otlp.jsonl" "$@" <<'PY' || FAILED=1
import json, sys
from check_spans import Checker, load_spans
path, service, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
c = Checker(f"{service}: spans and logs in {path}")
servers = [s for s in load_spans(path) if s.resource.get("service.name") == service and s.kind == "server"]
by_label = {}
for label, expected in spec["spans"].items():
    spans = [s for s in servers if s.attr("user_agent.original") == f"e2e/{label}"]
    c.equal(len(spans), expected.get("count", 1), f"{label}: server spans")
    by_label[label] = spans[0] if spans else None
    for span in spans:
        events = span.raw.get("events") or []
        if "type" not in expected:
            c.equal((span.status, events), ("error" if expected.get("error") else "unset", []),
                    f"{label}: status, and no event")
            continue
        c.equal(span.status, "error", f"{label}: status")
        c.equal([e["name"] for e in events], ["exception"], f"{label}: events")
        attrs = events[0]["attributes"] if events else {}
        c.equal(attrs.get("exception.type"), expected["type"], f"{label}: exception.type")
        c.check(expected["message"] in (attrs.get("exception.message") or ""),
                f"{label}: exception.message has {expected['message']!r}", attrs.get("exception.message"))
        stack = attrs.get("exception.stacktrace") or ""
        missing = [part for part in expected["stack"] if part not in stack]
        c.equal(missing, [], f"{label}: exception.stacktrace has {expected['stack']}")

# Log records: one per traceback block, with its exception attributes; tied to a request,
# it carries that span's trace and span id.
records = []
for line in open(path):
    request = json.loads(line)
    if request.get("signal") != "logs":
        continue
    for resource_logs in request["resourceLogs"]:
        if resource_logs["resource"].get("service.name") == service:
            c.equal(request["_meta"].get("reencodedEqual"), True, "logs request re-encodes byte-identically")
            for scope_logs in resource_logs["scopeLogs"]:
                records.extend(scope_logs["logRecords"])
for exc_type, labels in spec["logs"].items():
    typed = [r for r in records if r["attributes"].get("exception.type") == exc_type]
    ids = sorted((r["traceId"], r["spanId"]) for r in typed)
    expected = sorted((by_label[l].trace_id, by_label[l].span_id) if l and by_label.get(l) else ("", "")
                      for l in labels)
    c.equal(ids, expected, f"log records of {exc_type}: ids of {labels}")
    for r in typed:
        c.equal((r["severityNumber"], r["severityText"]), (17, "ERROR"), f"{exc_type} log record severity")
        c.equal(r["attributes"].get("log.iostream"), "stderr", f"{exc_type} log record log.iostream")
        c.check(r["attributes"].get("exception.stacktrace") == r["body"], f"{exc_type}: stacktrace is the body")
c.finish()
PY
}

flask_requests() {
    request ok 200 "$1/ok"
    request bad 500 "$1/boom"
    request chained 500 "$1/chained"
    request ok 200 "$1/ok"
}

echo "== Flask under gunicorn -w 2: views raise ZeroDivisionError, a chained LookupError"
PORT=$(free_port)
serve e2e-exc-flask "$PORT" flask_requests /usr/bin/gunicorn -w 2 -k sync -b "127.0.0.1:$PORT" \
    --chdir "$APPS" exceptions_flask:app
check e2e-exc-flask '{
  "spans": {"ok": {"count": 2},
            "bad": {"type": "ZeroDivisionError", "message": "division by zero", "stack": ["Traceback", "boom_view"]},
            "chained": {"type": "LookupError", "message": "no such order",
                        "stack": ["invalid literal for int()", "The above exception was the direct cause",
                                  "chained_view", "LookupError: no such order"]}},
  "logs": {"ZeroDivisionError": ["bad"], "LookupError": ["chained"], "ValueError": ["chained"]}}'

# uvicorn logs "Exception in ASGI application" and the traceback after Starlette has sent the
# 500: the shim ties it to the request just answered on that thread (shim/log.c), unless
# another request was in flight on the event loop meanwhile (/slow): then nobody's.
fastapi_requests() {
    request ok 200 "$1/ok"
    request bad 500 "$1/bad"
    request chained 500 "$1/chained"
    request group 500 "$1/group"
    request ok 200 "$1/ok"
    request slow 200 "$1/slow" >"$LDTAP_TMP/slow.out" & # a subshell: FAILED is read back below
    local slow=$!
    sleep 0.5
    request during-slow 500 "$1/bad"
    wait "$slow" || true
    cat "$LDTAP_TMP/slow.out"
    grep -q "^  ok " "$LDTAP_TMP/slow.out" || FAILED=1
}

echo "== FastAPI under uvicorn: a ValueError, a chained LookupError, an ExceptionGroup, one during /slow"
PORT=$(free_port)
serve e2e-exc-fastapi "$PORT" fastapi_requests /usr/bin/uvicorn --app-dir "$APPS" --host 127.0.0.1 \
    --port "$PORT" exceptions_fastapi:app
check e2e-exc-fastapi '{
  "spans": {"ok": {"count": 2},
            "bad": {"type": "ValueError", "message": "bad input", "stack": ["Traceback", "bad_input_view"]},
            "chained": {"type": "LookupError", "message": "no such order",
                        "stack": ["invalid literal for int()", "The above exception was the direct cause",
                                  "chained_view", "LookupError: no such order"]},
            "group": {"type": "ExceptionGroup", "message": "checkout failed (2 sub-exceptions)",
                      "stack": ["+ Exception Group Traceback", "group_view", "ValueError: out of stock",
                                "TypeError: card declined"]},
            "slow": {}, "during-slow": {"error": true}},
  "logs": {"ValueError": ["bad", "chained", ""], "LookupError": ["chained"], "ExceptionGroup": ["group"]}}'

# Log correlation: with --capture-logs each line a request's thread writes carries that
# request's ids, however many requests are in flight on other threads.
echo "== threaded http.server, 8 concurrent clients: log lines carry their request's ids"
PORT=$(free_port)
start_background LOGGING_PID "$LDTAP_TMP/e2e-exc-logs.log" \
    "$BUILD/ldtap" run --no-prometheus --protocol http/protobuf --service-name e2e-exc-logs --capture-logs stderr \
    --run-dir "$LDTAP_TMP/run-logs" -- "$LDTAP_PYTHON" "$APPS/logging_threaded.py" "$PORT"
wait_for_port "$PORT" 30 "$LOGGING_PID" || { cat "$LDTAP_TMP/e2e-exc-logs.log" >&2; die "logging server did not start"; }
seq 1 48 | xargs -P 8 -I{} curl -s -m 10 -o /dev/null "http://127.0.0.1:$PORT/req{}"
sleep 0.5
stop_pid "$LOGGING_PID" TERM 30 || FAILED=1
"$LDTAP_PYTHON" - "$LDTAP_TMP/otlp.jsonl" <<'PY' || FAILED=1
import json, sys
from check_spans import Checker, load_spans
c = Checker("e2e-exc-logs: log records correlate to their spans")
spans = {s.attr("url.path"): s for s in load_spans(sys.argv[1])
         if s.resource.get("service.name") == "e2e-exc-logs" and s.kind == "server"}
lines = {}
for line in open(sys.argv[1]):
    request = json.loads(line)
    if request.get("signal") != "logs":
        continue
    for resource_logs in request["resourceLogs"]:
        if resource_logs["resource"].get("service.name") == "e2e-exc-logs":
            for scope_logs in resource_logs["scopeLogs"]:
                for r in scope_logs["logRecords"]:
                    if r["body"].startswith("INFO shop: handling "):
                        lines[r["body"].rsplit(" ", 1)[1]] = r
paths = [f"/req{n}" for n in range(1, 49)]
c.equal([p for p in paths if p not in spans], [], "requests without a server span")
c.equal([p for p in paths if p not in lines], [], "requests without a log record")
wrong = [p for p in paths if p in spans and p in lines and
         (lines[p]["traceId"], lines[p]["spanId"]) != (spans[p].trace_id, spans[p].span_id)]
c.equal(wrong, [], "log records whose ids are not their request's span")
c.equal({r["severityText"] for r in lines.values()}, {"INFO"}, "severity guessed from the Python logging format")
c.finish()
PY

echo "== http_crash segv: SIGSEGV in serve_request"
cc -g -O0 -std=c11 -D_GNU_SOURCE -pthread -o "$LDTAP_TMP/http_crash" "$LDTAP_ROOT/tests/programs_crash/http_crash.c" ||
    die "http_crash did not build"
PORT=$(free_port)
ulimit -c 0
start_background CRASH_PID "$LDTAP_TMP/e2e-exc-crash.log" \
    "$BUILD/ldtap" run --no-prometheus --protocol http/protobuf --service-name e2e-exc-crash \
    --run-dir "$LDTAP_TMP/run-crash" -- "$LDTAP_TMP/http_crash" "$PORT" segv
wait_for_port "$PORT" 30 "$CRASH_PID" || { cat "$LDTAP_TMP/e2e-exc-crash.log" >&2; die "http_crash did not start"; }
curl -s -m 5 -A e2e/bad -o /dev/null "http://127.0.0.1:$PORT/crash/here" || true
CRASH_STATUS=0
# bash reports the job's "Segmentation fault" here: that is the expected outcome.
wait "$CRASH_PID" || CRASH_STATUS=$?
if [ "$CRASH_STATUS" = 139 ]; then
    echo "  ok   ldtap run exited 139 (SIGSEGV), as the program did"
else
    echo "  FAIL ldtap run exited $CRASH_STATUS, expected 139"
    FAILED=1
fi
wait_for_lines "$LDTAP_TMP/otlp.jsonl" 1 10 || true
"$LDTAP_PYTHON" - "$LDTAP_TMP/otlp.jsonl" <<'PY' || FAILED=1
import sys
from check_spans import Checker, load_spans
c = Checker("e2e-exc-crash: spans")
spans = [s for s in load_spans(sys.argv[1]) if s.resource.get("service.name") == "e2e-exc-crash"]
span = c.one([s for s in spans if s.kind == "server"], "crashed request's server span")
if span is not None:
    c.equal(span.status, "error", "crashed span status")
    events = span.raw.get("events") or []
    c.equal([e["name"] for e in events], ["exception"], "crashed span's events")
    attrs = events[0]["attributes"] if events else {}
    c.equal(attrs.get("exception.type"), "SIGSEGV", "exception.type")
    c.check("serve_request" in (attrs.get("exception.stacktrace") or ""), "stacktrace names serve_request",
            attrs.get("exception.stacktrace"))
c.finish()
PY

stop_pid "$RECEIVER_PID" TERM 10 || true
if [ "$FAILED" != 0 ]; then
    log "FAILED (set LDTAP_KEEP_TMP=1 to keep $LDTAP_TMP)"
    for log_file in "$LDTAP_TMP"/e2e-exc-*.log; do
        echo "--- $log_file" && tail -n 30 "$log_file"
    done
    exit 1
fi
log "passed"
