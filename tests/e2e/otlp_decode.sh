#!/usr/bin/env bash
# Encodes a known request with ldtap's OTLP encoders (otlp_encode_sample) and decodes it
# with the official OpenTelemetry protobuf definitions (tests/otlp_receiver/decode.js),
# asserting every field. Usage: otlp_decode.sh [BUILD_DIR] (default: build). Builds nothing.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$repo/build}" && pwd)"
receiver="$repo/tests/otlp_receiver"
sample="$build/otlp_encode_sample"
[[ -x "$sample" ]] || { echo "otlp_decode: $sample not built" >&2; exit 1; }
if [[ ! -d "$receiver/node_modules/@opentelemetry/otlp-transformer" ]]; then
    (cd "$receiver" && npm ci --no-audit --no-fund >/dev/null)
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$sample" "$work/request.pb" "$work/request.json"
node "$receiver/decode.js" "$work/request.pb" > "$work/from_protobuf.json"
node "$receiver/decode.js" "$work/request.json" --json > "$work/from_json.json"

node - "$work/from_protobuf.json" "$work/from_json.json" <<'NODE'
'use strict';
const assert = require('assert/strict');
const fs = require('fs');
const [protobuf, json] = process.argv.slice(2).map((file) => JSON.parse(fs.readFileSync(file, 'utf8')));

assert.equal(protobuf._meta.format, 'protobuf');
assert.equal(protobuf._meta.reencodedEqual, true, 're-encoding must give the same bytes: no unknown fields, canonical');
delete protobuf._meta;
delete json._meta;
assert.deepEqual(json, protobuf, 'OTLP/JSON and protobuf encodings decode to the same request');

const request = protobuf;
assert.equal(request.resourceSpans.length, 2, 'one ResourceSpans per resource');
const [shop, worker] = request.resourceSpans;

const resourceOf = (service, pid) => ({
  'service.name': service, 'process.pid': pid, 'host.name': 'box-1', 'telemetry.sdk.name': 'ldtap',
  'deployment.environment.name': 'café ☕',
});
assert.deepEqual(shop.resource, resourceOf('shop', 4242));
assert.equal(shop.resourceTypes['process.pid'], 'int');
assert.deepEqual(worker.resource, resourceOf('worker', 4343));

for (const group of request.resourceSpans) {
  assert.equal(group.scopeSpans.length, 1);
  assert.equal(group.scopeSpans[0].scope.name, 'ldtap');
  assert.match(group.scopeSpans[0].scope.version, /^\d+\.\d+\.\d+/);
}

const [server, client] = shop.scopeSpans[0].spans;
assert.equal(shop.scopeSpans[0].spans.length, 2);
assert.deepEqual(server, {
  traceId: '0102030405060708090a0b0c0d0e0f10',
  spanId: 'a1a2a3a4a5a6a7a8',
  parentSpanId: '',
  flags: 1,
  name: 'GET /items/{id}',
  kind: 2,
  startTimeUnixNano: '1700000000123456789',
  endTimeUnixNano: '1700000000148456789',
  attributes: {
    'http.request.method': 'GET',
    'http.response.status_code': 500,
    'test.negative': -42,
    'test.big': '9007199254740993',
    'test.ratio': 0.125,
    'test.flag': true,
    'test.awkward': 'quote" backslash\\ newline\n tab\t bell\u0007 bad\ufffd\ufffd end',
    'test.empty': '',
  },
  attributeTypes: {
    'http.request.method': 'string', 'http.response.status_code': 'int', 'test.negative': 'int',
    'test.big': 'int', 'test.ratio': 'double', 'test.flag': 'bool', 'test.awkward': 'string', 'test.empty': 'string',
  },
  status: { code: 2, message: '' },
  events: [],
});
assert.deepEqual(client, {
  traceId: '0102030405060708090a0b0c0d0e0f10',
  spanId: 'b1b2b3b4b5b6b7b8',
  parentSpanId: 'a1a2a3a4a5a6a7a8',
  flags: 1,
  name: 'SELECT shop.items',
  kind: 3,
  startTimeUnixNano: '1700000000130000000',
  endTimeUnixNano: '1700000000140000001',
  attributes: {
    'db.system.name': 'postgresql',
    'db.query.text': 'SELECT * FROM items WHERE id = ?',
    'server.port': 5432,
    'test.zero': 0,
    'test.tiny': 3.5e-7,
    'test.flag': false,
  },
  attributeTypes: {
    'db.system.name': 'string', 'db.query.text': 'string', 'server.port': 'int', 'test.zero': 'int',
    'test.tiny': 'double', 'test.flag': 'bool',
  },
  status: { code: 0, message: '' },
  events: [],
});
assert.deepEqual(worker.scopeSpans[0].spans, [{
  traceId: 'f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff',
  spanId: 'c1c2c3c4c5c6c7c8',
  parentSpanId: '',
  flags: 0,
  name: 'job',
  kind: 1,
  startTimeUnixNano: '1',
  endTimeUnixNano: '18446744073709551615',
  attributes: {},
  attributeTypes: {},
  status: { code: 1, message: '' },
  events: [],
}]);
console.log('otlp_decode: protobuf and JSON encodings verified against the official definitions');
NODE
