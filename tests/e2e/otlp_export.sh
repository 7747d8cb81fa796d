#!/usr/bin/env bash
# The real exporter (otlp_export_sample) against the independent receiver
# (tests/otlp_receiver/receiver.js): every span arrives exactly once despite 503 +
# Retry-After, 429 with backoff, a closed port and a non-retryable 400; retry delays, gzip,
# content types and configured headers are checked. Usage: otlp_export.sh [BUILD_DIR].
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$repo/build}" && pwd)"
receiver="$repo/tests/otlp_receiver"
sample="$build/otlp_export_sample"
[[ -x "$sample" ]] || { echo "otlp_export: $sample not built" >&2; exit 1; }
if [[ ! -d "$receiver/node_modules/@opentelemetry/otlp-transformer" ]]; then
    (cd "$receiver" && npm ci --no-audit --no-fund >/dev/null)
fi

work="$(mktemp -d)"
receiver_pid=""
cleanup() {
    if [[ -n "$receiver_pid" ]]; then kill "$receiver_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

SPANS=250

# run_case NAME "RECEIVER OPTIONS" "SAMPLE OPTIONS" EXPECTATIONS_JSON
run_case() {
    local name="$1" receiver_options="$2" sample_options="$3" expect="$4"
    local dir="$work/$name"
    mkdir -p "$dir"
    : > "$dir/receiver.out" # exists before the background job opens it, for the poll below
    # shellcheck disable=SC2086
    node "$receiver/receiver.js" --port 0 --out "$dir/accepted.jsonl" --requests "$dir/requests.jsonl" \
        $receiver_options > "$dir/receiver.out" 2>&1 &
    receiver_pid=$!
    local port=""
    for _ in $(seq 100); do
        port="$(awk '/^listening/ {print $2}' "$dir/receiver.out")"
        [[ -n "$port" ]] && break
        sleep 0.05
    done
    [[ -n "$port" ]] || { echo "otlp_export[$name]: receiver did not start" >&2; cat "$dir/receiver.out" >&2; exit 1; }
    # shellcheck disable=SC2086
    "$sample" "http://127.0.0.1:$port/v1/traces" "$SPANS" --batch 100 --delay 200 --deadline 30000 \
        --header "X-Api-Key: secret123" --header "X-Tenant: ldtap-test" $sample_options > "$dir/stats.json"
    kill "$receiver_pid"
    wait "$receiver_pid" 2>/dev/null || true
    receiver_pid=""
    node - "$dir" "$SPANS" "$expect" <<'NODE' || { echo "otlp_export[$name] failed" >&2; exit 1; }
'use strict';
const assert = require('assert/strict');
const fs = require('fs');
const [dir, total, expectText] = process.argv.slice(2);
const expect = JSON.parse(expectText);
const lines = (file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
const stats = JSON.parse(fs.readFileSync(`${dir}/stats.json`, 'utf8'));
const accepted = lines(`${dir}/accepted.jsonl`);
const requests = lines(`${dir}/requests.jsonl`);

// Exactly-once delivery of the expected span indices.
const seen = new Map();
for (const request of accepted) {
  if (request._meta.format === 'protobuf') assert.equal(request._meta.reencodedEqual, true);
  for (const group of request.resourceSpans) {
    assert.equal(group.resource['service.name'], 'export-sample');
    for (const span of group.scopeSpans[0].spans) {
      const index = span.attributes['test.index'];
      assert.equal(span.name, `span-${index}`);
      assert.equal(span.kind, 2);
      seen.set(index, (seen.get(index) || 0) + 1);
    }
  }
}
const dropped = new Set(expect.droppedIndices || []);
for (let i = 0; i < Number(total); i++) {
  assert.equal(seen.get(i) || 0, dropped.has(i) ? 0 : 1, `span ${i} arrival count`);
}
assert.equal(seen.size, Number(total) - dropped.size);

// Stats are exact.
assert.equal(stats.enqueued, Number(total));
assert.equal(stats.exported, Number(total) - dropped.size);
assert.equal(stats.dropped_after_retries, dropped.size);
assert.equal(stats.dropped_queue_full, 0);
if (expect.failed !== undefined) assert.equal(stats.failed_requests, expect.failed);
if (expect.minFailed !== undefined) assert.ok(stats.failed_requests >= expect.minFailed, JSON.stringify(stats));
if (expect.retried !== undefined) assert.equal(stats.retried_requests, expect.retried);
if (expect.minRetried !== undefined) assert.ok(stats.retried_requests >= expect.minRetried, JSON.stringify(stats));

// What the receiver saw on the wire.
if (expect.statuses) assert.deepEqual(requests.slice(0, expect.statuses.length).map((r) => r.status), expect.statuses);
expect.gapsMs = expect.gapsMs || [];
expect.gapsMs.forEach(([low, high], i) => {
  const gap = requests[i + 1].timeMs - requests[i].timeMs;
  assert.ok(gap >= low && gap <= high, `retry ${i + 1} came after ${gap} ms, expected ${low}..${high}`);
});
for (const request of requests) {
  assert.equal(request.path, '/v1/traces');
  assert.equal(request.contentType, expect.contentType);
  assert.equal(request.contentEncoding, expect.gzip ? 'gzip' : '');
  assert.equal(request.headers['x-api-key'], 'secret123');
  assert.equal(request.headers['x-tenant'], 'ldtap-test');
  assert.match(request.headers['user-agent'], /^ldtap\//);
}
console.log(`otlp_export[${process.argv[2].split('/').pop()}]: ${JSON.stringify(stats)}`);
NODE
}

run_case retry_after_503 "--fail 2 --status 503 --retry-after 1" "" \
    '{"contentType":"application/x-protobuf","gzip":true,"failed":2,"retried":2,
      "statuses":[503,503,200],"gapsMs":[[950,1600],[950,1600]]}'
run_case backoff_429_json "--fail 2 --status 429" "--json --no-gzip" \
    '{"contentType":"application/json","gzip":false,"failed":2,"retried":2,
      "statuses":[429,429,200],"gapsMs":[[750,1400],[1550,2600]]}'
run_case port_closed_then_open "--closed-for 2500" "" \
    '{"contentType":"application/x-protobuf","gzip":true,"minFailed":1,"minRetried":1,"statuses":[200]}'
dropped_first_batch="[$(seq -s, 0 99)]"
run_case non_retryable_400 "--fail 1 --status 400" "" \
    "{\"contentType\":\"application/x-protobuf\",\"gzip\":true,\"failed\":1,\"retried\":0,
      \"statuses\":[400,200],\"droppedIndices\":$dropped_first_batch}"
echo "otlp_export: all cases passed"
