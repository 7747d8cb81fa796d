#!/usr/bin/env node
// OTLP/HTTP receiver for tests: decodes POST /v1/traces (and /v1/metrics, /v1/logs),
// protobuf or JSON, gzip or not, and appends one normalised JSON line per accepted request
// to --out. It misbehaves on command so exporters' retries can be tested:
//   --port P          0 picks a free port; prints "listening PORT" once bound
//   --out FILE        accepted requests (see normalize.js for the shape, plus _meta)
//   --requests FILE   one line per request, failed ones too: time, path, answer, headers
//   --raw FILE        every accepted request body, decompressed but not decoded, appended
//                     as received (for tests that grep every exported byte)
//   --fail N --status S [--retry-after SEC]   answer the first N requests with S
//   --closed-for MS   after printing the port, stop listening for MS, then listen again
//   --phases LIST     an outage played from start: comma-separated STATUS:MS[:RETRY_AFTER]
//                     (answer every request with STATUS for MS) or closed:MS (refuse
//                     connections for MS); then back to normal. Prints "phase N STATUS".
'use strict';

const fs = require('fs');
const http = require('http');
const zlib = require('zlib');
const { decodeTraces, decodeOther } = require('./normalize');

function parseArgs(argv) {
  const options = { port: 4318, host: '127.0.0.1', out: null, requests: null, fail: 0, status: 503, retryAfter: null, closedFor: 0,
    phases: '', raw: null };
  const names = { '--port': 'port', '--host': 'host', '--out': 'out', '--requests': 'requests', '--fail': 'fail',
    '--status': 'status', '--retry-after': 'retryAfter', '--closed-for': 'closedFor', '--phases': 'phases',
    '--raw': 'raw' };
  for (let i = 0; i < argv.length; i += 2) {
    const name = names[argv[i]];
    if (!name || i + 1 >= argv.length) throw new Error(`unknown or incomplete option ${argv[i]}`);
    const value = argv[i + 1];
    options[name] = ['host', 'out', 'requests', 'retryAfter', 'phases', 'raw'].includes(name) ? value : Number(value);
  }
  return options;
}

const options = parseArgs(process.argv.slice(2));
let failuresLeft = options.fail;
// The phase being played (--phases): null once the outage is over.
let phase = null;

function appendLine(file, object) {
  if (file) fs.appendFileSync(file, `${JSON.stringify(object)}\n`);
}

function answer(response, status, contentType, body, extraHeaders) {
  response.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), ...extraHeaders });
  response.end(body);
}

function handle(request, body, response) {
  const signal = { '/v1/traces': 'traces', '/v1/metrics': 'metrics', '/v1/logs': 'logs' }[request.url];
  const contentType = (request.headers['content-type'] || '').split(';')[0].trim();
  const contentEncoding = request.headers['content-encoding'] || '';
  const isJson = contentType === 'application/json';
  const logEntry = { timeMs: Date.now(), method: request.method, path: request.url, contentType, contentEncoding,
    bytes: body.length, headers: request.headers };
  const reply = (status, text, extra) => {
    logEntry.status = status;
    appendLine(options.requests, logEntry);
    answer(response, status, isJson ? 'application/json' : 'application/x-protobuf', text, extra);
  };

  if (request.method !== 'POST' || !signal) return reply(404, '');
  if (!isJson && contentType !== 'application/x-protobuf') return reply(415, `unsupported content type ${contentType}`);
  if (failuresLeft > 0) {
    failuresLeft -= 1;
    return reply(options.status, 'receiver told to fail', options.retryAfter !== null ? { 'Retry-After': options.retryAfter } : {});
  }
  if (phase && phase.status !== 'closed') {
    return reply(Number(phase.status), 'receiver outage', phase.retryAfter !== undefined ? { 'Retry-After': phase.retryAfter } : {});
  }
  let decoded;
  try {
    const raw = contentEncoding === 'gzip' ? zlib.gunzipSync(body) : body;
    decoded = signal === 'traces' ? decodeTraces(raw, isJson) : decodeOther(signal, raw, isJson);
    decoded._meta = { ...(decoded._meta || {}), path: request.url, contentType, contentEncoding,
      compressedBytes: body.length, headers: request.headers };
    if (options.raw) fs.appendFileSync(options.raw, raw);
  } catch (error) {
    return reply(400, `cannot decode: ${error.message}`);
  }
  appendLine(options.out, decoded);
  // An empty Export*ServiceResponse: zero bytes in protobuf, {} in JSON.
  return reply(200, isJson ? '{}' : '');
}

function serve(port, onListening) {
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => handle(request, Buffer.concat(chunks), response));
  });
  // Kept so that a "closed" phase can cut keep-alive connections too, as a dead backend would.
  server.openSockets = new Set();
  server.on('connection', (socket) => {
    server.openSockets.add(socket);
    socket.on('close', () => server.openSockets.delete(socket));
  });
  server.listen(port, options.host, () => onListening(server));
  return server;
}

function closeHard(server) {
  server.close();
  for (const socket of server.openSockets) socket.destroy();
}

// Plays the --phases list, one after the other, on the server listening on `port`.
function playPhases(server, port, list) {
  if (list.length === 0) {
    phase = null;
    process.stdout.write('phase end\n');
    return;
  }
  const [status, ms, retryAfter] = list[0].split(':');
  phase = { status, retryAfter };
  process.stdout.write(`phase ${status} ${ms}\n`);
  if (status === 'closed') {
    closeHard(server);
    setTimeout(() => serve(port, (reopened) => playPhases(reopened, port, list.slice(1))), Number(ms));
  } else {
    setTimeout(() => playPhases(server, port, list.slice(1)), Number(ms));
  }
}

serve(options.port, (server) => {
  const port = server.address().port;
  process.stdout.write(`listening ${port}\n`);
  if (options.closedFor > 0) {
    server.close();
    setTimeout(() => serve(port, () => process.stdout.write(`reopened ${port}\n`)), options.closedFor);
  }
  if (options.phases) playPhases(server, port, options.phases.split(','));
});

for (const signalName of ['SIGTERM', 'SIGINT']) process.on(signalName, () => process.exit(0));
