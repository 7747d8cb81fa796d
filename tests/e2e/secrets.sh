#!/usr/bin/env bash
# Secrets never leave the process: an instrumented login app (tests/e2e/apps/secrets_app.py)
# receives an Authorization header, a cookie, an API-key header, a query-string token and a
# password in a body; writes passwords into SQL literals (SQLite; PostgreSQL through libpq
# when a server can be started); calls a backend with its own bearer token, cookie and
# query-string key; answers with a Set-Cookie. With log capture on, every byte ldtap exports
# (OTLP traces, metrics and logs as received, the Prometheus page, the local OTLP-JSON file,
# the exit summary) is searched for each secret: none may appear, while the spans, metrics
# and logs themselves must have arrived. The ring is searched too for what the shim must
# keep in the process (headers, query strings, bodies). Usage: tests/e2e/secrets.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$LDTAP_ROOT/scripts/lib/otlp_receiver.sh"
source "$LDTAP_ROOT/scripts/lib/db_servers.sh"
BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
T=$LDTAP_TMP


# ---- secrets: fresh random values, passed to the app through its environment ----
SECRET_NAMES=(IN_AUTHORIZATION IN_COOKIE IN_API_KEY IN_QUERY IN_BODY SQLITE POSTGRES PG_LOGIN
    OUT_AUTHORIZATION OUT_COOKIE OUT_QUERY SET_COOKIE)
for name in "${SECRET_NAMES[@]}"; do
    export "SECRET_$name=sEcReT${name//_/}$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
done
secret() { local variable="SECRET_$1"; printf '%s' "${!variable}"; }

# ---- an uninstrumented backend that records what it received ----
cat >"$T/backend.py" <<'PY'
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        with open(sys.argv[2], "a") as seen:
            seen.write(f"{self.path} {self.headers.get('Authorization')} {self.headers.get('Cookie')}\n")
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")
    def log_message(self, *arguments):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
BACKEND_PORT=$(free_port)
start_background backend_pid "$T/backend.log" "$LDTAP_PYTHON" "$T/backend.py" "$BACKEND_PORT" "$T/backend-seen.txt"
wait_for_port "$BACKEND_PORT" 20 "$backend_pid"

POSTGRES_PORT=""
if [ -x "$PG_BIN/initdb" ] && "$LDTAP_PYTHON" -c 'import psycopg2' 2>/dev/null; then
    start_postgres postgres_pid POSTGRES_PORT "$T/postgres"
    # A role that logs in with a cleartext password (pg_hba "password"): the password then
    # crosses the traced socket in a PasswordMessage. Rewritten in place: the file must
    # stay the postgres account's.
    hba="$T/postgres/data/pg_hba.conf"
    { echo "host all ldtap_login 127.0.0.1/32 password"; cat "$hba"; } >"$T/pg_hba.new"
    cat "$T/pg_hba.new" >"$hba"
    "$PG_BIN/psql" -q -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres \
        -c "CREATE ROLE ldtap_login LOGIN PASSWORD '$(secret PG_LOGIN)'" >/dev/null
    kill -HUP "$postgres_pid"
    sleep 0.5
else
    echo "# PostgreSQL or psycopg2 missing: the libpq part is skipped (SQLite still runs)"
fi

# send_requests PORT: two logins, GET with the secrets in headers and query string, and
# POST with the password in the body; checks each answer.
send_requests() {
    local port=$1 _
    for _ in 1 2; do
        curl -s -D "$T/response-head.txt" -o "$T/response.txt" \
            -H "Authorization: Bearer $(secret IN_AUTHORIZATION)" -H "X-Api-Key: $(secret IN_API_KEY)" \
            -b "session=$(secret IN_COOKIE)" -A secrets-e2e \
            "http://127.0.0.1:$port/login?token=$(secret IN_QUERY)&next=%2Fhome" || fail "GET /login failed"
        curl -s -o "$T/response.txt" -H "Authorization: Basic $(printf 'alice:%s' "$(secret IN_AUTHORIZATION)" | base64)" \
            -b "session=$(secret IN_COOKIE)" -A secrets-e2e -d "user=alice&password=$(secret IN_BODY)" \
            "http://127.0.0.1:$port/login" || fail "POST /login failed"
    done
    grep -q welcome "$T/response.txt" || fail "the app did not answer 'welcome'"
    grep -q "$(secret SET_COOKIE)" "$T/response-head.txt" || fail "the app's Set-Cookie did not reach the client"
}

# app_command PORT DB: sets APP to the app's command line (no secret on it).
APP=()
app_command() {
    APP=("$LDTAP_PYTHON" "$LDTAP_ROOT/tests/e2e/apps/secrets_app.py" "$1" "$BACKEND_PORT" "$2")
    if [ -n "$POSTGRES_PORT" ]; then APP+=("$POSTGRES_PORT"); fi
}

# no_secret_in LABEL FILE...: none of the secrets occurs in FILE (any bytes).
no_secret_in() {
    local label=$1 name found=""
    shift
    for name in "${SECRET_NAMES[@]}"; do
        if grep -F -a -q -- "$(secret "$name")" "$@" 2>/dev/null; then found+=" $name"; fi
    done
    check "$label: no secret in $(cat "$@" 2>/dev/null | wc -c) bytes${found:+ (found:$found)}" test -z "$found"
}

# ---- run 1: OTLP traces, metrics and logs to the receiver, Prometheus scraped ----
start_otlp_receiver otlp_pid otlp_port "$T/otlp.jsonl" --requests "$T/otlp-requests.jsonl" \
    --raw "$T/otlp-raw.bin"
APP_PORT=$(free_port)
PROMETHEUS_PORT=$(free_port)
app_command "$APP_PORT" "$T/otlp.db"
start_background ldtap_pid "$T/run-otlp.log" env OTEL_BSP_SCHEDULE_DELAY=200 OTEL_METRIC_EXPORT_INTERVAL=1000 \
    "$BUILD/ldtap" run --service-name secrets-app --endpoint "http://127.0.0.1:$otlp_port" \
    --prometheus "127.0.0.1:$PROMETHEUS_PORT" --capture-logs stdout,stderr -- "${APP[@]}"
wait_for_port "$APP_PORT" 30 "$ldtap_pid"
send_requests "$APP_PORT"
# The page once the four requests are in the metrics (drained, decoded, aggregated).
deadline=$((SECONDS + 20))
until curl -s "http://127.0.0.1:$PROMETHEUS_PORT/metrics" >"$T/prometheus.txt" &&
    grep -qE '^http_server_request_duration_seconds_count\{.*\} 2$' "$T/prometheus.txt" &&
    [ "$(grep -cE '^http_server_request_duration_seconds_count\{.*\} 2$' "$T/prometheus.txt")" -ge 2 ]; do
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.2
done
stop_pid "$ldtap_pid" TERM 30 || fail "ldtap run did not stop"
wait_for_lines "$T/otlp.jsonl" 3 10 || true
stop_pid "$otlp_pid" TERM 10 || true

check "backend received the outbound bearer token, cookie and query key (they were really sent)" \
    grep -q "api_key=$(secret OUT_QUERY).* Bearer $(secret OUT_AUTHORIZATION) sid=$(secret OUT_COOKIE)" \
    "$T/backend-seen.txt"
# What arrived: server, client and database spans, metrics and the app's log lines.
"$LDTAP_PYTHON" - "$T/otlp.jsonl" "${POSTGRES_PORT:+postgresql}" >"$T/arrived.txt" <<'PY' || true
import json, sys
spans, metric_names, log_bodies = [], set(), []
def walk(node):
    if isinstance(node, dict):
        if "spanId" in node and "name" in node:
            spans.append(node)
        if "body" in node and isinstance(node["body"], (str, dict)):
            log_bodies.append(json.dumps(node["body"]))
        if "name" in node and ("histogram" in node or "sum" in node or "gauge" in node or "dataPoints" in node):
            metric_names.add(node["name"])
        for value in node.values():
            walk(value)
    elif isinstance(node, list):
        for value in node:
            walk(value)
for line in open(sys.argv[1]):
    walk(json.loads(line))
text = json.dumps(spans)
print("server", sum(1 for s in spans if s.get("kind") in (2, "SPAN_KIND_SERVER") and "/login" in json.dumps(s)))
print("client", sum(1 for s in spans if s.get("kind") in (3, "SPAN_KIND_CLIENT") and "/api/token" in json.dumps(s)))
print("sqlite", sum(1 for s in spans if '"sqlite"' in json.dumps(s)))
print("postgresql", sum(1 for s in spans if '"postgresql"' in json.dumps(s)))
print("pg_login", sum(1 for s in spans if "current_user" in json.dumps(s)))
print("metrics", len(metric_names))
print("logs", sum(1 for body in log_bodies if "login handled" in body))
PY
arrived() { awk -v key="$1" '$1 == key { print $2 }' "$T/arrived.txt"; }
check "OTLP: 4 server spans arrived ($(arrived server))" test "$(arrived server)" = 4
check "OTLP: 4 client spans to the backend arrived ($(arrived client))" test "$(arrived client)" = 4
check "OTLP: SQLite spans arrived ($(arrived sqlite))" test "$(arrived sqlite)" -ge 12
if [ -n "$POSTGRES_PORT" ]; then
    check "OTLP: PostgreSQL spans arrived ($(arrived postgresql))" test "$(arrived postgresql)" -ge 12
    check "OTLP: spans of the password-authenticated sessions arrived, libpq and wire ($(arrived pg_login))" \
        test "$(arrived pg_login)" -ge 8
fi
check "OTLP: metrics arrived ($(arrived metrics) names)" test "$(arrived metrics)" -ge 3
check "OTLP: the app's log lines arrived ($(arrived logs))" test "$(arrived logs)" = 4
check "OTLP: raw request bodies were kept" test -s "$T/otlp-raw.bin"
check "Prometheus: the page shows the requests" grep -q '^http_server_request_duration_seconds_count' \
    "$T/prometheus.txt"
no_secret_in "OTLP requests as received (decompressed protobuf)" "$T/otlp-raw.bin"
no_secret_in "OTLP requests decoded" "$T/otlp.jsonl"
no_secret_in "OTLP request headers" "$T/otlp-requests.jsonl"
no_secret_in "Prometheus page" "$T/prometheus.txt"
no_secret_in "ldtap run output and summary" "$T/run-otlp.log"

# ---- run 2: no endpoint: the local OTLP-JSON file ----
APP_PORT=$(free_port)
app_command "$APP_PORT" "$T/file.db"
start_background ldtap_pid "$T/run-file.log" "$BUILD/ldtap" run --service-name secrets-app -o "$T/local.jsonl" \
    --no-prometheus --capture-logs stdout,stderr -- "${APP[@]}"
wait_for_port "$APP_PORT" 30 "$ldtap_pid"
send_requests "$APP_PORT"
sleep 0.5
stop_pid "$ldtap_pid" TERM 30 || fail "ldtap run did not stop"
check "local file: server spans arrived" grep -q '"/login"' "$T/local.jsonl"
check "local file: database spans arrived" grep -q '"sqlite"' "$T/local.jsonl"
check "local file: log lines arrived" grep -q 'login handled' "$T/local.jsonl"
check "summary printed" grep -qi 'spans' "$T/run-file.log"
no_secret_in "local OTLP-JSON file" "$T/local.jsonl"
no_secret_in "ldtap run output and summary" "$T/run-file.log"

# ---- run 3: the ring itself keeps headers, query strings and bodies in the process ----
# (SQL literals do reach the ring: the collector replaces them, as checked above.)
APP_PORT=$(free_port)
mkdir -m 700 "$T/ring"
app_command "$APP_PORT" "$T/ring.db"
start_background app_pid "$T/app-ring.log" env LD_PRELOAD="$BUILD/libldtap.so" LDTAP_RUN_DIR="$T/ring" \
    LDTAP_HEAP_SAMPLE_BYTES=0 "${APP[@]}"
wait_for_port "$APP_PORT" 30 "$app_pid"
send_requests "$APP_PORT"
stop_pid "$app_pid" TERM 10 || true
check "ring: the spans are in it (GET /login head copied)" grep -a -q 'GET /login' "$T"/ring/*.ring
SQL_SECRETS=(SQLITE POSTGRES PG_LOGIN)
SECRET_NAMES=(IN_AUTHORIZATION IN_COOKIE IN_API_KEY IN_QUERY IN_BODY OUT_AUTHORIZATION OUT_COOKIE OUT_QUERY SET_COOKIE)
no_secret_in "ring files (headers, query strings, bodies)" "$T"/ring/*.ring
check "ring: the SQL literal does reach it (so the collector's sanitiser is what keeps it out)" \
    grep -F -a -q "$(secret "${SQL_SECRETS[0]}")" "$T"/ring/*.ring

echo
if [ "$FAILURES" = 0 ]; then
    echo "secrets: all checks passed"
else
    echo "secrets: $FAILURES check(s) failed"
fi
[ "$FAILURES" = 0 ]
