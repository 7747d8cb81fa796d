#!/usr/bin/env bash
# Security of the ring files, end to end with real programs: the shim creates a 0700
# directory and 0600 ring files (O_CREAT|O_EXCL|O_NOFOLLOW, seen with strace) and refuses a
# planted symlink, group/other-accessible or foreign-owned run directory; setuid and setgid
# programs (AT_SECURE) keep the shim inert though it is loaded; `ldtap collect` never reads a
# ring through a symlink, reads only its own user's rings unless --all-users (root only),
# and refuses an unsafe base directory. Parts that need another user run only as root.
# Usage: tests/e2e/security.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
BUILD=$(resolve_build_dir "${1:-}")
make_temp_dir
clear_otel_environment
unset XDG_RUNTIME_DIR

skip() { echo "skip - $1"; }

T=$LDTAP_TMP
IS_ROOT=0
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    IS_ROOT=1
    NOBODY_GROUP=$(id -gn nobody)
    # Other users must reach the programs and directories below (mktemp made T 0700).
    chmod 755 "$T"
    AS_NOBODY=(setpriv --reuid=nobody --regid="$NOBODY_GROUP" --clear-groups --)
    as_nobody() { "${AS_NOBODY[@]}" "$@"; }
else
    echo "# not root (or no 'nobody' user): the parts that need another user are skipped"
fi

# ---- programs: the probe plain, the probe linked against the shim, the ring dumper ----
BIN=$T/bin
mkdir -m 755 "$BIN"
cp "$BUILD/libldtap.so" "$BUILD/ldtap" "$BIN/"
SHIM=$BIN/libldtap.so
LDTAP=$BIN/ldtap
CFLAGS=(-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2)
gcc "${CFLAGS[@]}" -o "$BIN/probe" "$LDTAP_ROOT/tests/programs_shim/secure_probe.c"
# Linked against the shim (absolute RUNPATH, honoured under AT_SECURE unlike LD_PRELOAD
# paths), so that a setuid copy really loads it and the shim's own AT_SECURE check is what
# keeps it inert.
gcc "${CFLAGS[@]}" -o "$BIN/probe-linked" "$LDTAP_ROOT/tests/programs_shim/secure_probe.c" \
    -L"$BIN" -Wl,--no-as-needed -lldtap -Wl,-rpath,"$BIN"
gcc "${CFLAGS[@]}" -I"$LDTAP_ROOT/shim/ring" -o "$BIN/ring_dump" "$LDTAP_ROOT/tests/programs_shim/ring_dump.c" \
    "$LDTAP_ROOT/shim/ring/ring_reader.c"
PROBE=$BIN/probe

# shimmed RUN_DIR CMD...: CMD with the shim preloaded and rings in RUN_DIR (empty: default).
shimmed() {
    local run_dir=$1
    shift
    env LD_PRELOAD="$SHIM" ${run_dir:+LDTAP_RUN_DIR="$run_dir"} LDTAP_HEAP_SAMPLE_BYTES=0 "$@"
}
ring_count() { find "$1" -maxdepth 1 -name '*.ring' 2>/dev/null | wc -l; }
# probe_works OUTPUT_FILE: the probe's exchange worked and it said so.
probe_works() { grep -q 'exchange=ok' "$1"; }

# ---- the shim's files: 0700 directory, 0600 rings, owned by us, whatever the umask ----
mkdir "$T/fresh"
(umask 000 && shimmed "$T/fresh/ldtap" "$PROBE" >"$T/fresh.out")
check "probe works under the shim" probe_works "$T/fresh.out"
ring=$(find "$T/fresh/ldtap" -name '*.ring' | head -n 1)
check "ring directory created 0700 despite umask 000" test "$(stat -c %a "$T/fresh/ldtap")" = 700
check "ring file created 0600 despite umask 000" test -n "$ring" -a "$(stat -c %a "$ring" 2>/dev/null)" = 600
check "ring directory and file owned by us" \
    test "$(stat -c %u "$T/fresh/ldtap")" = "$(id -u)" -a "$(stat -c %u "$ring" 2>/dev/null)" = "$(id -u)"
check "the ring holds the probe's spans (the test can see a ring when there is one)" \
    grep -q 'GET /probe' <("$BIN/ring_dump" "$ring")

if command -v strace >/dev/null; then
    strace -f -qq -e trace=openat,mkdir -o "$T/strace.log" env LD_PRELOAD="$SHIM" LDTAP_RUN_DIR="$T/traced" \
        LDTAP_HEAP_SAMPLE_BYTES=0 "$PROBE" >/dev/null
    ring_open=$(grep -E 'openat\(.*"[0-9]+-[0-9]+\.ring"' "$T/strace.log" || true)
    check "ring opened with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600 ($ring_open)" \
        grep -qE 'O_CREAT.*O_EXCL.*O_NOFOLLOW.*, 0600\) = [0-9]+' <<<"$ring_open"
    check "ring directory opened with O_NOFOLLOW|O_DIRECTORY, created 0700" \
        grep -qE "openat\(AT_FDCWD, \"$T/traced\", [A-Z_|]*O_NOFOLLOW[A-Z_|]*O_DIRECTORY" "$T/strace.log"
    check "ring directory created with mode 0700" grep -qE "mkdir\(\"$T/traced\", 0700\)" "$T/strace.log"
else
    skip "strace is not installed: open flags not checked"
fi

# ---- the shim refuses a planted run directory; the program runs on untraced ----
# refused NAME RUN_DIR TARGET [ENV...]: the probe works and TARGET gets no ring.
refused() {
    local name=$1 run_dir=$2 target=$3
    shift 3
    env "$@" LD_PRELOAD="$SHIM" ${run_dir:+LDTAP_RUN_DIR="$run_dir"} LDTAP_HEAP_SAMPLE_BYTES=0 "$PROBE" \
        >"$T/refused.out" 2>&1 || true
    check "$name: program unaffected" probe_works "$T/refused.out"
    check "$name: no ring written" test "$(ring_count "$target")" = 0
}
mkdir -m 700 "$T/attacker" "$T/xdg-link"
ln -s "$T/attacker" "$T/xdg-link/ldtap"
refused "default run dir (\$XDG_RUNTIME_DIR/ldtap) is a symlink" "" "$T/attacker" XDG_RUNTIME_DIR="$T/xdg-link"
ln -s "$T/attacker" "$T/run-link"
refused "LDTAP_RUN_DIR is a symlink" "$T/run-link" "$T/attacker"
mkdir -m 755 "$T/open-dir"
refused "run dir readable by others (0755)" "$T/open-dir" "$T/open-dir"
mkdir -m 770 "$T/group-dir"
refused "run dir group-writable (0770)" "$T/group-dir" "$T/group-dir"
: >"$T/plain-file"
refused "run dir is a regular file" "$T/plain-file" "$T"
if [ "$IS_ROOT" = 1 ]; then
    mkdir "$T/xdg-foreign"
    mkdir -m 700 "$T/xdg-foreign/ldtap"
    chown nobody "$T/xdg-foreign/ldtap"
    refused "default run dir planted by another user" "" "$T/xdg-foreign/ldtap" XDG_RUNTIME_DIR="$T/xdg-foreign"
else
    skip "run dir planted by another user (needs root)"
fi

# ---- setuid / setgid programs: the shim is loaded but stays inert ----
LINKED=$BIN/probe-linked
LDTAP_RUN_DIR="$T/secure-control" LDTAP_HEAP_SAMPLE_BYTES=0 "$LINKED" >"$T/control.out"
check "control: the linked probe loads the shim ($(cat "$T/control.out"))" \
    grep -q "at_secure=0 connect_from=$SHIM exchange=ok" "$T/control.out"
check "control: without AT_SECURE it writes a ring with its spans" \
    grep -q 'GET /probe' <("$BIN/ring_dump" "$T/secure-control"/*.ring 2>/dev/null)
# secure_run NAME PROGRAM RUN_DIR: PROGRAM runs (as root) with AT_SECURE set.
secure_run() {
    local name=$1 program=$2 run_dir=$3
    LDTAP_RUN_DIR="$run_dir" LDTAP_HEAP_SAMPLE_BYTES=0 LDTAP_CAPTURE_LOGS=stdout,stderr "$program" \
        >"$T/$name.out" 2>&1 || true
    if grep -q 'at_secure=0' "$T/$name.out" && findmnt -no OPTIONS --target "$program" | grep -q nosuid; then
        skip "$name: $T is on a nosuid mount"
        return
    fi
    check "$name: AT_SECURE set, shim loaded and interposed, program works ($(cat "$T/$name.out"))" \
        grep -q "at_secure=1 connect_from=$SHIM exchange=ok" "$T/$name.out"
    check "$name: no ring written" test "$(ring_count "$run_dir")" = 0
}
if [ "$IS_ROOT" = 1 ]; then
    # setuid to nobody, started by root; the run dir is nobody's, so an active shim could write.
    cp "$LINKED" "$BIN/probe-setuid"
    chown nobody "$BIN/probe-setuid"
    chmod 4755 "$BIN/probe-setuid"
    mkdir -m 700 "$T/secure-uid"
    chown nobody "$T/secure-uid"
    secure_run setuid "$BIN/probe-setuid" "$T/secure-uid"
    # setgid to nobody's group; the run dir is root's own, where an active shim could write.
    cp "$LINKED" "$BIN/probe-setgid"
    chgrp "$NOBODY_GROUP" "$BIN/probe-setgid"
    chmod 2755 "$BIN/probe-setgid"
    mkdir -m 700 "$T/secure-gid"
    secure_run setgid "$BIN/probe-setgid" "$T/secure-gid"
else
    skip "setuid/setgid programs (needs root to give the copies another owner)"
fi

# ---- the collector: no symlinks, only its own user's rings unless --all-users ----
# collect NAME RUN_DIR OUTPUT WAIT_GONE [FLAGS...]: runs `ldtap collect` until the ring
# WAIT_GONE has been drained and removed (or 20 s), plus one rescan, then stops it.
COLLECT_STATUS=0
collect() {
    local name=$1 run_dir=$2 output=$3 wait_gone=$4
    shift 4
    local collector_pid deadline=$((SECONDS + 20))
    start_background collector_pid "$T/$name.err" env OTEL_BSP_SCHEDULE_DELAY=100 "$@" --run-dir "$run_dir" \
        -o "$output" --no-prometheus --no-summary
    while [ -e "$wait_gone" ] && [ "$SECONDS" -lt "$deadline" ] && kill -0 "$collector_pid" 2>/dev/null; do
        sleep 0.1
    done
    sleep 1.2 # the collector rescans its directory every second
    stop_pid "$collector_pid" TERM 20 || true
    COLLECT_STATUS=$STOP_STATUS
}
exported() { grep -q "\"$2\"" "$1" 2>/dev/null; }

D=$T/collect
mkdir -m 700 "$D" "$T/elsewhere"
OTEL_SERVICE_NAME=own-svc shimmed "$D" "$PROBE" >/dev/null
own_ring=$(find "$D" -name '*.ring' | head -n 1)
OTEL_SERVICE_NAME=symlink-svc shimmed "$T/elsewhere" "$PROBE" >/dev/null
symlink_target=$(find "$T/elsewhere" -name '*.ring' | head -n 1)
ln -s "$symlink_target" "$D/99999-1.ring"
mkfifo "$D/99998-1.ring"
foreign_ring=""
if [ "$IS_ROOT" = 1 ]; then
    mkdir -m 700 "$T/nobody-run"
    chown nobody "$T/nobody-run"
    as_nobody env OTEL_SERVICE_NAME=foreign-svc LD_PRELOAD="$SHIM" LDTAP_RUN_DIR="$T/nobody-run" \
        LDTAP_HEAP_SAMPLE_BYTES=0 "$PROBE" >/dev/null
    foreign_ring="$D/$(basename "$(find "$T/nobody-run" -name '*.ring' | head -n 1)")"
    mv "$T/nobody-run"/*.ring "$D/" # keeps its owner: nobody
    check "a ring owned by nobody is planted in root's run dir" test "$(stat -c %U "$foreign_ring")" = nobody
fi

collect own "$D" "$T/own.jsonl" "$own_ring" "$LDTAP" collect
check "collect: exits cleanly (status $COLLECT_STATUS)" test "$COLLECT_STATUS" = 0
check "collect: its own user's ring is drained and exported" exported "$T/own.jsonl" own-svc
check "collect: its own ring is removed after its process ended" test ! -e "$own_ring"
check "collect: a ring behind a planted symlink is not read" bash -c "! grep -q symlink-svc '$T/own.jsonl'"
check "collect: the symlink's target is left alone" test -s "$symlink_target"
check "collect: a planted FIFO named *.ring does not hang it" test -p "$D/99998-1.ring"
if [ "$IS_ROOT" = 1 ]; then
    check "collect: another user's ring is not read without --all-users" \
        bash -c "! grep -q foreign-svc '$T/own.jsonl'"
    check "collect: another user's ring is left in place" test -e "$foreign_ring"

    collect all "$D" "$T/all.jsonl" "$foreign_ring" "$LDTAP" collect --all-users
    check "collect --all-users (root): exits cleanly" test "$COLLECT_STATUS" = 0
    check "collect --all-users (root): another user's ring is read" exported "$T/all.jsonl" foreign-svc
    check "collect --all-users: still no ring through a symlink" bash -c "! grep -q symlink-svc '$T/all.jsonl'"

    # A collector running as nobody: root's ring planted in its directory, readable and
    # writable by everybody (0666), so only the owner check can keep it out.
    N=$T/nobody-collect
    mkdir -m 700 "$N" "$T/root-run"
    OTEL_SERVICE_NAME=root-svc shimmed "$T/root-run" "$PROBE" >/dev/null
    chown nobody "$N"
    as_nobody env OTEL_SERVICE_NAME=nobody-svc LD_PRELOAD="$SHIM" LDTAP_RUN_DIR="$N" LDTAP_HEAP_SAMPLE_BYTES=0 \
        "$PROBE" >/dev/null
    nobody_ring=$(find "$N" -name '*.ring' | head -n 1)
    root_ring="$N/$(basename "$(find "$T/root-run" -name '*.ring' | head -n 1)")"
    mv "$T/root-run"/*.ring "$N/"
    chmod 666 "$root_ring"
    mkdir -m 755 "$T/nobody-out"
    chown nobody "$T/nobody-out"
    collect nobody "$N" "$T/nobody-out/out.jsonl" "$nobody_ring" "${AS_NOBODY[@]}" "$LDTAP" collect
    check "collect as nobody: exits cleanly" test "$COLLECT_STATUS" = 0
    check "collect as nobody: its own ring is exported" exported "$T/nobody-out/out.jsonl" nobody-svc
    check "collect as nobody: root's world-writable ring in its directory is not read" \
        bash -c "! grep -q root-svc '$T/nobody-out/out.jsonl' && test -e '$root_ring'"
else
    skip "another user's rings and --all-users (needs root)"
fi

# --all-users from anybody but root is an error (as nobody when we are root).
status=0
if [ "$IS_ROOT" = 1 ]; then
    as_nobody "$LDTAP" collect --all-users --run-dir "$N" --no-prometheus >"$T/all-users.out" 2>&1 || status=$?
else
    "$LDTAP" collect --all-users --run-dir "$D" --no-prometheus >"$T/all-users.out" 2>&1 || status=$?
fi
check "collect --all-users by a user other than root: refused, exit status 2 (status $status)" \
    bash -c "test $status = 2 && grep -q 'only root can read other users' '$T/all-users.out'"

# refused_base NAME DIR MESSAGE: `ldtap collect --run-dir DIR` stops at once, saying MESSAGE.
refused_base() {
    local name=$1 directory=$2 message=$3 status=0
    timeout 10 "$LDTAP" collect --run-dir "$directory" --no-prometheus >"$T/base.out" 2>&1 || status=$?
    check "collect refuses a base directory that $name (status $status)" \
        bash -c "test $status = 2 && grep -q '$message' '$T/base.out'"
}
refused_base "is a symlink" "$T/run-link" "is a symbolic link"
mkdir -m 777 "$T/world-dir"
refused_base "others can write" "$T/world-dir" "is writable by other users"
if [ "$IS_ROOT" = 1 ]; then
    refused_base "belongs to another user" "$T/xdg-foreign/ldtap" "belongs to another user"
fi

echo
if [ "$FAILURES" = 0 ]; then
    echo "security: all checks passed"
else
    echo "security: $FAILURES check(s) failed"
fi
[ "$FAILURES" = 0 ]
