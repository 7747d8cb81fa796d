// Decodes OTLP trace requests (protobuf via the official generated definitions shipped
// in @opentelemetry/otlp-transformer, or OTLP/JSON) into one normalised shape for tests.
'use strict';

const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const v1 = root.opentelemetry.proto.collector;
const TraceRequest = v1.trace.v1.ExportTraceServiceRequest;
const MetricsRequest = v1.metrics.v1.ExportMetricsServiceRequest;
const LogsRequest = v1.logs.v1.ExportLogsServiceRequest;

const TO_OBJECT = { longs: String, enums: Number, defaults: false, oneofs: false };

function hex(bytes) {
  if (bytes === undefined || bytes === null) return '';
  return Buffer.from(bytes).toString('hex');
}

// AnyValue -> [type, value]: ints become numbers when exact, else decimal strings.
function anyValue(value) {
  if (!value) return ['empty', null];
  if (value.stringValue !== undefined) return ['string', value.stringValue];
  if (value.boolValue !== undefined) return ['bool', value.boolValue];
  if (value.intValue !== undefined) {
    const text = String(value.intValue);
    const number = Number(text);
    return ['int', Number.isSafeInteger(number) ? number : text];
  }
  if (value.doubleValue !== undefined) {
    const d = value.doubleValue;
    return ['double', typeof d === 'string' ? Number(d) : d];
  }
  if (value.arrayValue !== undefined) return ['array', (value.arrayValue.values || []).map((v) => anyValue(v)[1])];
  if (value.kvlistValue !== undefined) return ['kvlist', flatten(value.kvlistValue.values).values];
  if (value.bytesValue !== undefined) return ['bytes', hex(value.bytesValue)];
  return ['empty', null];
}

function flatten(keyValues) {
  const values = {};
  const types = {};
  for (const keyValue of keyValues || []) {
    if (Object.prototype.hasOwnProperty.call(values, keyValue.key)) {
      throw new Error(`duplicate attribute key ${keyValue.key}`);
    }
    const [type, value] = anyValue(keyValue.value);
    values[keyValue.key] = value;
    types[keyValue.key] = type;
  }
  return { values, types };
}

// OTLP/JSON carries ids as hex; protobuf-decoded objects carry bytes.
function id(value, isJson) {
  if (value === undefined || value === null) return '';
  if (isJson) {
    if (typeof value !== 'string' || !/^([0-9a-f]{2})*$/.test(value)) throw new Error(`id is not lowercase hex: ${value}`);
    return value;
  }
  return hex(value);
}

function decimal(value) {
  return value === undefined || value === null ? '0' : String(value);
}

const SPAN_KEYS = new Set(['traceId', 'spanId', 'traceState', 'parentSpanId', 'flags', 'name', 'kind',
  'startTimeUnixNano', 'endTimeUnixNano', 'attributes', 'droppedAttributesCount', 'events',
  'droppedEventsCount', 'links', 'droppedLinksCount', 'status']);

function normalizeSpan(span, isJson) {
  if (isJson) {
    for (const key of Object.keys(span)) if (!SPAN_KEYS.has(key)) throw new Error(`unknown span field ${key}`);
    for (const key of ['startTimeUnixNano', 'endTimeUnixNano']) {
      if (span[key] !== undefined && typeof span[key] !== 'string') throw new Error(`${key} must be a decimal string`);
    }
    if (span.kind !== undefined && typeof span.kind !== 'number') throw new Error('kind must be an integer');
  }
  const attributes = flatten(span.attributes);
  return {
    traceId: id(span.traceId, isJson),
    spanId: id(span.spanId, isJson),
    parentSpanId: id(span.parentSpanId, isJson),
    flags: span.flags || 0,
    name: span.name || '',
    kind: span.kind || 0,
    startTimeUnixNano: decimal(span.startTimeUnixNano),
    endTimeUnixNano: decimal(span.endTimeUnixNano),
    attributes: attributes.values,
    attributeTypes: attributes.types,
    status: { code: (span.status && span.status.code) || 0, message: (span.status && span.status.message) || '' },
  };
}

function normalizeTraceObject(request, isJson) {
  return {
    resourceSpans: (request.resourceSpans || []).map((resourceSpans) => {
      const resource = flatten(resourceSpans.resource && resourceSpans.resource.attributes);
      return {
        resource: resource.values,
        resourceTypes: resource.types,
        scopeSpans: (resourceSpans.scopeSpans || []).map((scopeSpans) => ({
          scope: { name: (scopeSpans.scope && scopeSpans.scope.name) || '', version: (scopeSpans.scope && scopeSpans.scope.version) || '' },
          spans: (scopeSpans.spans || []).map((span) => normalizeSpan(span, isJson)),
        })),
      };
    }),
  };
}

// Returns the normalised request plus `_meta.reencodedEqual`: whether re-encoding the
// decoded message gives back the same bytes (false means unknown fields or non-canonical
// encoding).
function decodeTraces(body, isJson) {
  if (isJson) {
    const normalized = normalizeTraceObject(JSON.parse(body.toString('utf8')), true);
    normalized._meta = { format: 'json', bytes: body.length };
    return normalized;
  }
  const message = TraceRequest.decode(body);
  const reencoded = Buffer.from(TraceRequest.encode(message).finish());
  const normalized = normalizeTraceObject(TraceRequest.toObject(message, TO_OBJECT), false);
  normalized._meta = { format: 'protobuf', bytes: body.length, reencodedEqual: reencoded.equals(body) };
  return normalized;
}

// Metrics and logs are only decoded generically for now (byte fields as hex).
function hexBytes(value) {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return hex(value);
  if (Array.isArray(value)) return value.map(hexBytes);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [key, inner] of Object.entries(value)) out[key] = hexBytes(inner);
    return out;
  }
  return value;
}

function decodeOther(signal, body, isJson) {
  if (isJson) return { signal, request: JSON.parse(body.toString('utf8')) };
  const type = signal === 'metrics' ? MetricsRequest : LogsRequest;
  return { signal, request: hexBytes(type.toObject(type.decode(body), TO_OBJECT)) };
}

module.exports = { decodeTraces, decodeOther };
