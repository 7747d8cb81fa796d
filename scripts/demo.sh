#!/usr/bin/env bash
# The quick start's first command: installs what is needed, builds ldtap, runs the demo shop
# (Flask under gunicorn, 2 workers) under `ldtap run`, sends it ~50 requests, stops it, and
# shows ldtap's summary, the traces file and its first span. No backend needed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

BUILD=${LDTAP_BUILD_DIR:-build}
TRACES="$PWD/ldtap-traces.jsonl"

make_temp_dir
bash scripts/setup.sh
log "building into $BUILD (log: $LDTAP_TMP/build.log) ..."
# Only what the demo runs: the collector and the shim.
LDTAP_TARGETS="ldtap ldtap_shim" bash scripts/build.sh "$BUILD" >"$LDTAP_TMP/build.log" 2>&1 || {
    tail -n 40 "$LDTAP_TMP/build.log"
    die "the build failed"
}
clear_otel_environment

SHOP_PORT=$(free_port)
PAYMENTS_PORT=$(free_port)
export PAYMENTS_PORT

start_background PAYMENTS_PID "$LDTAP_TMP/payments.log" "$LDTAP_PYTHON" examples/shop/payments.py "$PAYMENTS_PORT"
wait_for_port "$PAYMENTS_PORT" 20 "$PAYMENTS_PID" || die "the payments service did not start"

# A fresh traces file, so the span shown below is from this run (ldtap appends).
rm -f "$TRACES"
echo
echo "\$ $BUILD/ldtap run --service-name shop -- gunicorn -w 2 -b 127.0.0.1:$SHOP_PORT --chdir examples/shop app:app"
# Not through start_background: ldtap's stderr (gunicorn's log, then the summary) goes
# straight to the terminal.
env --default-signal=INT,QUIT "$BUILD/ldtap" run --service-name shop -- \
    /usr/bin/gunicorn -w 2 -b "127.0.0.1:$SHOP_PORT" --chdir examples/shop app:app &
LDTAP_PID=$!
LDTAP_BACKGROUND_PIDS+=("$LDTAP_PID")
wait_for_port "$SHOP_PORT" 30 "$LDTAP_PID" || die "the shop did not start"
sleep 1

echo
echo "sending 50 requests to http://127.0.0.1:$SHOP_PORT ..."
base="http://127.0.0.1:$SHOP_PORT"
for i in $(seq 1 10); do
    curl -s -o /dev/null "$base/"
    curl -s -o /dev/null "$base/orders/$((i * 7))"
    curl -s -o /dev/null "$base/orders/$((i * 13 + 100))?utm_source=newsletter"
    curl -s -o /dev/null -X POST "$base/checkout"
    if [ $((i % 2)) = 0 ]; then
        curl -s -o /dev/null "$base/products"
    else
        curl -s -o /dev/null "$base/inventory"   # answers 500
    fi
done
echo "done; stopping the shop with SIGTERM to ldtap (it forwards the signal to gunicorn)"
echo
stop_pid "$LDTAP_PID" TERM 30 || true
echo
echo "ldtap exited with status $STOP_STATUS (gunicorn's)"

if [ ! -s "$TRACES" ]; then
    die "no traces were written to $TRACES"
fi
echo
echo "traces: $TRACES ($(wc -l <"$TRACES") OTLP-JSON export requests, one per line)"
echo
echo "its first span (OTLP JSON; attributes flattened here for reading):"
PYTHONPATH=tests/e2e "$LDTAP_PYTHON" - "$TRACES" <<'EOF'
import json, sys
from check_spans import load_spans
span = load_spans(sys.argv[1])[0]
print(json.dumps(span.as_dict(), indent=2))
EOF
echo
echo "one /checkout trace (server span and its outbound client span):"
PYTHONPATH=tests/e2e "$LDTAP_PYTHON" - "$TRACES" <<'EOF'
import sys
from check_spans import load_spans
spans = load_spans(sys.argv[1])
by_id = {s.span_id: s for s in spans}
for client in (s for s in spans if s.kind == "client"):
    parent = by_id.get(client.parent_span_id)
    if parent is not None:
        for span, name in ((parent, parent.name), (client, "└─ " + client.name)):
            ms = (span.end - span.start) / 1e6
            print(f"  {name:<24} {span.kind:<6} {ms:7.2f} ms  trace {span.trace_id}  span {span.span_id}")
        break
else:
    print("  (none found)")
EOF
