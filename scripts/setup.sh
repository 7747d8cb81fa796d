#!/usr/bin/env bash
# Installs everything ldtap needs to build, test, demo and benchmark on Debian 12, plus the
# node modules of the OTLP test receiver. Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

PACKAGES=(
    # build
    build-essential cmake pkg-config clang libclang-rt-14-dev
    libcriterion-dev libcurl4-openssl-dev zlib1g-dev libmicrohttpd-dev
    # heap profiles: symbolization (libelf, libdw) and the official profile.proto for decoding
    libelf-dev libdw-dev protobuf-compiler golang-github-google-pprof-dev
    # heap and crash stacks (shim/stack.c builds its unwinder only with libunwind.h)
    libunwind-dev
    # end-to-end tests and demo: servers, clients, helpers
    python3 gunicorn python3-flask curl procps iproute2 coreutils
    # database tracing tests and benchmarks: servers, client libraries, Python drivers and
    # the Django and FastAPI apps that use them (tests/e2e/django_*.sh, pgbench.sh, ...)
    postgresql postgresql-contrib libpq-dev python3-psycopg2 python3-asyncpg python3-pg8000
    mariadb-server mariadb-client libmariadb-dev python3-mysqldb python3-pymysql
    redis-server redis-tools python3-redis sqlite3 libsqlite3-dev
    python3-django python3-fastapi uvicorn
    # CPython's own regression tests, run with and without the shim (tests/e2e/shim_compat.sh)
    libpython3.11-testsuite
    # Prometheus endpoint and `ldtap top` tests: a real Prometheus + promtool, tmux
    prometheus tmux
    # benchmarks (heaptrack: the heap hooks' comparison in scripts/bench_heap.sh)
    wrk nginx-light valgrind heaptrack
    # system-call checks in security.sh and heap_shim.sh
    strace
    # other allocators preloaded with ldtap (tests/e2e/heap_shim.sh, scripts/bench_heap.sh)
    libjemalloc2 libtcmalloc-minimal4
    # the independent OTLP receiver used by the e2e tests
    nodejs
)

SUDO=()
if [ "$(id -u)" != 0 ]; then
    SUDO=(sudo)
fi

missing=()
for package in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done
# npm comes with some nodejs builds (NodeSource's provides and conflicts with Debian's npm
# package), so ask for Debian's npm only when no npm is on the PATH.
if ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
    log "all Debian packages already installed"
fi

receiver_dir=tests/otlp_receiver
if [ -f "$receiver_dir/package.json" ]; then
    marker="$receiver_dir/node_modules/.package-lock.json"
    if [ -f "$marker" ] && [ "$marker" -nt "$receiver_dir/package.json" ] &&
        { [ ! -f "$receiver_dir/package-lock.json" ] || [ "$marker" -nt "$receiver_dir/package-lock.json" ] ||
            cmp -s "$marker" "$receiver_dir/package-lock.json"; }; then
        log "node modules of $receiver_dir are up to date"
    elif [ -f "$receiver_dir/package-lock.json" ]; then
        log "npm ci in $receiver_dir"
        (cd "$receiver_dir" && npm ci --no-audit --no-fund --loglevel=error)
    else
        log "npm install in $receiver_dir"
        (cd "$receiver_dir" && npm install --no-audit --no-fund --loglevel=error)
    fi
fi
log "setup done"
