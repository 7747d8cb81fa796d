// Decodes OTLP trace, metrics and logs requests (protobuf via the official generated definitions
// shipped in @opentelemetry/otlp-transformer, or OTLP/JSON) into one normalised shape for tests.
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
    events: (span.events || []).map(normalizeEvent),
  };
}

// A span event (an `exception` one, say): its attributes flattened like a span's.
function normalizeEvent(event) {
  const attributes = flatten(event.attributes);
  return {
    name: event.name || '',
    timeUnixNano: decimal(event.timeUnixNano),
    attributes: attributes.values,
    attributeTypes: attributes.types,
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

// ---- metrics ----

// Field names the OTLP/JSON mapping allows, per message: fromObject ignores unknown ones,
// so a misspelt field would otherwise pass unnoticed.
const METRIC_KEYS = {
  request: ['resourceMetrics'],
  resourceMetrics: ['resource', 'scopeMetrics', 'schemaUrl'],
  scopeMetrics: ['scope', 'metrics', 'schemaUrl'],
  metric: ['name', 'description', 'unit', 'gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary', 'metadata'],
  data: ['dataPoints', 'aggregationTemporality', 'isMonotonic'],
  numberPoint: ['attributes', 'startTimeUnixNano', 'timeUnixNano', 'asDouble', 'asInt', 'exemplars', 'flags'],
  histogramPoint: ['attributes', 'startTimeUnixNano', 'timeUnixNano', 'count', 'sum', 'bucketCounts',
    'explicitBounds', 'exemplars', 'flags', 'min', 'max'],
};

function checkKeys(object, kind) {
  for (const key of Object.keys(object || {})) {
    if (!METRIC_KEYS[kind].includes(key)) throw new Error(`unknown ${kind} field ${key}`);
  }
}

function checkMetricsJson(request) {
  checkKeys(request, 'request');
  for (const resourceMetrics of request.resourceMetrics || []) {
    checkKeys(resourceMetrics, 'resourceMetrics');
    for (const scopeMetrics of resourceMetrics.scopeMetrics || []) {
      checkKeys(scopeMetrics, 'scopeMetrics');
      for (const metric of scopeMetrics.metrics || []) {
        checkKeys(metric, 'metric');
        for (const type of ['gauge', 'sum', 'histogram']) {
          if (!metric[type]) continue;
          checkKeys(metric[type], 'data');
          for (const point of metric[type].dataPoints || []) {
            checkKeys(point, type === 'histogram' ? 'histogramPoint' : 'numberPoint');
            for (const key of ['startTimeUnixNano', 'timeUnixNano', 'count', 'asInt']) {
              if (point[key] !== undefined && typeof point[key] !== 'string') throw new Error(`${key} must be a decimal string`);
            }
            for (const count of point.bucketCounts || []) {
              if (typeof count !== 'string') throw new Error('bucketCounts must be decimal strings');
            }
          }
        }
      }
    }
  }
}

function exactNumber(value) {
  if (value === undefined || value === null) return 0;
  const number = Number(String(value));
  return Number.isSafeInteger(number) ? number : String(value);
}

function normalizePoint(point, histogram) {
  const attributes = flatten(point.attributes);
  const normalized = {
    attributes: attributes.values,
    attributeTypes: attributes.types,
    startTimeUnixNano: decimal(point.startTimeUnixNano),
    timeUnixNano: decimal(point.timeUnixNano),
  };
  if (histogram) {
    normalized.count = exactNumber(point.count);
    if (point.sum !== undefined && point.sum !== null) normalized.sum = Number(point.sum);
    normalized.bucketCounts = (point.bucketCounts || []).map(exactNumber);
    normalized.explicitBounds = (point.explicitBounds || []).map(Number);
    if (point.min !== undefined && point.min !== null) normalized.min = Number(point.min);
    if (point.max !== undefined && point.max !== null) normalized.max = Number(point.max);
  } else if (point.asInt !== undefined && point.asInt !== null) {
    normalized.asInt = exactNumber(point.asInt);
  } else {
    normalized.asDouble = Number(point.asDouble || 0);
  }
  return normalized;
}

function normalizeMetric(metric) {
  const type = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'].find((name) => metric[name]);
  const data = metric[type] || {};
  return {
    name: metric.name || '',
    description: metric.description || '',
    unit: metric.unit || '',
    type: type || 'none',
    aggregationTemporality: data.aggregationTemporality || 0,
    isMonotonic: Boolean(data.isMonotonic),
    dataPoints: (data.dataPoints || []).map((point) => normalizePoint(point, type === 'histogram')),
  };
}

function normalizeMetricsObject(request) {
  return {
    resourceMetrics: (request.resourceMetrics || []).map((resourceMetrics) => {
      const resource = flatten(resourceMetrics.resource && resourceMetrics.resource.attributes);
      return {
        resource: resource.values,
        resourceTypes: resource.types,
        scopeMetrics: (resourceMetrics.scopeMetrics || []).map((scopeMetrics) => ({
          scope: { name: (scopeMetrics.scope && scopeMetrics.scope.name) || '', version: (scopeMetrics.scope && scopeMetrics.scope.version) || '' },
          metrics: (scopeMetrics.metrics || []).map(normalizeMetric),
        })),
      };
    }),
  };
}

// Both encodings go through the official generated message type: protobuf by decode (and
// a re-encode that must give back the same bytes), JSON by fromObject after a strict
// field-name check.
function decodeMetrics(body, isJson) {
  let message;
  const meta = { format: isJson ? 'json' : 'protobuf', bytes: body.length };
  if (isJson) {
    const object = JSON.parse(body.toString('utf8'));
    checkMetricsJson(object);
    message = MetricsRequest.fromObject(object);
  } else {
    message = MetricsRequest.decode(body);
    meta.reencodedEqual = Buffer.from(MetricsRequest.encode(message).finish()).equals(body);
  }
  const error = MetricsRequest.verify(message);
  if (error) throw new Error(`invalid ExportMetricsServiceRequest: ${error}`);
  const normalized = normalizeMetricsObject(MetricsRequest.toObject(message, TO_OBJECT));
  normalized._meta = meta;
  return normalized;
}

// ---- logs ----

const LOG_KEYS = {
  request: ['resourceLogs'],
  resourceLogs: ['resource', 'scopeLogs', 'schemaUrl'],
  scopeLogs: ['scope', 'logRecords', 'schemaUrl'],
  logRecord: ['timeUnixNano', 'observedTimeUnixNano', 'severityNumber', 'severityText', 'body', 'attributes',
    'droppedAttributesCount', 'flags', 'traceId', 'spanId', 'eventName'],
};

function checkLogKeys(object, kind) {
  for (const key of Object.keys(object || {})) {
    if (!LOG_KEYS[kind].includes(key)) throw new Error(`unknown ${kind} field ${key}`);
  }
}

// OTLP/JSON logs: strict field names, decimal-string times, integer severity, and ids as
// lowercase hex, which become bytes here (fromObject would read a string as base64).
function logsJsonToObject(request) {
  checkLogKeys(request, 'request');
  for (const resourceLogs of request.resourceLogs || []) {
    checkLogKeys(resourceLogs, 'resourceLogs');
    for (const scopeLogs of resourceLogs.scopeLogs || []) {
      checkLogKeys(scopeLogs, 'scopeLogs');
      for (const record of scopeLogs.logRecords || []) {
        checkLogKeys(record, 'logRecord');
        for (const key of ['timeUnixNano', 'observedTimeUnixNano']) {
          if (record[key] !== undefined && typeof record[key] !== 'string') throw new Error(`${key} must be a decimal string`);
        }
        if (record.severityNumber !== undefined && typeof record.severityNumber !== 'number') {
          throw new Error('severityNumber must be an integer');
        }
        for (const key of ['traceId', 'spanId']) {
          if (record[key] !== undefined) record[key] = Buffer.from(id(record[key], true), 'hex');
        }
      }
    }
  }
  return request;
}

function normalizeLogRecord(record) {
  const attributes = flatten(record.attributes);
  const [bodyType, body] = anyValue(record.body);
  return {
    timeUnixNano: decimal(record.timeUnixNano),
    observedTimeUnixNano: decimal(record.observedTimeUnixNano),
    severityNumber: record.severityNumber || 0,
    severityText: record.severityText || '',
    body,
    bodyType,
    attributes: attributes.values,
    attributeTypes: attributes.types,
    traceId: hex(record.traceId),
    spanId: hex(record.spanId),
    flags: record.flags || 0,
    eventName: record.eventName || '',
  };
}

function normalizeLogsObject(request) {
  return {
    resourceLogs: (request.resourceLogs || []).map((resourceLogs) => {
      const resource = flatten(resourceLogs.resource && resourceLogs.resource.attributes);
      return {
        resource: resource.values,
        resourceTypes: resource.types,
        scopeLogs: (resourceLogs.scopeLogs || []).map((scopeLogs) => ({
          scope: { name: (scopeLogs.scope && scopeLogs.scope.name) || '', version: (scopeLogs.scope && scopeLogs.scope.version) || '' },
          logRecords: (scopeLogs.logRecords || []).map(normalizeLogRecord),
        })),
      };
    }),
  };
}

// Like decodeMetrics: protobuf by decode plus the byte-identical re-encode check, JSON by
// fromObject after the strict checks above.
function decodeLogs(body, isJson) {
  let message;
  const meta = { format: isJson ? 'json' : 'protobuf', bytes: body.length };
  if (isJson) {
    message = LogsRequest.fromObject(logsJsonToObject(JSON.parse(body.toString('utf8'))));
  } else {
    message = LogsRequest.decode(body);
    meta.reencodedEqual = Buffer.from(LogsRequest.encode(message).finish()).equals(body);
  }
  const error = LogsRequest.verify(message);
  if (error) throw new Error(`invalid ExportLogsServiceRequest: ${error}`);
  const normalized = normalizeLogsObject(LogsRequest.toObject(message, TO_OBJECT));
  normalized._meta = meta;
  return normalized;
}

function decodeOther(signal, body, isJson) {
  if (signal === 'metrics') return { signal, ...decodeMetrics(body, isJson) };
  if (signal === 'logs') return { signal, ...decodeLogs(body, isJson) };
  throw new Error(`unknown signal ${signal}`);
}

module.exports = { decodeTraces, decodeMetrics, decodeLogs, decodeOther };
