#!/usr/bin/env bash
# End-to-end: a C program with steady allocations in several functions and a leak in
# leak_some_bytes runs under `ldtap run --heap-profile DIR`. The top leak suspect must be
# leak_some_bytes with file:line, its estimated live bytes within 15% of what the program
# says it leaked; the pprof file must decode with the official profile.proto (protoc) and
# the SVG flame graph must be well-formed XML naming the function. The suspect's OTLP log
# record (event ldtap.heap.leak_suspect) goes to the --output file as OTLP/JSON, which the
# official OpenTelemetry definitions must decode, naming the function. Usage:
# heap_profile.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
PROFILE_PROTO=$(find /usr/share/gocode -path '*google/pprof/proto/profile.proto' 2>/dev/null | head -n 1)
command -v protoc >/dev/null || die "protoc is missing (run scripts/setup.sh: protobuf-compiler)"
[ -n "$PROFILE_PROTO" ] || die "profile.proto is missing (run scripts/setup.sh: golang-github-google-pprof-dev)"
FAILED=0
fail() {
    echo "  FAIL $*"
    FAILED=1
}

cc -g -O1 -o "$LDTAP_TMP/leaky" "$LDTAP_ROOT/tests/programs_heap/leaky.c"
# 64 KiB mean sampling interval: ~500 samples of a 35 MB leak, a ~5% standard error (at
# the 512 KiB default a ±15% check on this short run would fail about one run in four).
export LDTAP_HEAP_SAMPLE_BYTES=65536
PROFILES="$LDTAP_TMP/profiles"
"$BUILD/ldtap" run --service-name leaky --run-dir "$LDTAP_TMP/run" --output "$LDTAP_TMP/traces.jsonl" \
    --heap-profile "$PROFILES" -- "$LDTAP_TMP/leaky" 6 >"$LDTAP_TMP/stdout" 2>"$LDTAP_TMP/ldtap.log" ||
    fail "ldtap run exited $?"
truth=$(awk '/^leaked_bytes/ {print $2}' "$LDTAP_TMP/stdout")
sed -n '/^leak suspects/,$p' "$LDTAP_TMP/ldtap.log"

# "  1. leak_some_bytes (leaky.c:LINE)" then "     pid P  live N.N MiB  +..."
first=$(grep -A1 -E '^  1\. ' "$LDTAP_TMP/ldtap.log" || true)
if ! grep -qE '^  1\. leak_some_bytes \(leaky\.c:[0-9]+\)$' <<<"$first"; then
    fail "the top leak suspect is not leak_some_bytes (leaky.c:LINE): ${first:-no suspects}"
fi
live=$(sed -n 2p <<<"$first" | awk '{for (i = 1; i < NF; i++) if ($i == "live") { print $(i+1), $(i+2); exit }}')
estimate=$(awk -v value="${live% *}" -v unit="${live#* }" 'BEGIN {
    scale = unit == "GiB" ? 1073741824 : unit == "MiB" ? 1048576 : unit == "KiB" ? 1024 : 1; printf "%.0f", value * scale }')
if [ -z "$truth" ] || [ -z "$live" ]; then
    fail "no truth (${truth:-none}) or no estimate (${live:-none})"
elif awk -v e="$estimate" -v t="$truth" 'BEGIN { d = (e - t) / t; exit !(d <= 0.15 && d >= -0.15) }'; then
    echo "  ok   estimated live $live vs leaked $truth bytes ($(awk -v e="$estimate" -v t="$truth" \
        'BEGIN { printf "%+.1f%%", 100 * (e - t) / t }'))"
else
    fail "estimated live $live ($estimate bytes) is not within 15% of the leaked $truth bytes"
fi

profile=$(ls "$PROFILES"/heap-leaky-*.pb.gz 2>/dev/null | sort -V | tail -n 1)
svg=${profile%.pb.gz}.svg
if [ -z "$profile" ]; then
    fail "no heap profile in $PROFILES"
else
    if gunzip -c "$profile" | protoc --proto_path="$(dirname "$PROFILE_PROTO")" \
        --decode perftools.profiles.Profile profile.proto >"$LDTAP_TMP/profile.txt" 2>"$LDTAP_TMP/protoc.err"; then
        for expected in '"inuse_space"' '"inuse_objects"' '"alloc_space"' '"alloc_objects"' '"leak_some_bytes"' \
            'leaky.c"'; do
            grep -q -- "$expected" "$LDTAP_TMP/profile.txt" || fail "the decoded profile has no $expected"
        done
        echo "  ok   $(basename "$profile") decodes with protoc: $(grep -c '^sample {' "$LDTAP_TMP/profile.txt") samples"
    else
        fail "protoc cannot decode $profile: $(cat "$LDTAP_TMP/protoc.err")"
    fi
    if "$LDTAP_PYTHON" - "$svg" <<'PY'; then
import sys, xml.etree.ElementTree as tree
root = tree.parse(sys.argv[1]).getroot()
titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
sys.exit(0 if any("leak_some_bytes" in t for t in titles) else 1)
PY
        echo "  ok   $(basename "$svg") is well-formed XML naming leak_some_bytes"
    else
        fail "$svg is not well-formed XML naming leak_some_bytes"
    fi
fi

# The --output file holds one OTLP/JSON request a line; logs requests have resourceLogs.
records=0
line_number=0
while IFS= read -r line; do
    line_number=$((line_number + 1))
    [[ "$line" == '{"resourceLogs"'* ]] || continue
    printf '%s' "$line" >"$LDTAP_TMP/logs-$line_number.json"
    node "$LDTAP_ROOT/tests/otlp_receiver/decode.js" "$LDTAP_TMP/logs-$line_number.json" --json --logs \
        >"$LDTAP_TMP/logs-$line_number.decoded" 2>"$LDTAP_TMP/decode.err" ||
        fail "line $line_number of the output file does not decode: $(cat "$LDTAP_TMP/decode.err")"
    records=$((records + 1))
done <"$LDTAP_TMP/traces.jsonl"
cat "$LDTAP_TMP"/logs-*.decoded 2>/dev/null >"$LDTAP_TMP/logs.decoded" || true
if [ "$records" = 0 ]; then
    fail "no logs request in the --output file"
elif "$LDTAP_PYTHON" - "$LDTAP_TMP/logs.decoded" <<'PY'; then
import json, sys
records = [(rl["resource"], r) for line in open(sys.argv[1]) for rl in json.loads(line)["resourceLogs"]
           for sl in rl["scopeLogs"] for r in sl["logRecords"] if r["eventName"] == "ldtap.heap.leak_suspect"]
top = [r for resource, r in records if r["attributes"].get("ldtap.heap.leak_rank") == 1 and
       resource.get("service.name") == "leaky" and resource.get("process.pid") == r["attributes"].get("process.pid")]
if not top or top[0]["attributes"].get("code.function.name") != "leak_some_bytes" or \
        top[0]["severityText"] != "WARN" or "leak_some_bytes (leaky.c:" not in top[0]["body"]:
    print("  FAIL no rank-1 leak_some_bytes record among: %s" % [r["body"] for _, r in records])
    sys.exit(1)
print("  ok   decoded from the output file: " + top[0]["body"])
PY
    :
else
    fail "the output file's leak suspect log record does not name leak_some_bytes"
fi

if [ "$FAILED" != 0 ]; then
    log "FAILED (set LDTAP_KEEP_TMP=1 to keep $LDTAP_TMP)"
    tail -n 40 "$LDTAP_TMP/ldtap.log"
    exit 1
fi
log "passed"
