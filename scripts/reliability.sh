#!/usr/bin/env bash
# The reliability runner: every fault test (tests/e2e/fault_*.sh) with its load scaled up,
# then one table: each fault, the load held, spans produced, delivered, dropped (counted
# and reported) and lost (must be 0). Exits non-zero when a fault test failed or lost
# anything. README.md's reliability table comes from here.
# Usage: scripts/reliability.sh [BUILD_DIR]   (LDTAP_FAULT_SCALE, default 4: load multiplier;
#        LDTAP_SKIP_BUILD=1 uses BUILD_DIR as it is)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

BUILD=${1:-build}
export LDTAP_FAULT_SCALE=${LDTAP_FAULT_SCALE:-4}
make_temp_dir
if [ "${LDTAP_SKIP_BUILD:-0}" != 1 ]; then
    bash scripts/build.sh "$BUILD" >"$LDTAP_TMP/build.log" 2>&1 || {
        tail -n 40 "$LDTAP_TMP/build.log"
        die "build failed"
    }
fi
BUILD=$(cd "$BUILD" && pwd)

failed_scripts=()
for script in tests/e2e/fault_*.sh; do
    name=$(basename "$script" .sh)
    log "running $name (load x$LDTAP_FAULT_SCALE)"
    if ! timeout -k 15 1800 bash "$script" "$BUILD" >"$LDTAP_TMP/$name.log" 2>&1; then
        failed_scripts+=("$name")
        tail -n 30 "$LDTAP_TMP/$name.log" >&2
    fi
    grep '^RELIABILITY ' "$LDTAP_TMP/$name.log" >>"$LDTAP_TMP/rows" || failed_scripts+=("$name (no figures)")
done

table_status=0
"$LDTAP_PYTHON" - "$LDTAP_TMP/rows" <<'EOF' || table_status=$?
import shlex, sys
rows = []
for line in open(sys.argv[1]):
    fields = dict(part.split("=", 1) for part in shlex.split(line)[1:])
    rows.append(fields)
header = ["fault", "load held", "produced", "delivered", "dropped (counted)", "lost", "sent twice"]
print("| " + " | ".join(header) + " |")
print("|" + "---|" * len(header))
for row in rows:
    print(f"| {row['fault']} | {row['load']} | {row['produced']} | {row['delivered']} | {row['dropped']} "
          f"| {row['lost']} | {row.get('duplicated', '0')} |")
lost = sum(int(row["lost"]) for row in rows)
print(f"\n{len(rows)} faults; lost in total: {lost}")
sys.exit(1 if lost else 0)
EOF
if [ "${#failed_scripts[@]}" -gt 0 ]; then
    log "failed: ${failed_scripts[*]}"
    exit 1
fi
exit "$table_status"
