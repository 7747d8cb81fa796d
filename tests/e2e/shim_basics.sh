#!/usr/bin/env bash
# End-to-end checks of libldtap.so with real programs: exports, pass-through behaviour,
# server and client HTTP spans (python http.server, gunicorn -w 2, curl), the C edge-case
# program tests/programs_shim/http_pair.c, disabled modes, setuid, and the hot-path cost.
# Usage: tests/e2e/shim_basics.sh [BUILD_DIR]   (default build-shim; built if missing)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build-shim}
SHIM=$BUILD/libldtap.so
WORK=$(mktemp -d /tmp/ldtap-shim-basics.XXXXXX)
PORT=$((18000 + ($$ % 400) * 5))
FAILURES=0
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1"; FAILURES=$((FAILURES + 1)); }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }

wait_http() { # url: waits up to 15 s for the server to answer
    for _ in $(seq 150); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
    return 1
}

dump() { "$WORK/ring_dump" "$@"; } # consumes what it prints

# ---- build ----
if [ ! -f "$SHIM" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DLDTAP_TESTS=OFF >/dev/null &&
        cmake --build "$BUILD" --target ldtap_shim -j2 >/dev/null || { echo "build failed"; exit 1; }
fi
CFLAGS="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2"
gcc $CFLAGS -I"$ROOT/shim/ring" -o "$WORK/ring_dump" "$ROOT/tests/programs_shim/ring_dump.c" \
    "$ROOT/shim/ring/ring_reader.c" &&
    gcc $CFLAGS -o "$WORK/http_pair" "$ROOT/tests/programs_shim/http_pair.c" &&
    gcc $CFLAGS -o "$WORK/untracked_loop" "$ROOT/tests/programs_shim/untracked_loop.c" ||
    { echo "test programs failed to build"; exit 1; }

# ---- exports: nm == version script == hook list ----
exported=$(nm -D --defined-only "$SHIM" | awk '{print $3}' | sort)
# hook_list.h's socket and I/O lists, and db_list.h's *_HOOKS lists (its helpers are not exported)
listed=$( (sed -n '/^#define LDTAP_SOCKET_HOOKS/,/^#define LDTAP_HOOKS/p' "$ROOT/shim/hooks/hook_list.h"
    awk '/^#define LDTAP_[A-Z]+_HOOKS\(X\)/ { on = 1 } on { print } on && !/\\$/ { on = 0 }' \
        "$ROOT/shim/hooks/db_list.h" "$ROOT/shim/hooks/malloc_list.h") | grep -oP '^\s*X\([^,]+,\s*\K[A-Za-z_0-9]+' | sort)
mapped=$(sed -n '/global:/,/local:/p' "$ROOT/shim/libldtap.map" | grep -v -e global: -e local: |
    tr ';' '\n' | tr -d ' ' | grep . | sort)
check "exports are exactly the hooks (nm -D)" test "$exported" == "$listed"
check "version script lists exactly the hooks" test "$mapped" == "$listed"

# ---- ordinary programs behave exactly as without the shim ----
same_output() { # command...: stdout, stderr and exit status identical with the shim
    local plain preloaded
    plain=$("$@" 2>&1; echo "status=$?")
    # heap sampling off: a sample would give the process a ring of its own
    preloaded=$(LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$WORK/quiet LDTAP_HEAP_SAMPLE_BYTES=0 "$@" 2>&1; echo "status=$?")
    test "$plain" == "$preloaded"
}
check "bash unchanged" same_output bash -c 'echo hi; ls / >/dev/null; exit 3'
check "ls unchanged" same_output ls -la "$ROOT/shim"
check "git --version unchanged" same_output git --version
check "python3 with subprocess unchanged" same_output python3 -c \
    'import subprocess, socket; print(subprocess.run(["echo", "x"], capture_output=True).stdout); a, b = socket.socketpair(); a.send(b"hi"); print(b.recv(2))'
check "no ring without HTTP traffic" test ! -e "$WORK/quiet"

# ---- python http.server as a traced server, curl as a traced client ----
mkdir -p "$WORK/site" && head -c 200000 /dev/urandom > "$WORK/site/blob.bin" && echo hello > "$WORK/site/a.txt"
(cd "$WORK/site" && LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$WORK/py exec python3 -m http.server "$PORT" --bind 127.0.0.1 \
    >"$WORK/py.log" 2>&1) &
PY_PID=$!; PIDS+=($PY_PID)
wait_http "http://127.0.0.1:$PORT/a.txt" || fail "http.server did not start"
curl -s "http://127.0.0.1:$PORT/blob.bin?token=secret" -o "$WORK/blob.with"
check "response bytes identical through the traced server" cmp -s "$WORK/blob.with" "$WORK/site/blob.bin"
curl -s -H 'traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' \
    "http://127.0.0.1:$PORT/missing" -o /dev/null
LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$WORK/curl OTEL_SERVICE_NAME=probe curl -s "http://127.0.0.1:$PORT/a.txt" >"$WORK/a.with"
check "curl output identical under the shim" cmp -s "$WORK/a.with" "$WORK/site/a.txt"
sleep 0.3
py=$(dump "$WORK"/py/*.ring)
echo "$py" | sed 's/^/     /'
check "server span for GET /blob.bin, 200, body size, no query string" \
    grep -q 'kind=server.*status=200.*resp_body=200000.*request=\[GET /blob.bin HTTP/1.1 |' <<<"$py"
check "traceparent continued (trace id, parent, REMOTE_PARENT|SAMPLED)" \
    grep -q 'kind=server trace=0af7651916cd43dd8448eb211c80319c .*parent=b7ad6b7169203331 flags=49 status=404' <<<"$py"
check "server counters clean" grep -q 'shim_errors=0 .*abandoned=0 in_flight=0' <<<"$py"
check "query string never leaves the process" bash -c "! grep -q secret <<<'$py'"
client=$(dump "$WORK"/curl/*.ring)
check "curl client span with service name" \
    bash -c "grep -q 'service=probe' <<<'$client' && grep -q 'kind=client.*status=200.*request=\[GET /a.txt' <<<'$client'"

# ---- gunicorn -w 2: each worker its own ring; outbound call is a child span ----
cat >"$WORK/app.py" <<APP
import urllib.request
def application(environ, start_response):
    body = b"hello\n"
    if environ.get("PATH_INFO") == "/out":
        body = urllib.request.urlopen("http://127.0.0.1:$PORT/a.txt").read()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
APP
GPORT=$((PORT + 1))
(cd "$WORK" && LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$WORK/gun LDTAP_HEAP_SAMPLE_BYTES=0 exec /usr/bin/gunicorn -w 2 -b "127.0.0.1:$GPORT" app:application \
    >"$WORK/gunicorn.log" 2>&1) &
G_PID=$!; PIDS+=($G_PID)
wait_http "http://127.0.0.1:$GPORT/" || fail "gunicorn did not start"
seq 1 40 | xargs -P 8 -I{} curl -s -o /dev/null "http://127.0.0.1:$GPORT/r{}"
curl -s -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' "http://127.0.0.1:$GPORT/out" >/dev/null
sleep 0.3
kill "$G_PID"; wait "$G_PID" 2>/dev/null
rings=$(ls "$WORK"/gun/*.ring 2>/dev/null | wc -l)
check "gunicorn: one ring per worker (found $rings)" test "$rings" -eq 2
gun=$(dump "$WORK"/gun/*.ring)
check "gunicorn: 41 server spans" test "$(grep -c 'kind=server' <<<"$gun")" -ge 41
server_id=$(grep 'kind=server trace=4bf92f3577b34da6a3ce929d0e0e4736' <<<"$gun" | grep -oP ' id=\K[0-9a-f]+')
check "gunicorn: outbound call is a child of the server span" \
    grep -q "kind=client trace=4bf92f3577b34da6a3ce929d0e0e4736 id=[0-9a-f]* parent=${server_id:-none} " <<<"$gun"
check "gunicorn: pids differ per ring" test "$(grep -c '^ring pid=' <<<"$gun")" -eq 2

# ---- asyncio: two requests in flight on one thread: client spans left unparented ----
cat >"$WORK/async_server.py" <<'APP'
import asyncio, sys
port, upstream = int(sys.argv[1]), int(sys.argv[2])
arrived = 0
both_in_flight = None
async def handle(reader, writer):
    global arrived
    await reader.readuntil(b"\r\n\r\n")
    # Wait until both requests are in flight on this one thread, however late the second
    # client starts on a loaded machine; only then call upstream.
    arrived += 1
    if arrived == 2:
        both_in_flight.set()
    await asyncio.wait_for(both_in_flight.wait(), 30)
    r, w = await asyncio.open_connection("127.0.0.1", upstream)
    w.write(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    await w.drain(); await r.read(); w.close()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    await writer.drain(); writer.close()
async def main():
    global both_in_flight
    both_in_flight = asyncio.Event()
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server: await server.serve_forever()
asyncio.run(main())
APP
APORT=$((PORT + 4))
(LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$WORK/async LDTAP_HEAP_SAMPLE_BYTES=0 exec python3 "$WORK/async_server.py" "$APORT" "$PORT" >"$WORK/async.log" 2>&1) &
A_PID=$!; PIDS+=($A_PID)
for _ in $(seq 150); do (exec 3<>/dev/tcp/127.0.0.1/$APORT) 2>/dev/null && break; sleep 0.1; done
curl -s -o /dev/null "http://127.0.0.1:$APORT/1" & curl -s -o /dev/null "http://127.0.0.1:$APORT/2"; wait $!
sleep 0.3
async=$(dump "$WORK"/async/*.ring)
check "asyncio: 2 client spans flagged UNPARENTED_ASYNC and counted" \
    bash -c "test \$(grep -c 'kind=client.*parent=0000000000000000 flags=2 ' <<<'$async') -eq 2 && grep -q 'unparented_async=2 ' <<<'$async'"

# ---- edge cases in one C program ----
(cd "$WORK" && LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$WORK/pair ./http_pair $((PORT + 2)))
check "http_pair checks pass under the shim (errno, partial I/O, sendfile, fork)" test $? -eq 0
pair=$(dump "$WORK"/pair/*.ring)
echo "$pair" | sed 's/^/     /'
count() { grep -c "$1" <<<"$pair"; }
check "pipelined requests: 2 server + 2 client spans" \
    test "$(count 'request=\[GET /one')" -eq 2 -a "$(count 'request=\[GET /two')" -eq 2
check "Authorization never copied" test "$(grep -ci authorization <<<"$pair")" -eq 0
check "sendfile body framed" test "$(count 'status=200.*resp_body=10 .*GET /file')" -eq 2
check "100 Continue is not the final response" test "$(count 'status=201.*req_body=3 ')" -eq 2
check "dup'd server connection no longer traced" \
    test "$(count 'kind=server.*GET /dup')" -eq 0 -a "$(count 'kind=client.*GET /dup')" -eq 1
check "close_range: unanswered requests flagged NO_RESPONSE" test "$(count 'flags=8 status=0 .*GET /unanswered')" -eq 2
check "non-HTTP connection abandoned and counted" grep -q 'abandoned=2 in_flight=0' <<<"$pair"
check "forked child writes its own ring" test "$(grep -c '^ring pid=' <<<"$pair")" -eq 2 -a "$(count 'GET /child')" -eq 2

# ---- inert modes ----
inert() { # env assignments...: the program runs, no ring appears
    rm -rf "$WORK/inert"
    (cd "$WORK" && env "$@" LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$WORK/inert ./http_pair $((PORT + 3))) && test ! -e "$WORK/inert"
}
check "LDTAP_DISABLE=1 is inert" inert LDTAP_DISABLE=1
check "OTEL_SDK_DISABLED=true is inert" inert OTEL_SDK_DISABLED=true
check "invalid LDTAP_RING_SIZE is inert" inert LDTAP_RING_SIZE=12345
if id nobody >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    cp /usr/bin/curl "$WORK/curl-setuid" && chown nobody "$WORK/curl-setuid" && chmod 4755 "$WORK/curl-setuid"
    chmod 755 "$WORK"
    LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$WORK/setuid "$WORK/curl-setuid" -s -o /dev/null "http://127.0.0.1:$PORT/a.txt"
    check "setuid program works and stays inert" test $? -eq 0 -a ! -e "$WORK/setuid"
fi

# ---- hot path cost: instructions added per call on an untracked fd ----
if command -v valgrind >/dev/null; then
    instructions() { # preload iterations
        LD_PRELOAD=$1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$WORK/untracked_loop" "$2" 2>&1 |
            grep -oP 'Collected : \K[0-9]+'
    }
    N=20000
    bare=$(( ($(instructions "" $((2 * N))) - $(instructions "" $N)) / N ))
    shim=$(( ($(instructions "$SHIM" $((2 * N))) - $(instructions "$SHIM" $N)) / N ))
    added=$(( (shim - bare) / 2 ))
    echo "     send+recv per iteration: $bare instructions bare, $shim with the shim: $added added per call"
    check "hot path adds <= 15 instructions per call" test "$added" -le 15
fi

echo "$FAILURES failure(s)"
exit $((FAILURES != 0))
