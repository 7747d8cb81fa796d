# Drives the e2e Django shop (tests/e2e/apps/django_shop) under `ldtap run -- gunicorn -w 2`
# for tests/e2e/django_sqlite.sh and django_postgres.sh: migrate, serve, send one request
# per view, stop, then assert the spans with tests/e2e/check_django.py. Source after
# common.sh and otlp_receiver.sh; the caller exports the shop's SHOP_DB* settings first.

DJANGO_SHOP_APP="$LDTAP_ROOT/tests/e2e/apps/django_shop"
# Orders the create view makes; the list view then makes 1 + this many queries (N+1).
DJANGO_SHOP_ORDERS=3
# Distinctive order names: they travel in statements as literals (psycopg2 interpolates
# them client-side) and must never reach the export or the summary.
DJANGO_SHOP_SECRET="quokka$$z$(date +%s)"
# The slow view runs one ~80 ms statement; everything else is well under this.
DJANGO_SHOP_SLOW_MS=40

# django_shop_request DIR NAME EXPECTED_STATUS CURL_ARGS...: one request; its body goes to
# DIR/NAME.body. The user agent e2e/NAME lets the checker find the request's server span.
django_shop_request() {
    local dir=$1 name=$2 expected=$3
    shift 3
    local status
    status=$(curl -s --max-time 20 -A "e2e/$name" -o "$dir/$name.body" -w '%{http_code}' "$@" || true)
    if [ "$status" != "$expected" ]; then
        echo "  FAIL request $name answered ${status:-nothing}, expected $expected"
        cat "$dir/$name.body" 2>/dev/null | head -n 20
        return 1
    fi
    echo "  ok   request $name answered $status"
}

# django_shop_run SYSTEM BUILD_DIR [check_django.py options...]: the whole test for one
# database. Returns non-zero when anything failed.
django_shop_run() {
    local system=$1 build=$2
    shift 2
    local dir="$LDTAP_TMP/shop" failed=0
    mkdir -p "$dir"
    # Debian's python3-django serves the app; no .pyc files in the source tree.
    export PYTHONDONTWRITEBYTECODE=1

    echo "== migrate ($system), not instrumented"
    (cd "$DJANGO_SHOP_APP" && "$LDTAP_PYTHON" manage.py migrate -v 0) >"$dir/migrate.log" 2>&1 ||
        { cat "$dir/migrate.log"; die "migrate failed"; }

    echo "== gunicorn -w 2 under ldtap run, OTLP/HTTP protobuf to the node receiver"
    local shop_receiver_pid shop_receiver_port port ldtap_pid
    start_otlp_receiver shop_receiver_pid shop_receiver_port "$dir/otlp.jsonl"
    port=$(free_port)
    start_background ldtap_pid "$dir/ldtap.log" "$build/ldtap" run --service-name django-shop \
        --endpoint "http://127.0.0.1:$shop_receiver_port" --protocol http/protobuf --no-prometheus \
        --run-dir "$dir/run" --slow-query-ms "$DJANGO_SHOP_SLOW_MS" -- \
        /usr/bin/gunicorn -w 2 -k sync -b "127.0.0.1:$port" --chdir "$DJANGO_SHOP_APP" shop.wsgi:application
    wait_for_port "$port" 30 "$ldtap_pid" || { cat "$dir/ldtap.log"; die "gunicorn did not start"; }

    local base="http://127.0.0.1:$port/orders" n first_id
    for n in $(seq 1 "$DJANGO_SHOP_ORDERS"); do
        django_shop_request "$dir" "create$n" 201 -d "name=$DJANGO_SHOP_SECRET-$n" "$base/create/" || failed=1
    done
    first_id=$(sed -n 's/^{"id": \([0-9]*\)}$/\1/p' "$dir/create1.body")
    [ -n "$first_id" ] || { echo "  FAIL create1 returned no id"; first_id=1; failed=1; }
    django_shop_request "$dir" list 200 "$base/" || failed=1
    django_shop_request "$dir" detail 200 "$base/$first_id/" || failed=1
    django_shop_request "$dir" missing 404 "$base/999999/" || failed=1
    django_shop_request "$dir" duplicate 409 -d "name=$DJANGO_SHOP_SECRET-1" "$base/duplicate/" || failed=1
    django_shop_request "$dir" bad-sql 400 "$base/bad-sql/" || failed=1
    django_shop_request "$dir" report 200 "$base/report/" || failed=1

    # SIGTERM: gunicorn stops gracefully, ldtap drains, exports, prints the summary.
    stop_pid "$ldtap_pid" TERM 30 || failed=1
    [ "$STOP_STATUS" = 0 ] || { echo "  FAIL ldtap exited $STOP_STATUS after SIGTERM"; failed=1; }
    wait_for_lines "$dir/otlp.jsonl" 1 10 || true
    stop_pid "$shop_receiver_pid" TERM 10 || true

    "$LDTAP_PYTHON" "$LDTAP_ROOT/tests/e2e/check_django.py" --system "$system" \
        --spans "$dir/otlp.jsonl" --summary "$dir/ldtap.log" --orders "$DJANGO_SHOP_ORDERS" \
        --secret "$DJANGO_SHOP_SECRET" "$@" || failed=1
    if [ "$failed" != 0 ]; then
        echo "--- last lines of ldtap's output"
        tail -n 40 "$dir/ldtap.log"
    fi
    return "$failed"
}
