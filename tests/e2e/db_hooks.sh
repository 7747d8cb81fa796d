#!/usr/bin/env bash
# End-to-end checks of the database driver hooks of libldtap.so with real libraries and
# servers: libsqlite3 (C, and Python's late-loaded sqlite3 module, also inside an HTTP
# request), libpq (C and psycopg2) against a PostgreSQL cluster, libmariadb (C and
# MySQLdb) against mariadbd; each run's ring is dumped and its database spans asserted.
# Usage: tests/e2e/db_hooks.sh [BUILD_DIR]   (default build; the shim is built if missing)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SHIM=$BUILD/libldtap.so
WORK=$(mktemp -d /tmp/ldtap-db-hooks.XXXXXX)
PORT=$((18000 + ($$ % 1000) * 4))
PYTHON=/usr/bin/python3 # Debian's: python3-psycopg2 and python3-mysqldb are built for it
FAILURES=0
PIDS=()
mkdir -p "$WORK/rings" # the shim creates the last directory of LDTAP_RUN_DIR only
# The PostgreSQL and MariaDB servers: scripts/lib/db_servers.sh (its pids go in PIDS below).
source "$ROOT/scripts/lib/common.sh"
source "$ROOT/scripts/lib/db_servers.sh"
LDTAP_TMP=$WORK # start_postgres opens the temp dir to the cluster's owner

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1"; FAILURES=$((FAILURES + 1)); }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }

# ---- packages, build ----
needed=()
for pair in initdb:postgresql libpq-fe.h:libpq-dev psycopg2:python3-psycopg2 mariadbd:mariadb-server \
    mysql.h:libmariadb-dev MySQLdb:python3-mysqldb sqlite3.h:libsqlite3-dev; do
    probe=${pair%%:*} package=${pair#*:}
    case $probe in
    initdb) test -x /usr/lib/postgresql/15/bin/initdb ;;
    mariadbd) test -x /usr/sbin/mariadbd ;;
    libpq-fe.h) test -f /usr/include/postgresql/libpq-fe.h ;;
    mysql.h) test -f /usr/include/mariadb/mysql.h ;;
    sqlite3.h) test -f /usr/include/sqlite3.h ;;
    *) "$PYTHON" -c "import $probe" 2>/dev/null ;;
    esac || needed+=("$package")
done
if [ ${#needed[@]} -gt 0 ]; then
    echo "installing ${needed[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${needed[@]}" >"$WORK/apt.log" 2>&1 ||
        { echo "apt-get install failed (see $WORK/apt.log)"; cat "$WORK/apt.log"; exit 1; }
fi
if [ ! -f "$SHIM" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DLDTAP_TESTS=OFF >/dev/null &&
        cmake --build "$BUILD" --target ldtap_shim -j2 >/dev/null || { echo "build failed"; exit 1; }
fi
CFLAGS="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2"
gcc $CFLAGS -I"$ROOT/shim/ring" -o "$WORK/ring_dump" "$ROOT/tests/programs_shim/ring_dump.c" \
    "$ROOT/shim/ring/ring_reader.c" &&
    gcc $CFLAGS -o "$WORK/sqlite_client" "$ROOT/tests/programs_db/sqlite_client.c" -lsqlite3 &&
    gcc $CFLAGS $(pkg-config --cflags libpq) -o "$WORK/pq_client" "$ROOT/tests/programs_db/pq_client.c" \
        $(pkg-config --libs libpq) &&
    gcc $CFLAGS $(pkg-config --cflags libmariadb) -o "$WORK/mysql_client" \
        "$ROOT/tests/programs_db/mysql_client.c" $(pkg-config --libs libmariadb) ||
    { echo "test programs failed to build"; exit 1; }

traced() { # ring-name command...: runs the command under the shim, its ring in $WORK/rings/NAME
    local name=$1; shift
    LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$WORK/rings/$name "$@"
}
dump() { "$WORK/ring_dump" "$WORK/rings/$1"/*.ring; }
spans() { grep -c '^db ' <<<"$1"; }
# has OUTPUT SYSTEM FIELDS STATEMENT: one database span with these fields in this order
# (a regex over "span_flags=… flags=… rows=… error=… sqlstate=…") and exactly this statement.
has() {
    local statement
    statement=$(sed 's/[][\.*^$()+?{}|]/\\&/g' <<<"$4")
    grep -qE "^db system=$2 source=1 .* $3 .*statement=\[$statement\]\$" <<<"$1"
}

# ---- programs without databases behave exactly as before, and write nothing ----
same_output() {
    local plain preloaded
    plain=$("$@" 2>&1; echo "status=$?")
    # Heap sampling off: a sampled allocation legitimately gives a process its ring.
    preloaded=$(LDTAP_HEAP_SAMPLE_BYTES=0 traced quiet "$@" 2>&1; echo "status=$?")
    test "$plain" == "$preloaded"
}
check "bash unchanged" same_output bash -c 'echo hi; exit 3'
check "python3 -c 'print(1)' unchanged" same_output "$PYTHON" -c 'print(1)'
check "no ring without spans" test ! -e "$WORK/rings/quiet"

# ---- libsqlite3 from C: results and errno identical, one span per execution ----
"$WORK/sqlite_client" "$WORK/plain.db" >"$WORK/sqlite.plain"
traced sqlite "$WORK/sqlite_client" "$WORK/c.db" >"$WORK/sqlite.shim"
check "sqlite C: results and errno identical with the shim" cmp -s "$WORK/sqlite.plain" "$WORK/sqlite.shim"
out=$(dump sqlite); echo "$out" | sed 's/^/     /'
ns="namespace=\[$WORK/c.db\]"
check "sqlite C: 8 spans" test "$(spans "$out")" -eq 8
check "sqlite C: SELECT stepped to the end, 3 rows" has "$out" sqlite "flags=0 rows=3 error=0 .*$ns" \
    "SELECT id FROM items ORDER BY id"
check "sqlite C: SELECT reset after 2 rows" has "$out" sqlite "flags=0 rows=2 error=0 .*$ns" \
    "SELECT name FROM items ORDER BY id"
check "sqlite C: INSERT of 3 rows counts changes" has "$out" sqlite "flags=0 rows=3 error=0" \
    "INSERT INTO items (name) VALUES ('a'), ('b'), ('c')"
check "sqlite C: constraint violation is error 19" has "$out" sqlite "flags=1 rows=0 error=19" \
    "INSERT INTO items (name) VALUES ('a')"
check "sqlite C: failed prepare is error 1" has "$out" sqlite "flags=1 rows=-1 error=1" "SELEC 1"
check "sqlite C: sqlite3_exec is one span, callback rows counted" has "$out" sqlite "flags=0 rows=2 error=0" \
    "SELECT id FROM items WHERE id > 1"
check "sqlite C: SQLite's own schema queries are not spans" bash -c "! grep -q sqlite_master <<<'$out'"

# ---- Python's sqlite3: _sqlite3 and libsqlite3 arrive by dlopen, RTLD_LOCAL ----
traced pysqlite "$PYTHON" "$ROOT/tests/programs_db/sqlite_queries.py" "$WORK/py.db" >"$WORK/pysqlite.out"
check "python sqlite3: program output unchanged" grep -q "^\[(1, 'x'), (2, 'y'), (3, 'z')\]" "$WORK/pysqlite.out"
out=$(dump pysqlite); echo "$out" | sed 's/^/     /'
check "python sqlite3: 9 spans" test "$(spans "$out")" -eq 9
check "python sqlite3: 3 inserts of one row" test "$(grep -c 'rows=1 error=0 .*statement=\[INSERT INTO notes (body) VALUES (?)\]$' <<<"$out")" -eq 3
check "python sqlite3: SELECT with 3 rows and the file as namespace" has "$out" sqlite \
    "flags=0 rows=3 error=0 .*namespace=\[$WORK/py.db\]" "SELECT id, body FROM notes ORDER BY id"
check "python sqlite3: syntax error" has "$out" sqlite "flags=1 rows=-1 error=1" "SELEC 1"
check "python sqlite3: ring counters clean" grep -q 'shim_errors=0 ' <<<"$out"

# ---- a query made while serving an HTTP request is the request's child ----
# Not through traced(): a backgrounded function is a subshell, and its pid would not be
# the server's (killing it at exit left the server running).
LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$WORK/rings/http "$PYTHON" "$ROOT/tests/programs_db/http_sqlite_server.py" "$PORT" \
    "$WORK/http.db" >"$WORK/http.log" 2>&1 &
HTTP_PID=$!; PIDS+=($HTTP_PID)
for _ in $(seq 150); do curl -s -o /dev/null "http://127.0.0.1:$PORT/warmup" && break; sleep 0.1; done
curl -s -o /dev/null "http://127.0.0.1:$PORT/page"
sleep 0.3
out=$(dump http); echo "$out" | sed 's/^/     /'
server=$(grep -m1 'kind=server.*request=\[GET /page ' <<<"$out")
trace=$(grep -oP ' trace=\K[0-9a-f]+' <<<"$server"); server_id=$(grep -oP ' id=\K[0-9a-f]+' <<<"$server")
check "http: server span for GET /page" test -n "$server_id"
check "http: its query is a child (same trace, parent = server span)" \
    test "$(grep -c "^db system=sqlite source=1 trace=${trace:-none} id=[0-9a-f]* parent=${server_id:-none} .*statement=\[SELECT count(\*) FROM visits WHERE path = ?\]" <<<"$out")" -eq 1

# ---- PostgreSQL: a private cluster ----
start_postgres PG_PID PG_PORT "$WORK/pg"
PIDS+=("$PG_PID")
CONNINFO="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"
traced pq "$WORK/pq_client" "$CONNINFO" 2>"$WORK/pq.err"
check "libpq C: every call behaved normally under the shim" test $? -eq 0
out=$(dump pq); echo "$out" | sed 's/^/     /'
pg="namespace=\[postgres\]"
check "libpq C: 10 spans" test "$(spans "$out")" -eq 10
check "libpq C: server endpoint and namespace on every span" \
    test "$(grep -c "peer_port=$PG_PORT .*$pg" <<<"$out")" -eq 10
check "libpq C: PQexecParams insert, 1 row" has "$out" postgresql "flags=0 rows=1 error=0" \
    'INSERT INTO items VALUES ($1, $2)'
check "libpq C: PQexecPrepared and PQsendQueryPrepared show the prepared text" \
    test "$(grep -c 'flags=2 rows=1 error=0 .*statement=\[INSERT INTO items VALUES (\$1, \$2)\]$' <<<"$out")" -eq 2
check "libpq C: PQsendQuery..PQgetResult span, 2 rows" has "$out" postgresql "flags=0 rows=2 error=0" \
    "SELECT id, name FROM items ORDER BY id"
check "libpq C: syntax error, SQLSTATE 42601" has "$out" postgresql "flags=1 rows=-1 error=0 sqlstate=42601" "SELEC 1"
check "libpq C: unique violation, SQLSTATE 23505" has "$out" postgresql "flags=1 rows=-1 error=0 sqlstate=23505" \
    "INSERT INTO items VALUES (1, 'again')"
check "libpq C: UPDATE counts 3 rows (PQcmdTuples)" has "$out" postgresql "flags=0 rows=3 error=0" \
    "UPDATE items SET name = upper(name)"
check "libpq C: no HTTP span on the database socket" bash -c "! grep -q '^span ' <<<'$out'"

traced psycopg2 "$PYTHON" "$ROOT/tests/programs_db/pg_queries.py" "$PG_PORT" >"$WORK/psycopg2.out" 2>&1
check "psycopg2: program ran normally" grep -q '^error 23505' "$WORK/psycopg2.out"
out=$(dump psycopg2); echo "$out" | sed 's/^/     /'
check "psycopg2: 6 spans (BEGIN, SELECT, COMMIT, BEGIN, INSERT, ROLLBACK)" test "$(spans "$out")" -eq 6
check "psycopg2: SELECT with its 3 rows" has "$out" postgresql "flags=0 rows=3 error=0 .*$pg" \
    "SELECT id, name FROM items WHERE id > 0 ORDER BY id"
check "psycopg2: unique violation" has "$out" postgresql "flags=1 rows=-1 error=0 sqlstate=23505" \
    "INSERT INTO items VALUES (2, 'dup')"
kill "$PG_PID"; wait "$PG_PID" 2>/dev/null

# ---- MariaDB: a private server ----
start_mariadb MY_PID MY_PORT "$WORK/mariadb"
PIDS+=("$MY_PID")
mariadb --no-defaults -h 127.0.0.1 -P "$MY_PORT" -u root -e 'CREATE DATABASE IF NOT EXISTS shop'
traced mysql "$WORK/mysql_client" "$MY_PORT" shop 2>"$WORK/mysql.err"
check "libmariadb C: every call behaved normally under the shim" test $? -eq 0
out=$(dump mysql); echo "$out" | sed 's/^/     /'
my="namespace=\[shop\]"
check "libmariadb C: 8 spans" test "$(spans "$out")" -eq 8
check "libmariadb C: server endpoint and schema on every span" \
    test "$(grep -c "peer_port=$MY_PORT .*$my" <<<"$out")" -eq 8
check "libmariadb C: INSERT, 2 affected rows" has "$out" mariadb "flags=0 rows=2 error=0" \
    "INSERT INTO items VALUES (1, 'one'), (2, 'two')"
check "libmariadb C: SELECT ended by mysql_store_result, 2 rows" has "$out" mariadb "flags=0 rows=2 error=0" \
    "SELECT id, name FROM items ORDER BY id"
check "libmariadb C: prepare, then execute with the prepared text" \
    bash -c "grep -q 'flags=0 rows=-1 error=0 .*statement=\[UPDATE items SET name = ? WHERE id = ?\]$' <<<'$out' &&
             grep -q 'flags=2 rows=1 error=0 .*statement=\[UPDATE items SET name = ? WHERE id = ?\]$' <<<'$out'"
check "libmariadb C: syntax error 1064 / 42000" has "$out" mariadb "flags=1 rows=-1 error=1064 sqlstate=42000" "SELEC 1"
check "libmariadb C: duplicate key 1062 / 23000" has "$out" mariadb "flags=1 rows=-1 error=1062 sqlstate=23000" \
    "INSERT INTO items VALUES (1, 'again')"

traced mysqldb "$PYTHON" "$ROOT/tests/programs_db/mysqldb_queries.py" "$MY_PORT" shop >"$WORK/mysqldb.out" 2>&1
check "MySQLdb: program ran normally" grep -q '^error 1064' "$WORK/mysqldb.out"
out=$(dump mysqldb); echo "$out" | sed 's/^/     /'
check "MySQLdb: 3 spans (SET autocommit, SELECT, error)" test "$(spans "$out")" -eq 3
check "MySQLdb: SELECT with 2 rows" has "$out" mariadb "flags=0 rows=2 error=0 .*$my" \
    "SELECT id, name FROM items WHERE id > 0 ORDER BY id"
check "MySQLdb: syntax error" has "$out" mariadb "flags=1 rows=-1 error=1064 sqlstate=42000" "SELEC 1"
kill "$MY_PID"; wait "$MY_PID" 2>/dev/null

echo "$FAILURES failure(s)"
exit $((FAILURES != 0))
