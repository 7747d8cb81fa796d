#!/usr/bin/python3
"""Counts what ldtap wrote to its local OTLP-JSON lines file, for the fault tests
(tests/e2e/fault_*.sh) that compare it with what the traced processes committed.

Usage: export_counts.py FILE [NAME]
Prints shell assignments: spans, logs (log records), unique_span_ids, processes (distinct
service.name + process.pid pairs having spans); with NAME, also name_spans and
name_processes for service.name == NAME; and per request path (url.path, or the path of
url.full), client and server spans together, path_<path>_ok (status 2xx) and
path_<path>_unanswered (no status code), the path's non-alphanumerics turned into _
(/a.txt: path__a_txt_ok). A missing file counts as empty.
"""
import collections
import json
import re
import sys
import urllib.parse


def _string_attributes(owner):
    attributes = owner.get("attributes") or []
    if isinstance(attributes, dict):  # tests/otlp_receiver's normalised form: {key: value}
        return {key: str(value) for key, value in attributes.items()}
    values = {}
    for attribute in attributes:
        value = attribute.get("value") or {}
        for key in ("stringValue", "intValue"):
            if key in value:
                values[attribute["key"]] = str(value[key])
    return values


def main():
    path = sys.argv[1]
    wanted = sys.argv[2] if len(sys.argv) > 2 else None
    spans = logs = wanted_spans = 0
    span_ids, processes, wanted_processes = set(), set(), set()
    by_path = collections.Counter()
    try:
        lines = open(path, encoding="utf-8").readlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        if not line.strip():
            continue
        request = json.loads(line)
        for resource_spans in request.get("resourceSpans") or []:
            resource = _string_attributes(resource_spans.get("resource") or {})
            process = (resource.get("service.name"), resource.get("process.pid"))
            for scope_spans in resource_spans.get("scopeSpans") or []:
                for span in scope_spans.get("spans") or []:
                    spans += 1
                    span_ids.add(span.get("spanId"))
                    attributes = _string_attributes(span)
                    path = attributes.get("url.path") or urllib.parse.urlsplit(attributes.get("url.full", "")).path
                    status = attributes.get("http.response.status_code", "")
                    outcome = "ok" if status.startswith("2") else "unanswered" if not status else "other"
                    by_path[(re.sub(r"[^A-Za-z0-9]", "_", path), outcome)] += 1
                    processes.add(process)
                    if process[0] == wanted:
                        wanted_spans += 1
                        wanted_processes.add(process)
        for resource_logs in request.get("resourceLogs") or []:
            for scope_logs in resource_logs.get("scopeLogs") or []:
                logs += len(scope_logs.get("logRecords") or [])
    print(f"spans={spans} logs={logs} unique_span_ids={len(span_ids)} processes={len(processes)}")
    if wanted is not None:
        print(f"name_spans={wanted_spans} name_processes={len(wanted_processes)}")
    for (path, outcome), count in sorted(by_path.items()):
        print(f"path_{path}_{outcome}={count}")


if __name__ == "__main__":
    main()
