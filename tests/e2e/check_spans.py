#!/usr/bin/python3
"""Assertion helper for ldtap's end-to-end tests: loads spans from the OTLP receiver's JSON
lines or from ldtap's OTLP-JSON lines file into one normalised shape, and checks them.

As a module (the e2e scripts run `python3 - <<EOF` with this directory on sys.path):
    spans = load_spans(path);  c = Checker();  c.equal(len(spans), 4, "span count");
    c.finish()   # exit 1 on any failure, and also when nothing at all was checked
As a program:
    check_spans.py dump FILE              print the normalised spans, one JSON object a line
    check_spans.py absent FILE... -- S... fail if any string S occurs in any FILE's bytes
"""
import json
import os
import sys

KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUSES = {0: "unset", 1: "ok", 2: "error"}


class Span:
    """One span with plain Python values: ids lowercase hex ('' when absent), kind and
    status as lowercase words, attributes and resource as flat dicts."""

    def __init__(self, raw, resource, line_number):
        self.raw = raw
        self.line = line_number
        self.trace_id = _hex_id(_field(raw, "traceId", "trace_id"))
        self.span_id = _hex_id(_field(raw, "spanId", "span_id"))
        self.parent_span_id = _hex_id(_field(raw, "parentSpanId", "parent_span_id"))
        self.name = raw.get("name", "")
        self.kind = _kind(raw.get("kind"))
        status = raw.get("status") or {}
        self.status = _status(status.get("code") if isinstance(status, dict) else status)
        self.status_message = status.get("message", "") if isinstance(status, dict) else ""
        self.start = int(_field(raw, "startTimeUnixNano", "start_time_unix_nano") or 0)
        self.end = int(_field(raw, "endTimeUnixNano", "end_time_unix_nano") or 0)
        self.attrs = _attributes(raw.get("attributes"))
        self.resource = resource

    def attr(self, key, default=None):
        return self.attrs.get(key, default)

    def as_dict(self):
        return {
            "name": self.name, "kind": self.kind, "status": self.status,
            "trace_id": self.trace_id, "span_id": self.span_id,
            "parent_span_id": self.parent_span_id, "start": self.start, "end": self.end,
            "attributes": self.attrs, "resource": self.resource,
        }

    def __repr__(self):
        return json.dumps(self.as_dict(), sort_keys=True)


def _field(raw, *names):
    for name in names:
        if name in raw:
            return raw[name]
    return None


def _hex_id(value):
    if value is None:
        return ""
    value = str(value).strip().lower()
    # An all-zero id means "none" in both protobuf and JSON encodings.
    return "" if value.strip("0") == "" else value


def _kind(value):
    if isinstance(value, int):
        return KINDS.get(value, str(value))
    if isinstance(value, str):
        word = value.lower().replace("span_kind_", "")
        return KINDS.get(int(word), word) if word.isdigit() else word
    return "unspecified"


def _status(value):
    if isinstance(value, int):
        return STATUSES.get(value, str(value))
    if isinstance(value, str):
        word = value.lower().replace("status_code_", "")
        return STATUSES.get(int(word), word) if word.isdigit() else word
    return "unset"


def _any_value(value):
    """An OTLP AnyValue ({"stringValue": ...}) or an already-flattened plain value."""
    if not isinstance(value, dict):
        return value
    for key, convert in (("stringValue", str), ("string_value", str),
                         ("intValue", int), ("int_value", int),
                         ("doubleValue", float), ("double_value", float),
                         ("boolValue", bool), ("bool_value", bool)):
        if key in value:
            return convert(value[key])
    for key in ("arrayValue", "array_value"):
        if key in value:
            return [_any_value(item) for item in value[key].get("values", [])]
    return value


def _attributes(raw):
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {key: _any_value(value) for key, value in raw.items()}
    return {item["key"]: _any_value(item.get("value")) for item in raw}


def _spans_of_request(request, line_number):
    """Yields the spans of one ExportTraceServiceRequest-shaped object."""
    for resource_spans in _field(request, "resourceSpans", "resource_spans") or []:
        resource = resource_spans.get("resource") or {}
        # OTLP nests the attributes; the receiver's normalised lines hold them flat.
        if isinstance(resource.get("attributes"), list):
            resource = resource["attributes"]
        resource = _attributes(resource)
        for scope_spans in _field(resource_spans, "scopeSpans", "scope_spans") or []:
            for raw in scope_spans.get("spans") or []:
                yield Span(raw, resource, line_number)


def load_spans(path):
    """Every span in a JSON-lines file of export requests. A line may also be a receiver
    record wrapping the request (under "request" or "body") or a plain list of spans."""
    spans = []
    try:
        lines = open(path, encoding="utf-8")
    except FileNotFoundError:
        print(f"  ..   {path} does not exist: no spans")
        return spans
    with lines:
        for line_number, line in enumerate(lines, 1):
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            for key in ("request", "body", "decoded"):
                if isinstance(record, dict) and isinstance(record.get(key), dict):
                    record = record[key]
            if isinstance(record, dict) and ("resourceSpans" in record or "resource_spans" in record):
                spans.extend(_spans_of_request(record, line_number))
            elif isinstance(record, dict) and isinstance(record.get("spans"), list):
                for raw in record["spans"]:
                    resource = _attributes(raw.get("resource"))
                    spans.append(Span(raw, resource, line_number))
    return spans


def load_requests(path):
    """The trace export requests of a JSON-lines file as parsed objects (the receiver adds
    `_meta`: format "protobuf"|"json", contentEncoding, reencodedEqual, headers). Lines of
    other signals (the receiver also writes metrics and logs requests) are left out."""
    try:
        with open(path, encoding="utf-8") as lines:
            records = [json.loads(line) for line in lines if line.strip()]
    except FileNotFoundError:
        return []
    return [r for r in records if isinstance(r, dict) and ("resourceSpans" in r or "resource_spans" in r)]


class Checker:
    """Prints one line per check and remembers failures; finish() sets the exit status."""

    def __init__(self, title=""):
        self.failures = 0
        self.checks = 0
        if title:
            print(f"== {title}")

    def check(self, condition, description, detail=None):
        self.checks += 1
        if condition:
            print(f"  ok   {description}")
        else:
            self.failures += 1
            print(f"  FAIL {description}" + (f": {detail}" if detail is not None else ""))
        return bool(condition)

    def equal(self, actual, expected, description):
        return self.check(actual == expected, f"{description} == {expected!r}", f"got {actual!r}")

    def one(self, spans, description, **criteria):
        """Exactly one span matching criteria (name=, kind=, attribute checks via attrs={})."""
        found = select(spans, **criteria)
        self.check(len(found) == 1, f"exactly one span: {description}",
                   f"found {len(found)} among {[s.name for s in spans]}")
        return found[0] if found else None

    def attributes(self, span, expected, description):
        """Each expected key has the expected value (None: must be absent)."""
        if span is None:
            return self.check(False, f"{description}: attributes", "no span")
        for key, value in expected.items():
            if value is None:
                self.check(key not in span.attrs, f"{description}: no {key}",
                           f"has {span.attrs.get(key)!r}")
            else:
                self.equal(span.attrs.get(key), value, f"{description}: {key}")
        return True

    def finish(self):
        if self.checks == 0:
            print("  FAIL nothing was checked")
            sys.exit(1)
        print(f"  {self.checks - self.failures}/{self.checks} checks passed")
        sys.exit(1 if self.failures else 0)


def select(spans, name=None, kind=None, attrs=None, trace_id=None):
    found = []
    for span in spans:
        if name is not None and span.name != name:
            continue
        if kind is not None and span.kind != kind:
            continue
        if trace_id is not None and span.trace_id != trace_id:
            continue
        if attrs and any(span.attrs.get(k) != v for k, v in attrs.items()):
            continue
        found.append(span)
    return found


def secrets_found(paths, secrets):
    """(path, secret) pairs for every secret whose bytes occur in a file."""
    hits = []
    for path in paths:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            print(f"  ..   {path} does not exist")
            continue
        for secret in secrets:
            if secret.encode() in data:
                hits.append((path, secret))
    return hits


def main(argv):
    if len(argv) >= 2 and argv[0] == "dump":
        for path in argv[1:]:
            for span in load_spans(path):
                print(span)
        return 0
    if len(argv) >= 3 and argv[0] == "absent" and "--" in argv:
        split = argv.index("--")
        paths, secrets = argv[1:split], argv[split + 1:]
        if not paths or not secrets:
            print("absent: need files and strings", file=sys.stderr)
            return 2
        present = [path for path in paths if os.path.exists(path)]
        if not present:
            print("  FAIL absent: none of the files to search exists")
            return 1
        hits = secrets_found(present, secrets)
        for path, secret in hits:
            print(f"  FAIL {secret!r} found in {path}")
        if not hits:
            print(f"  ok   none of {len(secrets)} secret strings in {len(present)} file(s)")
        return 1 if hits else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
