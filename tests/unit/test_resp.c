/* Unit tests for the Redis RESP2/RESP3 framer: hand-built exchanges after the RESP
 * specification, fed whole, split at every byte and one byte at a time. */
#include "resp.h"
#include "wire_script.h"

#include "ldtap_ring_abi.h"

static void init(void *state, uint8_t *buffer, uint16_t capacity) {
    ldtap_resp_init(state, buffer, capacity);
}

static enum ldtap_wire_event feed(void *state, enum ldtap_wire_direction direction, const uint8_t *bytes,
                                  size_t length, size_t *consumed) {
    return ldtap_resp_feed(state, direction, bytes, length, consumed);
}

#define C(script, literal) ADD(script, LDTAP_WIRE_FROM_CLIENT, literal)
#define S(script, literal) ADD(script, LDTAP_WIRE_FROM_SERVER, literal)

static struct wire_log log_;

static void frame(const struct script *script) {
    frame_everywhere(init, feed, 64, script->chunks, script->count, &log_);
}

Test(resp, commands_and_scalar_replies) {
    struct script script;
    script_reset(&script);
    C(&script, "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
    S(&script, "+OK\r\n");
    C(&script, "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
    S(&script, "$5\r\nvalue\r\n");
    C(&script, "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n");
    S(&script, ":42\r\n");
    C(&script, "*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n");
    S(&script, "$-1\r\n");
    frame(&script);
    cr_assert_str_eq(log_.events, "BCBCBCBC");
    cr_assert_str_eq(log_.texts[0], "SET key value");
    cr_assert_str_eq(log_.texts[1], "GET key");
    cr_assert_str_eq(log_.texts[2], "INCR n");
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(log_.results[i].flags, 0);
        cr_assert_eq(log_.results[i].rows, -1);
        cr_assert_eq(log_.results[i].sequence, (uint32_t)i + 1);
    }
}

Test(resp, error_reply_and_array_rows) {
    struct script script;
    script_reset(&script);
    C(&script, "*2\r\n$4\r\nLLEN\r\n$1\r\ns\r\n");
    S(&script, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    C(&script, "*4\r\n$6\r\nLRANGE\r\n$1\r\nl\r\n$1\r\n0\r\n$2\r\n-1\r\n");
    S(&script, "*3\r\n$1\r\na\r\n$0\r\n\r\n*2\r\n:1\r\n$-1\r\n");
    C(&script, "*1\r\n$3\r\nBAD\r\n");
    S(&script, "-ERR unknown command 'BAD'\r\n");
    frame(&script);
    cr_assert_str_eq(log_.events, "BCBCBC");
    cr_assert_eq(log_.results[0].flags, LDTAP_DB_FLAG_ERROR);
    cr_assert_str_eq(log_.results[0].status_code, "WRONGTY");
    cr_assert_eq(log_.results[1].rows, 3);
    cr_assert_str_eq(log_.texts[1], "LRANGE l 0 -1");
    cr_assert_str_eq(log_.results[2].status_code, "ERR");
}

Test(resp, pipeline_maps_replies_in_order) {
    struct script script;
    script_reset(&script);
    C(&script, "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nDEL\r\n$1\r\na\r\n");
    S(&script, "+PONG\r\n$1\r\n1\r\n:1\r\n");
    frame(&script);
    cr_assert_str_eq(log_.events, "BBBCCC");
    cr_assert_str_eq(log_.texts[0], "PING");
    cr_assert_str_eq(log_.texts[2], "DEL a");
    cr_assert_eq(log_.results[2].sequence, 3);
}

Test(resp, inline_commands) {
    struct script script;
    script_reset(&script);
    C(&script, "PING\r\n");
    S(&script, "+PONG\r\n");
    C(&script, "\r\nset  k   v\r\n");
    S(&script, "+OK\r\n");
    C(&script, "AUTH hunter2\r\n");
    S(&script, "+OK\r\n");
    frame(&script);
    cr_assert_str_eq(log_.events, "BCBCBC");
    cr_assert_str_eq(log_.texts[0], "PING");
    cr_assert_str_eq(log_.texts[1], "set k v");
    cr_assert_str_eq(log_.texts[2], "AUTH");
}

Test(resp, auth_and_hello_arguments_are_not_copied) {
    struct script script;
    script_reset(&script);
    C(&script, "*3\r\n$4\r\nAUTH\r\n$4\r\nuser\r\n$6\r\nsecret\r\n");
    S(&script, "+OK\r\n");
    C(&script, "*5\r\n$5\r\nhello\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\np\r\n");
    S(&script, "%2\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n");
    frame(&script);
    cr_assert_str_eq(log_.events, "BCBC");
    cr_assert_str_eq(log_.texts[0], "AUTH");
    cr_assert_str_eq(log_.texts[1], "hello");
    cr_assert_eq(log_.results[1].rows, 2);
}

Test(resp, resp3_types_push_and_attributes) {
    struct script script;
    script_reset(&script);
    C(&script, "*2\r\n$7\r\nHGETALL\r\n$1\r\nh\r\n");
    S(&script, ">3\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nx\r\n_\r\n");         /* a push: no reply */
    S(&script, "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.5\r\n");       /* attribute */
    S(&script, "%2\r\n$1\r\nf\r\n=7\r\ntxt:abc\r\n$1\r\ng\r\n~2\r\n#t\r\n(123\r\n");
    C(&script, "*1\r\n$3\r\nFOO\r\n");
    S(&script, "!9\r\nSYNTAX xy\r\n");
    C(&script, "*1\r\n$3\r\nBAR\r\n");
    S(&script, "_\r\n");
    frame(&script);
    cr_assert_str_eq(log_.events, "BCBCBC");
    cr_assert_eq(log_.results[0].rows, 2);
    cr_assert_eq(log_.results[0].flags, 0);
    cr_assert_eq(log_.results[1].flags, LDTAP_DB_FLAG_ERROR);
    cr_assert_str_eq(log_.results[1].status_code, "SYNTAX");
    cr_assert_eq(log_.results[2].rows, -1);
}

Test(resp, multi_exec_completes_queued_commands_with_their_elements) {
    struct script script;
    script_reset(&script);
    C(&script, "*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\na\r\n*2\r\n$5\r\nLPUSH\r\n$1\r\na\r\n*1\r\n$4\r\nEXEC\r\n");
    S(&script, "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n-WRONGTYPE bad\r\n");
    C(&script, "*1\r\n$4\r\nPING\r\n");
    S(&script, "+PONG\r\n");
    frame(&script);
    cr_assert_str_eq(log_.events, "BBBBCCCCBC");
    for (int i = 0; i < 4; i++) {
        cr_assert(log_.queries[i].flags & LDTAP_DB_FLAG_TRANSACTION_BATCH);
        cr_assert(log_.results[i].flags & LDTAP_DB_FLAG_TRANSACTION_BATCH);
        cr_assert_eq(log_.results[i].sequence, (uint32_t)i + 1);
    }
    cr_assert_eq(log_.results[1].flags & LDTAP_DB_FLAG_ERROR, 0);
    cr_assert_eq(log_.results[2].flags & LDTAP_DB_FLAG_ERROR, LDTAP_DB_FLAG_ERROR);
    cr_assert_str_eq(log_.results[2].status_code, "WRONGTY");
    cr_assert_eq(log_.results[3].rows, 2);
    cr_assert_eq(log_.queries[4].flags, 0);
}

Test(resp, aborted_discarded_and_watched_transactions) {
    struct script script;
    script_reset(&script);
    C(&script, "*1\r\n$5\r\nMULTI\r\n");
    S(&script, "+OK\r\n");
    C(&script, "*1\r\n$4\r\nNOPE\r\n");
    S(&script, "-ERR unknown command\r\n");
    C(&script, "*1\r\n$4\r\nEXEC\r\n");
    S(&script, "-EXECABORT Transaction discarded because of previous errors.\r\n");
    C(&script, "*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nPING\r\n*1\r\n$7\r\nDISCARD\r\n");
    S(&script, "+OK\r\n+QUEUED\r\n+OK\r\n");
    C(&script, "*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nEXEC\r\n");
    S(&script, "+OK\r\n+QUEUED\r\n*-1\r\n");
    frame(&script);
    cr_assert_str_eq(log_.events, "BCBBCCBBBCCCBBBCCC");
    cr_assert_eq(log_.results[1].flags, LDTAP_DB_FLAG_ERROR | LDTAP_DB_FLAG_TRANSACTION_BATCH);
    cr_assert_str_eq(log_.results[1].status_code, "EXECABO");
    cr_assert_eq(log_.results[2].flags, LDTAP_DB_FLAG_ERROR | LDTAP_DB_FLAG_TRANSACTION_BATCH);
    cr_assert_eq(log_.results[4].flags, LDTAP_DB_FLAG_TRANSACTION_BATCH);
    cr_assert_eq(log_.results[7].flags, LDTAP_DB_FLAG_TRANSACTION_BATCH);
    cr_assert_eq(log_.results[8].rows, -1);
}

Test(resp, subscribe_and_monitor_stop) {
    const char *commands[] = {"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n", "*2\r\n$10\r\nPSUBSCRIBE\r\n$2\r\nc*\r\n",
                              "*1\r\n$7\r\nmonitor\r\n", "SSUBSCRIBE x\r\n"};
    for (size_t i = 0; i < 4; i++) {
        struct script script;
        script_reset(&script);
        C(&script, "*1\r\n$4\r\nPING\r\n");
        S(&script, "+PONG\r\n");
        script_add(&script, LDTAP_WIRE_FROM_CLIENT, commands[i], strlen(commands[i]));
        S(&script, "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
        frame(&script);
        cr_assert_str_eq(log_.events, "BCS", "command %zu", i);
        cr_assert_eq(log_.stop_reason, LDTAP_WIRE_STOP_PUBSUB);
    }
    struct script script;
    script_reset(&script);
    C(&script, "*3\r\n$6\r\nCLIENT\r\n$5\r\nreply\r\n$3\r\nOFF\r\n");
    frame(&script);
    cr_assert_str_eq(log_.events, "S");
    cr_assert_eq(log_.stop_reason, LDTAP_WIRE_STOP_NOT_QUERIES);
}

Test(resp, long_command_is_cut) {
    static char command[3000];
    int header = snprintf(command, sizeof command, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000\r\n");
    memset(command + header, 'v', 2000);
    memcpy(command + header + 2000, "\r\n", 2);
    struct script script;
    script_reset(&script);
    script_add(&script, LDTAP_WIRE_FROM_CLIENT, command, (size_t)header + 2002);
    S(&script, "+OK\r\n");
    run_script(init, feed, 64, script.chunks, script.count, 0, SIZE_MAX, &log_);
    cr_assert_str_eq(log_.events, "BC");
    cr_assert_eq(log_.queries[0].text_length, 64);
    cr_assert_eq(log_.queries[0].full_length, 2006);
}

Test(resp, hostile_inputs_give_up) {
    struct {
        enum ldtap_wire_direction direction;
        const char *bytes;
    } samples[] = {
        {LDTAP_WIRE_FROM_CLIENT, "\x16\x03\x01\x02\x00\x01"},
        {LDTAP_WIRE_FROM_CLIENT, "*2\r\n:1\r\n"},
        {LDTAP_WIRE_FROM_CLIENT, "*1\r\n$-5\r\n"},
        {LDTAP_WIRE_FROM_CLIENT, "*99999999999999999999\r\n"},
        {LDTAP_WIRE_FROM_CLIENT, "*1\r\n$2\r\nabcd\r\n"},
        {LDTAP_WIRE_FROM_SERVER, "+OK\r\n"}, /* reply to nothing */
    };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        struct script script;
        script_reset(&script);
        script_add(&script, samples[i].direction, samples[i].bytes, strlen(samples[i].bytes));
        frame(&script);
        cr_assert_str_eq(log_.events, "G", "sample %zu: %s", i, log_.events);
    }
    struct script script;
    script_reset(&script);
    C(&script, "GET / HTTP/1.1\r\n");
    S(&script, "HTTP/1.1 200 OK\r\n");
    frame(&script);
    cr_assert_str_eq(log_.events, "BG");
    /* Nesting beyond the bound. */
    static char deep[400];
    size_t length = 0;
    for (int i = 0; i < 40; i++) {
        memcpy(deep + length, "*1\r\n", 4);
        length += 4;
    }
    script_reset(&script);
    C(&script, "*1\r\n$4\r\nPING\r\n");
    script_add(&script, LDTAP_WIRE_FROM_SERVER, deep, length);
    frame(&script);
    cr_assert_str_eq(log_.events, "BG");
}

Test(resp, recognise) {
    cr_assert_eq(ldtap_resp_recognise((const uint8_t *)"*1\r\n$4\r\nPING\r\n", 14), LDTAP_WIRE_RECOGNISED);
    cr_assert_eq(ldtap_resp_recognise((const uint8_t *)"*12", 3), LDTAP_WIRE_NEED_MORE_BYTES);
    cr_assert_eq(ldtap_resp_recognise((const uint8_t *)"ping\r\n", 6), LDTAP_WIRE_RECOGNISED);
    cr_assert_eq(ldtap_resp_recognise((const uint8_t *)"PIN", 3), LDTAP_WIRE_NEED_MORE_BYTES);
    cr_assert_eq(ldtap_resp_recognise((const uint8_t *)"GET / HTTP/1.1\r\n", 16), LDTAP_WIRE_NOT_RECOGNISED);
    cr_assert_eq(ldtap_resp_recognise((const uint8_t *)"*\r\n", 3), LDTAP_WIRE_NOT_RECOGNISED);
    cr_assert_eq(ldtap_resp_recognise((const uint8_t *)"\0\0\0\x08\x04\xd2\x16\x2f", 8), LDTAP_WIRE_NOT_RECOGNISED);
}
