#!/usr/bin/env bash
# End-to-end: a Django 3.2 shop on SQLite under `ldtap run -- gunicorn -w 2`: every view's
# database spans are children of its request, sanitised, rolled up, listed in the summary.
# Usage: django_sqlite.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$LDTAP_ROOT/scripts/lib/otlp_receiver.sh"
source "$LDTAP_ROOT/scripts/lib/django_shop.sh"

BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
"$LDTAP_PYTHON" -c 'import django' 2>/dev/null || die "python3-django is missing (run scripts/setup.sh)"

export SHOP_DB=sqlite
export SHOP_SQLITE_PATH="$LDTAP_TMP/shop.sqlite3"
if django_shop_run sqlite "$BUILD" --namespace "$SHOP_SQLITE_PATH"; then
    log "passed"
else
    log "FAILED (set LDTAP_KEEP_TMP=1 to keep $LDTAP_TMP)"
    exit 1
fi
