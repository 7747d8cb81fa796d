#!/usr/bin/env node
// Usage: decode.js FILE [--json] [--metrics]: prints the normalised form of an OTLP
// ExportTraceServiceRequest (or ExportMetricsServiceRequest with --metrics) stored in FILE
// (protobuf, or OTLP/JSON with --json).
'use strict';

const fs = require('fs');
const { decodeTraces, decodeMetrics } = require('./normalize');

const args = process.argv.slice(2);
const file = args.find((arg) => !arg.startsWith('--'));
if (!file) {
  process.stderr.write('usage: decode.js FILE [--json] [--metrics]\n');
  process.exit(2);
}
const body = fs.readFileSync(file);
const decode = args.includes('--metrics') ? decodeMetrics : decodeTraces;
process.stdout.write(`${JSON.stringify(decode(body, args.includes('--json')))}\n`);
