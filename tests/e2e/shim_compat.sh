#!/usr/bin/env bash
# Proves libldtap.so harmless on real programs: the same CPython regression tests pass with
# and without it, nginx and a threaded Python server serve identical bytes and trace one
# span per request, ASan-instrumented programs run clean, and daemonizing, close-all,
# vfork/posix_spawn, EINTR, exec loops and fork-beside-threads behave as without the shim.
# Usage: tests/e2e/shim_compat.sh [BUILD_DIR]   (default build; the shim is built if missing)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
SHIM=$BUILD/libldtap.so
PY=/usr/bin/python3 # Debian's: its libpython3.11-testsuite matches it (not a pyenv one on PATH)
WORK=$(mktemp -d /tmp/ldtap-shim-compat.XXXXXX)
PORT=$((18000 + ($$ % 300) * 10))
FAILURES=0
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1"; FAILURES=$((FAILURES + 1)); }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }

wait_http() { # url: waits up to 15 s for a server to answer
    for _ in $(seq 150); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
    return 1
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# ---- build: the shim, the ring dumper, the process-level test program ----
if [ ! -f "$SHIM" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DLDTAP_TESTS=OFF >/dev/null
    cmake --build "$BUILD" --target ldtap_shim -j2 >/dev/null
fi
CFLAGS="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2"
gcc $CFLAGS -I"$ROOT/shim/ring" -o "$WORK/ring_dump" "$ROOT/tests/programs_shim/ring_dump.c" \
    "$ROOT/shim/ring/ring_reader.c"
gcc $CFLAGS -pthread -o "$WORK/games" "$ROOT/tests/programs_shim/process_games.c"
spans() { "$WORK/ring_dump" "$@" | grep '^span' || true; } # ring files: their span lines (consumed)

# ==== 1. CPython's regression tests, without and with the shim ====
# Outcomes per test id ("pass" covers ok, skipped and expected failures) from a -v log.
cat >"$WORK/outcomes.py" <<'PARSER'
import re, sys
verdicts = {"ok": "pass", "skipped": "pass", "expected": "pass",
            "FAIL": "fail", "ERROR": "fail", "unexpected": "fail"}
outcomes, current = {}, None
for line in open(sys.argv[1], errors="replace"):
    started = re.match(r"^(\w+) \(([\w.]+)\)", line)
    if started:
        current = started.group(2) + "." + started.group(1)
    if current is None:
        continue
    words = line.split(" ... ", 1)[1].split() if " ... " in line else line.split()
    if words and words[0] in verdicts:  # output printed by a test may come first
        outcomes[current] = verdicts[words[0]]
        current = None
for test_id in sorted(outcomes):
    print(test_id, outcomes[test_id])
PARSER

# LDTAP_COMPAT_FULL=1 (scripts/soak.sh): every module the issue names, whole, not CI's subset.
PY_TIMEOUT=300
[ "${LDTAP_COMPAT_FULL:-0}" = 1 ] && PY_TIMEOUT=3600

python_tests() { # label regrtest-arguments...: same pass/fail set both ways
    local label=$1; shift
    local plain=$WORK/py-$label-plain shimmed=$WORK/py-$label-shim
    (cd "$WORK" && timeout "$PY_TIMEOUT" env -u PYTHONPATH -u PYTHONHOME "$PY" -m test -v "$@" >"$plain.log" 2>&1) || true
    (cd "$WORK" && timeout "$PY_TIMEOUT" env -u PYTHONPATH -u PYTHONHOME LDTAP_RUN_DIR="$WORK/rings-py-$label" \
        LD_PRELOAD="$SHIM" "$PY" -m test -v "$@" >"$shimmed.log" 2>&1) || true
    "$PY" "$WORK/outcomes.py" "$plain.log" >"$plain.txt"
    "$PY" "$WORK/outcomes.py" "$shimmed.log" >"$shimmed.txt"
    local known
    for known in ${KNOWN_SHIM_FAILURES:-}; do
        # A documented difference (see the README's limits): it must still be there, exactly
        # as documented, and is then compared as if it had passed.
        check "python $label: known difference $known passes without the shim" \
            grep -qx "$known pass" "$plain.txt"
        grep -qx "$known fail" "$shimmed.txt" && sed -i "s|^$known fail\$|$known pass|" "$shimmed.txt"
    done
    local total passed failed
    total=$(wc -l <"$plain.txt"); passed=$(grep -c ' pass$' "$plain.txt" || true)
    failed=$(grep -c ' fail$' "$shimmed.txt" || true)
    echo "     $label: $total tests, $passed pass without the shim, $failed fail with it"
    check "python $label: same pass/fail set with and without the shim" \
        diff <(sed 's/^/    /' "$plain.txt") <(sed 's/^/    /' "$shimmed.txt")
    check "python $label: tests ran ($total)" test "$total" -gt 0
}

if [ ! -d /usr/lib/python3.11/test/test_asyncio ]; then
    apt-get install -y libpython3.11-testsuite >/dev/null 2>&1 || echo "     (libpython3.11-testsuite not installable)"
fi
if [ -d /usr/lib/python3.11/test/test_asyncio ]; then
    python_tests net test_selectors test_select test_httpservers test_urllib2_localnet test_wsgiref \
        test_threading test_os test_asyncio.test_streams test_asyncio.test_sock_lowlevel
    # test_socketserver asks for the "network" resource but only ever uses 127.0.0.1.
    python_tests socketserver -u network test_socketserver
    # This test lists every descriptor its child holds: under the shim that includes the two
    # close-on-exec descriptors of libunwind's memory-check pipe, parked at the top of the
    # descriptor range (shim/hooks/pipe.c). Documented in the README.
    KNOWN_SHIM_FAILURES="test.test_subprocess.POSIXProcessTestCase.test_pass_fds_redirected.test_pass_fds_redirected" \
        python_tests subprocess test_subprocess
    # SiginterruptTest alone takes 35 s of waiting on pipes the shim never tracks.
    python_tests signal test_signal -i SiginterruptTest
    python_tests socket test_socket -m GeneralModuleTests -m BasicTCPTest -m TCPCloserTest \
        -m BasicSocketPairTest -m NonBlockingTCPTests -m FileObjectClassTestCase \
        -m UnbufferedFileObjectClassTestCase -m NetworkConnectionNoServer -m InterruptedRecvTimeoutTest \
        -m InterruptedSendTimeoutTest -m SendfileUsingSendfileTest -m SendfileUsingSendTest \
        -m RecvmsgTCPTest -m SendmsgTCPTest -m RecvmsgIntoTCPTest -m ContextManagersTest -m InheritanceTest
    # TLS over sockets the shim watches (its certificates and servers are all local).
    python_tests ssl -u network test_ssl
    if [ "${LDTAP_COMPAT_FULL:-0}" = 1 ]; then
        # VSOCK tests wait forever on a VM whose vsock device never answers (Firecracker):
        # the plain run hung there too.
        python_tests full-socket -u network --ignore '*VSOCK*' test_socket
        python_tests full-asyncio -u network test_asyncio
        python_tests full-signal test_signal
    fi
else
    fail "CPython test suite missing (apt-get install libpython3.11-testsuite)"
fi

# ==== 2. nginx: sendfile, keep-alive, Range; identical bytes, one span per request ====
nginx_run() { # name port run_dir(empty: no shim): starts nginx as our child, sets NGINX_PID
    local dir=$WORK/nginx-$1
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<CONF
daemon off; master_process on; worker_processes 2; pid $dir/nginx.pid; error_log $dir/error.log;
events {}
http { access_log off; sendfile on; keepalive_requests 1000;
       server { listen 127.0.0.1:$2; root $WORK/www; } }
CONF
    if [ -n "$3" ]; then
        LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$3 /usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" >"$dir/out.log" 2>&1 &
    else
        /usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" >"$dir/out.log" 2>&1 &
    fi
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
}
nginx_fetch() { # port out_dir: every kind of request, one output file each
    local base=http://127.0.0.1:$1 out=$2
    mkdir -p "$out"
    for f in empty small medium large; do curl -sf "$base/$f" -o "$out/$f"; done
    curl -sf "$base/large" "$base/small" "$base/empty" "$base/medium" -o "$out/ka1" -o "$out/ka2" \
        -o "$out/ka3" -o "$out/ka4"
    curl -sf -r 1000-199999 "$base/medium" -o "$out/range1"
    curl -sf -r 4000000- "$base/large" -o "$out/range2"
    curl -sf -r -50 "$base/small" -o "$out/range3"
    curl -sfI "$base/large" -o "$out/head"
}
NGINX_REQUESTS=13 # nginx_fetch's requests and the GET /small that waited for the start
if [ -x /usr/sbin/nginx ]; then
    mkdir -p "$WORK/www" "$WORK/nginx-runs"
    : >"$WORK/www/empty"
    head -c 100 /dev/urandom >"$WORK/www/small"
    head -c 200000 /dev/urandom >"$WORK/www/medium"
    head -c 5000000 /dev/urandom >"$WORK/www/large"
    # nginx workers drop to an unprivileged user when started as root: let them read the
    # files, and give them a shared ring directory (root-owned, 01733, as `ldtap run` makes
    # it as root) where they create their own uid-<euid> subdirectory.
    chmod 755 "$WORK" "$WORK/www" && chmod 644 "$WORK"/www/* && chmod 1777 "$WORK/nginx-runs"
    [ "$(id -u)" = 0 ] && install -d -m 1733 "$WORK/nginx-runs/rings"
    nginx_run plain $((PORT + 1)) ""
    check "nginx (plain) starts" wait_http "http://127.0.0.1:$((PORT + 1))/small"
    nginx_fetch $((PORT + 1)) "$WORK/nginx-plain-out"
    stop "$NGINX_PID"
    nginx_run traced $((PORT + 2)) "$WORK/nginx-runs/rings"
    check "nginx (traced) starts" wait_http "http://127.0.0.1:$((PORT + 2))/small"
    nginx_fetch $((PORT + 2)) "$WORK/nginx-traced-out"
    sleep 0.3
    stop "$NGINX_PID"
    identical=true
    for f in "$WORK"/nginx-plain-out/*; do
        name=$(basename "$f")
        [ "$name" = head ] && continue # its Date header differs
        if [ "$(sha256sum <"$f")" != "$(sha256sum <"$WORK/nginx-traced-out/$name")" ]; then
            echo "     $name differs"; identical=false
        fi
    done
    check "nginx: every body byte-identical to an untraced nginx (sha256)" $identical
    check "nginx: HEAD answers the same headers" \
        diff <(grep -v '^Date:' "$WORK/nginx-plain-out/head") <(grep -v '^Date:' "$WORK/nginx-traced-out/head")
    nginx_rings=$(find "$WORK/nginx-runs/rings" -name '*.ring')
    if [ "$(id -u)" = 0 ]; then
        check "nginx: the workers (not root) wrote their rings in their own subdirectory" \
            test "$(find "$WORK/nginx-runs/rings" -mindepth 2 -name '*.ring' ! -user root | wc -l)" -ge 1
    fi
    # shellcheck disable=SC2086 # one ring path per word
    nginx_spans=$(spans $nginx_rings)
    check "nginx: one span per request ($(grep -c . <<<"$nginx_spans" || true) of $NGINX_REQUESTS)" \
        test "$(grep -c 'kind=server' <<<"$nginx_spans" || true)" -eq $NGINX_REQUESTS
    body_spans() { grep -c "status=$1 .*resp_body=$2 .*request=\[$3 /$4 " <<<"$nginx_spans" || true; }
    check "nginx: response body sizes equal the file sizes" \
        test "$(body_spans 200 0 GET empty)" -eq 2 -a "$(body_spans 200 100 GET small)" -eq 3 \
        -a "$(body_spans 200 200000 GET medium)" -eq 2 -a "$(body_spans 200 5000000 GET large)" -eq 2
    check "nginx: Range responses framed (206, partial sizes), HEAD has no body" \
        test "$(body_spans 206 199000 GET medium)" -eq 1 -a "$(body_spans 206 1000000 GET large)" -eq 1 \
        -a "$(body_spans 206 50 GET small)" -eq 1 -a "$(body_spans 200 0 HEAD large)" -eq 1
    check "nginx: keep-alive connection traced throughout (4 spans, one peer port)" \
        test "$(grep -oP 'peer_port=\K[0-9]+' <<<"$nginx_spans" | sort | uniq -c | grep -c '^ *4 ')" -eq 1
    check "nginx: no errors logged" bash -c "! grep -qE '\[(alert|crit|emerg)\]' $WORK/nginx-traced/error.log"
else
    fail "nginx missing (apt-get install nginx-light)"
fi

# ==== 3. ThreadingHTTPServer under 8 concurrent curl loops ====
mkdir -p "$WORK/site"
for i in $(seq 0 9); do head -c $((i * 7919 + 1)) /dev/urandom >"$WORK/site/f$i"; done
(cd "$WORK/site" && LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$WORK/rings-threaded exec "$PY" -m http.server \
    "$((PORT + 3))" --bind 127.0.0.1 >"$WORK/threaded.log" 2>&1) &
THREADED_PID=$!; PIDS+=("$THREADED_PID")
check "threaded server starts" wait_http "http://127.0.0.1:$((PORT + 3))/f0"
JOBS=80; PER_JOB=25 # 2,000 requests
fetch_job() { # job number: PER_JOB requests in one curl, bodies concatenated in order
    local args=() expected=() k file
    for k in $(seq "$PER_JOB"); do
        file=f$(((k + $1) % 10)); args+=("http://127.0.0.1:$((PORT + 3))/$file"); expected+=("$WORK/site/$file")
    done
    curl -sf "${args[@]}" >"$WORK/job-$1.out" && cat "${expected[@]}" | cmp -s - "$WORK/job-$1.out" && echo ok
}
export -f fetch_job; export PORT PER_JOB WORK
good_jobs=$(seq "$JOBS" | xargs -P 8 -I{} bash -c 'fetch_job {}' | grep -c ok || true)
sleep 0.5 # the last responses' closes
check "threaded server: all $((JOBS * PER_JOB)) responses correct ($good_jobs/$JOBS curl loops)" test "$good_jobs" -eq $JOBS
check "threaded server still alive" kill -0 "$THREADED_PID"
threaded=$("$WORK/ring_dump" "$WORK"/rings-threaded/*.ring)
count=$(grep -c '^span kind=server.* status=200 ' <<<"$threaded" || true)
check "threaded server: span count == request count + the start probe ($count)" test "$count" -eq $((JOBS * PER_JOB + 1))
check "threaded server: counters clean" grep -q 'shim_errors=0 .*abandoned=0 in_flight=0' <<<"$threaded"
stop "$THREADED_PID"

# ==== 4. AddressSanitizer: the runtime first in LD_PRELOAD, or linked into the program ====
if command -v clang >/dev/null; then
    ASAN_RUNTIME=$(clang -print-file-name=libclang_rt.asan-x86_64.so)
    clang -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=address -pthread -o "$WORK/games-asan" \
        "$ROOT/tests/programs_shim/process_games.c"
    clang -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=address -shared-libasan -pthread \
        -o "$WORK/games-asan-dynamic" "$ROOT/tests/programs_shim/process_games.c"
    asan_clean() { # run_dir command...: exits 0, nothing reported, 2 spans per exchange
        local status=0
        LDTAP_RUN_DIR=$1 "${@:2}" >/dev/null 2>"$WORK/asan.err" || status=$?
        [ $status -eq 0 ] && ! grep -q 'Sanitizer' "$WORK/asan.err" &&
            test "$(spans "$1"/*.ring | grep -c 'status=200')" -ge 40
    }
    check "ASan program (static runtime) then the shim: clean and traced" \
        asan_clean "$WORK/rings-asan1" env LD_PRELOAD="$SHIM" "$WORK/games-asan" exchange
    check "ASan runtime first in LD_PRELOAD, then the shim: clean and traced" \
        asan_clean "$WORK/rings-asan2" env LD_PRELOAD="$ASAN_RUNTIME:$SHIM" "$WORK/games" exchange
    check "ASan (shared runtime) program, threads and fork: clean and traced" \
        asan_clean "$WORK/rings-asan3" env LD_PRELOAD="$ASAN_RUNTIME:$SHIM" "$WORK/games-asan-dynamic" forkthreads
else
    fail "clang missing: ASan checks not run"
fi

# ==== 5. Process games: same output with and without the shim, and traced ====
same_output() { # run_dir command...: stdout, stderr and exit status identical with the shim
    local plain preloaded
    plain=$("${@:2}" 2>&1; echo "status=$?")
    preloaded=$(LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$1 "${@:2}" 2>&1; echo "status=$?")
    if [ "$plain" != "$preloaded" ]; then
        diff <(echo "$plain") <(echo "$preloaded") | sed 's/^/     /'; return 1
    fi
    sed 's/^/     /' <<<"$preloaded" | grep -v status= | head -8
}
ok_spans() { spans "$1"/*.ring | grep -c ' status=200 ' || true; }
for mode in daemon closeall spawn eintr forkthreads; do
    check "$mode: same behaviour with and without the shim" same_output "$WORK/rings-$mode" "$WORK/games" "$mode"
done
sleep 0.3 # the daemon's grandchild may still be closing its sockets
check "daemon: the double-forked grandchild traced its 3 exchanges" test "$(ok_spans "$WORK/rings-daemon")" -eq 6
closeall=$(spans "$WORK"/rings-closeall/*.ring)
check "closeall: exchanges before and after closing everything traced, cut ones NO_RESPONSE" \
    test "$(grep -c ' status=200 ' <<<"$closeall")" -eq 8 -a "$(grep -c 'flags=8 status=0 ' <<<"$closeall")" -eq 4
check "spawn: exchanges spanning vfork and posix_spawn traced" test "$(ok_spans "$WORK/rings-spawn")" -eq 4
check "eintr: the interrupted exchange traced once" test "$(ok_spans "$WORK/rings-eintr")" -eq 2
fork_rings=$(ls "$WORK"/rings-forkthreads | wc -l); fork_spans=$(ok_spans "$WORK/rings-forkthreads")
check "forkthreads: 1,200 thread spans and 2 per forked child (found $fork_spans in $fork_rings rings)" \
    test "$fork_spans" -eq $((1200 + 30 * 2)) -a "$fork_rings" -eq 31
check "exec loop: bash running /bin/true 50 times unchanged" \
    same_output "$WORK/rings-exec" bash -c 'for i in $(seq 50); do /bin/true; done; echo looped'
cat >"$WORK/exec_chain.py" <<'CHAIN'
import os, sys
left = int(sys.argv[1])
if left:
    os.execv(sys.executable, [sys.executable, __file__, str(left - 1)])
print("exec chain done")
CHAIN
check "exec loop: python exec'ing itself 20 times unchanged" \
    same_output "$WORK/rings-exec" "$PY" "$WORK/exec_chain.py" 20

echo "$FAILURES failure(s)"
exit $((FAILURES != 0))
