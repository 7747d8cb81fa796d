# Shared bash helpers for ldtap's scripts and end-to-end tests: logging, a private temp
# dir removed at exit, free ports, starting/stopping background servers by pid.
# Source it from a script that already runs with `set -euo pipefail`.

LDTAP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Debian's interpreter, not a pyenv/venv one: Debian's gunicorn and flask live there.
LDTAP_PYTHON=/usr/bin/python3

LDTAP_TMP=""
LDTAP_BACKGROUND_PIDS=()

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

# Runs at exit: stops whatever is still running (by the pids we recorded, never by name)
# and removes the temp dir unless LDTAP_KEEP_TMP=1 (handy when debugging a failure).
ldtap_cleanup() {
    local status=$?
    local pid
    for pid in "${LDTAP_BACKGROUND_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for pid in "${LDTAP_BACKGROUND_PIDS[@]}"; do
        local tries=0
        while kill -0 "$pid" 2>/dev/null && [ "$tries" -lt 50 ]; do
            sleep 0.1
            tries=$((tries + 1))
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ -n "$LDTAP_TMP" ] && [ -d "$LDTAP_TMP" ]; then
        if [ "${LDTAP_KEEP_TMP:-0}" = 1 ]; then
            log "kept $LDTAP_TMP"
        else
            rm -rf "$LDTAP_TMP"
        fi
    fi
    return "$status"
}

# Creates the script's private temp dir (LDTAP_TMP) and installs the cleanup trap.
make_temp_dir() {
    LDTAP_TMP="$(mktemp -d "${TMPDIR:-/tmp}/ldtap-$(basename "$0" .sh).XXXXXX")"
    trap ldtap_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# Prints a TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it, so two
# concurrent tests never collide on a hard-coded port).
free_port() {
    "$LDTAP_PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Waits until something listens on 127.0.0.1:PORT. Uses `ss`, not a probe connection, so an
# instrumented server never sees a stray connection (it would show up in the traces).
# Fails early when PID (optional) has died.
wait_for_port() {
    local port=$1 timeout=${2:-20} pid=${3:-}
    local deadline=$((SECONDS + timeout))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
            return 0
        fi
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            log "process $pid exited before listening on port $port"
            return 1
        fi
        sleep 0.1
    done
    log "nothing listens on 127.0.0.1:$port after ${timeout}s"
    return 1
}

# wait_until TIMEOUT CMD [ARGS...]: runs CMD every 0.1 s until it succeeds (returns 0) or
# TIMEOUT seconds pass (returns 1). For effects that follow a response by a moment, such as
# a ring created when its first record is committed.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# start_background VAR LOGFILE CMD [ARGS...]: starts CMD in the background with its output
# in LOGFILE and stores its pid in VAR (a variable, not stdout: a pid printed from $(...)
# would belong to a subshell and could not be `wait`ed for).
# Background jobs of a non-interactive bash ignore SIGINT and SIGQUIT; `env
# --default-signal` undoes that so the servers react to signals as they would in a shell.
start_background() {
    local __var=$1 logfile=$2
    shift 2
    env --default-signal=INT,QUIT "$@" >"$logfile" 2>&1 &
    local pid=$!
    LDTAP_BACKGROUND_PIDS+=("$pid")
    printf -v "$__var" '%s' "$pid"
}

# stop_pid PID [SIGNAL] [TIMEOUT]: sends SIGNAL (default TERM) and waits for PID to exit,
# SIGKILL after TIMEOUT seconds. Sets STOP_STATUS to its exit status as `wait` reports it
# (128+n when it died of signal n). Returns 0 when it exited within the timeout.
STOP_STATUS=""
stop_pid() {
    local pid=$1 signal=${2:-TERM} timeout=${3:-20}
    local deadline=$((SECONDS + timeout)) killed=0
    kill "-$signal" "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        # A zombie child still answers kill -0; `wait` below reaps it.
        if [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ]; then
            break
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "pid $pid ignored SIG$signal for ${timeout}s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
            killed=1
            break
        fi
        sleep 0.1
    done
    STOP_STATUS=0
    wait "$pid" 2>/dev/null || STOP_STATUS=$?
    [ "$killed" = 0 ]
}

# Removes OpenTelemetry settings inherited from the caller's environment so a test runs
# exactly the configuration it asks for.
clear_otel_environment() {
    local name
    for name in $(env | sed -n 's/^\(OTEL_[A-Z_]*\)=.*/\1/p; s/^\(LDTAP_[A-Z_]*\)=.*/\1/p'); do
        case "$name" in
        LDTAP_KEEP_TMP | LDTAP_BUILD_DIR | LDTAP_FAULT_SCALE) ;; # the test's own knobs
        *) unset "$name" ;;
        esac
    done
}

# The build directory a test was given ($1), made absolute, with the binaries checked.
resolve_build_dir() {
    local dir=${1:-$LDTAP_ROOT/build}
    [ -d "$dir" ] || die "build directory $dir does not exist (run scripts/build.sh first)"
    dir="$(cd "$dir" && pwd)"
    [ -x "$dir/ldtap" ] || die "$dir/ldtap is missing"
    [ -f "$dir/libldtap.so" ] || die "$dir/libldtap.so is missing"
    printf '%s\n' "$dir"
}

# Checks for end-to-end scripts: `check NAME CMD...` runs CMD and prints "ok   - NAME" or
# "FAIL - NAME" (counted in FAILURES); `finish_checks` prints the count and exits with it.
FAILURES=0
pass() { echo "ok   - $1"; }
fail() {
    echo "FAIL - $1"
    FAILURES=$((FAILURES + 1))
}
check() {
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
finish_checks() {
    echo "$FAILURES failure(s)"
    exit $((FAILURES != 0))
}
