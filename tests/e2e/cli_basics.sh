#!/bin/sh
# End-to-end checks of the `ldtap` command line: exit codes pass through, signals reach
# the child, bad configuration fails clearly, static binaries warn, HTTP spans are written.
# Usage: tests/e2e/cli_basics.sh [BUILD_DIR]   (default: build)
set -u

build=${1:-build}
ldtap=$(cd "$build" && pwd)/ldtap
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_RUNTIME_DIR="$work/runtime"
mkdir -m 0700 "$XDG_RUNTIME_DIR"
cd "$work" || exit 1
failures=0

check() { # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        echo "ok   - $1"
    else
        echo "FAIL - $1: expected '$2', got '$3'"
        failures=$((failures + 1))
    fi
}

contains() { # contains NAME FILE TEXT
    if grep -qF -- "$3" "$2"; then
        echo "ok   - $1"
    else
        echo "FAIL - $1: '$3' not in:"
        sed 's/^/       /' "$2"
        failures=$((failures + 1))
    fi
}

"$ldtap" run -- sh -c 'exit 7' 2>/dev/null
check "exit status passes through" 7 $?

"$ldtap" run --quiet -- true
check "true exits 0" 0 $?

"$ldtap" run -- no-such-command-ldtap 2>err.txt
check "command not found exits 127" 127 $?
contains "command not found message" err.txt "ldtap: no-such-command-ldtap: command not found"

printf '#!/bin/sh\n' >not-executable.sh
"$ldtap" run -- ./not-executable.sh 2>err.txt
check "not executable exits 126" 126 $?

OTEL_EXPORTER_OTLP_PROTOCOL=grpc "$ldtap" run -- true 2>err.txt
check "grpc protocol exits 2" 2 $?
contains "grpc message names the variable" err.txt "OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' is not supported"

LDTAP_RING_SIZE=3M "$ldtap" run -- true 2>err.txt
check "bad ring size exits 2" 2 $?
contains "ring size message" err.txt "LDTAP_RING_SIZE: '3M'"

LDTAP_COLLECTOR_NICE=20 "$ldtap" run -- true 2>err.txt
check "bad niceness exits 2" 2 $?
contains "niceness message" err.txt "LDTAP_COLLECTOR_NICE: '20' is not valid; use a niceness from 0 to 19"

# --nice 10: the collector's threads run at niceness 10, the traced program at its own.
"$ldtap" run --nice 10 --output /dev/null --no-prometheus --no-summary -- sh -c \
    'sleep 0.3; ps -L -o ni= -p $PPID | sort -u | tr -d " " >nice.txt; ps -o ni= -p $$ | tr -d " " >child_nice.txt'
check "collector threads at niceness 10" 10 "$(cat nice.txt)"
check "traced program keeps niceness 0" 0 "$(cat child_nice.txt)"
"$ldtap" run --output /dev/null --no-prometheus --no-summary -- sh -c \
    'ps -L -o ni= -p $PPID | sort -u | tr -d " " >nice.txt'
check "by default the collector's priority is left alone" 0 "$(cat nice.txt)"

OTEL_EXPORTER_OTLP_ENDPOINT=localhost:4318 "$ldtap" run -- true 2>err.txt
check "bad endpoint exits 2" 2 $?
contains "endpoint message" err.txt "OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318' is not a valid URL"

OTEL_SDK_DISABLED=true "$ldtap" run -- sh -c 'test -z "${LD_PRELOAD:-}" && exit 5'
check "OTEL_SDK_DISABLED runs CMD without the shim" 5 $?

"$ldtap" run --quiet -- sh -c 'case "$LD_PRELOAD" in *libldtap.so*) exit 3;; esac; exit 4'
check "LD_PRELOAD holds the shim" 3 $?

# Terminated through ldtap: the child gets SIGTERM, ldtap dies of the same signal.
"$ldtap" run --quiet -- sh -c 'echo $$ >child.pid; exec sleep 30' &
ldtap_pid=$!
sleep 0.5
kill -TERM "$ldtap_pid"
wait "$ldtap_pid"
check "SIGTERM: ldtap dies of the child's signal" 143 $?
child=$(cat child.pid 2>/dev/null)
if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    check "child terminated" gone alive
else
    check "child terminated" gone gone
fi

# A child that handles SIGTERM and exits 0: ldtap exits 0 too.
"$ldtap" run --quiet -- sh -c 'trap "exit 0" TERM; sleep 30 & wait' &
ldtap_pid=$!
sleep 0.5
kill -TERM "$ldtap_pid"
wait "$ldtap_pid"
check "SIGTERM handled by the child: its status" 0 $?

# Statically linked programs cannot be preloaded: a warning, then they run untraced.
printf 'int main(void) { return 9; }\n' >static.c
if cc -static -o static-program static.c 2>/dev/null; then
    "$ldtap" run -- ./static-program 2>err.txt
    check "static binary still runs" 9 $?
    contains "static binary warning" err.txt "is statically linked"
else
    echo "skip - static binary (no static libc)"
fi

# A real HTTP server: spans end up in the output file and in the summary.
if command -v python3 >/dev/null && command -v curl >/dev/null; then
    port=18093
    "$ldtap" run --output "$work/traces.jsonl" -- python3 -m http.server "$port" --bind 127.0.0.1 \
        >server.out 2>server.err &
    ldtap_pid=$!
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && break
        sleep 0.25
    done
    curl -s -o /dev/null "http://127.0.0.1:$port/missing"
    kill -INT "$ldtap_pid"
    wait "$ldtap_pid"
    contains "summary names the route" server.err "GET /"
    contains "summary counts written spans" server.err "written to $work/traces.jsonl"
    contains "spans in the OTLP-JSON file" traces.jsonl '"resourceSpans"'
    leftover=$(find "$XDG_RUNTIME_DIR/ldtap" -mindepth 1 2>/dev/null | wc -l)
    check "run directory removed" 0 "$leftover"
else
    echo "skip - HTTP server (needs python3 and curl)"
fi

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
