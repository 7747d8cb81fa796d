#!/usr/bin/env bash
# End-to-end: `ldtap run --prometheus` serves /metrics that promtool accepts, a real
# Prometheus scrapes it and answers the request count curl made and a sane p95, the alert
# rules load, every Grafana query names scraped metrics, and port clashes behave as
# documented. Usage: prometheus.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
for tool in promtool prometheus curl; do
    command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup.sh installs the Debian package prometheus)"
done
ALERTS="$LDTAP_ROOT/scripts/ops/ldtap-alerts.yml"
DASHBOARD="$LDTAP_ROOT/scripts/ops/ldtap-grafana-dashboard.json"
REQUESTS=40 # K: requests curl makes, all must be counted
FAILED=0
fail() {
    echo "  FAIL $*"
    FAILED=1
}
ok() { echo "  ok   $*"; }

SITE="$LDTAP_TMP/site"
mkdir -p "$SITE"
printf 'hello\n' >"$SITE/hello.txt"
APP_PORT=$(free_port)
METRICS_PORT=$(free_port)
PROMETHEUS_PORT=$(free_port)
METRICS_URL="http://127.0.0.1:$METRICS_PORT/metrics"

start_background app_pid "$LDTAP_TMP/app.log" "$BUILD/ldtap" run --service-name e2e-prom --run-dir "$LDTAP_TMP/run" \
    --output "$LDTAP_TMP/traces.jsonl" --prometheus "127.0.0.1:$METRICS_PORT" -- \
    "$LDTAP_PYTHON" -m http.server --bind 127.0.0.1 --directory "$SITE" "$APP_PORT"
wait_for_port "$APP_PORT" 20 "$app_pid" || { cat "$LDTAP_TMP/app.log" >&2; die "the app did not start"; }
wait_for_port "$METRICS_PORT" 20 "$app_pid" || { cat "$LDTAP_TMP/app.log" >&2; die "no Prometheus endpoint"; }

# ---- the endpoint itself ----
headers=$(curl -s -D - -o /dev/null "$METRICS_URL")
if grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' <<<"$headers"; then
    ok "Content-Type is the text exposition format 0.0.4"
else
    fail "Content-Type: $(grep -i '^content-type' <<<"$headers")"
fi
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$METRICS_URL")
[ "$status" = 405 ] && ok "POST /metrics is refused (405)" || fail "POST /metrics answered $status"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/nothing")
[ "$status" = 404 ] && ok "unknown paths are 404" || fail "GET /nothing answered $status"

# An explicit port that is taken is an error at start, naming the port.
status=0
"$BUILD/ldtap" run --prometheus "127.0.0.1:$METRICS_PORT" --run-dir "$LDTAP_TMP/run2" -- true 2>"$LDTAP_TMP/clash.err" || status=$?
if [ "$status" = 2 ] && grep -q "$METRICS_PORT" "$LDTAP_TMP/clash.err"; then
    ok "an explicit port in use stops ldtap run with status 2: $(head -n 1 "$LDTAP_TMP/clash.err")"
else
    fail "explicit port in use: status $status, stderr: $(cat "$LDTAP_TMP/clash.err")"
fi
# The default port (9464) in use: a warning, and the program still runs. Hold the port
# ourselves when it is free; when something else holds it the outcome must be the same.
holder_pid=""
if ! ss -Hltn "sport = :9464" | grep -q .; then
    start_background holder_pid "$LDTAP_TMP/holder.log" "$LDTAP_PYTHON" -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 9464)); s.listen(1); time.sleep(60)'
    wait_for_port 9464 10 "$holder_pid" || true
fi
status=0
"$BUILD/ldtap" run --run-dir "$LDTAP_TMP/run3" -- sh -c 'exit 3' 2>"$LDTAP_TMP/default.err" || status=$?
if [ "$status" = 3 ] && grep -q "warning: Prometheus endpoint disabled: port 9464" "$LDTAP_TMP/default.err"; then
    ok "the default port in use: a warning and CMD still runs"
else
    fail "default port in use: status $status, stderr: $(cat "$LDTAP_TMP/default.err")"
fi
[ -n "$holder_pid" ] && stop_pid "$holder_pid" TERM 5 || true

# ---- a real Prometheus scraping every second, with ldtap's alert rules loaded ----
cat >"$LDTAP_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $ALERTS
scrape_configs:
  - job_name: ldtap
    static_configs:
      - targets: ['127.0.0.1:$METRICS_PORT']
EOF
start_background prometheus_pid "$LDTAP_TMP/prometheus.log" prometheus --config.file="$LDTAP_TMP/prometheus.yml" \
    --storage.tsdb.path="$LDTAP_TMP/tsdb" --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --log.level=warn
wait_for_port "$PROMETHEUS_PORT" 30 "$prometheus_pid" || { tail "$LDTAP_TMP/prometheus.log" >&2; die "prometheus did not start"; }

# query EXPR: prints the first result's value ("" when there is none).
query() {
    curl -s -G "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/query" --data-urlencode "query=$1" |
        "$LDTAP_PYTHON" -c 'import json, sys
answer = json.load(sys.stdin)
result = answer.get("data", {}).get("result", [])
print(result[0]["value"][1] if result else "")'
}
# wait_for_value EXPR EXPECTED SECONDS: polls until EXPR equals EXPECTED; prints the last value.
wait_for_value() {
    local value="" deadline=$((SECONDS + $3))
    while [ "$SECONDS" -lt "$deadline" ]; do
        value=$(query "$1")
        [ "$value" = "$2" ] && break
        sleep 0.5
    done
    printf '%s\n' "$value"
}

up=$(wait_for_value 'up{job="ldtap"}' 1 30)
[ "$up" = 1 ] && ok "Prometheus scrapes ldtap (up == 1)" || fail "up{job=\"ldtap\"} is '$up'"

# Requests only now, so rate() over the scrapes sees them arrive.
for ((i = 1; i <= REQUESTS; i++)); do
    if [ $((i % 10)) = 0 ]; then
        curl -s -o /dev/null "http://127.0.0.1:$APP_PORT/missing-$i.txt"
    else
        curl -s -o /dev/null "http://127.0.0.1:$APP_PORT/hello.txt"
    fi
    sleep 0.05
done

count=$(wait_for_value 'sum(http_server_request_duration_seconds_count)' "$REQUESTS" 30)
[ "$count" = "$REQUESTS" ] && ok "Prometheus counts exactly $REQUESTS requests" ||
    fail "sum(http_server_request_duration_seconds_count) is '$count', expected $REQUESTS"
sleep 2 # two more scrapes: the last increase is inside the rate window
p95=$(query 'histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket[1m])))')
if "$LDTAP_PYTHON" -c 'import sys; v = float(sys.argv[1]); sys.exit(0 if 0 < v < 10 else 1)' "$p95" 2>/dev/null; then
    ok "histogram_quantile(0.95, ...) = $p95 s"
else
    fail "histogram_quantile(0.95, ...) is '$p95'"
fi
errors=$(query 'sum(http_server_request_duration_seconds_count{http_response_status_code="404"})')
[ "$errors" = $((REQUESTS / 10)) ] && ok "404s counted by status code: $errors" || fail "404 count is '$errors'"

# ---- promtool on a scrape and on the rules; the rules evaluate without errors ----
curl -s "$METRICS_URL" >"$LDTAP_TMP/scrape.txt"
if promtool check metrics <"$LDTAP_TMP/scrape.txt" >"$LDTAP_TMP/promtool.out" 2>&1; then
    ok "promtool check metrics passes ($(grep -c '^# TYPE' "$LDTAP_TMP/scrape.txt") families)"
else
    fail "promtool check metrics: $(cat "$LDTAP_TMP/promtool.out")"
fi
if promtool check rules "$ALERTS" >"$LDTAP_TMP/rules.out" 2>&1; then
    ok "promtool check rules: $(grep -o '[0-9]* rules found' "$LDTAP_TMP/rules.out")"
else
    fail "promtool check rules: $(cat "$LDTAP_TMP/rules.out")"
fi
rules=$(curl -s "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/rules" | "$LDTAP_PYTHON" -c 'import json, sys
rules = [r for g in json.load(sys.stdin)["data"]["groups"] for r in g["rules"]]
bad = [r["name"] for r in rules if r.get("health") == "err"]
print(len(rules), "rules loaded" + ("; failing: " + ", ".join(bad) if bad else ""))')
[[ "$rules" == *"rules loaded" ]] && ok "Prometheus loaded the alert rules: $rules" || fail "alert rules: $rules"

# ---- the Grafana dashboard: valid JSON, every query names metrics of the scrape ----
if "$LDTAP_PYTHON" -m json.tool "$DASHBOARD" >/dev/null; then
    ok "the Grafana dashboard is valid JSON"
else
    fail "the Grafana dashboard does not parse"
fi
if report=$("$LDTAP_PYTHON" - "$DASHBOARD" "$LDTAP_TMP/scrape.txt" <<'EOF'
import json, re, sys
dashboard = json.load(open(sys.argv[1]))
scraped = {line.split("{")[0].split(" ")[0] for line in open(sys.argv[2]) if line.strip() and not line.startswith("#")}
def expressions(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)
problems, count = [], 0
for expr in expressions(dashboard):
    count += 1
    # Drop label matchers and grouping clauses: what remains are metric names and functions.
    bare = re.sub(r"\{[^}]*\}", "", expr)
    bare = re.sub(r"\b(by|without)\s*\([^)]*\)", "", bare)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    # Identifiers followed by "(" are functions (histogram_quantile); numbers have no '_'.
    names = [n for n in re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", bare) if "_" in n]
    if not names:
        problems.append(f"no metric in: {expr}")
    problems += [f"{n} (in {expr}) is not in the scrape" for n in names if n not in scraped]
print(f"{count} queries checked" if not problems else "\n".join(problems))
sys.exit(1 if problems else 0)
EOF
); then
    ok "Grafana dashboard: $report"
else
    fail "Grafana dashboard: $report"
fi

stop_pid "$prometheus_pid" TERM 20 || true
stop_pid "$app_pid" INT 20 || fail "ldtap run did not stop on SIGINT"
[ "$FAILED" = 0 ] || die "some checks failed"
log "all checks passed"
