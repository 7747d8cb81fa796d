#!/usr/bin/env bash
# End-to-end: `ldtap run -- python3 -m http.server` exports OTLP metrics to /v1/metrics
# every OTEL_METRIC_EXPORT_INTERVAL, decoded by the official OpenTelemetry definitions
# (tests/otlp_receiver): exact request counts in http.server.request.duration, consistent
# buckets, semconv boundaries and attributes; cumulative and delta temporality; protobuf
# and JSON. Usage: otlp_metrics.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$LDTAP_ROOT/scripts/lib/otlp_receiver.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
FAILED=0

SITE="$LDTAP_TMP/site"
mkdir -p "$SITE"
printf 'hello\n' >"$SITE/hello.txt"

# Requests in two bursts with a pause longer than the export interval between them, so a
# delta run spreads the counts over several exports. 5 x 200 and 2 x 404.
FIRST_BURST=(hello.txt hello.txt hello.txt missing.txt)
SECOND_BURST=(hello.txt hello.txt missing.txt)
EXPECTED_REQUESTS=$((${#FIRST_BURST[@]} + ${#SECOND_BURST[@]}))

make_requests() {
    local port=$1
    shift
    local path
    for path in "$@"; do
        curl -s -o /dev/null "http://127.0.0.1:$port/$path" || { echo "  FAIL curl /$path"; FAILED=1; }
    done
}

# run_case NAME PROTOCOL TEMPORALITY: one server run under ldtap exporting to a fresh
# receiver; leaves the receiver's decoded requests in $LDTAP_TMP/NAME/received.jsonl.
run_case() {
    local name=$1 protocol=$2 temporality=$3
    local dir="$LDTAP_TMP/$name" metrics_receiver_pid metrics_receiver_port server_pid port
    mkdir -p "$dir"
    start_otlp_receiver metrics_receiver_pid metrics_receiver_port "$dir/received.jsonl"
    port=$(free_port)
    start_background server_pid "$dir/ldtap.log" env \
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$metrics_receiver_port" \
        OTEL_EXPORTER_OTLP_PROTOCOL="$protocol" \
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE="$temporality" \
        OTEL_METRIC_EXPORT_INTERVAL=1000 \
        OTEL_TRACES_EXPORTER=none \
        "$BUILD/ldtap" run --service-name e2e-metrics --no-prometheus --run-dir "$dir/run" -- \
        "$LDTAP_PYTHON" -m http.server --bind 127.0.0.1 --directory "$SITE" "$port"
    wait_for_port "$port" 20 "$server_pid" || { cat "$dir/ldtap.log" >&2; die "$name: server did not start"; }
    make_requests "$port" "${FIRST_BURST[@]}"
    sleep 2.5
    make_requests "$port" "${SECOND_BURST[@]}"
    sleep 0.3
    stop_pid "$server_pid" TERM 20 || { echo "  FAIL $name: ldtap did not stop"; FAILED=1; }
    # The final export happens before ldtap exits; the receiver has written it by now.
    stop_pid "$metrics_receiver_pid" TERM 10 || true
    if grep -q "metrics export" "$dir/ldtap.log"; then
        echo "  FAIL $name: ldtap reported metrics export failures:"
        sed 's/^/      /' "$dir/ldtap.log"
        FAILED=1
    fi
}

# check_case NAME FORMAT TEMPORALITY
check_case() {
    local name=$1 format=$2 temporality=$3
    node - "$LDTAP_TMP/$name/received.jsonl" "$name" "$format" "$temporality" "$EXPECTED_REQUESTS" <<'NODE' || FAILED=1
'use strict';
const assert = require('assert/strict');
const fs = require('fs');
const [file, name, format, temporality, expectedText] = process.argv.slice(2);
const expected = Number(expectedText);
const requests = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line))
  .filter((request) => request.signal === 'metrics');
const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
try {
  assert.ok(requests.length >= 2, `at least two metrics exports (periodic + final), got ${requests.length}`);
  for (const request of requests) {
    assert.equal(request._meta.format, format, 'decoded format');
    if (format === 'protobuf') assert.equal(request._meta.reencodedEqual, true, 'protobuf re-encodes to the same bytes');
    assert.equal(request._meta.contentEncoding, 'gzip', 'gzip by default');
  }
  // Per export: the http.server.request.duration points of the service's resource.
  const exports = requests.map((request) => {
    const points = [];
    for (const resourceMetrics of request.resourceMetrics) {
      for (const scopeMetrics of resourceMetrics.scopeMetrics) {
        assert.equal(scopeMetrics.scope.name, 'ldtap');
        for (const metric of scopeMetrics.metrics) {
          if (metric.name !== 'http.server.request.duration') continue;
          assert.equal(resourceMetrics.resource['service.name'], 'e2e-metrics');
          assert.equal(metric.type, 'histogram');
          assert.equal(metric.unit, 's');
          assert.equal(metric.aggregationTemporality, temporality === 'delta' ? 1 : 2, 'aggregation temporality');
          points.push(...metric.dataPoints);
        }
      }
    }
    return points;
  });
  const all = exports.flat();
  assert.ok(all.length > 0, 'http.server.request.duration was exported');
  for (const point of all) {
    assert.deepEqual(point.explicitBounds, BOUNDS, 'semantic-convention default boundaries');
    assert.equal(point.bucketCounts.length, BOUNDS.length + 1);
    assert.equal(point.bucketCounts.reduce((a, b) => a + b, 0), point.count, 'bucket counts sum to count');
    assert.ok(point.count > 0 && point.sum >= 0, 'count and sum');
    for (const key of ['http.request.method', 'http.route', 'http.response.status_code']) {
      assert.ok(key in point.attributes, `attribute ${key}`);
    }
    assert.equal(point.attributes['http.request.method'], 'GET');
    assert.ok(BigInt(point.timeUnixNano) >= BigInt(point.startTimeUnixNano), 'time after start');
  }
  const total = (points) => points.reduce((sum, point) => sum + point.count, 0);
  const byStatus = (points, status) =>
    total(points.filter((point) => point.attributes['http.response.status_code'] === status));
  if (temporality === 'delta') {
    const counted = exports.filter((points) => points.length > 0);
    assert.ok(counted.length >= 2, `the two bursts land in different delta exports (${counted.length})`);
    assert.equal(total(all), expected, 'delta counts over all exports sum to the requests made');
    assert.equal(byStatus(all, 404), 2, '404s');
    // A series' deltas cover intervals that never overlap (an interval with no requests
    // is not exported, so the next one starts at the collection that saw nothing new).
    const seen = new Map();
    for (const point of all) {
      const key = JSON.stringify(point.attributes);
      if (seen.has(key)) assert.ok(BigInt(point.startTimeUnixNano) >= BigInt(seen.get(key)), 'delta intervals do not overlap');
      seen.set(key, point.timeUnixNano);
    }
  } else {
    const last = exports[exports.length - 1];
    assert.equal(total(last), expected, 'the last cumulative export counts every request');
    assert.equal(byStatus(last, 200), expected - 2, '200s');
    assert.equal(byStatus(last, 404), 2, '404s');
    const counts = exports.map(total);
    for (let i = 1; i < counts.length; i++) assert.ok(counts[i] >= counts[i - 1], 'cumulative counts never fall');
  }
  console.log(`  ok   ${name}: ${requests.length} exports, ${expected} requests counted (${format}, ${temporality})`);
} catch (error) {
  console.log(`  FAIL ${name}: ${error.message}`);
  process.exit(1);
}
NODE
}

echo "otlp_metrics: K=$EXPECTED_REQUESTS requests per run"
run_case cumulative-protobuf http/protobuf cumulative
check_case cumulative-protobuf protobuf cumulative
run_case delta-protobuf http/protobuf delta
check_case delta-protobuf protobuf delta
run_case cumulative-json http/json cumulative
check_case cumulative-json json cumulative
run_case delta-json http/json delta
check_case delta-json json delta

if [ "$FAILED" != 0 ]; then
    echo "otlp_metrics: FAILED"
    exit 1
fi
echo "otlp_metrics: all checks passed"
