# Private database servers for end-to-end tests and benchmarks: a PostgreSQL cluster from
# initdb, a MariaDB server, a Redis server, each in a directory of the caller's, listening on
# 127.0.0.1 at a free port, recorded for the cleanup trap and stopped by pid. Source after
# common.sh.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# start_postgres PID_VAR PORT_VAR DIR: initdb (trust authentication, superuser "postgres")
# into DIR/data, starts postgres with its unix socket in DIR, waits until it accepts
# connections. `psql -h 127.0.0.1 -p PORT -U postgres postgres` then works.
start_postgres() {
    local __pid_var=$1 __port_var=$2 dir=$3
    local as_owner=() owner port server_pid
    [ -x "$PG_BIN/initdb" ] || die "$PG_BIN/initdb is missing (run scripts/setup.sh: postgresql)"
    mkdir -p "$dir"
    # postgres refuses to run as root: the cluster belongs to the postgres account (Debian's
    # package creates it), which must be able to reach DIR: the test's temp dir is 0700
    # (mktemp), the directories below it are made 0755 by mkdir. setpriv, not runuser: it
    # execs, so the pid we record and signal is the postmaster's own.
    if [ "$(id -u)" = 0 ]; then
        owner=postgres
        id "$owner" >/dev/null 2>&1 || owner=nobody
        chown "$owner" "$dir"
        [ -n "$LDTAP_TMP" ] && chmod o+x "$LDTAP_TMP"
        as_owner=(setpriv --reuid="$owner" --regid="$(id -g "$owner")" --clear-groups --)
    fi
    "${as_owner[@]}" "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    port=$(free_port)
    # fsync off: a test cluster is thrown away, and it keeps the shared disk quiet.
    start_background server_pid "$dir/postgres.log" "${as_owner[@]}" "$PG_BIN/postgres" -D "$dir/data" \
        -k "$dir" -p "$port" -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
        -c full_page_writes=off
    local deadline=$((SECONDS + 30))
    until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; do
        if ! kill -0 "$server_pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
            cat "$dir/postgres.log" >&2
            die "postgres did not start"
        fi
        sleep 0.1
    done
    printf -v "$__pid_var" "%s" "$server_pid"
    printf -v "$__port_var" '%s' "$port"
}

# start_mariadb PID_VAR PORT_VAR DIR: a fresh data directory in DIR/data, root without a
# password over TCP, binary log off; waits until a client can connect.
start_mariadb() {
    local __pid_var=$1 __port_var=$2 dir=$3
    local port server_pid user
    [ -x /usr/sbin/mariadbd ] || die "/usr/sbin/mariadbd is missing (run scripts/setup.sh: mariadb-server)"
    user=$(id -un)
    mkdir -p "$dir"
    mariadb-install-db --no-defaults --datadir="$dir/data" --user="$user" \
        --auth-root-authentication-method=normal --skip-test-db >"$dir/install-db.log" 2>&1 ||
        { cat "$dir/install-db.log" >&2; die "mariadb-install-db failed"; }
    port=$(free_port)
    start_background server_pid "$dir/mariadbd.log" /usr/sbin/mariadbd --no-defaults --datadir="$dir/data" \
        --socket="$dir/socket" --port="$port" --bind-address=127.0.0.1 --user="$user" \
        --pid-file="$dir/pid" --skip-log-bin --innodb-flush-log-at-trx-commit=0
    local deadline=$((SECONDS + 30))
    until mariadb --no-defaults -h 127.0.0.1 -P "$port" -u root -e 'SELECT 1' >/dev/null 2>&1; do
        if ! kill -0 "$server_pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
            cat "$dir/mariadbd.log" >&2
            die "mariadbd did not start"
        fi
        sleep 0.1
    done
    printf -v "$__pid_var" "%s" "$server_pid"
    printf -v "$__port_var" '%s' "$port"
}

# start_redis PID_VAR PORT_VAR DIR: redis-server without persistence, its files in DIR.
start_redis() {
    local __pid_var=$1 __port_var=$2 dir=$3
    local port server_pid
    command -v redis-server >/dev/null || die "redis-server is missing (run scripts/setup.sh: redis-server)"
    mkdir -p "$dir"
    port=$(free_port)
    start_background server_pid "$dir/redis.log" redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" \
        --save "" --appendonly no --daemonize no
    wait_for_port "$port" 20 "$server_pid" || { cat "$dir/redis.log" >&2; die "redis-server did not start"; }
    printf -v "$__pid_var" "%s" "$server_pid"
    printf -v "$__port_var" '%s' "$port"
}
