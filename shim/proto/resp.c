/* Redis RESP2/RESP3 framer (contract in resp.h): commands are arrays of bulk strings or
 * inline lines; replies are nested typed values walked with a bounded stack of element counts. */
#include "resp.h"

#include <string.h>

#include "ldtap_ring_abi.h"

_Static_assert(sizeof(struct ldtap_resp) <= 768, "the state is embedded per connection");

enum client_phase {
    CLIENT_START = 0,   /* between commands */
    CLIENT_COUNT,       /* "*<n>\r\n" */
    CLIENT_BULK_TYPE,   /* '$' */
    CLIENT_BULK_LENGTH, /* "<n>\r\n" */
    CLIENT_BULK_DATA,
    CLIENT_BULK_CR,
    CLIENT_BULK_LF,
    CLIENT_INLINE,
};

enum server_phase {
    SERVER_TYPE = 0,
    SERVER_NUMBER,  /* bulk length or element count */
    SERVER_LINE,    /* simple string, error, integer, double, boolean, big number, null */
    SERVER_LINE_LF,
    SERVER_BULK_DATA,
    SERVER_BULK_CR,
    SERVER_BULK_LF,
};

/* Pending items: the command kinds whose replies are special. */
enum item {
    ITEM_COMMAND = 1 | LDTAP_WIRE_ITEM_SPAN,
    ITEM_MULTI = 2 | LDTAP_WIRE_ITEM_SPAN,
    ITEM_QUEUED = 3 | LDTAP_WIRE_ITEM_SPAN, /* sent between MULTI and EXEC/DISCARD */
    ITEM_EXEC = 4 | LDTAP_WIRE_ITEM_SPAN,
    ITEM_DISCARD = 5 | LDTAP_WIRE_ITEM_SPAN,
};

enum {
    ARGUMENTS_MAX = 1 << 20,
    ELEMENTS_MAX = 1 << 30,
    BULK_MAX = 1 << 30,
    LINE_MAX_BYTES = 64 * 1024,
    NUMBER_MAX_DIGITS = 18, /* fits int64 */
};

#define ATTRIBUTE_BIT 0x80000000u

enum number_step { NUMBER_MORE, NUMBER_DONE, NUMBER_BAD };

struct cursor {
    const uint8_t *at;
    const uint8_t *end;
};

void ldtap_resp_init(struct ldtap_resp *state, uint8_t *statement_buffer, uint16_t capacity) {
    memset(state, 0, sizeof *state);
    ldtap_wire_common_init(&state->wire, statement_buffer, capacity);
}

static uint8_t to_upper(uint8_t c) {
    return (c >= 'a' && c <= 'z') ? (uint8_t)(c - 32) : c;
}

static bool is_blank(uint8_t c) {
    return c == ' ' || c == '\t';
}

static void number_reset(struct ldtap_resp_number *number) {
    memset(number, 0, sizeof *number);
}

/* "-1" is RESP's null; no other negative length or count exists. */
static enum number_step number_step(struct ldtap_resp_number *number, uint8_t c) {
    if (number->line_feed_next) {
        if (c != '\n' || (number->negative && number->value != 1)) {
            return NUMBER_BAD;
        }
        if (number->negative) {
            number->value = -1;
        }
        return NUMBER_DONE;
    }
    if (c >= '0' && c <= '9' && number->digits < NUMBER_MAX_DIGITS) {
        number->value = number->value * 10 + (c - '0');
        number->digits++;
        return NUMBER_MORE;
    }
    if (c == '-' && number->digits == 0 && !number->negative) {
        number->negative = true;
        return NUMBER_MORE;
    }
    if (c == '\r' && number->digits > 0) {
        number->line_feed_next = true;
        return NUMBER_MORE;
    }
    return NUMBER_BAD;
}

/* ---- client: commands ---- */

static bool command_is(const struct ldtap_resp_client *client, const char *upper) {
    size_t length = strlen(upper);
    return client->command_length == length && memcmp(client->command, upper, length) == 0;
}

static void capture_word(char *word, uint8_t *word_length, size_t capacity, const uint8_t *bytes, size_t length) {
    for (size_t i = 0; i < length && *word_length < capacity; i++) {
        word[(*word_length)++] = (char)to_upper(bytes[i]);
    }
}

/* Bytes of argument `argument_index`: copied to the statement and, for the first two, kept
 * for classification. */
static void take_argument_bytes(struct ldtap_resp *state, const uint8_t *bytes, size_t length) {
    struct ldtap_resp_client *client = &state->client;
    if (client->argument_index == 0) {
        capture_word(client->command, &client->command_length, sizeof client->command, bytes, length);
    } else if (client->argument_index == 1) {
        capture_word(client->subcommand, &client->subcommand_length, sizeof client->subcommand, bytes, length);
    }
    if (!client->redacted) {
        ldtap_wire_text_append(&state->wire.statement, bytes, length);
    }
}

static void end_first_argument(struct ldtap_resp_client *client) {
    /* Their arguments are credentials. */
    client->redacted = command_is(client, "AUTH") || command_is(client, "HELLO");
}

static void start_argument(struct ldtap_resp *state) {
    if (state->client.argument_index > 0 && !state->client.redacted) {
        ldtap_wire_text_append(&state->wire.statement, (const uint8_t *)" ", 1);
    }
}

static void start_command(struct ldtap_resp *state) {
    struct ldtap_resp_client *client = &state->client;
    ldtap_wire_text_reset(&state->wire.statement);
    client->argument_index = 0;
    client->command_length = 0;
    client->subcommand_length = 0;
    client->redacted = false;
    client->line_length = 0;
    client->word_ended = false;
}

static enum ldtap_wire_event finish_command(struct ldtap_resp *state) {
    struct ldtap_resp_client *client = &state->client;
    client->phase = CLIENT_START;
    if (command_is(client, "SUBSCRIBE") || command_is(client, "PSUBSCRIBE") ||
        command_is(client, "SSUBSCRIBE") || command_is(client, "MONITOR")) {
        return ldtap_wire_stop(&state->wire, LDTAP_WIRE_STOP_PUBSUB);
    }
    if (command_is(client, "CLIENT") && client->subcommand_length == 5 && memcmp(client->subcommand, "REPLY", 5) == 0) {
        return ldtap_wire_stop(&state->wire, LDTAP_WIRE_STOP_NOT_QUERIES);
    }
    uint8_t item = ITEM_COMMAND;
    if (command_is(client, "MULTI") && !client->in_multi) {
        item = ITEM_MULTI;
        client->in_multi = true;
    } else if (command_is(client, "EXEC") && client->in_multi) {
        item = ITEM_EXEC;
        client->in_multi = false;
    } else if (command_is(client, "DISCARD") && client->in_multi) {
        item = ITEM_DISCARD;
        client->in_multi = false;
    } else if (client->in_multi) {
        item = ITEM_QUEUED;
    }
    if (command_is(client, "RESET")) {
        client->in_multi = false; /* queued commands are dropped; RESET's +RESET answers RESET */
    }
    if (!ldtap_wire_pending_push(&state->wire.pending, item)) {
        return ldtap_wire_give_up(&state->wire);
    }
    const struct ldtap_wire_text *text = &state->wire.statement;
    uint16_t flags = item == ITEM_COMMAND ? 0 : LDTAP_DB_FLAG_TRANSACTION_BATCH;
    return ldtap_wire_begin(&state->wire, text->bytes, text->length, text->full_length, flags);
}

/* An inline command: one line of blank-separated words. Redis ignores an empty line. */
static enum ldtap_wire_event on_inline(struct ldtap_resp *state, struct cursor *cursor) {
    struct ldtap_resp_client *client = &state->client;
    const uint8_t *newline = memchr(cursor->at, '\n', (size_t)(cursor->end - cursor->at));
    const uint8_t *end = newline != NULL ? newline : cursor->end;
    for (const uint8_t *at = cursor->at; at < end; at++) {
        uint8_t c = *at;
        if (c == '\r') {
            continue;
        }
        if (is_blank(c)) {
            if (client->line_length > 0 && !client->word_ended) {
                client->word_ended = true;
                if (client->argument_index == 0) {
                    end_first_argument(client);
                }
                client->argument_index++;
            }
            continue;
        }
        if (client->word_ended || (client->line_length == 0 && client->argument_index == 0)) {
            client->word_ended = false;
            start_argument(state);
        }
        take_argument_bytes(state, &c, 1);
        client->line_length++;
    }
    if ((size_t)(end - cursor->at) + client->line_length > LINE_MAX_BYTES) {
        return ldtap_wire_give_up(&state->wire);
    }
    cursor->at = newline != NULL ? newline + 1 : end;
    if (newline == NULL) {
        return LDTAP_WIRE_NEED_MORE;
    }
    if (client->line_length == 0) {
        client->phase = CLIENT_START;
        return LDTAP_WIRE_NEED_MORE;
    }
    return finish_command(state);
}

/* Reads one byte of a "<n>\r\n"; true with *value set once the line ended. */
static bool client_number(struct ldtap_resp *state, uint8_t c, int64_t *value, bool *bad) {
    enum number_step step = number_step(&state->client.number, c);
    *bad = step == NUMBER_BAD;
    if (step != NUMBER_DONE) {
        return false;
    }
    *value = state->client.number.value;
    number_reset(&state->client.number);
    return true;
}

/* A whole non-negative "<digits>\r\n" at the cursor, read at once and passed; false (the
 * cursor unmoved) when the buffer holds less than that or anything else, which
 * number_step then takes byte by byte: "-1", a line cut across reads, bad bytes. */
static bool take_whole_number(struct cursor *cursor, int64_t *value) {
    const uint8_t *at = cursor->at;
    size_t available = (size_t)(cursor->end - at);
    int64_t number = 0;
    size_t digits = 0;
    while (digits < available && digits < NUMBER_MAX_DIGITS && at[digits] >= '0' && at[digits] <= '9') {
        number = number * 10 + (at[digits] - '0');
        digits++;
    }
    if (digits == 0 || digits + 2 > available || at[digits] != '\r' || at[digits + 1] != '\n') {
        return false;
    }
    cursor->at = at + digits + 2;
    *value = number;
    return true;
}

/* After "*<count>\r\n": false when the command must be given up. */
static bool took_count(struct ldtap_resp_client *client, int64_t value) {
    if (value > ARGUMENTS_MAX) {
        return false;
    }
    /* "*0" and "*-1" run nothing and get no reply. */
    client->arguments_left = value > 0 ? (uint32_t)value : 0;
    client->phase = value > 0 ? CLIENT_BULK_TYPE : CLIENT_START;
    return true;
}

/* After "$<length>\r\n": false when the command must be given up. */
static bool took_bulk_length(struct ldtap_resp *state, int64_t value) {
    struct ldtap_resp_client *client = &state->client;
    if (value < 0 || value > BULK_MAX) {
        return false;
    }
    start_argument(state);
    client->bulk_left = (uint64_t)value;
    client->phase = value > 0 ? CLIENT_BULK_DATA : CLIENT_BULK_CR;
    return true;
}

/* After an argument's closing "\r\n": true when it was the command's last. */
static bool end_argument(struct ldtap_resp_client *client) {
    if (client->argument_index == 0) {
        end_first_argument(client);
    }
    client->argument_index++;
    if (--client->arguments_left == 0) {
        return true;
    }
    client->phase = CLIENT_BULK_TYPE;
    return false;
}

static enum ldtap_wire_event frame_client(struct ldtap_resp *state, struct cursor *cursor) {
    struct ldtap_resp_client *client = &state->client;
    while (cursor->at < cursor->end) {
        /* The usual case, a whole count or length in the buffer, without the byte machine. */
        if ((client->phase == CLIENT_COUNT || client->phase == CLIENT_BULK_LENGTH) && client->number.digits == 0 &&
            !client->number.negative) {
            int64_t whole = 0;
            if (take_whole_number(cursor, &whole)) {
                bool kept = client->phase == CLIENT_COUNT ? took_count(client, whole) : took_bulk_length(state, whole);
                if (!kept) {
                    return ldtap_wire_give_up(&state->wire);
                }
                continue;
            }
        }
        if (client->phase == CLIENT_BULK_DATA) {
            size_t available = (size_t)(cursor->end - cursor->at);
            size_t taken = client->bulk_left < available ? (size_t)client->bulk_left : available;
            take_argument_bytes(state, cursor->at, taken);
            cursor->at += taken;
            client->bulk_left -= taken;
            if (client->bulk_left == 0) {
                client->phase = CLIENT_BULK_CR;
            }
            continue;
        }
        /* The usual case again: "\r\n" after an argument, then "$" before the next. */
        if (client->phase == CLIENT_BULK_CR && cursor->end - cursor->at >= 2 && cursor->at[0] == '\r' &&
            cursor->at[1] == '\n') {
            cursor->at += 2;
            if (end_argument(client)) {
                return finish_command(state);
            }
            continue;
        }
        if (client->phase == CLIENT_BULK_TYPE && *cursor->at == '$') {
            cursor->at++;
            client->phase = CLIENT_BULK_LENGTH;
            continue;
        }
        if (client->phase == CLIENT_INLINE) {
            enum ldtap_wire_event event = on_inline(state, cursor);
            if (event != LDTAP_WIRE_NEED_MORE) {
                return event;
            }
            continue;
        }
        uint8_t c = *cursor->at++;
        int64_t value = 0;
        bool bad = false;
        switch (client->phase) {
        case CLIENT_START:
            start_command(state);
            number_reset(&client->number);
            if (c == '*') {
                client->phase = CLIENT_COUNT;
            } else if (c == '\r' || c == '\n' || is_blank(c)) {
                /* blank lines between inline commands */
            } else if (c >= 0x20 && c < 0x7f) {
                cursor->at--;
                client->phase = CLIENT_INLINE;
            } else {
                return ldtap_wire_give_up(&state->wire);
            }
            break;
        case CLIENT_COUNT:
            if (client_number(state, c, &value, &bad) && !took_count(client, value)) {
                return ldtap_wire_give_up(&state->wire);
            }
            break;
        case CLIENT_BULK_TYPE:
            if (c != '$') {
                return ldtap_wire_give_up(&state->wire);
            }
            client->phase = CLIENT_BULK_LENGTH;
            break;
        case CLIENT_BULK_LENGTH:
            if (client_number(state, c, &value, &bad) && !took_bulk_length(state, value)) {
                return ldtap_wire_give_up(&state->wire);
            }
            break;
        case CLIENT_BULK_CR:
            if (c != '\r') {
                return ldtap_wire_give_up(&state->wire);
            }
            client->phase = CLIENT_BULK_LF;
            break;
        case CLIENT_BULK_LF:
            if (c != '\n') {
                return ldtap_wire_give_up(&state->wire);
            }
            if (end_argument(client)) {
                return finish_command(state);
            }
            break;
        default:
            return ldtap_wire_give_up(&state->wire);
        }
        if (bad) {
            return ldtap_wire_give_up(&state->wire);
        }
    }
    return LDTAP_WIRE_NEED_MORE;
}

/* ---- server: replies ---- */

static bool is_aggregate(uint8_t type) {
    return type == '*' || type == '%' || type == '~' || type == '>' || type == '|';
}

static bool is_error(uint8_t type) {
    return type == '-' || type == '!';
}

static uint8_t unit_depth(const struct ldtap_resp_server *server) {
    return server->exec_array ? 1 : 0;
}

/* The reply to the command at the FIFO head, skipping those answered QUEUED. */
static uint8_t reply_target(const struct ldtap_resp *state) {
    return ldtap_wire_pending_peek(&state->wire.pending, state->server.awaiting_exec);
}

static void build_unit_result(const struct ldtap_resp_server *server, struct ldtap_wire_result *result) {
    ldtap_wire_result_reset(result);
    result->rows = server->unit_rows;
    if (server->unit_error) {
        result->flags |= LDTAP_DB_FLAG_ERROR;
        ldtap_wire_result_set_status(result, server->error_word, server->error_length);
    }
}

/* A value begins at the cursor's depth; `count` is an aggregate's element count. */
static void start_value(struct ldtap_resp *state, uint8_t type, int64_t count) {
    struct ldtap_resp_server *server = &state->server;
    if (type == '|') {
        return; /* attributes describe the value after them and are not values */
    }
    if (server->depth == 0) {
        server->top_is_push = type == '>';
        server->exec_array = type == '*' && count >= 0 && reply_target(state) == ITEM_EXEC;
        server->exec_rows = count;
    }
    if (server->depth == unit_depth(server)) {
        server->unit_rows = is_aggregate(type) && count >= 0 ? count : -1;
        server->unit_error = is_error(type);
        server->capturing_error = server->unit_error;
        server->error_length = 0;
    }
}

static void capture_error(struct ldtap_resp_server *server, const uint8_t *bytes, size_t length) {
    for (size_t i = 0; i < length && server->capturing_error; i++) {
        if (is_blank(bytes[i]) || bytes[i] == '\r' || server->error_length == sizeof server->error_word) {
            server->capturing_error = false;
        } else {
            server->error_word[server->error_length++] = bytes[i];
        }
    }
}

/* The whole reply to the target command was read. */
static enum ldtap_wire_event finish_reply(struct ldtap_resp *state) {
    struct ldtap_resp_server *server = &state->server;
    struct ldtap_wire_common *wire = &state->wire;
    if (server->top_is_push) {
        server->top_is_push = false;
        return LDTAP_WIRE_NEED_MORE;
    }
    uint8_t item = reply_target(state);
    struct ldtap_wire_result result;
    build_unit_result(server, &result);
    if (server->exec_array) {
        ldtap_wire_result_reset(&result); /* the unit was its last element */
        result.rows = server->exec_rows;
        server->exec_array = false;
    }
    switch (item) {
    case 0:
        return ldtap_wire_give_up(wire); /* a reply to nothing */
    case ITEM_QUEUED:
        if (server->unit_error) {
            ldtap_wire_pending_mark(&wire->pending, server->awaiting_exec, LDTAP_WIRE_ITEM_FAILED);
        }
        server->awaiting_exec++;
        return LDTAP_WIRE_NEED_MORE;
    case ITEM_EXEC:
    case ITEM_DISCARD:
        /* Queued commands not answered by an element of EXEC's array end with it. */
        wire->owed_result = result;
        wire->owed_result.rows = -1;
        if (!server->unit_error) {
            wire->owed_result.flags = 0;
        }
        wire->owed_result.flags |= LDTAP_DB_FLAG_TRANSACTION_BATCH;
        wire->owed = server->awaiting_exec;
        server->awaiting_exec = 0;
        result.flags |= LDTAP_DB_FLAG_TRANSACTION_BATCH;
        wire->final_result = result;
        wire->owed_final = 1;
        return LDTAP_WIRE_NEED_MORE; /* the caller takes what is owed */
    default:
        if (server->awaiting_exec > 0) {
            return ldtap_wire_give_up(wire);
        }
        if (item != ITEM_COMMAND) {
            result.flags |= LDTAP_DB_FLAG_TRANSACTION_BATCH;
        }
        return ldtap_wire_complete(wire, &result);
    }
}

/* One element of EXEC's array: the reply of the oldest queued command. */
static enum ldtap_wire_event finish_exec_element(struct ldtap_resp *state) {
    struct ldtap_resp_server *server = &state->server;
    if (server->awaiting_exec == 0) {
        return LDTAP_WIRE_NEED_MORE; /* more elements than queued commands we saw */
    }
    struct ldtap_wire_result result;
    build_unit_result(server, &result);
    result.flags |= LDTAP_DB_FLAG_TRANSACTION_BATCH;
    server->awaiting_exec--;
    return ldtap_wire_complete(&state->wire, &result);
}

/* A value ended at the current depth: count it against the aggregates that hold it. */
static enum ldtap_wire_event finish_value(struct ldtap_resp *state) {
    struct ldtap_resp_server *server = &state->server;
    server->phase = SERVER_TYPE;
    enum ldtap_wire_event event = LDTAP_WIRE_NEED_MORE;
    for (;;) {
        if (server->depth == 0) {
            enum ldtap_wire_event reply = finish_reply(state);
            if (reply != LDTAP_WIRE_NEED_MORE) {
                return reply;
            }
            /* EXEC's last element and EXEC itself end together: the element reports now,
             * EXEC on the next call (it is owed). */
            return event != LDTAP_WIRE_NEED_MORE ? event : ldtap_wire_take_owed(&state->wire);
        }
        if (server->depth == 1 && server->exec_array) {
            event = finish_exec_element(state);
        }
        uint32_t *remaining = &server->remaining[server->depth - 1];
        bool attribute = (*remaining & ATTRIBUTE_BIT) != 0;
        *remaining = (*remaining & ~ATTRIBUTE_BIT) - 1;
        if ((*remaining & ~ATTRIBUTE_BIT) > 0) {
            *remaining |= attribute ? ATTRIBUTE_BIT : 0;
            return event;
        }
        server->depth--;
        if (attribute) {
            return event; /* the attributed value is still to come */
        }
    }
}

static enum ldtap_wire_event open_aggregate(struct ldtap_resp *state, int64_t count) {
    struct ldtap_resp_server *server = &state->server;
    uint8_t type = server->type;
    start_value(state, type, count);
    int64_t elements = (type == '%' || type == '|') && count > 0 ? count * 2 : count;
    if (elements > ELEMENTS_MAX) {
        return ldtap_wire_give_up(&state->wire);
    }
    if (elements <= 0) {
        /* An empty or null aggregate is a finished value; an empty attribute is nothing. */
        server->phase = SERVER_TYPE;
        return type == '|' ? LDTAP_WIRE_NEED_MORE : finish_value(state);
    }
    if (server->depth == LDTAP_RESP_DEPTH_MAX) {
        return ldtap_wire_give_up(&state->wire);
    }
    server->remaining[server->depth++] = (uint32_t)elements | (type == '|' ? ATTRIBUTE_BIT : 0);
    server->phase = SERVER_TYPE;
    return LDTAP_WIRE_NEED_MORE;
}

static enum ldtap_wire_event took_server_number(struct ldtap_resp *state, int64_t value);

static enum ldtap_wire_event on_number(struct ldtap_resp *state, uint8_t c) {
    struct ldtap_resp_server *server = &state->server;
    enum number_step step = number_step(&server->number, c);
    if (step == NUMBER_MORE) {
        return LDTAP_WIRE_NEED_MORE;
    }
    if (step == NUMBER_BAD) {
        return ldtap_wire_give_up(&state->wire);
    }
    return took_server_number(state, server->number.value);
}

/* After a reply's "<length or count>\r\n". */
static enum ldtap_wire_event took_server_number(struct ldtap_resp *state, int64_t value) {
    struct ldtap_resp_server *server = &state->server;
    if (is_aggregate(server->type)) {
        return open_aggregate(state, value);
    }
    if (value > BULK_MAX) {
        return ldtap_wire_give_up(&state->wire);
    }
    start_value(state, server->type, -1);
    if (value < 0) {
        return finish_value(state); /* null bulk string */
    }
    server->bulk_left = (uint64_t)value;
    server->phase = value > 0 ? SERVER_BULK_DATA : SERVER_BULK_CR;
    return LDTAP_WIRE_NEED_MORE;
}

static enum ldtap_wire_event on_type(struct ldtap_resp *state, uint8_t c) {
    struct ldtap_resp_server *server = &state->server;
    server->type = c;
    switch (c) {
    case '+': case '-': case ':': case '_': case '#': case ',': case '(':
        start_value(state, c, -1);
        server->line_length = 0;
        server->phase = SERVER_LINE;
        return LDTAP_WIRE_NEED_MORE;
    case '$': case '=': case '!': case '*': case '%': case '~': case '>': case '|':
        number_reset(&server->number);
        server->phase = SERVER_NUMBER;
        return LDTAP_WIRE_NEED_MORE;
    default:
        return ldtap_wire_give_up(&state->wire);
    }
}

static enum ldtap_wire_event on_line(struct ldtap_resp *state, struct cursor *cursor) {
    struct ldtap_resp_server *server = &state->server;
    const uint8_t *cr = memchr(cursor->at, '\r', (size_t)(cursor->end - cursor->at));
    const uint8_t *end = cr != NULL ? cr : cursor->end;
    size_t length = (size_t)(end - cursor->at);
    if (server->line_length + length > LINE_MAX_BYTES) {
        return ldtap_wire_give_up(&state->wire);
    }
    capture_error(server, cursor->at, length);
    server->line_length += (uint32_t)length;
    cursor->at = cr != NULL ? cr + 1 : end;
    if (cr != NULL) {
        server->phase = SERVER_LINE_LF;
    }
    return LDTAP_WIRE_NEED_MORE;
}

static enum ldtap_wire_event frame_server(struct ldtap_resp *state, struct cursor *cursor) {
    struct ldtap_resp_server *server = &state->server;
    while (cursor->at < cursor->end) {
        enum ldtap_wire_event event = LDTAP_WIRE_NEED_MORE;
        int64_t whole = 0;
        if (server->phase == SERVER_LINE) {
            event = on_line(state, cursor);
        } else if (server->phase == SERVER_BULK_DATA) {
            size_t available = (size_t)(cursor->end - cursor->at);
            size_t taken = server->bulk_left < available ? (size_t)server->bulk_left : available;
            if (server->type == '!') {
                capture_error(server, cursor->at, taken);
            }
            cursor->at += taken;
            server->bulk_left -= taken;
            if (server->bulk_left == 0) {
                server->phase = SERVER_BULK_CR;
            }
        } else if (server->phase == SERVER_NUMBER && server->number.digits == 0 && !server->number.negative &&
                   take_whole_number(cursor, &whole)) {
            event = took_server_number(state, whole);
        } else {
            uint8_t c = *cursor->at++;
            switch (server->phase) {
            case SERVER_TYPE:
                event = on_type(state, c);
                break;
            case SERVER_NUMBER:
                event = on_number(state, c);
                break;
            case SERVER_BULK_CR:
                event = c == '\r' ? LDTAP_WIRE_NEED_MORE : ldtap_wire_give_up(&state->wire);
                server->phase = SERVER_BULK_LF;
                break;
            case SERVER_LINE_LF:
            case SERVER_BULK_LF:
                event = c == '\n' ? finish_value(state) : ldtap_wire_give_up(&state->wire);
                break;
            default:
                event = ldtap_wire_give_up(&state->wire);
                break;
            }
        }
        if (event != LDTAP_WIRE_NEED_MORE) {
            return event;
        }
    }
    return LDTAP_WIRE_NEED_MORE;
}

/* hot */
enum ldtap_wire_event ldtap_resp_feed(struct ldtap_resp *state, enum ldtap_wire_direction direction,
                                      const uint8_t *bytes, size_t length, size_t *consumed) {
    enum ldtap_wire_event event;
    if (!ldtap_wire_feed_start(&state->wire, length, consumed, &event)) {
        return event;
    }
    struct cursor cursor = {bytes, bytes + length};
    event = direction == LDTAP_WIRE_FROM_CLIENT ? frame_client(state, &cursor) : frame_server(state, &cursor);
    *consumed = (size_t)(cursor.at - bytes);
    return event;
}

static bool starts_inline_command(const uint8_t *bytes, size_t length, const char *upper, bool *partial) {
    size_t name_length = strlen(upper);
    for (size_t i = 0; i < name_length; i++) {
        if (i == length) {
            *partial = true;
            return false;
        }
        if (to_upper(bytes[i]) != (uint8_t)upper[i]) {
            return false;
        }
    }
    if (length == name_length) {
        *partial = true;
        return false;
    }
    uint8_t next = bytes[name_length];
    return next == ' ' || next == '\r' || next == '\n';
}

enum ldtap_wire_recognition ldtap_resp_recognise(const uint8_t *bytes, size_t length) {
    if (length == 0) {
        return LDTAP_WIRE_NEED_MORE_BYTES;
    }
    if (bytes[0] == '*') {
        size_t i = 1;
        while (i < length && i < 9 && bytes[i] >= '0' && bytes[i] <= '9') {
            i++;
        }
        static const char after_count[] = "\r\n$";
        for (size_t k = 0; k < 3; k++, i++) {
            if (i == length) {
                return LDTAP_WIRE_NEED_MORE_BYTES;
            }
            if (bytes[i] != (uint8_t)after_count[k] || (k == 0 && i == 1)) {
                return LDTAP_WIRE_NOT_RECOGNISED;
            }
        }
        return LDTAP_WIRE_RECOGNISED;
    }
    static const char *const inline_commands[] = {"PING", "AUTH", "HELLO", "ECHO", "SELECT", "INFO"};
    bool partial = false;
    for (size_t i = 0; i < sizeof inline_commands / sizeof inline_commands[0]; i++) {
        if (starts_inline_command(bytes, length, inline_commands[i], &partial)) {
            return LDTAP_WIRE_RECOGNISED;
        }
    }
    return partial ? LDTAP_WIRE_NEED_MORE_BYTES : LDTAP_WIRE_NOT_RECOGNISED;
}
