#!/usr/bin/env bash
# End-to-end checks of the database wire-protocol tracing of libldtap.so: drivers that speak
# the protocol themselves (redis-py, asyncpg, pg8000, PyMySQL) against private servers give
# one span per query (source=2, wire), a Redis call inside an HTTP request is the request's
# child, program output is unchanged, and psql (libpq: driver hooks) is not traced twice.
# Usage: tests/e2e/db_wire.sh [BUILD_DIR]   (default build; the shim is built if missing)
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$LDTAP_ROOT/scripts/lib/db_servers.sh"
ROOT=$LDTAP_ROOT
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SHIM=$BUILD/libldtap.so
PYTHON=$LDTAP_PYTHON
PROGRAMS=$ROOT/tests/programs_db
FAILURES=0
clear_otel_environment
make_temp_dir
WORK=$LDTAP_TMP
mkdir -p "$WORK/rings" # the shim creates the last directory of LDTAP_RUN_DIR only

pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1"; FAILURES=$((FAILURES + 1)); }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }

# ---- packages, build ----
needed=()
command -v redis-server >/dev/null || needed+=(redis-server)
[ -x "$PG_BIN/initdb" ] || needed+=(postgresql)
[ -x /usr/sbin/mariadbd ] || needed+=(mariadb-server)
for pair in redis:python3-redis pymysql:python3-pymysql asyncpg:python3-asyncpg pg8000:python3-pg8000; do
    "$PYTHON" -c "import ${pair%%:*}" 2>/dev/null || needed+=("${pair#*:}")
done
if [ ${#needed[@]} -gt 0 ]; then
    echo "installing ${needed[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${needed[@]}" >"$WORK/apt.log" 2>&1 ||
        { cat "$WORK/apt.log"; die "apt-get install failed"; }
fi
if [ ! -f "$SHIM" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DLDTAP_TESTS=OFF >/dev/null &&
        cmake --build "$BUILD" --target ldtap_shim -j2 >/dev/null || die "build failed"
fi
gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -I"$ROOT/shim/ring" -o "$WORK/ring_dump" \
    "$ROOT/tests/programs_shim/ring_dump.c" "$ROOT/shim/ring/ring_reader.c" || die "ring_dump failed to build"

traced() { # ring-name command...: runs the command under the shim, its ring in $WORK/rings/NAME
    local name=$1; shift
    LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$WORK/rings/$name "$@"
}
dump() { "$WORK/ring_dump" "$WORK/rings/$1"/*.ring; }
spans() { grep -c "^db $2" <<<"$1" || true; }
# count OUTPUT SYSTEM FIELDS STATEMENT: wire spans with these fields (a regex over
# "span_flags=… flags=… rows=… error=… sqlstate=…") and exactly this statement.
count() {
    local statement
    statement=$(sed 's/[][\.*^$()+?{}|]/\\&/g' <<<"$4")
    grep -cE "^db system=$2 source=2 .* $3 .*statement=\[$statement\]\$" <<<"$1" || true
}
# has OUTPUT SYSTEM FIELDS STATEMENT [FIELDS STATEMENT]...: each pair matches exactly one span
has() {
    local out=$1 system=$2; shift 2
    while [ $# -ge 2 ]; do
        test "$(count "$out" "$system" "$1" "$2")" -eq 1 || return 1
        shift 2
    done
}
# same_output NAME command...: stdout+stderr and status identical with and without the shim
same_output() {
    local name=$1; shift
    "$@" >"$WORK/$name.plain" 2>&1 || echo "status=$?" >>"$WORK/$name.plain"
    traced "$name" "$@" >"$WORK/$name.shim" 2>&1 || echo "status=$?" >>"$WORK/$name.shim"
    cmp -s "$WORK/$name.plain" "$WORK/$name.shim" || diff "$WORK/$name.plain" "$WORK/$name.shim"
}
show() { sed 's/^/     /' <<<"$1"; }

# ---- Redis: redis-py ----
start_redis REDIS_PID REDIS_PORT "$WORK/redis"
check "redis-py: output identical with the shim" same_output redis "$PYTHON" "$PROGRAMS/redis_queries.py" "$REDIS_PORT"
out=$(dump redis); show "$out"
check "redis-py: 12 wire spans, nothing else" test "$(spans "$out" "system=redis source=2")" -eq 12 -a "$(grep -c '^db\|^span' <<<"$out")" -eq 12
check "redis-py: SET and GET" has "$out" redis \
    "span_flags=0 flags=0 rows=-1 error=0 .*peer_port=$REDIS_PORT" 'SET greeting hello' \
    'flags=0 rows=-1 error=0' 'GET greeting'
check "redis-py: pipeline of 3, each its own span" has "$out" redis \
    'flags=0' 'SET counter 1' \
    'flags=0' 'INCRBY counter 1' \
    'flags=0' 'GET counter'
check "redis-py: MULTI/EXEC, all flagged TRANSACTION_BATCH, EXEC has 2 results" has "$out" redis \
    'flags=4' 'MULTI' \
    'flags=4' 'SET total 10' \
    'flags=4' 'INCRBY total 1' \
    'flags=4 rows=2' 'EXEC'
check "redis-py: WRONGTYPE is an error span" has "$out" redis "flags=1 rows=-1 error=0 sqlstate=WRONGTY" "GET queue"
check "redis-py: pub/sub connection makes no span" test "$(grep -c 'SUBSCRIBE\|statement=\[extra' <<<"$out")" -eq 0
check "redis-py: ring counters clean" grep -q 'shim_errors=0 .*abandoned=0 ' <<<"$out"

# ---- closed with commands unanswered: written, flagged NO_RESPONSE (8), rows unknown ----
traced unanswered "$PYTHON" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n")
s.close()' "$REDIS_PORT"
out=$(dump unanswered); show "$out"
check "closed before the replies were read: 2 spans flagged NO_RESPONSE" has "$out" redis \
    'span_flags=8 flags=0 rows=-1 error=0' 'PING' \
    'span_flags=8 flags=0 rows=-1 error=0' 'ECHO hi'

# ---- a Redis command issued while serving an HTTP request is the request's child ----
HTTP_PORT=$(free_port)
start_background HTTP_PID "$WORK/http.log" env LD_PRELOAD="$SHIM" LDTAP_RUN_DIR="$WORK/rings/http" \
    "$PYTHON" "$PROGRAMS/http_redis_server.py" "$HTTP_PORT" "$REDIS_PORT"
wait_for_port "$HTTP_PORT" 20 "$HTTP_PID"
check "http: response unchanged" test "$(curl -s "http://127.0.0.1:$HTTP_PORT/page")" = 1
sleep 0.3
out=$(dump http); show "$out"
server=$(grep -m1 'kind=server.*request=\[GET /page ' <<<"$out" || true)
trace=$(grep -oP ' trace=\K[0-9a-f]+' <<<"$server" || true); server_id=$(grep -oP ' id=\K[0-9a-f]+' <<<"$server" || true)
check "http: server span for GET /page" test -n "$server_id"
check "http: INCRBY is its child (same trace, parent = server span)" \
    test "$(grep -c "^db system=redis source=2 trace=${trace:-none} id=[0-9a-f]* parent=${server_id:-none} .*rows=-1 .*statement=\[INCRBY visits:/page 1\]" <<<"$out")" -eq 1
stop_pid "$HTTP_PID" || true
stop_pid "$REDIS_PID" || true

# ---- PostgreSQL: asyncpg, pg8000, and psql through libpq ----
start_postgres PG_PID PG_PORT "$WORK/pg"
check "asyncpg: output identical with the shim" same_output asyncpg "$PYTHON" "$PROGRAMS/asyncpg_queries.py" "$PG_PORT"
out=$(dump asyncpg); show "$out"
pg="namespace=\[postgres\]"
check "asyncpg: DROP, CREATE (no count), INSERT of 3 rows" has "$out" postgresql \
    'flags=0 rows=-1 error=0' 'DROP TABLE IF EXISTS wire_items' \
    "flags=0 rows=-1 error=0 .*peer_port=$PG_PORT .*$pg" 'CREATE TABLE wire_items (id integer PRIMARY KEY, name text)' \
    "flags=0 rows=3 error=0 .*$pg" "INSERT INTO wire_items VALUES (1, 'one'), (2, 'two'), (3, 'three')"
check "asyncpg: prepared statement executed twice shows its text both times (2 and 3 rows)" has "$out" postgresql \
    'flags=2 rows=2 error=0' 'SELECT name FROM wire_items WHERE id >= $1 ORDER BY id' \
    'flags=2 rows=3 error=0' 'SELECT name FROM wire_items WHERE id >= $1 ORDER BY id'
check "asyncpg: unique violation, SQLSTATE 23505" has "$out" postgresql "flags=1 .*sqlstate=23505" \
    "INSERT INTO wire_items VALUES (1, 'again')"
check "asyncpg: 6 spans, every one from the wire" test "$(spans "$out" "system=postgresql source=2")" -eq 6 -a \
    "$(spans "$out" "")" -eq 6
check "asyncpg: counters clean" grep -q 'shim_errors=0 .*abandoned=0 ' <<<"$out"

check "pg8000: output identical with the shim" same_output pg8000 "$PYTHON" "$PROGRAMS/pg8000_queries.py" "$PG_PORT"
out=$(dump pg8000); show "$out"
check "pg8000: BEGIN, its query (named prepared statement, 1 row), ROLLBACK" has "$out" postgresql \
    'flags=2 rows=-1 error=0' 'begin transaction' \
    "flags=2 rows=1 error=0 .*$pg" 'SELECT count(*) FROM wire_items WHERE id > $1' \
    'flags=2 rows=-1 error=0' 'rollback'
check "pg8000: 3 spans" test "$(spans "$out" "")" -eq 3

check "psql: output identical with the shim" same_output psql "$PG_BIN/psql" -X -h 127.0.0.1 -p "$PG_PORT" \
    -U postgres -c 'SELECT count(*) FROM wire_items' -c 'SELECT 42' postgres
out=$(dump psql); show "$out"
check "psql (libpq): one span per statement, from the driver hook, none from the wire" \
    test "$(spans "$out" "system=postgresql source=1")" -eq 2 -a "$(spans "$out" "system=postgresql source=2")" -eq 0
check "psql: the database socket is not taken for HTTP" test "$(grep -c '^span ' <<<"$out")" -eq 0
check "psql: nothing abandoned" grep -q 'abandoned=0 ' <<<"$out"

# ---- a PostgreSQL server under the shim is left alone ----
stop_pid "$PG_PID" || true
# The same cluster, its postmaster under the shim: it accepts, reads startup messages, forks.
PGDATA_OWNER=$(stat -c %U "$WORK/pg/data")
as_owner=()
[ "$(id -u)" = 0 ] && as_owner=(setpriv --reuid="$PGDATA_OWNER" --regid="$(id -g "$PGDATA_OWNER")" --clear-groups --)
PG_PORT2=$(free_port)
chmod 777 "$WORK/rings"
start_background PG2_PID "$WORK/pg/postgres2.log" "${as_owner[@]}" env LD_PRELOAD="$SHIM" \
    LDTAP_RUN_DIR="$WORK/rings/pgserver" "$PG_BIN/postgres" -D "$WORK/pg/data" -k "$WORK/pg" -p "$PG_PORT2" \
    -c listen_addresses=127.0.0.1
for _ in $(seq 100); do "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT2" && break; sleep 0.1; done
check "postgres under the shim answers pg8000 normally" \
    bash -c "'$PYTHON' '$PROGRAMS/pg8000_queries.py' $PG_PORT2 | grep -qxF '([2],)'"
stop_pid "$PG2_PID" || true
out=$(dump pgserver || true); show "$out"
check "postgres under the shim: its backend gave up on the accepted connection, no span" \
    test "$(grep -c 'abandoned=1 ' <<<"$out")" -ge 1 -a "$(grep -c '^db \|^span ' <<<"$out")" -eq 0

# ---- MariaDB: PyMySQL ----
start_mariadb MY_PID MY_PORT "$WORK/mariadb"
mariadb --no-defaults -h 127.0.0.1 -P "$MY_PORT" -u root -e 'CREATE DATABASE shop'
check "PyMySQL: output identical with the shim" same_output pymysql "$PYTHON" "$PROGRAMS/pymysql_queries.py" "$MY_PORT" shop
out=$(dump pymysql); show "$out"
my="namespace=\[shop\]"
check "PyMySQL: CREATE TABLE" has "$out" mariadb "flags=0 rows=0 error=0 .*peer_port=$MY_PORT .*$my" \
    "CREATE TABLE wire_items (id INT PRIMARY KEY, name VARCHAR(20))"
check "PyMySQL: executemany is one multi-row INSERT, 2 rows" has "$out" mariadb "flags=0 rows=2 error=0 .*$my" \
    "INSERT INTO wire_items VALUES (1, 'one'),(2, 'two')"
check "PyMySQL: SELECT, 2 rows" has "$out" mariadb "flags=0 rows=2 error=0 .*$my" "SELECT id, name FROM wire_items ORDER BY id"
check "PyMySQL: duplicate key 1062 / 23000" has "$out" mariadb "flags=1 rows=-1 error=1062 sqlstate=23000" \
    "INSERT INTO wire_items VALUES (1, 'again')"
check "PyMySQL: counters clean" grep -q 'shim_errors=0 .*abandoned=0 ' <<<"$out"
stop_pid "$MY_PID" || true

echo "$FAILURES failure(s)"
exit $((FAILURES != 0))
