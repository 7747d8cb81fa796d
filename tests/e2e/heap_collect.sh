#!/usr/bin/env bash
# End-to-end: `ldtap collect` (the long-running daemon) with heap profiling. A C program
# that leaks in leak_some_bytes, started with LD_PRELOAD by hand, exits while the daemon
# runs: the daemon must report its leak suspects (naming the function) and its last heap
# profile right after the program exits, not only when the daemon stops, and then forget
# its heap state (a summary at the daemon's exit no longer lists it). The suspect also
# goes to /v1/logs as an OTLP log record (event ldtap.heap.leak_suspect), which the
# official OpenTelemetry definitions must decode, naming leak_some_bytes and carrying the
# program's resource. Then twenty short-lived programs come and go and the daemon keeps
# no heap state for any of them. Usage: heap_collect.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$LDTAP_ROOT/scripts/lib/otlp_receiver.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
FAILED=0
fail() {
    echo "  FAIL $*"
    FAILED=1
}

cc -g -O1 -o "$LDTAP_TMP/leaky" "$LDTAP_ROOT/tests/programs_heap/leaky.c"
RUN_DIR="$LDTAP_TMP/run"
PROFILES="$LDTAP_TMP/profiles"
mkdir -m 0700 "$RUN_DIR"
collect_options=()
if "$BUILD/ldtap" collect --help 2>&1 | grep -q -- --no-prometheus; then
    collect_options=(--no-prometheus)
fi
start_otlp_receiver RECEIVER_PID RECEIVER_PORT "$LDTAP_TMP/otlp.jsonl"
start_background COLLECT_PID "$LDTAP_TMP/collect.log" env OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RECEIVER_PORT" "$BUILD/ldtap" collect --run-dir "$RUN_DIR" \
    --heap-profile "$PROFILES" "${collect_options[@]}"
sleep 0.5
kill -0 "$COLLECT_PID" 2>/dev/null || { cat "$LDTAP_TMP/collect.log" >&2; die "ldtap collect did not start"; }

# 64 KiB sampling: enough samples in a 5-second run for a steady estimate (heap_profile.sh).
LD_PRELOAD="$BUILD/libldtap.so" LDTAP_RUN_DIR="$RUN_DIR" LDTAP_HEAP_SAMPLE_BYTES=65536 \
    OTEL_SERVICE_NAME=leaky "$LDTAP_TMP/leaky" 5 >"$LDTAP_TMP/leaky.out" &
LEAKY_PID=$!
wait "$LEAKY_PID" || fail "the leaky program exited $?"

# The daemon notices the exit within a drain round, takes its last snapshot within a
# second, then reports and forgets the process.
for _ in $(seq 50); do
    grep -q "leak suspects of pid $LEAKY_PID " "$LDTAP_TMP/collect.log" && break
    sleep 0.2
done
report=$(sed -n "/leak suspects of pid $LEAKY_PID /,+2p" "$LDTAP_TMP/collect.log")
if [ -z "$report" ]; then
    fail "no leak suspects reported for pid $LEAKY_PID after it exited"
elif ! grep -qE '^  1\. leak_some_bytes \(leaky\.c:[0-9]+\)$' <<<"$report"; then
    fail "the exited program's top suspect is not leak_some_bytes: $report"
else
    echo "  ok   reported while the daemon runs: $(head -n 1 <<<"$report")"
    echo "$report" | tail -n 2
fi
profile=$(ls "$PROFILES"/heap-leaky-"$LEAKY_PID"-*.pb.gz 2>/dev/null | head -n 1)
[ -n "$profile" ] && echo "  ok   its last profile: $(basename "$profile")" ||
    fail "no heap profile written for pid $LEAKY_PID"

# Short-lived programs: each allocates (and samples at every 4 KiB) and exits.
short_pids=()
for _ in $(seq 20); do
    LD_PRELOAD="$BUILD/libldtap.so" LDTAP_RUN_DIR="$RUN_DIR" LDTAP_HEAP_SAMPLE_BYTES=4096 \
        OTEL_SERVICE_NAME=short "$LDTAP_PYTHON" -c 'x = [bytearray(1000) for _ in range(2000)]' &
    short_pids+=("$!")
done
for pid in "${short_pids[@]}"; do
    wait "$pid" || fail "a short-lived program failed"
done
sleep 3 # every ring drained and retired, the last snapshot taken

stop_pid "$COLLECT_PID" TERM 30 || fail "ldtap collect did not stop"
[ "$STOP_STATUS" = 0 ] || fail "ldtap collect exited $STOP_STATUS"
# Forgotten: the daemon's own exit summary has no heap state of any of them left.
summary=$(sed -n '/^leak suspects (sites/,$p' "$LDTAP_TMP/collect.log")
if grep -qE "pid ($LEAKY_PID|$(IFS='|'; echo "${short_pids[*]}"))  live" <<<"$summary"; then
    fail "the exit summary still lists exited processes: $summary"
else
    echo "  ok   the daemon's exit summary holds none of the 21 exited processes"
fi
# The log record, as the receiver decoded it with the official protobuf definitions.
"$LDTAP_PYTHON" - "$LDTAP_TMP/otlp.jsonl" "$LEAKY_PID" <<'PY' || fail "the leak suspect's log record is missing or wrong"
import json, sys
path, pid = sys.argv[1], int(sys.argv[2])
found = []
for line in open(path):
    request = json.loads(line)
    if request.get("signal") != "logs":
        continue
    if request["_meta"].get("reencodedEqual") is not True:
        print("  FAIL a logs request does not re-encode byte-identically")
        sys.exit(1)
    for resource_logs in request["resourceLogs"]:
        for scope_logs in resource_logs["scopeLogs"]:
            for record in scope_logs["logRecords"]:
                if record["eventName"] == "ldtap.heap.leak_suspect":
                    found.append((resource_logs["resource"], record))
ours = [(resource, record) for resource, record in found if record["attributes"].get("process.pid") == pid]
if not ours:
    print("  FAIL no ldtap.heap.leak_suspect log record of pid %d among %d" % (pid, len(found)))
    sys.exit(1)
resource, record = ours[0]
attributes = record["attributes"]
print("  ..   decoded: " + record["body"])
expected = {
    "resource service.name": (resource.get("service.name"), "leaky"),
    "resource process.pid": (resource.get("process.pid"), pid),
    "severity": ((record["severityNumber"], record["severityText"]), (13, "WARN")),
    "event.name attribute": (attributes.get("event.name"), "ldtap.heap.leak_suspect"),
    "code.function.name": (attributes.get("code.function.name"), "leak_some_bytes"),
    "code.file.path basename": ((attributes.get("code.file.path") or "").rsplit("/", 1)[-1], "leaky.c"),
    "ldtap.heap.leak_rank": (attributes.get("ldtap.heap.leak_rank"), 1),
    "types": ((record["attributeTypes"].get("code.line.number"), record["attributeTypes"].get("ldtap.heap.growth_rate")),
              ("int", "double")),
}
bad = [f"{name}: {got!r}, expected {want!r}" for name, (got, want) in expected.items() if got != want]
line = attributes.get("code.line.number") or 0
if not (line > 0 and "leak_some_bytes (leaky.c:%d)" % line in record["body"]):
    bad.append("body does not name leak_some_bytes (leaky.c:%d): %r" % (line, record["body"]))
if not (attributes.get("ldtap.heap.growth_bytes", 0) >= 1 << 20 and
        attributes.get("ldtap.heap.live_bytes", 0) >= attributes.get("ldtap.heap.growth_bytes", 0)):
    bad.append("live %r / growth %r bytes" % (attributes.get("ldtap.heap.live_bytes"), attributes.get("ldtap.heap.growth_bytes")))
if len(ours) > 4:
    bad.append("%d records for one leak of a few seconds: a flood" % len(ours))
for problem in bad:
    print("  FAIL log record: " + problem)
if bad:
    sys.exit(1)
print("  ok   %d log record(s) ldtap.heap.leak_suspect for pid %d, decoded by the official definitions" % (len(ours), pid))
PY
rings=$(find "$RUN_DIR" -name '*.ring' | wc -l)
[ "$rings" = 0 ] || fail "$rings ring file(s) left behind"

if [ "$FAILED" != 0 ]; then
    log "FAILED (set LDTAP_KEEP_TMP=1 to keep $LDTAP_TMP)"
    tail -n 40 "$LDTAP_TMP/collect.log"
    exit 1
fi
log "passed"
