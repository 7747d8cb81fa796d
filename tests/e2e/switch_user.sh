#!/usr/bin/env bash
# End-to-end: servers that switch user keep their spans. As root, `ldtap run` shares its run
# directory (root-owned, 01733): nginx's workers (`user nobody;`) and a program started
# through `setpriv --reuid` put their rings in their own `uid-<euid>` subdirectory, and every
# request they serve is one span with the right attributes; a ring written there by a
# process that is not a descendant of the command (another uid, or the workers' own uid
# renamed to a worker's pid) is never read. `ldtap collect --all-users` drains such workers
# through a shared directory the administrator made. Without root those parts are skipped
# (the script says why); as any user, `ldtap run` by an unprivileged user keeps its 0700 run
# directory with the rings at its top, as before. Usage: switch_user.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"

BUILD=$(resolve_build_dir "${1:-}")
# Other users' processes must reach the temp dir: a TMPDIR under a private directory (a
# CI workspace, say) cannot be made reachable by chmod on the temp dir alone.
if [ "$(id -u)" = 0 ] && [ -n "${TMPDIR:-}" ] && ! setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
    test -x "$TMPDIR" 2>/dev/null; then
    log "TMPDIR $TMPDIR is not reachable by other users: using /tmp"
    export TMPDIR=/tmp
fi
make_temp_dir
clear_otel_environment
unset XDG_RUNTIME_DIR # the default base is then /dev/shm/ldtap-UID, the same on every machine
export PYTHONPATH="$LDTAP_ROOT/tests/e2e"
FAILED=0
ok() { echo "  ok   $1"; }
bad() {
    echo "  FAIL $1"
    FAILED=1
}
check() { # check DESCRIPTION COMMAND...
    local description=$1
    shift
    if "$@"; then ok "$description"; else bad "$description"; fi
}

# Everything the other users' processes read must be reachable by them: the temp dir is
# searchable, the site and a copy of the shim readable (the build dir may not be).
chmod 755 "$LDTAP_TMP"
SITE=$LDTAP_TMP/site
mkdir -p "$SITE" "$LDTAP_TMP/lib"
for name in one two three planted impostor; do printf 'file %s\n' "$name" >"$SITE/$name.txt"; done
chmod 755 "$SITE" && chmod 644 "$SITE"/*
cp "$BUILD/ldtap" "$BUILD/libldtap.so" "$LDTAP_TMP/lib/"
chmod 755 "$LDTAP_TMP/lib" "$LDTAP_TMP/lib/ldtap" "$LDTAP_TMP/lib/libldtap.so"
SHIM=$LDTAP_TMP/lib/libldtap.so
gcc -std=c11 -D_GNU_SOURCE -O1 -I"$LDTAP_ROOT/shim/ring" -o "$LDTAP_TMP/ring_dump" \
    "$LDTAP_ROOT/tests/programs_shim/ring_dump.c" "$LDTAP_ROOT/shim/ring/ring_reader.c"

# check_spans OUTPUT PORT SERVICE EXPECTED_PIDS REQUESTS...: exactly one server span per
# request ("path status", in any order), each with the request's attributes, from one of
# the expected processes (space-separated pids).
check_spans() {
    local output=$1 port=$2 service=$3 pids=$4
    shift 4
    "$LDTAP_PYTHON" - "$output" "$port" "$service" "$pids" "$@" <<'EOF' || FAILED=1
import collections, sys
from check_spans import Checker, load_spans
output, port, service, pids = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split()
expected = collections.Counter(tuple(request.split()) for request in sys.argv[5:])
c = Checker(f"{service}: spans in {output}")
spans = [s for s in load_spans(output) if s.kind == "server"]
c.equal(len(spans), sum(expected.values()), "server span count (= requests made)")
seen = collections.Counter((s.attr("url.path"), str(s.attr("http.response.status_code"))) for s in spans)
c.equal(dict(seen), dict(expected), "one span per request: (url.path, status)")
for s in spans:
    path = s.attr("url.path")
    c.attributes(s, {"http.request.method": "GET", "server.port": port, "server.address": "127.0.0.1",
                     "network.peer.address": "127.0.0.1", "url.scheme": "http"}, f"span {path}")
    c.equal(s.name, f"GET {s.attr('http.route')}", f"span {path}: name is 'GET {{route}}'")
    c.equal(s.resource.get("service.name"), service, f"span {path}: service.name")
    c.check(str(s.resource.get("process.pid")) in pids, f"span {path}: from a process that switched user",
            f"pid {s.resource.get('process.pid')} not in {pids}")
c.finish()
EOF
}

# absent OUTPUT TEXT...: none of the texts occurs in the exported spans.
absent() {
    local output=$1
    shift
    "$LDTAP_PYTHON" "$LDTAP_ROOT/tests/e2e/check_spans.py" absent "$output" -- "$@" >/dev/null 2>&1
}

ring_in() { # DIR PATTERN: a ring file matching PATTERN exists in DIR
    [ -n "$(find "$1" -name "$2" 2>/dev/null | head -n 1)" ]
}

# workers_rings_placed RUN_DIR WORKER_PIDS: the workers have at least one ring, and each is
# where its creator's uid puts it. A worker makes its ring lazily, at its first record: that
# is usually after it dropped to nobody (uid-N, owned by nobody), but a heap sample taken
# while it still starts up as root puts it at the top, root's own. Both are right.
workers_rings_placed() {
    local run_dir=$1 pid ring found=0
    for pid in $2; do
        while IFS= read -r ring; do
            [ -n "$ring" ] || continue
            found=$((found + 1))
            case "$(dirname "$ring"):$(stat -c %u "$ring")" in
            "$run_dir/uid-$NOBODY:$NOBODY" | "$run_dir:0") ;;
            *)
                echo "    misplaced: $ring (uid $(stat -c %u "$ring"))"
                return 1
                ;;
            esac
        done <<<"$(find "$run_dir" -name "$pid-*.ring")"
    done
    [ "$found" -ge 1 ]
}

run_dir_of() { # LDTAP_PID: the run directory that `ldtap run` process created
    local dir
    for dir in /dev/shm/ldtap-run-"$1"-* /dev/shm/ldtap-*/run-"$1"-* "$LDTAP_TMP"/*/run-"$1"-* \
        "$LDTAP_TMP"/*/*/run-"$1"-*; do
        [ -d "$dir" ] && { printf '%s\n' "$dir"; return 0; }
    done
    return 1
}

# ==== 1. Unprivileged `ldtap run`: the run directory stays 0700 with the rings at its top ====
# As root this part runs ldtap itself as nobody: the path every non-root user takes.
unprivileged_run() {
    echo "== unprivileged ldtap run: layout unchanged"
    local as_user=() owner
    owner=$(id -u)
    mkdir -p "$LDTAP_TMP/plain"
    if [ "$owner" = 0 ]; then
        owner=$(id -u nobody)
        as_user=(setpriv --reuid="$owner" --regid="$(id -g nobody)" --clear-groups --reset-env)
        chown "$owner" "$LDTAP_TMP/plain"
    fi
    local port ldtap_pid run_dir
    port=$(free_port)
    start_background ldtap_pid "$LDTAP_TMP/plain/ldtap.log" "${as_user[@]}" "$LDTAP_TMP/lib/ldtap" run --service-name plain \
        --run-dir "$LDTAP_TMP/plain/base" --output "$LDTAP_TMP/plain/out.jsonl" --prometheus "127.0.0.1:$(free_port)" \
        -- "$LDTAP_PYTHON" -m http.server --bind 127.0.0.1 --directory "$SITE" "$port"
    wait_for_port "$port" 20 "$ldtap_pid" || { cat "$LDTAP_TMP/plain/ldtap.log" >&2; die "unprivileged server did not start"; }
    curl -sf -o /dev/null "http://127.0.0.1:$port/one.txt"
    curl -sf -o /dev/null "http://127.0.0.1:$port/two.txt"
    sleep 0.3
    run_dir=$(run_dir_of "$ldtap_pid") || true
    if [ -z "$run_dir" ]; then
        bad "run directory $LDTAP_TMP/plain/base/run-$ldtap_pid-* exists while the server runs"
    else
        check "run directory is in --run-dir ($run_dir)" test "$(dirname "$run_dir")" = "$LDTAP_TMP/plain/base"
        check "run directory mode 700, owned by uid $owner ($(stat -c '%a %u' "$run_dir"))" \
            test "$(stat -c '%a %u' "$run_dir")" = "700 $owner"
        check "a ring at the top of the run directory" test "$(find "$run_dir" -maxdepth 1 -name '*.ring' | wc -l)" -ge 1
        check "no user subdirectory" test "$(find "$run_dir" -mindepth 1 -type d | wc -l)" -eq 0
    fi
    local server_pid
    server_pid=$(ps -o pid= --ppid "$ldtap_pid" | tr -d ' ')
    stop_pid "$ldtap_pid" INT
    check "ldtap exited as the server did (status $STOP_STATUS)" test "$STOP_STATUS" -eq 0 -o "$STOP_STATUS" -eq 130
    check_spans "$LDTAP_TMP/plain/out.jsonl" "$port" plain "$server_pid" "/one.txt 200" "/two.txt 200"
    check "run directory removed at exit" test ! -e "$run_dir"
}
unprivileged_run

if [ "$(id -u)" != 0 ]; then
    echo "skip - switching user: needs root (running as uid $(id -u)); only root's programs can switch to another user"
    [ "$FAILED" = 0 ] || exit 1
    echo "all checks passed"
    exit 0
fi
NOBODY=$(id -u nobody) || die "no 'nobody' user"
NOGROUP=$(id -gn nobody)
STRANGER=4242 # a uid with no process under ldtap: its ring is planted, not ours

# plant UID PORT_VAR PID_VAR RUN_DIR: starts an instrumented server as UID outside ldtap's
# process tree, writing its ring into RUN_DIR as the shim would.
plant() {
    local uid=$1 port
    port=$(free_port)
    start_background "$3" "$LDTAP_TMP/planted-$uid.log" setpriv --reuid="$uid" --regid="$uid" --clear-groups \
        env LD_PRELOAD="$SHIM" LDTAP_RUN_DIR="$4" "$LDTAP_PYTHON" -m http.server --bind 127.0.0.1 \
        --directory "$SITE" "$port"
    wait_for_port "$port" 20 "${!3}" || die "planted server as uid $uid did not start"
    printf -v "$2" '%s' "$port"
}

nginx_conf() { # DIR PORT: a configuration whose two workers run as nobody
    cat >"$1/nginx.conf" <<CONF
user nobody $NOGROUP;
daemon off; master_process on; worker_processes 2; pid $1/nginx.pid; error_log $1/error.log;
events {}
http { access_log off; keepalive_requests 100;
       server { listen 127.0.0.1:$2; root $SITE; } }
CONF
}
nginx_workers() { # MASTER_PID: the pids of its workers running as nobody, once there are two
    local workers=""
    for _ in $(seq 50); do # the master listens before it forks its workers
        workers=$(ps -o pid=,user= --ppid "$1" | awk '$2 == "nobody" {printf "%s ", $1}')
        [ "$(wc -w <<<"$workers")" -eq 2 ] && break
        sleep 0.1
    done
    printf '%s\n' "$workers"
}

# ==== 2. nginx as root, workers as nobody, under the default ring directory ====
if [ -x /usr/sbin/nginx ]; then
    echo "== nginx (root master, workers 'user nobody $NOGROUP;') under ldtap run as root"
    NGINX=$LDTAP_TMP/nginx
    mkdir -p "$NGINX"
    PORT=$(free_port)
    nginx_conf "$NGINX" "$PORT"
    start_background LDTAP_PID "$NGINX/ldtap.log" "$BUILD/ldtap" run --service-name web --shim "$SHIM" \
        --output "$NGINX/out.jsonl" --prometheus "127.0.0.1:$(free_port)" \
        -- /usr/sbin/nginx -p "$NGINX" -c "$NGINX/nginx.conf"
    wait_for_port "$PORT" 20 "$LDTAP_PID" || { cat "$NGINX/ldtap.log" "$NGINX/error.log" >&2; die "nginx did not start"; }
    MASTER=$(ps -o pid= --ppid "$LDTAP_PID" | tr -d ' ')
    WORKERS=$(nginx_workers "$MASTER")
    check "nginx workers run as nobody ($WORKERS)" test "$(wc -w <<<"$WORKERS")" -eq 2
    base="http://127.0.0.1:$PORT"
    curl -sf -o /dev/null "$base/one.txt"
    curl -sf -o /dev/null "$base/two.txt"
    curl -s -o /dev/null "$base/missing.txt"
    curl -sf -o /dev/null -o /dev/null -o /dev/null "$base/three.txt" "$base/one.txt" "$base/two.txt" # keep-alive
    curl -sf -o /dev/null "$base/three.txt"
    REQUESTS=("/one.txt 200" "/two.txt 200" "/missing.txt 404" "/three.txt 200" "/one.txt 200" "/two.txt 200"
        "/three.txt 200")

    RUN_DIR=$(run_dir_of "$LDTAP_PID") || die "no run directory for ldtap pid $LDTAP_PID"
    # A worker makes its ring when it commits its first record, just after its response.
    wait_until 5 workers_rings_placed "$RUN_DIR" "$WORKERS" || true
    check "run directory shared: root-owned, mode 1733 ($RUN_DIR: $(stat -c '%a %U' "$RUN_DIR"))" \
        test "$(stat -c '%a %u' "$RUN_DIR")" = "1733 0"
    check "the workers' rings: in uid-$NOBODY owned by nobody, or at the top owned by root" \
        workers_rings_placed "$RUN_DIR" "$WORKERS"
    # The impostor below (nobody) makes the subdirectory if no worker did.

    echo "== rings ldtap did not start: planted by uid $STRANGER, and by nobody renamed as a worker's"
    plant "$STRANGER" STRANGER_PORT STRANGER_PID "$RUN_DIR"
    curl -sf -o /dev/null "http://127.0.0.1:$STRANGER_PORT/planted.txt"
    plant "$NOBODY" IMPOSTOR_PORT IMPOSTOR_PID "$RUN_DIR"
    curl -sf -o /dev/null "http://127.0.0.1:$IMPOSTOR_PORT/impostor.txt"
    wait_until 5 ring_in "$RUN_DIR/uid-$NOBODY" "$IMPOSTOR_PID-*.ring" || true
    wait_until 5 ring_in "$RUN_DIR/uid-$STRANGER" '*.ring' || true
    sleep 0.3 # the spans' records are committed once the responses are out
    FIRST_WORKER=$(awk '{print $1}' <<<"$WORKERS")
    IMPOSTOR_RING=$(find "$RUN_DIR/uid-$NOBODY" -name "$IMPOSTOR_PID-*.ring" 2>/dev/null | head -n 1 || true)
    # Same user as the workers, named after a live worker: only the ring's mapping tells.
    [ -n "$IMPOSTOR_RING" ] && mv "$IMPOSTOR_RING" "$RUN_DIR/uid-$NOBODY/$FIRST_WORKER-1.ring"
    check "the impostor's ring was renamed to worker $FIRST_WORKER's name" test -n "$IMPOSTOR_RING"
    sleep 2.5 # two of the collector's rescans, beside the inotify events
    planted=$("$LDTAP_TMP/ring_dump" "$RUN_DIR"/uid-$STRANGER/*.ring 2>&1 || true)
    check "uid $STRANGER's ring holds its span, unread by the collector" grep -q 'request=\[GET /planted.txt ' <<<"$planted"
    impostor=$("$LDTAP_TMP/ring_dump" "$RUN_DIR/uid-$NOBODY/$FIRST_WORKER-1.ring" 2>&1 || true)
    check "the renamed ring holds its span, unread by the collector" grep -q 'request=\[GET /impostor.txt ' <<<"$impostor"
    check "uid-$NOBODY: nobody's, mode 700" test "$(stat -c '%a %u' "$RUN_DIR/uid-$NOBODY" 2>/dev/null)" = "700 $NOBODY"
    stop_pid "$STRANGER_PID"
    stop_pid "$IMPOSTOR_PID"

    stop_pid "$LDTAP_PID" TERM
    check "ldtap exited with nginx's status ($STOP_STATUS)" test "$STOP_STATUS" -eq 0
    check_spans "$NGINX/out.jsonl" "$PORT" web "$WORKERS" "${REQUESTS[@]}"
    check "no span of a planted ring was exported" absent "$NGINX/out.jsonl" planted.txt impostor.txt
    check "run directory removed at exit, user subdirectories included" test ! -e "$RUN_DIR"
    check "nginx logged no error" bash -c "! grep -qE '\[(alert|crit|emerg)\]' '$NGINX/error.log'"
else
    bad "nginx missing (apt-get install nginx-light)"
fi

# ==== 3. A command that drops to nobody itself (setpriv, like gunicorn --user), --run-dir ====
echo "== setpriv --reuid nobody under ldtap run as root, --run-dir in a directory others can search"
mkdir -m 711 "$LDTAP_TMP/base" # as root, the base must let the workers' user through
PORT=$(free_port)
start_background LDTAP_PID "$LDTAP_TMP/setpriv.log" "$BUILD/ldtap" run --service-name dropped --shim "$SHIM" \
    --run-dir "$LDTAP_TMP/base" --output "$LDTAP_TMP/setpriv.jsonl" --prometheus "127.0.0.1:$(free_port)" \
    -- setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups \
    "$LDTAP_PYTHON" -m http.server --bind 127.0.0.1 --directory "$SITE" "$PORT"
wait_for_port "$PORT" 20 "$LDTAP_PID" || { cat "$LDTAP_TMP/setpriv.log" >&2; die "setpriv server did not start"; }
SERVER=$(ps -o pid= --ppid "$LDTAP_PID" | tr -d ' ')
curl -sf -o /dev/null "http://127.0.0.1:$PORT/one.txt"
curl -s -o /dev/null "http://127.0.0.1:$PORT/nothing-here"
RUN_DIR=$(run_dir_of "$LDTAP_PID") || die "no run directory for ldtap pid $LDTAP_PID"
check "run directory in --run-dir ($RUN_DIR)" test "$(dirname "$RUN_DIR")" = "$LDTAP_TMP/base"
wait_until 5 ring_in "$RUN_DIR/uid-$NOBODY" "$SERVER-*.ring" || true
check "its ring is in uid-$NOBODY" test "$(find "$RUN_DIR/uid-$NOBODY" -name "$SERVER-*.ring" | wc -l)" -eq 1
stop_pid "$LDTAP_PID" INT
check_spans "$LDTAP_TMP/setpriv.jsonl" "$PORT" dropped "$SERVER" "/one.txt 200" "/nothing-here 404"
check "run directory removed at exit" test ! -e "$RUN_DIR"

# ==== 4. ldtap collect --all-users over a shared directory the administrator made ====
if [ -x /usr/sbin/nginx ]; then
    echo "== nginx started by hand with the shim, drained by ldtap collect --all-users"
    SHARED=$LDTAP_TMP/shared
    install -d -m 1733 "$SHARED"
    status=0
    "$BUILD/ldtap" collect --run-dir "$SHARED" --no-prometheus >"$LDTAP_TMP/collect-refused.log" 2>&1 || status=$?
    check "without --all-users, collect refuses the shared directory (status $status)" \
        grep -q 'is writable by other users' "$LDTAP_TMP/collect-refused.log"
    NGINX=$LDTAP_TMP/nginx-collect
    mkdir -p "$NGINX"
    PORT=$(free_port)
    nginx_conf "$NGINX" "$PORT"
    start_background COLLECT_PID "$NGINX/collect.log" env OTEL_SERVICE_NAME=hand "$BUILD/ldtap" collect --all-users \
        --run-dir "$SHARED" --output "$NGINX/out.jsonl" --no-prometheus
    start_background NGINX_PID "$NGINX/nginx.log" env LD_PRELOAD="$SHIM" LDTAP_RUN_DIR="$SHARED" \
        OTEL_SERVICE_NAME=hand /usr/sbin/nginx -p "$NGINX" -c "$NGINX/nginx.conf"
    wait_for_port "$PORT" 20 "$NGINX_PID" || { cat "$NGINX/error.log" >&2; die "nginx (by hand) did not start"; }
    WORKERS=$(nginx_workers "$NGINX_PID")
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/one.txt"
    curl -sf -o /dev/null -o /dev/null "http://127.0.0.1:$PORT/two.txt" "http://127.0.0.1:$PORT/three.txt"
    wait_until 5 workers_rings_placed "$SHARED" "$WORKERS" || true
    check "the workers' rings: in uid-$NOBODY of the shared directory, or at its top owned by root" \
        workers_rings_placed "$SHARED" "$WORKERS"
    sleep 1.2 # one rescan of the collector, beside inotify
    stop_pid "$NGINX_PID" TERM
    stop_pid "$COLLECT_PID" TERM
    check "ldtap collect exits 0 ($STOP_STATUS)" test "$STOP_STATUS" -eq 0
    check_spans "$NGINX/out.jsonl" "$PORT" hand "$WORKERS" "/one.txt 200" "/two.txt 200" "/three.txt 200"
    check "drained rings of exited workers are removed" \
        test "$(find "$SHARED" -name '*.ring' | wc -l)" -eq 0
fi

[ "$FAILED" = 0 ] || exit 1
echo "all checks passed"
