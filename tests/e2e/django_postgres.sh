#!/usr/bin/env bash
# End-to-end: the Django 3.2 shop on PostgreSQL through psycopg2 (libpq) under `ldtap run --
# gunicorn -w 2`: children, rollups, sanitising, unique violation 23505, syntax error 42601.
# Usage: django_postgres.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$LDTAP_ROOT/scripts/lib/otlp_receiver.sh"
source "$LDTAP_ROOT/scripts/lib/db_servers.sh"
source "$LDTAP_ROOT/scripts/lib/django_shop.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
"$LDTAP_PYTHON" -c 'import django, psycopg2' 2>/dev/null ||
    die "python3-django or python3-psycopg2 is missing (run scripts/setup.sh)"

start_postgres PG_PID PG_PORT "$LDTAP_TMP/pg"
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres shop
export SHOP_DB=postgresql SHOP_PG_PORT="$PG_PORT" SHOP_PG_NAME=shop
status=0
# --unparented: see check_django.py (Django re-checks the connection after bad-sql).
django_shop_run postgresql "$BUILD" --namespace shop --server-port "$PG_PORT" --unparented "SELECT ?" || status=1
stop_pid "$PG_PID" TERM 20 || true
if [ "$status" = 0 ]; then
    log "passed"
else
    log "FAILED (set LDTAP_KEEP_TMP=1 to keep $LDTAP_TMP)"
    exit 1
fi
