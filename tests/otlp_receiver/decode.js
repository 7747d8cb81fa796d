#!/usr/bin/env node
// Usage: decode.js FILE [--json]: prints the normalised form of an OTLP
// ExportTraceServiceRequest stored in FILE (protobuf, or OTLP/JSON with --json).
'use strict';

const fs = require('fs');
const { decodeTraces } = require('./normalize');

const args = process.argv.slice(2);
const file = args.find((arg) => !arg.startsWith('--'));
if (!file) {
  process.stderr.write('usage: decode.js FILE [--json]\n');
  process.exit(2);
}
const body = fs.readFileSync(file);
process.stdout.write(`${JSON.stringify(decodeTraces(body, args.includes('--json')))}\n`);
