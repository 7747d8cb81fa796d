#!/usr/bin/env bash
# End-to-end: PyMySQL (the MySQL protocol spoken by Python itself) against a private MariaDB
# under `ldtap run`: the program behaves exactly as without ldtap; its statements are spans
# from the shim's MySQL wire-protocol tracing. Usage: pymysql.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$LDTAP_ROOT/scripts/lib/db_servers.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
"$LDTAP_PYTHON" -c 'import pymysql' 2>/dev/null || die "python3-pymysql is missing (run scripts/setup.sh)"

FAILED=0
PROGRAM="$LDTAP_ROOT/tests/e2e/apps/pymysql_orders.py"
# The name the program inserts: a literal in its INSERT, never to be exported.
export ORDER_NAME="okapi$$y$RANDOM"
start_mariadb MY_PID MY_PORT "$LDTAP_TMP/mariadb"
# One database per run: the program creates its table.
mariadb --no-defaults -h 127.0.0.1 -P "$MY_PORT" -u root -e 'CREATE DATABASE plain; CREATE DATABASE traced'

echo "== the program without and with ldtap"
"$LDTAP_PYTHON" "$PROGRAM" "$MY_PORT" plain >"$LDTAP_TMP/plain.out" 2>&1 ||
    { cat "$LDTAP_TMP/plain.out"; die "the program failed without ldtap"; }
status=0
"$BUILD/ldtap" run --service-name pymysql --no-prometheus --run-dir "$LDTAP_TMP/run" \
    --output "$LDTAP_TMP/traces.jsonl" -- "$LDTAP_PYTHON" "$PROGRAM" "$MY_PORT" traced \
    >"$LDTAP_TMP/traced.out" 2>"$LDTAP_TMP/ldtap.log" || status=$?
if [ "$status" = 0 ] && cmp -s "$LDTAP_TMP/plain.out" "$LDTAP_TMP/traced.out"; then
    echo "  ok   same output and exit status 0 under ldtap: $(tr '\n' ' ' <"$LDTAP_TMP/traced.out")"
else
    echo "  FAIL under ldtap: exit $status, output differs:"
    diff "$LDTAP_TMP/plain.out" "$LDTAP_TMP/traced.out" || true
    FAILED=1
fi
grep -q '^error 1062$' "$LDTAP_TMP/plain.out" && grep -q '^error 1064$' "$LDTAP_TMP/plain.out" ||
    { echo "  FAIL the program did not see both errors"; FAILED=1; }

PYTHONPATH="$LDTAP_ROOT/tests/e2e" "$LDTAP_PYTHON" - "$LDTAP_TMP/traces.jsonl" "$MY_PORT" \
    "$ORDER_NAME" "$LDTAP_TMP/ldtap.log" <<'EOF' || FAILED=1
import sys
from check_spans import Checker, load_spans
path, port, secret, log_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = Checker(f"spans in {path}")
spans = load_spans(path)
db = [s for s in spans if s.attr("db.system.name") in ("mysql", "mariadb")]
c.equal(len(db), 5, "one span per statement")
by_start = sorted(db, key=lambda s: s.start)
# autocommit=True matches the server's default and the database goes in the handshake:
# PyMySQL sends exactly the program's five statements.
c.equal([s.attr("db.operation.name") for s in by_start], ["CREATE", "INSERT", "SELECT", "INSERT", None],
        "operations in order")
c.equal(len({s.attr("db.system.name") for s in db}), 1, "one db.system.name")
print(f"  ..   db.system.name: {sorted({s.attr('db.system.name') for s in db})}")
c.equal({s.attr("server.port") for s in db}, {port}, "server.port")
c.check({s.attr("db.namespace") for s in db} <= {"traced", None}, "db.namespace, when known, is the database")
c.equal({s.parent_span_id for s in db}, {""}, "no parent (no request is served)")
if len(by_start) == 5:
    # The sanitiser collapses a multi-row VALUES list to one tuple.
    c.equal(by_start[1].attr("db.query.text"), "INSERT INTO orders VALUES (?, ?)", "INSERT is sanitised")
    c.equal(by_start[2].attr("db.response.returned_rows"), 2, "SELECT returned 2 rows")
    c.equal([(s.status, s.attr("db.response.status_code")) for s in by_start[3:]],
            [("error", "23000"), ("error", "42000")], "duplicate key and syntax error: status, SQLSTATE")
    c.equal({s.status for s in by_start[:3]}, {"unset"}, "the other statements succeeded")
for name in (path, log_path):
    try:
        c.check(secret.encode() not in open(name, "rb").read(), f"the inserted name never appears in {name}")
    except FileNotFoundError:
        print(f"  ..   {name} was not written (no spans)")
c.finish()
EOF

stop_pid "$MY_PID" TERM 30 || true
if [ "$FAILED" != 0 ]; then
    cat "$LDTAP_TMP/ldtap.log"
    log "FAILED (set LDTAP_KEEP_TMP=1 to keep $LDTAP_TMP)"
    exit 1
fi
log "passed"
