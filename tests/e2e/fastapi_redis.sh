#!/usr/bin/env bash
# End-to-end: a FastAPI app under `ldtap run -- uvicorn` calling Redis (redis-py: RESP on the
# wire) and PostgreSQL (psycopg2: libpq hooks): HTTP, PostgreSQL and Redis spans checked.
# Usage: fastapi_redis.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$LDTAP_ROOT/scripts/lib/otlp_receiver.sh"
source "$LDTAP_ROOT/scripts/lib/db_servers.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
"$LDTAP_PYTHON" -c 'import fastapi, redis, psycopg2' 2>/dev/null ||
    die "python3-fastapi, python3-redis or python3-psycopg2 is missing (run scripts/setup.sh)"
[ -x /usr/bin/uvicorn ] || die "/usr/bin/uvicorn is missing (run scripts/setup.sh)"

FAILED=0
start_postgres PG_PID PG_PORT "$LDTAP_TMP/pg"
start_redis REDIS_PID REDIS_PORT "$LDTAP_TMP/redis"
"$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
    -c 'CREATE TABLE visits (id serial PRIMARY KEY, path text)'
# The value the app caches in Redis: SET carries it; it must never be exported.
export CACHE_VALUE="tapir$$x$RANDOM"
export REDIS_PORT PG_PORT PYTHONDONTWRITEBYTECODE=1

start_otlp_receiver RECEIVER_PID RECEIVER_PORT "$LDTAP_TMP/otlp.jsonl"
PORT=$(free_port)
start_background LDTAP_PID "$LDTAP_TMP/ldtap.log" "$BUILD/ldtap" run --service-name fastapi-shop \
    --endpoint "http://127.0.0.1:$RECEIVER_PORT" --no-prometheus --run-dir "$LDTAP_TMP/run" -- \
    /usr/bin/uvicorn --app-dir "$LDTAP_ROOT/tests/e2e/apps" --host 127.0.0.1 --port "$PORT" fastapi_app:app
wait_for_port "$PORT" 30 "$LDTAP_PID" || { cat "$LDTAP_TMP/ldtap.log"; die "uvicorn did not start"; }

# request NAME METHOD PATH EXPECTED_BODY: one request with user agent e2e/NAME.
request() {
    local body
    body=$(curl -s --max-time 20 -A "e2e/$1" -X "$2" "http://127.0.0.1:$PORT$3" || true)
    if [ "$body" = "$4" ]; then
        echo "  ok   $2 $3 -> $body"
    else
        echo "  FAIL $2 $3 -> ${body:-nothing}, expected $4"
        FAILED=1
    fi
}
echo "== requests"
request health GET /health '{"ok":true}'
for n in 1 2 3; do
    request "counter$n" POST /counter/a "{\"value\":$n}"
done
request cache-miss GET /cache/k1 "{\"value\":\"$CACHE_VALUE\",\"hit\":false}"
request cache-hit GET /cache/k1 "{\"value\":\"$CACHE_VALUE\",\"hit\":true}"
request visits1 GET /visits '{"visits":1}'
request visits2 GET /visits '{"visits":2}'

# SIGTERM: uvicorn shuts down, ldtap drains and exports.
stop_pid "$LDTAP_PID" TERM 30 || FAILED=1
[ "$STOP_STATUS" = 0 ] || { echo "  FAIL ldtap exited $STOP_STATUS after SIGTERM"; FAILED=1; }
wait_for_lines "$LDTAP_TMP/otlp.jsonl" 1 10 || true
stop_pid "$RECEIVER_PID" TERM 10 || true

PYTHONPATH="$LDTAP_ROOT/tests/e2e" "$LDTAP_PYTHON" - "$LDTAP_TMP/otlp.jsonl" "$PORT" "$PG_PORT" \
    "$REDIS_PORT" "$CACHE_VALUE" <<'EOF' || FAILED=1
import sys
from check_spans import Checker, load_spans, select
path = sys.argv[1]
port, pg_port, redis_port = map(int, sys.argv[2:5])
secret = sys.argv[5]
c = Checker(f"spans in {path}")
spans = load_spans(path)
servers = [s for s in spans if s.kind == "server"]
by_agent = {s.attr("user_agent.original"): s for s in servers}

# HTTP: always.
expected = {"health": ("GET", "/health"), "cache-miss": ("GET", "/cache/k1"),
            "cache-hit": ("GET", "/cache/k1"), "visits1": ("GET", "/visits"), "visits2": ("GET", "/visits")}
expected.update({f"counter{n}": ("POST", "/counter/a") for n in (1, 2, 3)})
c.equal(len(servers), len(expected), "server span count")
for agent, (method, path_) in expected.items():
    server = c.one(servers, f"server span of {agent}", attrs={"user_agent.original": f"e2e/{agent}"})
    c.attributes(server, {"http.request.method": method, "url.path": path_, "http.response.status_code": 200,
                          "server.port": port}, agent)
c.equal({s.status for s in servers}, {"unset"}, "server span status")

def check_parents(db_spans, allowed_agents, label):
    """A database span is either unparented or a child of a request that made it: never of
    another request (asyncio serves requests on one thread)."""
    allowed = {by_agent[f"e2e/{a}"].span_id: by_agent[f"e2e/{a}"] for a in allowed_agents if f"e2e/{a}" in by_agent}
    wrong = [s.name for s in db_spans if s.parent_span_id and s.parent_span_id not in allowed]
    c.equal(wrong, [], f"{label}: no span has a parent that did not make it")
    outside = [s.name for s in db_spans if s.parent_span_id in allowed and not (
        s.trace_id == allowed[s.parent_span_id].trace_id
        and allowed[s.parent_span_id].start <= s.start <= s.end <= allowed[s.parent_span_id].end)]
    c.equal(outside, [], f"{label}: parented spans lie inside their parent, in its trace")
    parented = sum(1 for s in db_spans if s.parent_span_id)
    print(f"  ..   {label}: {parented} of {len(db_spans)} spans have a parent")

# PostgreSQL through libpq: always, exactly once each (a connection traced by the driver
# hook must not be traced again on the wire).
pg = [s for s in spans if s.attr("db.system.name") == "postgresql"]
c.equal(sorted(s.attr("db.query.text") for s in pg),
        sorted(["INSERT INTO visits (path) VALUES (?)", "SELECT count(*) FROM visits"] * 2),
        "PostgreSQL statements, once each per /visits request")
c.equal({(s.attr("server.port"), s.attr("db.namespace")) for s in pg}, {(pg_port, "postgres")},
        "PostgreSQL server.port and db.namespace")
check_parents(pg, ["visits1", "visits2"], "PostgreSQL")

redis = [s for s in spans if s.attr("db.system.name") == "redis"]
# redis-py (RESP2, db 0, no client name) sends exactly the app's commands; its incr()
# is INCRBY key 1 on the wire.
c.equal(sorted(s.attr("db.operation.name") for s in redis), sorted(["INCRBY"] * 3 + ["GET", "SET", "GET"]),
        "Redis commands")
c.equal({s.attr("server.port") for s in redis}, {redis_port}, "Redis server.port")
c.equal({s.kind for s in redis}, {"client"}, "Redis span kind")
c.equal({s.status for s in redis}, {"unset"}, "Redis span status")
check_parents(redis, ["counter1", "counter2", "counter3", "cache-miss", "cache-hit"], "Redis")
c.check(secret.encode() not in open(path, "rb").read(), "the cached value never appears in the export")
c.finish()
EOF

stop_pid "$REDIS_PID" TERM 10 || true
stop_pid "$PG_PID" TERM 20 || true
if [ "$FAILED" != 0 ]; then
    tail -n 30 "$LDTAP_TMP/ldtap.log"
    log "FAILED (set LDTAP_KEEP_TMP=1 to keep $LDTAP_TMP)"
    exit 1
fi
log "passed"
