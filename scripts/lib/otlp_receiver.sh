# Starts the independent OTLP/HTTP receiver (tests/otlp_receiver/receiver.js, node, official
# OpenTelemetry protobuf code) for end-to-end tests. Source after common.sh.

# start_otlp_receiver PID_VAR PORT_VAR OUT_FILE [receiver options...]: starts the receiver
# on a port it picks, waits for its "listening PORT" line, sets PID_VAR and PORT_VAR.
start_otlp_receiver() {
    local __pid_var=$1 __port_var=$2 out_file=$3
    shift 3
    local receiver="$LDTAP_ROOT/tests/otlp_receiver/receiver.js"
    [ -f "$receiver" ] || die "$receiver is missing"
    [ -d "$LDTAP_ROOT/tests/otlp_receiver/node_modules" ] ||
        die "tests/otlp_receiver/node_modules is missing (run scripts/setup.sh)"
    local port="" log_file receiver_pid
    log_file="$out_file.log"
    # --port 0: the receiver binds a free port itself and prints it (no race with others).
    start_background receiver_pid "$log_file" node "$receiver" --port 0 --out "$out_file" "$@"
    local deadline=$((SECONDS + 20))
    until [ -n "$port" ]; do
        port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$log_file" 2>/dev/null | head -n 1 || true)
        [ -n "$port" ] && break
        if ! kill -0 "$receiver_pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
            cat "$log_file" >&2 || true
            die "the OTLP receiver did not start"
        fi
        sleep 0.1
    done
    printf -v "$__pid_var" '%s' "$receiver_pid"
    printf -v "$__port_var" '%s' "$port"
}

# wait_for_lines FILE COUNT [TIMEOUT]: waits until FILE has at least COUNT lines (the
# receiver writes one line per export request it decoded).
wait_for_lines() {
    local file=$1 count=$2 timeout=${3:-15}
    local deadline=$((SECONDS + timeout))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if [ -f "$file" ] && [ "$(wc -l <"$file")" -ge "$count" ]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}
