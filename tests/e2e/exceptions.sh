#!/usr/bin/env bash
# End-to-end: Python tracebacks and native crashes become `exception` span events and OTLP log
# records: Flask/gunicorn, FastAPI/uvicorn, and a C server dying of SIGSEGV. Usage: exceptions.sh BUILD_DIR
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

# One receiver for all three parts; each part has its own service.name.
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

# serve SERVICE PORT CMD...: runs CMD under `ldtap run` (protobuf to the receiver), sends
# /ok, the failing path, /ok again, then stops it with SIGTERM (ldtap drains and exports).
serve() {
    local service=$1 port=$2 bad_path=$3 ldtap_pid
    shift 3
    start_background ldtap_pid "$LDTAP_TMP/$service.log" \
        "$BUILD/ldtap" run --no-prometheus --protocol http/protobuf --service-name "$service" \
        --run-dir "$LDTAP_TMP/run-$service" -- "$@"
    wait_for_port "$port" 30 "$ldtap_pid" || { cat "$LDTAP_TMP/$service.log" >&2; die "$service did not start"; }
    sleep 0.5
    local base="http://127.0.0.1:$port"
    request ok 200 "$base/ok"
    request bad 500 "$base$bad_path"
    request ok 200 "$base/ok"
    sleep 0.5
    stop_pid "$ldtap_pid" TERM 30 || FAILED=1
    [ "$STOP_STATUS" = 0 ] || { echo "  FAIL $service: ldtap exited $STOP_STATUS after SIGTERM"; FAILED=1; }
}

# check SERVICE TYPE MESSAGE FUNCTION OK_COUNT JOIN: the spans and log records of SERVICE.
# JOIN is "attached" (the traceback is written while the request is in flight: the span gets
# the exception event and the log record its ids) or "unattached" (written after the
# response: the shim has no request in flight on that thread, so the log record has no ids
# and the error span, held 1 s by exception_join.c, gets no report it could match).
check() {
    "$LDTAP_PYTHON" - "$LDTAP_TMP/otlp.jsonl" "$@" <<'PY' || FAILED=1
import json, sys
from check_spans import Checker, load_spans
path, service, exc_type, message, function, ok_count, join = sys.argv[1:8]
c = Checker(f"{service}: spans and logs in {path}")
spans = [s for s in load_spans(path) if s.resource.get("service.name") == service]
servers = [s for s in spans if s.kind == "server"]

# The failing request: ERROR status and (attached) exactly one `exception` event.
bad = c.one(servers, "failing request's server span", attrs={"user_agent.original": "e2e/bad"})
if bad is not None:
    c.equal(bad.status, "error", "failing span status")
    events = bad.raw.get("events") or []
    if join == "attached":
        c.equal([e["name"] for e in events], ["exception"], "failing span's events")
        attrs = events[0]["attributes"] if events else {}
        c.equal(attrs.get("exception.type"), exc_type, "exception.type")
        c.check(message in (attrs.get("exception.message") or ""), f"exception.message contains {message!r}",
                attrs.get("exception.message"))
        stack = attrs.get("exception.stacktrace") or ""
        c.check("Traceback" in stack and function in stack,
                f"exception.stacktrace has 'Traceback' and {function!r}", stack[:300])
    else:
        c.equal(events, [], "failing span's events (known gap: traceback logged after the response)")
oks = [s for s in servers if s.attr("user_agent.original") == "e2e/ok"]
c.equal(len(oks), int(ok_count), "/ok server spans")
c.equal([len(s.raw.get("events") or []) for s in oks], [0] * len(oks), "events on /ok spans")
c.equal({s.status for s in oks}, {"unset"}, "status of /ok spans")

# Log records: the traceback as body, with its exception attributes; attached, it carries
# the failing span's trace and span id.
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
tracebacks = [r for r in records if r["attributes"].get("exception.type") == exc_type]
c.equal(len(tracebacks), 1, f"log records with exception.type {exc_type}")
for r in tracebacks[:1]:
    if join == "attached" and bad is not None:
        c.equal((r["traceId"], r["spanId"]), (bad.trace_id, bad.span_id), "log record ids = failing span's")
    elif join != "attached":
        c.equal((r["traceId"], r["spanId"]), ("", ""), "log record ids (none: no request in flight)")
    c.check(r["body"].startswith("Traceback (most recent call last)") and function in r["body"],
            "log record body is the traceback", r["body"][:300])
    c.equal((r["severityNumber"], r["severityText"]), (17, "ERROR"), "log record severity")
    c.check(message in (r["attributes"].get("exception.message") or ""), "log record exception.message",
            r["attributes"].get("exception.message"))
    c.check(function in (r["attributes"].get("exception.stacktrace") or ""), "log record exception.stacktrace")
    c.equal(r["attributes"].get("log.iostream"), "stderr", "log record log.iostream")
c.finish()
PY
}

echo "== Flask under gunicorn -w 2: /boom raises ZeroDivisionError"
PORT=$(free_port)
serve e2e-exc-flask "$PORT" /boom /usr/bin/gunicorn -w 2 -k sync -b "127.0.0.1:$PORT" \
    --chdir "$APPS" exceptions_flask:app
check e2e-exc-flask ZeroDivisionError "division by zero" boom_view 2 attached

# uvicorn logs "Exception in ASGI application" with the traceback after Starlette has sent the
# 500, so no request is in flight on the logging thread: see check's JOIN.
echo "== FastAPI under uvicorn: /bad raises ValueError"
PORT=$(free_port)
serve e2e-exc-fastapi "$PORT" /bad /usr/bin/uvicorn --app-dir "$APPS" --host 127.0.0.1 --port "$PORT" \
    exceptions_fastapi:app
check e2e-exc-fastapi ValueError "bad input" bad_input_view 2 unattached

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
