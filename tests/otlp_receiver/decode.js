#!/usr/bin/env node
// Usage: decode.js FILE [--json] [--metrics|--logs]: prints the normalised form of an OTLP
// ExportTraceServiceRequest (ExportMetricsServiceRequest with --metrics,
// ExportLogsServiceRequest with --logs) stored in FILE (protobuf, or OTLP/JSON with --json).
'use strict';

const fs = require('fs');
const { decodeTraces, decodeMetrics, decodeLogs } = require('./normalize');

const args = process.argv.slice(2);
const file = args.find((arg) => !arg.startsWith('--'));
if (!file) {
  process.stderr.write('usage: decode.js FILE [--json] [--metrics|--logs]\n');
  process.exit(2);
}
const body = fs.readFileSync(file);
let decode = decodeTraces;
if (args.includes('--metrics')) decode = decodeMetrics;
if (args.includes('--logs')) decode = decodeLogs;
process.stdout.write(`${JSON.stringify(decode(body, args.includes('--json')))}\n`);
