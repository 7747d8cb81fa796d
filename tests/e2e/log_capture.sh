#!/usr/bin/env bash
# End-to-end checks of the shim's log capture (LDTAP_RECORD_LOG): Python tracebacks on
# stderr attached to the request span (Flask under gunicorn), written piecewise by two
# threads, chained; tracebacks written after the response (the rule for uvicorn);
# LDTAP_CAPTURE_LOGS lines with span ids under concurrent requests; the line rate limit;
# LDTAP_LOG_FILES. Usage: tests/e2e/log_capture.sh [BUILD_DIR] (default build)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SHIM=$BUILD/libldtap.so
WORK=$(mktemp -d /tmp/ldtap-log-capture.XXXXXX)
PORT=$((18000 + ($$ % 400) * 5 + 4000))
PY=/usr/bin/python3
FAILURES=0
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1"; FAILURES=$((FAILURES + 1)); }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }
wait_http() { # url: waits up to 15 s for the server to answer
    for _ in $(seq 150); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
    return 1
}
# Runs a command under the shim with run directory $WORK/$1 (heap sampling off: only log
# records and spans in the ring).
shimmed() { local run=$1; shift; LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$WORK/$run LDTAP_HEAP_SAMPLE_BYTES=0 "$@"; }
dump() { "$WORK/ring_dump" "$WORK/$1"/*.ring 2>&1; }

[ -f "$SHIM" ] || { echo "no $SHIM: build the ldtap_shim target first"; exit 1; }
gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -I"$ROOT/shim/ring" -o "$WORK/ring_dump" \
    "$ROOT/tests/programs_shim/ring_dump.c" "$ROOT/shim/ring/ring_reader.c" ||
    { echo "ring_dump failed to build"; exit 1; }

# ---- Flask under gunicorn: one traceback, on the failing request's span ----
cat >"$WORK/flaskapp.py" <<'APP'
from flask import Flask
app = Flask(__name__)

@app.route("/ok/<n>")
def ok(n):
    return "fine %s\n" % n

@app.route("/boom")
def boom():
    return str(1 / 0)
APP
FPORT=$PORT
(cd "$WORK" && shimmed flask exec /usr/bin/gunicorn -w 2 -b "127.0.0.1:$FPORT" flaskapp:app \
    >"$WORK/flask.log" 2>&1) &
F_PID=$!; PIDS+=($F_PID)
wait_http "http://127.0.0.1:$FPORT/ok/0" || fail "gunicorn did not start"
seq 1 20 | xargs -P 4 -I{} curl -s -o /dev/null "http://127.0.0.1:$FPORT/ok/{}"
curl -s -o /dev/null "http://127.0.0.1:$FPORT/boom"
seq 21 30 | xargs -P 4 -I{} curl -s -o /dev/null "http://127.0.0.1:$FPORT/ok/{}"
sleep 0.3
kill "$F_PID"; wait "$F_PID" 2>/dev/null
flask=$(dump flask)
tracebacks=$(grep 'kind=traceback' <<<"$flask")
check "flask: exactly one traceback record" test "$(grep -c . <<<"$tracebacks")" -eq 1
check "flask: it ends in the exception line, complete" \
    grep -q 'flags=0 .*ZeroDivisionError: division by zero\]$' <<<"$tracebacks"
boom_ids=$(grep 'kind=server' <<<"$flask" | grep 'request=\[GET /boom ' | grep -oP 'trace=\K[0-9a-f]+ id=[0-9a-f]+')
log_ids=$(grep -oP 'kind=traceback .*trace=\K[0-9a-f]+ id=[0-9a-f]+' <<<"$tracebacks")
check "flask: traceback carries the /boom server span's ids ($log_ids)" \
    test -n "$boom_ids" -a "$boom_ids" == "$log_ids"
check "flask: the program's stderr still has the traceback" grep -q 'ZeroDivisionError' "$WORK/flask.log"

# ---- two threads writing tracebacks line by line, interleaved ----
cat >"$WORK/threads.py" <<'PY'
import os, threading
barrier = threading.Barrier(2)
turn = threading.Condition()
state = {"next": 0}
def block(name):
    return ["Traceback (most recent call last):\n",
            '  File "/app/%s.py", line 1, in <module>\n' % name,
            "    run_%s()\n" % name,
            '  File "/app/%s.py", line 9, in run_%s\n' % (name, name),
            "    raise ", "RuntimeError('%s')\n" % name,   # one line in two writes
            "RuntimeError: failed in %s\n" % name]
def worker(index, name):
    pieces = block(name)
    barrier.wait()
    for piece in pieces:
        with turn:
            turn.wait_for(lambda: state["next"] == index)
            os.write(2, piece.encode())
            state["next"] = 1 - index
            turn.notify_all()
    with turn:  # let the other thread finish its pieces
        state["next"] = 1 - index
        turn.notify_all()
threads = [threading.Thread(target=worker, args=(i, n)) for i, n in enumerate(["alpha", "beta"])]
for t in threads: t.start()
for t in threads: t.join()
PY
shimmed threads "$PY" "$WORK/threads.py" 2>"$WORK/threads.err"
threads=$(dump threads | grep 'kind=traceback')
check "threads: two traceback records" test "$(grep -c . <<<"$threads")" -eq 2
for name in alpha beta; do
    expected="text=[Traceback (most recent call last): |   File \"/app/$name.py\", line 1, in <module> |     run_$name() |   File \"/app/$name.py\", line 9, in run_$name |     raise RuntimeError('$name') | RuntimeError: failed in $name]"
    body=${expected#text=[}; body=${body%]}; joined=${body// | /x} # ring_dump shows '\n' as " | "
    check "threads: $name's block is whole and its own, complete" \
        grep -qF -- "flags=0 full_length=${#joined} " <<<"$(grep -F -- "$expected" <<<"$threads")"
done
check "threads: the two records come from two threads" \
    test "$(grep -oP 'tid=\K[0-9]+' <<<"$threads" | sort -u | wc -l)" -eq 2

# ---- chained exceptions: two records, the second flagged chained ----
cat >"$WORK/chained.py" <<'PY'
def parse(text):
    return int(text)
try:
    parse("x")
except ValueError as error:
    raise KeyError("config") from error
PY
shimmed chained "$PY" "$WORK/chained.py" 2>"$WORK/chained.err"
chained=$(dump chained | grep 'kind=traceback')
check "chained: two traceback records" test "$(grep -c . <<<"$chained")" -eq 2
check "chained: first is the cause, not chained" \
    grep -q "flags=0 .*invalid literal for int() with base 10: 'x'\]$" <<<"$(head -1 <<<"$chained")"
check "chained: second is flagged chained, starts with the marker, ends with KeyError" \
    grep -q "flags=4 .*text=\[The above exception was the direct cause of the following exception: |  | Traceback (most recent call last): .*KeyError: 'config'\]$" <<<"$(tail -1 <<<"$chained")"
check "chained: the program's exit status and stderr are unchanged" \
    test "$(tail -1 "$WORK/chained.err")" == "KeyError: 'config'"

# ---- exception groups: Python's own printing at exit (one write a line) ----
shimmed group "$PY" -c 'raise ExceptionGroup("two", [ValueError("v"), TypeError("t")])' 2>"$WORK/group.err"
group=$(dump group | grep 'kind=traceback')
check "group: one traceback record" test "$(grep -c . <<<"$group")" -eq 1
check "group: from its header to its closing line, complete" \
    grep -q 'flags=0 .*text=\[  + Exception Group Traceback (most recent call last): .*  | ExceptionGroup: two (2 sub-exceptions) .*TypeError: t |     +------------------------------------\]$' <<<"$group"
# The last sub-exception a group: no top-level closing line; the writer's end ends it, whole.
shimmed nested "$PY" -c 'raise ExceptionGroup("outer", [ValueError("v"), ExceptionGroup("inner", [KeyError("k")])])' \
    2>"$WORK/nested.err"
nested=$(dump nested | grep 'kind=traceback')
check "group: nested last, one complete record ending in the inner group's close" \
    test "$(grep -c 'flags=0 .*ExceptionGroup: outer (2 sub-exceptions) .*KeyError: .k. |       +-*\]$' <<<"$nested")" -eq 1 \
    -a "$(grep -c . <<<"$nested")" -eq 1

# ---- a traceback written after the response (uvicorn's way): the rule of shim/log.c ----
# An asyncio server answers, then writes a traceback to stderr. Tied to the request just
# answered only when it failed (5xx), was alone on the event loop, nothing moved on a
# tracked socket in between, and it comes soon; otherwise no ids (flagged when ambiguous).
cat >"$WORK/after.py" <<'PY'
import asyncio, os, socket, sys, threading
def traceback(name, chained=False):
    block = ("Traceback (most recent call last):\n  File \"/app/%s.py\", line 1, in view\n"
             "RuntimeError: %s\n" % (name, name))
    if chained:
        block = ("Traceback (most recent call last):\n  File \"/app/cause.py\", line 1, in view\n"
                 "KeyError: 'cause of %s'\n\nThe above exception was the direct cause of the following "
                 "exception:\n\n" % name) + block
    os.write(2, block.encode())
# A plain TCP peer for "fail-io": bytes on a tracked socket between the answer and the report.
peer = socket.create_server(("127.0.0.1", 0))
threading.Thread(target=lambda: [peer.accept()[0].recv(100) for _ in iter(int, 1)], daemon=True).start()
held = []
class Server(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.data = transport, b""
    def data_received(self, data):
        self.data += data
        if b"\r\n\r\n" not in self.data:
            return
        name = self.data.split(b" ")[1].decode().strip("/")
        if name == "hold":  # answered when fail-interleaved comes
            held.append(self)
            return
        self.answer("500 Internal Server Error" if name.startswith("fail") else "200 OK")
        if name == "fail-late":
            asyncio.get_running_loop().call_later(0.7, traceback, name)
            return
        if name == "fail-io":
            with socket.create_connection(peer.getsockname()) as other:
                other.sendall(b"PING\r\n")
        traceback(name, chained=name == "fail-chained")
        for other in held:
            other.answer("200 OK")
    def answer(self, status):
        self.transport.write(("HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % status).encode())
        self.transport.close()
async def main():
    server = await asyncio.get_running_loop().create_server(Server, "127.0.0.1", int(sys.argv[1]))
    print("listening", flush=True)
    await server.serve_forever()
asyncio.run(main())
PY
APORT=$((PORT + 2))
shimmed after exec "$PY" "$WORK/after.py" "$APORT" >"$WORK/after.out" 2>"$WORK/after.err" & # exec: $! is python
A_PID=$!; PIDS+=($A_PID)
for _ in $(seq 100); do grep -q listening "$WORK/after.out" 2>/dev/null && break; sleep 0.05; done
for name in fail ok fail-io fail-chained; do
    curl -s -m 5 -o /dev/null "http://127.0.0.1:$APORT/$name"
done
curl -s -m 5 -o /dev/null "http://127.0.0.1:$APORT/hold" &
HOLD_PID=$!
sleep 0.3
curl -s -m 5 -o /dev/null "http://127.0.0.1:$APORT/fail-interleaved"
wait "$HOLD_PID"
curl -s -m 5 -o /dev/null "http://127.0.0.1:$APORT/fail-late"
sleep 1
kill "$A_PID"; wait "$A_PID" 2>/dev/null
after=$(dump after)
ids_of_span() { grep 'kind=server' <<<"$after" | grep -F "request=[GET /$1 HTTP" | grep -oP 'trace=\K[0-9a-f]+ id=[0-9a-f]+'; }
traceback_of() { grep 'kind=traceback' <<<"$after" | grep -F "RuntimeError: $1]"; }
ids_of() { grep -oP 'trace=\K[0-9a-f]+ id=[0-9a-f]+' <<<"$1"; }
NO_IDS="00000000000000000000000000000000 id=0000000000000000"
fail_ids=$(ids_of_span fail)
check "after response: a 500's traceback carries its span's ids ($fail_ids)" \
    test -n "$fail_ids" -a "$(ids_of "$(traceback_of fail)")" == "$fail_ids"
check "after response: after a 200, no ids" test "$(ids_of "$(traceback_of ok)")" == "$NO_IDS"
check "after response: tracked bytes in between, no ids" test "$(ids_of "$(traceback_of fail-io)")" == "$NO_IDS"
check "after response: 0.7 s later, no ids" test "$(ids_of "$(traceback_of fail-late)")" == "$NO_IDS"
check "after response: another request in flight, no ids, flagged unparented (8)" \
    grep -q "flags=8 .*trace=$NO_IDS " <<<"$(traceback_of fail-interleaved)"
chained_ids=$(ids_of_span fail-chained)
chained_parts=$(grep 'kind=traceback' <<<"$after" | grep "cause of fail-chained\|RuntimeError: fail-chained\]")
check "after response: both parts of a chain carry the span's ids ($chained_ids)" \
    test -n "$chained_ids" -a "$(grep -c . <<<"$chained_parts")" -eq 2 -a "$(ids_of "$chained_parts" | sort -u)" == "$chained_ids"
check "after response: the hold request was answered 200" grep -qF 'request=[GET /hold HTTP' <<<"$after"

# ---- LDTAP_CAPTURE_LOGS: a log line per request carries that request's span ----
cat >"$WORK/logserver.py" <<'PY'
import logging, sys, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
log = logging.getLogger("app")
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.02)  # overlap the requests
        log.info("handling %s", self.path)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
print("listening", flush=True)
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
LPORT=$((PORT + 1))
LDTAP_CAPTURE_LOGS=stdout,stderr shimmed lines exec "$PY" "$WORK/logserver.py" "$LPORT" >"$WORK/lines.out" \
    2>"$WORK/lines.err" &
L_PID=$!; PIDS+=($L_PID)
wait_http "http://127.0.0.1:$LPORT/warmup" || fail "logging server did not start"
seq 1 40 | xargs -P 8 -I{} curl -s -o /dev/null "http://127.0.0.1:$LPORT/req{}"
sleep 0.3
kill "$L_PID"; wait "$L_PID" 2>/dev/null
lines=$(dump lines)
mismatched=0; matched=0
for n in $(seq 1 40); do
    span=$(grep 'kind=server' <<<"$lines" | grep -F "request=[GET /req$n HTTP" | grep -oP 'trace=\K[0-9a-f]+ id=[0-9a-f]+')
    line=$(grep 'kind=line' <<<"$lines" | grep -F "text=[INFO handling /req$n]" | grep -oP 'trace=\K[0-9a-f]+ id=[0-9a-f]+')
    if [ -n "$span" ] && [ "$span" == "$line" ]; then matched=$((matched + 1)); else mismatched=$((mismatched + 1)); fi
done
check "capture: 40 log lines carry their request's span ids ($matched matched)" test "$matched" -eq 40
check "capture: stdout line recorded on stream 1" grep -q 'log stream=1 kind=line .*text=\[listening\]' <<<"$lines"

# ---- the line rate limit: 50,000 lines; output unchanged; not slowed badly ----
cat >"$WORK/flood.py" <<'PY'
import sys
for i in range(50000):
    sys.stdout.write("line %d of the flood\n" % i)
    sys.stdout.flush()
PY
start=$(date +%s%N)
"$PY" "$WORK/flood.py" >"$WORK/flood.plain"
plain_ms=$((($(date +%s%N) - start) / 1000000))
start=$(date +%s%N)
LDTAP_CAPTURE_LOGS=stdout shimmed flood "$PY" "$WORK/flood.py" >"$WORK/flood.shim"
shim_ms=$((($(date +%s%N) - start) / 1000000))
flood=$(dump flood)
records=$(grep -c 'kind=line' <<<"$flood")
dropped=$(grep -oP 'dropped_log_lines=\K[0-9]+' <<<"$flood")
allowed=$((200 + shim_ms + 50)) # burst, 1000/s over the run, clock slack
check "rate limit: $records records <= $allowed" test "$records" -le "$allowed"
check "rate limit: records + dropped = 50000 ($records + $dropped)" test $((records + ${dropped:-0})) -eq 50000
check "rate limit: output byte-identical" cmp -s "$WORK/flood.plain" "$WORK/flood.shim"
check "rate limit: runtime $shim_ms ms vs $plain_ms ms plain (< 3x + 300 ms)" \
    test "$shim_ms" -lt $((plain_ms * 3 + 300))

# ---- LDTAP_LOG_FILES: a file the app opens with open(..., 'a') ----
LOGFILE=$WORK/app.log
cat >"$WORK/filelog.py" <<'PY'
import sys
with open(sys.argv[1], "a") as out:
    out.write("first line\n")
    out.flush()
    out.write("second ")
    out.flush()
    out.write("line\nTraceback (most recent call last):\n  File \"f.py\", line 3, in g\nOSError: disk\n")
with open(sys.argv[1] + ".other", "a") as other:
    other.write("not captured\n")
PY
LDTAP_LOG_FILES="relative.log,$LOGFILE" shimmed files "$PY" "$WORK/filelog.py" "$LOGFILE"
files=$(dump files)
check "log file: both lines recorded with the path" \
    test "$(grep -c "log stream=3 kind=line .*path=\[$LOGFILE\] text=\[\(first line\|second line\)\]" <<<"$files")" -eq 2
check "log file: its traceback recorded" grep -q "log stream=3 kind=traceback .*OSError: disk\]" <<<"$files"
check "log file: other files not captured" bash -c '! grep -q "not captured" <<<"$1"' _ "$files"
check "log file: the file's bytes are as written" \
    test "$(cat "$LOGFILE")" == "$(printf 'first line\nsecond line\nTraceback (most recent call last):\n  File "f.py", line 3, in g\nOSError: disk')"

# ---- without capture, plain stderr lines make no records (and no ring) ----
shimmed quiet "$PY" -c 'import sys; sys.stderr.write("just a warning\n")' 2>/dev/null
check "no capture: no ring for a process without tracebacks" test -z "$(ls "$WORK/quiet" 2>/dev/null)"

[ "$FAILURES" -eq 0 ] && echo "all log capture checks passed" || echo "$FAILURES check(s) failed"
exit $((FAILURES > 0))
