#!/usr/bin/env bash
# End-to-end: gunicorn (2 sync workers) under `ldtap run`, 8 concurrent clients on a view
# that sleeps 0.5 s for about 5 s: the workers are saturated, so the service's busy
# fraction is near 1 and connections wait in the accept queue. Checked in the exit summary
# and, when the collector serves Prometheus, on /metrics. Usage: saturation.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
APPS="$LDTAP_ROOT/tests/e2e/apps"
GUNICORN=/usr/bin/gunicorn
[ -x "$GUNICORN" ] || die "$GUNICORN is missing (run scripts/setup.sh)"
CLIENTS=8
LOAD_SECONDS=5
FAILED=0
fail() {
    echo "  FAIL $*"
    FAILED=1
}

PORT=$(free_port)
PROMETHEUS_PORT=$(free_port)
metrics_options=(--prometheus "127.0.0.1:$PROMETHEUS_PORT")
start_background LDTAP_PID "$LDTAP_TMP/ldtap.log" \
    "$BUILD/ldtap" run --service-name e2e-saturation --run-dir "$LDTAP_TMP/run" \
    --output "$LDTAP_TMP/traces.jsonl" "${metrics_options[@]}" -- \
    "$GUNICORN" -w 2 -k sync -b "127.0.0.1:$PORT" --chdir "$APPS" metrics_app:app
wait_for_port "$PORT" 30 "$LDTAP_PID" || { cat "$LDTAP_TMP/ldtap.log" >&2; die "gunicorn did not start"; }
sleep 1

# CLIENTS threads loop on /slow; one more scrapes /metrics twice a second meanwhile.
"$LDTAP_PYTHON" - "$PORT" "$CLIENTS" "$LOAD_SECONDS" "$PROMETHEUS_PORT" "$LDTAP_TMP/scrapes.txt" <<'PY' ||
import sys, threading, time, urllib.request
port, clients, seconds, prometheus_port, scrapes = (int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]),
                                                    int(sys.argv[4]), sys.argv[5])
deadline = time.monotonic() + seconds
done, errors = [0], []
def client():
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/slow" % port, timeout=30) as response:
                response.read()
            done[0] += 1
        except Exception as error:  # reported below; the test fails on any
            errors.append(repr(error))
def scrape():
    with open(scrapes, "w") as out:
        while time.monotonic() < deadline + 2:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % prometheus_port, timeout=5) as r:
                    out.write(r.read().decode())
            except Exception as error:
                out.write("# scrape failed: %r\n" % error)
            time.sleep(0.5)
threads = [threading.Thread(target=client) for _ in range(clients)]
if prometheus_port:
    threads.append(threading.Thread(target=scrape))
[t.start() for t in threads]
[t.join() for t in threads]
print("  ..   %d requests to /slow by %d clients in %.0f s" % (done[0], clients, seconds))
if errors:
    print("  ..   client errors:", errors[:3])
sys.exit(1 if errors or done[0] == 0 else 0)
PY
    fail "the clients failed"
sleep 1.5

stop_pid "$LDTAP_PID" TERM 30 || fail "ldtap did not stop"
[ "$STOP_STATUS" = 0 ] || fail "ldtap exited $STOP_STATUS"

line=$(grep -E '^  saturation:' "$LDTAP_TMP/ldtap.log" || true)
echo "  ..   summary: ${line# }"
busy=$(sed -n 's/.*busy fraction max \([0-9.]*\).*/\1/p' <<<"$line")
queue=$(sed -n 's/.*accept queue max \([0-9]*\).*/\1/p' <<<"$line")
if [ -n "$busy" ] && awk -v busy="$busy" 'BEGIN { exit !(busy >= 0.8) }'; then
    echo "  ok   summary: service busy fraction max $busy >= 0.8"
else
    fail "summary: service busy fraction max '${busy}' is not >= 0.8"
fi
if [ -n "$queue" ] && [ "$queue" -gt 0 ]; then
    echo "  ok   summary: accept queue max $queue > 0"
else
    fail "summary: accept queue max '${queue}' is not > 0"
fi

# Prometheus: the highest value of any series of a metric family across the scrapes.
family_max() {
    awk -v family="$1" 'index($0, family) == 1 && $1 !~ /^#/ {
        value = $NF + 0; if (!seen || value > max) { max = value; seen = 1 } }
        END { if (seen) print max }' "$LDTAP_TMP/scrapes.txt"
}
prometheus_busy=$(family_max ldtap_service_busy_fraction)
prometheus_queue=$(family_max ldtap_listen_accept_queue)
if [ -n "$prometheus_busy" ] && awk -v busy="$prometheus_busy" 'BEGIN { exit !(busy >= 0.8) }'; then
    echo "  ok   /metrics: ldtap_service_busy_fraction max $prometheus_busy >= 0.8"
else
    fail "/metrics: ldtap_service_busy_fraction max '${prometheus_busy}' is not >= 0.8"
fi
if [ -n "$prometheus_queue" ] && awk -v queue="$prometheus_queue" 'BEGIN { exit !(queue > 0) }'; then
    echo "  ok   /metrics: ldtap_listen_accept_queue max $prometheus_queue > 0"
else
    fail "/metrics: ldtap_listen_accept_queue max '${prometheus_queue}' is not > 0"
fi

if [ "$FAILED" != 0 ]; then
    log "FAILED (set LDTAP_KEEP_TMP=1 to keep $LDTAP_TMP)"
    tail -n 30 "$LDTAP_TMP/ldtap.log"
    exit 1
fi
log "passed"
