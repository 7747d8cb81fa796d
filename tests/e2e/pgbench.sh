#!/usr/bin/env bash
# End-to-end: pgbench (libpq) against a private PostgreSQL under `ldtap run`: the database
# span count is exactly transactions x statements per transaction, in every query mode.
# Usage: pgbench.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$LDTAP_ROOT/scripts/lib/db_servers.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
[ -x "$PG_BIN/pgbench" ] || die "$PG_BIN/pgbench is missing (run scripts/setup.sh: postgresql-contrib)"

TRANSACTIONS=200
FAILED=0
start_postgres PG_PID PG_PORT "$LDTAP_TMP/pg"
"$PG_BIN/pgbench" -i -q -s 1 -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres >"$LDTAP_TMP/init.log" 2>&1 ||
    { cat "$LDTAP_TMP/init.log"; die "pgbench -i failed"; }

# run_case NAME CLIENTS EXPECTED_PER_TRANSACTION EXTRA_SPANS PGBENCH_OPTIONS...: runs pgbench
# under ldtap (OTLP-JSON lines file, no endpoint) and checks the spans.
# EXTRA_SPANS: spans that are not part of a transaction, i.e. pgbench's two start-up
# queries (the scale from pgbench_branches, a partitioning lookup on pgbench_accounts) and,
# with -M prepared, one PQprepare per statement and connection.
run_case() {
    local name=$1 clients=$2 per_transaction=$3 extra=$4
    shift 4
    local dir="$LDTAP_TMP/$name"
    mkdir -p "$dir"
    echo "== $name: pgbench -n -t $TRANSACTIONS -c $clients $*"
    if ! "$BUILD/ldtap" run --service-name pgbench --no-prometheus --run-dir "$dir/run" \
        --output "$dir/traces.jsonl" -- "$PG_BIN/pgbench" -n -t "$TRANSACTIONS" -c "$clients" -j "$clients" "$@" \
        -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres >"$dir/pgbench.log" 2>&1; then
        cat "$dir/pgbench.log"
        echo "  FAIL $name: pgbench or ldtap failed"
        FAILED=1
        return
    fi
    "$LDTAP_PYTHON" - "$name" "$dir/traces.jsonl" "$dir/pgbench.log" "$PG_PORT" \
        "$((TRANSACTIONS * clients))" "$per_transaction" "$extra" <<'EOF' || FAILED=1
import re
import sys
from check_spans import Checker, load_spans
name, path, log_path = sys.argv[1:4]
port, transactions, per_transaction, extra = map(int, sys.argv[4:8])
c = Checker(f"{name}: spans in {path}")
log = open(log_path).read()
c.check(f"number of transactions actually processed: {transactions}/{transactions}" in log,
        "pgbench processed every transaction", re.findall(r"number of transactions.*", log))
spans = load_spans(path)
db = [s for s in spans if s.attr("db.system.name") == "postgresql"]
c.equal(len(spans), len(db), "every span is a PostgreSQL span")
c.equal(len(db), transactions * per_transaction + extra,
        f"span count ({transactions} transactions x {per_transaction} statements + {extra})")
startup = [s for s in db if s.attr("db.query.text", "").startswith("select ")]
c.equal(len(startup), 2, "pgbench's two start-up queries")
script = [s for s in db if s not in startup]
by_text = {}
for span in script:
    by_text[span.attr("db.query.text")] = by_text.get(span.attr("db.query.text"), 0) + 1
# Every statement of the script ran once per transaction (prepared: plus its PQprepare).
expected_each = transactions + (extra - 2) // max(per_transaction, 1)
c.equal(len(by_text), per_transaction, "distinct statements of the script")
c.equal(set(by_text.values()), {expected_each}, "executions of each statement")
c.equal({s.kind for s in db}, {"client"}, "span kind")
c.equal({s.status for s in db}, {"unset"}, "no error")
c.equal({s.parent_span_id for s in db}, {""}, "no parent (pgbench serves no request)")
c.equal({(s.attr("server.address"), s.attr("server.port"), s.attr("db.namespace")) for s in db},
        {("127.0.0.1", port, "postgres")}, "server.address, server.port, db.namespace")
c.equal(len({s.span_id for s in db}), len(db), "span ids are unique")
ops = {s.attr("db.operation.name") for s in script}
c.check(ops <= {"SELECT", "UPDATE", "INSERT", "BEGIN", "END"}, "operations are the script's", ops)
texts = " ".join(by_text)
# $1, $2: parameters of the extended protocol, not literals.
c.check(not re.search(r"(?<![$\w])\d+\b", texts), "no number literal survives sanitising", texts[:300])
c.finish()
EOF
}

export PYTHONPATH="$LDTAP_ROOT/tests/e2e"
# -S: one SELECT per transaction. Default (TPC-B-like): BEGIN, 3 UPDATEs, SELECT, INSERT,
# END = 7. Simple protocol (PQsendQuery), extended (PQsendQueryParams), prepared
# (PQsendPrepare once per statement, then PQsendQueryPrepared).
run_case select-simple 1 1 2 -S
run_case tpcb-simple 1 7 2
run_case tpcb-extended-2-clients 2 7 2 -M extended
run_case select-prepared 1 1 3 -S -M prepared
stop_pid "$PG_PID" TERM 20 || true

if [ "$FAILED" != 0 ]; then
    log "FAILED (set LDTAP_KEEP_TMP=1 to keep $LDTAP_TMP)"
    exit 1
fi
log "passed"
