/* MySQL/MariaDB protocol framer (contract in mysql_wire.h): 3-byte length + sequence packets,
 * the handshake read for capabilities and database, commands paired with their answers. */
#include "mysql_wire.h"

#include <string.h>

#include "ldtap_ring_abi.h"

_Static_assert(sizeof(struct ldtap_mysql) <= 5 * 1024, "the state is embedded per connection");

enum phase {
    PHASE_GREETING = 0,       /* the server's v10 greeting */
    PHASE_HANDSHAKE_RESPONSE, /* the client's answer (or SSL request) */
    PHASE_AUTH,               /* auth switch and more data until OK or ERR */
    PHASE_COMMAND,
};

/* Where in the answer to the oldest command the server is. */
enum response {
    RESPONSE_FIRST = 0,
    RESPONSE_COLUMNS,
    RESPONSE_COLUMNS_EOF,
    RESPONSE_ROWS,
    RESPONSE_PREPARE_PARAMS,
    RESPONSE_PREPARE_PARAMS_EOF,
    RESPONSE_PREPARE_COLUMNS,
    RESPONSE_PREPARE_COLUMNS_EOF,
};

enum item {
    ITEM_QUERY = 1 | LDTAP_WIRE_ITEM_SPAN,
    ITEM_EXECUTE = 2 | LDTAP_WIRE_ITEM_SPAN,
    ITEM_PREPARE = 3,
    ITEM_SIMPLE = 4, /* answered by one packet: OK, ERR, EOF or a string */
};

enum handshake_field {
    FIELD_USER = 0,
    FIELD_AUTH_LENGTH,      /* first byte of a length-encoded or one-byte length */
    FIELD_AUTH_LENGTH_MORE, /* the rest of a length-encoded length */
    FIELD_AUTH_DATA,
    FIELD_AUTH_STRING,      /* pre-4.1 style: NUL-terminated */
    FIELD_DATABASE,
    FIELD_DONE,
};

enum command {
    COM_QUIT = 0x01,
    COM_INIT_DB = 0x02,
    COM_QUERY = 0x03,
    COM_STATISTICS = 0x09,
    COM_PROCESS_KILL = 0x0c,
    COM_DEBUG = 0x0d,
    COM_PING = 0x0e,
    COM_CHANGE_USER = 0x11,
    COM_STMT_PREPARE = 0x16,
    COM_STMT_EXECUTE = 0x17,
    COM_STMT_SEND_LONG_DATA = 0x18,
    COM_STMT_CLOSE = 0x19,
    COM_STMT_RESET = 0x1a,
    COM_SET_OPTION = 0x1b,
    COM_RESET_CONNECTION = 0x1f,
    COM_STMT_BULK_EXECUTE = 0xfa, /* MariaDB */
};

enum {
    CLIENT_CONNECT_WITH_DB = 0x8,
    CLIENT_COMPRESS = 0x20,
    CLIENT_PROTOCOL_41 = 0x200,
    CLIENT_SSL = 0x800,
    CLIENT_SECURE_CONNECTION = 0x8000,
    CLIENT_PLUGIN_AUTH_LENENC_DATA = 0x200000,
    CLIENT_DEPRECATE_EOF = 0x1000000,
    CLIENT_OPTIONAL_RESULTSET_METADATA = 0x2000000,
    CLIENT_QUERY_ATTRIBUTES = 0x8000000,   /* MySQL 8 only */
    MARIADB_CACHE_METADATA_EXTENDED = 0x10, /* bit 36, in the extended capabilities word */
    SERVER_MORE_RESULTS_EXISTS = 0x8,
    HANDSHAKE_FIXED_BYTES = 32,
    PACKET_FULL = 0xffffff,
    COLUMNS_MAX = 1 << 16,
    GREETING_MAX_BYTES = 1024,
    STATEMENT_ID_DIRECT = -1, /* MariaDB: the statement prepared just before */
};

struct cursor {
    const uint8_t *at;
    const uint8_t *end;
};

static uint32_t read_le16(const uint8_t *bytes) {
    return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8;
}

static uint32_t read_le32(const uint8_t *bytes) {
    return read_le16(bytes) | read_le16(bytes + 2) << 16;
}

/* A length-encoded integer at `bytes` (`available` bytes); returns its size, 0 if cut or invalid. */
static size_t read_lenenc(const uint8_t *bytes, size_t available, uint64_t *value) {
    if (available == 0 || bytes[0] == 0xfb || bytes[0] == 0xff) {
        return 0;
    }
    size_t size = bytes[0] < 0xfb ? 1 : bytes[0] == 0xfc ? 3 : bytes[0] == 0xfd ? 4 : 9;
    if (size > available) {
        return 0;
    }
    *value = size == 1 ? bytes[0] : 0;
    for (size_t i = size - 1; i >= 1; i--) {
        *value = *value << 8 | bytes[i];
    }
    return size;
}

void ldtap_mysql_init(struct ldtap_mysql *state, uint8_t *statement_buffer, uint16_t capacity) {
    memset(state, 0, sizeof *state);
    ldtap_wire_common_init(&state->wire, statement_buffer, capacity);
    ldtap_wire_result_reset(&state->current);
    state->phase = PHASE_GREETING;
}

static bool deprecate_eof(const struct ldtap_mysql *state) {
    return (state->capabilities & CLIENT_DEPRECATE_EOF) != 0;
}

/* ---- client payload bytes as they stream ---- */

static void after_auth_data(struct ldtap_mysql *state, uint32_t capabilities) {
    state->handshake_field = (capabilities & CLIENT_CONNECT_WITH_DB) ? FIELD_DATABASE : FIELD_DONE;
    if (state->handshake_field == FIELD_DATABASE) {
        ldtap_wire_namespace_reset(&state->wire);
    }
}

static void after_auth_length(struct ldtap_mysql *state, uint32_t capabilities) {
    if (state->auth_skip > 0) {
        state->handshake_field = FIELD_AUTH_DATA;
    } else {
        after_auth_data(state, capabilities);
    }
}

/* HandshakeResponse41 after its fixed part: user, auth response, database, (plugin, attributes). */
static void read_handshake_byte(struct ldtap_mysql *state, uint8_t c) {
    uint32_t capabilities = read_le32(state->client.head);
    switch (state->handshake_field) {
    case FIELD_USER:
        if (c == 0) {
            bool counted = capabilities & (CLIENT_PLUGIN_AUTH_LENENC_DATA | CLIENT_SECURE_CONNECTION);
            state->handshake_field = counted ? FIELD_AUTH_LENGTH : FIELD_AUTH_STRING;
        }
        break;
    case FIELD_AUTH_LENGTH:
        if ((capabilities & CLIENT_PLUGIN_AUTH_LENENC_DATA) && c >= 0xfb) {
            state->auth_skip = 0;
            state->auth_length_total = c == 0xfc ? 2 : c == 0xfd ? 3 : 8;
            state->auth_length_read = 0;
            state->handshake_field = FIELD_AUTH_LENGTH_MORE;
            break;
        }
        state->auth_skip = c;
        after_auth_length(state, capabilities);
        break;
    case FIELD_AUTH_LENGTH_MORE:
        state->auth_skip |= (uint64_t)c << (8 * state->auth_length_read);
        if (++state->auth_length_read == state->auth_length_total) {
            after_auth_length(state, capabilities);
        }
        break;
    case FIELD_AUTH_DATA:
        if (--state->auth_skip == 0) {
            after_auth_data(state, capabilities);
        }
        break;
    case FIELD_AUTH_STRING:
        if (c == 0) {
            after_auth_data(state, capabilities);
        }
        break;
    case FIELD_DATABASE:
        if (c == 0) {
            state->handshake_field = FIELD_DONE;
        } else {
            ldtap_wire_namespace_append(&state->wire, &c, 1);
        }
        break;
    default:
        break;
    }
}

/* Where a COM_QUERY's text begins: MySQL 8 query attributes put two counts first, and
 * with attributes present (a nonzero first count) the text is not at a fixed place. */
static uint32_t query_text_start(const struct ldtap_mysql *state) {
    bool attributes = state->command == COM_QUERY && !state->mariadb &&
                      (state->capabilities & CLIENT_QUERY_ATTRIBUTES);
    return attributes ? 3 : 1;
}

static void read_command_bytes(struct ldtap_mysql *state, uint32_t position, const uint8_t *bytes, size_t length) {
    if (position == 0) {
        state->command = bytes[0];
        if (state->command == COM_QUERY || state->command == COM_STMT_PREPARE) {
            ldtap_wire_text_reset(&state->wire.statement);
        } else if (state->command == COM_INIT_DB) {
            ldtap_wire_namespace_reset(&state->wire);
        }
    }
    uint32_t start = query_text_start(state);
    if (start == 3 && position <= 1 && position + length > 1 && bytes[1 - position] != 0) {
        state->command = 0; /* attributes present: no text, and no span rather than a wrong one */
    }
    if (position + length <= start) {
        return;
    }
    size_t skip = position < start ? start - position : 0;
    if (state->command == COM_QUERY || state->command == COM_STMT_PREPARE) {
        ldtap_wire_text_append(&state->wire.statement, bytes + skip, length - skip);
    } else if (state->command == COM_INIT_DB) {
        ldtap_wire_namespace_append(&state->wire, bytes + skip, length - skip);
    }
}

static void read_payload(struct ldtap_mysql *state, enum ldtap_wire_direction direction,
                         struct ldtap_mysql_stream *stream, const uint8_t *bytes, size_t length) {
    if (length == 0) {
        return;
    }
    size_t head_room = sizeof stream->head - stream->head_length;
    size_t head_taken = length < head_room ? length : head_room;
    memcpy(stream->head + stream->head_length, bytes, head_taken);
    stream->head_length = (uint8_t)(stream->head_length + head_taken);
    uint32_t position = stream->position;
    stream->position = length > UINT32_MAX - position ? UINT32_MAX : position + (uint32_t)length;
    if (direction != LDTAP_WIRE_FROM_CLIENT) {
        return;
    }
    if (state->phase == PHASE_COMMAND) {
        read_command_bytes(state, position, bytes, length);
        return;
    }
    if (state->phase == PHASE_HANDSHAKE_RESPONSE) {
        for (size_t i = position < HANDSHAKE_FIXED_BYTES ? HANDSHAKE_FIXED_BYTES - position : 0; i < length; i++) {
            read_handshake_byte(state, bytes[i]);
        }
    }
}

/* ---- whole packets ---- */

static enum ldtap_wire_event push(struct ldtap_mysql *state, uint8_t item) {
    return ldtap_wire_pending_push(&state->wire.pending, item) ? LDTAP_WIRE_NEED_MORE
                                                               : ldtap_wire_give_up(&state->wire);
}

static enum ldtap_wire_event begin_execute(struct ldtap_mysql *state, const struct ldtap_mysql_stream *stream) {
    if (stream->position < 5 || (state->command == COM_STMT_EXECUTE && stream->position >= 6 && stream->head[5] != 0)) {
        return ldtap_wire_give_up(&state->wire); /* cut short, or a cursor: rows come by COM_STMT_FETCH */
    }
    uint32_t id = read_le32(stream->head + 1);
    if (push(state, ITEM_EXECUTE) != LDTAP_WIRE_NEED_MORE) {
        return LDTAP_WIRE_GIVE_UP;
    }
    if (id == (uint32_t)STATEMENT_ID_DIRECT && state->buffer_holds_prepare) {
        const struct ldtap_wire_text *text = &state->wire.statement;
        return ldtap_wire_begin(&state->wire, text->bytes, text->length, text->full_length, LDTAP_DB_FLAG_PREPARED);
    }
    if (id == (uint32_t)STATEMENT_ID_DIRECT) {
        id = state->last_prepared;
    }
    const struct ldtap_wire_prepared *entry = ldtap_wire_prepared_find(&state->prepared, (uint64_t)id + 1);
    if (entry == NULL) {
        return ldtap_wire_begin(&state->wire, NULL, 0, 0, LDTAP_DB_FLAG_PREPARED);
    }
    return ldtap_wire_begin(&state->wire, entry->text, entry->length, entry->full_length, LDTAP_DB_FLAG_PREPARED);
}

static enum ldtap_wire_event end_command_packet(struct ldtap_mysql *state, const struct ldtap_mysql_stream *stream) {
    if (stream->position == 0) {
        return ldtap_wire_give_up(&state->wire);
    }
    const struct ldtap_wire_text *text = &state->wire.statement;
    switch (stream->head[0]) {
    case COM_QUERY:
        if (push(state, ITEM_QUERY) != LDTAP_WIRE_NEED_MORE) {
            return LDTAP_WIRE_GIVE_UP;
        }
        state->buffer_holds_prepare = false;
        return state->command == COM_QUERY
                   ? ldtap_wire_begin(&state->wire, text->bytes, text->length, text->full_length, 0)
                   : ldtap_wire_begin(&state->wire, NULL, 0, 0, 0);
    case COM_STMT_PREPARE:
        state->buffer_holds_prepare = true;
        return push(state, ITEM_PREPARE);
    case COM_STMT_EXECUTE:
    case COM_STMT_BULK_EXECUTE:
        return begin_execute(state, stream);
    case COM_STMT_CLOSE:
        if (stream->position >= 5) {
            ldtap_wire_prepared_forget(&state->prepared, (uint64_t)read_le32(stream->head + 1) + 1);
        }
        return LDTAP_WIRE_NEED_MORE; /* no answer */
    case COM_STMT_SEND_LONG_DATA:
        return LDTAP_WIRE_NEED_MORE; /* no answer */
    case COM_QUIT:
        return ldtap_wire_stop(&state->wire, LDTAP_WIRE_STOP_CLOSED);
    case COM_CHANGE_USER:
        state->phase = PHASE_AUTH;
        return LDTAP_WIRE_NEED_MORE;
    case COM_INIT_DB:
    case COM_STATISTICS:
    case COM_PROCESS_KILL:
    case COM_DEBUG:
    case COM_PING:
    case COM_STMT_RESET:
    case COM_SET_OPTION:
    case COM_RESET_CONNECTION:
        return push(state, ITEM_SIMPLE);
    default:
        return ldtap_wire_give_up(&state->wire);
    }
}

static enum ldtap_wire_event end_handshake_response(struct ldtap_mysql *state, const struct ldtap_mysql_stream *stream) {
    if (stream->position < HANDSHAKE_FIXED_BYTES) {
        return ldtap_wire_give_up(&state->wire);
    }
    uint32_t capabilities = read_le32(stream->head);
    state->capabilities = capabilities;
    if (capabilities & CLIENT_SSL) {
        /* The 32-byte SSL request; a full response with the bit set would be TLS anyway. */
        return ldtap_wire_stop(&state->wire, LDTAP_WIRE_STOP_ENCRYPTED);
    }
    if (!(capabilities & CLIENT_PROTOCOL_41) || (capabilities & CLIENT_OPTIONAL_RESULTSET_METADATA) ||
        (state->mariadb && (read_le32(stream->head + 28) & MARIADB_CACHE_METADATA_EXTENDED))) {
        return ldtap_wire_give_up(&state->wire); /* answers we would misread */
    }
    if (capabilities & CLIENT_COMPRESS) {
        return ldtap_wire_stop(&state->wire, LDTAP_WIRE_STOP_NOT_QUERIES);
    }
    state->phase = PHASE_AUTH;
    return LDTAP_WIRE_NEED_MORE;
}

static enum ldtap_wire_event end_client_packet(struct ldtap_mysql *state, const struct ldtap_mysql_stream *stream) {
    switch (state->phase) {
    case PHASE_HANDSHAKE_RESPONSE:
        return end_handshake_response(state, stream);
    case PHASE_COMMAND:
        return end_command_packet(state, stream);
    default:
        return LDTAP_WIRE_NEED_MORE; /* auth data */
    }
}

static void add_rows(struct ldtap_wire_result *result, uint64_t rows) {
    if (result->rows < 0) {
        result->rows = 0;
    }
    if (rows < (uint64_t)INT64_MAX - (uint64_t)result->rows) {
        result->rows += (int64_t)rows;
    }
}

static enum ldtap_wire_event finish_command(struct ldtap_mysql *state) {
    uint8_t item = ldtap_wire_pending_peek(&state->wire.pending, 0);
    enum ldtap_wire_event event = LDTAP_WIRE_NEED_MORE;
    if (item & LDTAP_WIRE_ITEM_SPAN) {
        event = ldtap_wire_complete(&state->wire, &state->current);
    } else {
        ldtap_wire_pending_pop(&state->wire.pending);
    }
    ldtap_wire_result_reset(&state->current);
    state->response = RESPONSE_FIRST;
    return event;
}

static enum ldtap_wire_event on_error_packet(struct ldtap_mysql *state, const struct ldtap_mysql_stream *stream) {
    state->current.flags |= LDTAP_DB_FLAG_ERROR;
    if (stream->position >= 3) {
        state->current.error_code = read_le16(stream->head + 1);
    }
    if (stream->position >= 9 && stream->head[3] == '#') {
        ldtap_wire_result_set_status(&state->current, stream->head + 4, 5);
    }
    return finish_command(state);
}

/* OK (0x00, or 0xfe ending rows with CLIENT_DEPRECATE_EOF) or EOF: more results follow? */
static bool more_results(const struct ldtap_mysql_stream *stream, bool is_eof, uint64_t *affected) {
    const uint8_t *head = stream->head;
    size_t available = stream->head_length;
    *affected = 0;
    if (is_eof) {
        return available >= 5 && (read_le16(head + 3) & SERVER_MORE_RESULTS_EXISTS);
    }
    uint64_t insert_id = 0;
    size_t first = read_lenenc(head + 1, available - 1, affected);
    size_t second = first == 0 ? 0 : read_lenenc(head + 1 + first, available - 1 - first, &insert_id);
    size_t status_at = 1 + first + second;
    return second != 0 && status_at + 2 <= available && (read_le16(head + status_at) & SERVER_MORE_RESULTS_EXISTS);
}

static enum ldtap_wire_event on_result_end(struct ldtap_mysql *state, const struct ldtap_mysql_stream *stream,
                                           bool is_eof) {
    uint64_t affected = 0;
    bool more = more_results(stream, is_eof, &affected);
    add_rows(&state->current, affected);
    if (more) {
        state->response = RESPONSE_FIRST;
        return LDTAP_WIRE_NEED_MORE;
    }
    return finish_command(state);
}

static enum ldtap_wire_event on_prepare_ok(struct ldtap_mysql *state, const struct ldtap_mysql_stream *stream) {
    if (stream->position < 9) {
        return ldtap_wire_give_up(&state->wire);
    }
    uint32_t id = read_le32(stream->head + 1);
    state->prepare_columns = read_le16(stream->head + 5);
    uint32_t parameters = read_le16(stream->head + 7);
    state->last_prepared = id;
    if (state->buffer_holds_prepare) {
        struct ldtap_wire_prepared *entry = ldtap_wire_prepared_claim(&state->prepared, (uint64_t)id + 1);
        const struct ldtap_wire_text *text = &state->wire.statement;
        ldtap_wire_prepared_append(entry, text->bytes, text->length);
        entry->full_length = text->full_length;
    }
    if (parameters > 0) {
        state->definitions_left = parameters;
        state->response = RESPONSE_PREPARE_PARAMS;
        return LDTAP_WIRE_NEED_MORE;
    }
    state->definitions_left = state->prepare_columns;
    state->response = RESPONSE_PREPARE_COLUMNS;
    return state->prepare_columns > 0 ? LDTAP_WIRE_NEED_MORE : finish_command(state);
}

static enum ldtap_wire_event on_first_packet(struct ldtap_mysql *state, const struct ldtap_mysql_stream *stream,
                                             uint8_t item) {
    uint8_t first = stream->head[0];
    if (first == 0xff) {
        return on_error_packet(state, stream);
    }
    if (item == ITEM_SIMPLE) {
        return finish_command(state);
    }
    if (item == ITEM_PREPARE) {
        return first == 0x00 ? on_prepare_ok(state, stream) : ldtap_wire_give_up(&state->wire);
    }
    if (first == 0x00 && stream->position >= 7) {
        return on_result_end(state, stream, false);
    }
    uint64_t columns = 0;
    if (first == 0xfb || read_lenenc(stream->head, stream->head_length, &columns) == 0 || columns == 0 ||
        columns > COLUMNS_MAX) {
        return ldtap_wire_give_up(&state->wire); /* LOCAL INFILE, or not a column count */
    }
    state->definitions_left = columns;
    state->response = RESPONSE_COLUMNS;
    return LDTAP_WIRE_NEED_MORE;
}

static bool is_terminator(const struct ldtap_mysql *state, const struct ldtap_mysql_stream *stream) {
    if (stream->head[0] != 0xfe) {
        return false;
    }
    return deprecate_eof(state) ? stream->position < PACKET_FULL : stream->position < 9;
}

/* A definition was read; returns whether the list it belongs to ended. */
static bool definition_done(struct ldtap_mysql *state) {
    return --state->definitions_left == 0;
}

static enum ldtap_wire_event after_definitions(struct ldtap_mysql *state, uint8_t eof_response, uint8_t next) {
    state->response = deprecate_eof(state) ? next : eof_response;
    return LDTAP_WIRE_NEED_MORE;
}

static enum ldtap_wire_event prepare_columns_next(struct ldtap_mysql *state) {
    if (state->prepare_columns == 0) {
        return finish_command(state);
    }
    state->definitions_left = state->prepare_columns;
    state->response = RESPONSE_PREPARE_COLUMNS;
    return LDTAP_WIRE_NEED_MORE;
}

static enum ldtap_wire_event end_response_packet(struct ldtap_mysql *state, const struct ldtap_mysql_stream *stream) {
    uint8_t item = ldtap_wire_pending_peek(&state->wire.pending, 0);
    bool eof = stream->head_length > 0 && stream->head[0] == 0xfe && stream->position < 9;
    if (item == 0 || stream->position == 0) {
        return ldtap_wire_give_up(&state->wire);
    }
    switch (state->response) {
    case RESPONSE_FIRST:
        return on_first_packet(state, stream, item);
    case RESPONSE_COLUMNS:
        return definition_done(state) ? after_definitions(state, RESPONSE_COLUMNS_EOF, RESPONSE_ROWS)
                                      : LDTAP_WIRE_NEED_MORE;
    case RESPONSE_COLUMNS_EOF:
        state->response = RESPONSE_ROWS;
        return eof ? LDTAP_WIRE_NEED_MORE : ldtap_wire_give_up(&state->wire);
    case RESPONSE_ROWS:
        if (stream->head[0] == 0xff) {
            return on_error_packet(state, stream);
        }
        if (is_terminator(state, stream)) {
            return on_result_end(state, stream, !deprecate_eof(state));
        }
        add_rows(&state->current, 1);
        return LDTAP_WIRE_NEED_MORE;
    case RESPONSE_PREPARE_PARAMS:
        if (!definition_done(state)) {
            return LDTAP_WIRE_NEED_MORE;
        }
        if (!deprecate_eof(state)) {
            state->response = RESPONSE_PREPARE_PARAMS_EOF;
            return LDTAP_WIRE_NEED_MORE;
        }
        return prepare_columns_next(state);
    case RESPONSE_PREPARE_PARAMS_EOF:
        return eof ? prepare_columns_next(state) : ldtap_wire_give_up(&state->wire);
    case RESPONSE_PREPARE_COLUMNS:
        if (!definition_done(state)) {
            return LDTAP_WIRE_NEED_MORE;
        }
        return deprecate_eof(state) ? finish_command(state)
                                    : after_definitions(state, RESPONSE_PREPARE_COLUMNS_EOF, RESPONSE_FIRST);
    case RESPONSE_PREPARE_COLUMNS_EOF:
        return eof ? finish_command(state) : ldtap_wire_give_up(&state->wire);
    default:
        return ldtap_wire_give_up(&state->wire);
    }
}

static bool version_names_mariadb(const struct ldtap_mysql_stream *stream) {
    static const char name[] = "MariaDB";
    for (size_t i = 1; i + sizeof name - 1 <= stream->head_length && stream->head[i] != 0; i++) {
        if (memcmp(stream->head + i, name, sizeof name - 1) == 0) {
            return true;
        }
    }
    return false;
}

static enum ldtap_wire_event end_server_packet(struct ldtap_mysql *state, const struct ldtap_mysql_stream *stream) {
    uint8_t first = stream->position > 0 ? stream->head[0] : 0;
    switch (state->phase) {
    case PHASE_GREETING:
        if (first == 0xff) {
            return ldtap_wire_stop(&state->wire, LDTAP_WIRE_STOP_NOT_QUERIES); /* refused: too many connections… */
        }
        if (first != 0x0a || stream->sequence != 0) {
            return ldtap_wire_give_up(&state->wire);
        }
        state->mariadb = version_names_mariadb(stream);
        state->phase = PHASE_HANDSHAKE_RESPONSE;
        return LDTAP_WIRE_NEED_MORE;
    case PHASE_AUTH:
        if (first == 0x00) {
            state->phase = PHASE_COMMAND;
        } else if (first == 0xff) {
            return ldtap_wire_stop(&state->wire, LDTAP_WIRE_STOP_NOT_QUERIES); /* access denied */
        }
        return LDTAP_WIRE_NEED_MORE;
    case PHASE_COMMAND:
        return end_response_packet(state, stream);
    default:
        return ldtap_wire_give_up(&state->wire);
    }
}

/* ---- packet framing ---- */

/* A packet header arrived; checks what may start a packet here. */
static enum ldtap_wire_event start_packet(struct ldtap_mysql *state, enum ldtap_wire_direction direction,
                                          struct ldtap_mysql_stream *stream, uint32_t length, uint8_t sequence) {
    bool continuation = stream->continues;
    stream->continues = length == PACKET_FULL;
    stream->remaining = length;
    if (continuation) {
        return LDTAP_WIRE_NEED_MORE;
    }
    stream->position = 0;
    stream->head_length = 0;
    stream->sequence = sequence;
    if (direction == LDTAP_WIRE_FROM_CLIENT) {
        bool speaking_first = state->phase == PHASE_GREETING;
        bool stray = state->phase == PHASE_COMMAND && sequence != 0;
        if (state->phase == PHASE_HANDSHAKE_RESPONSE) {
            state->handshake_field = FIELD_USER;
        }
        state->command = 0;
        return speaking_first || stray ? ldtap_wire_give_up(&state->wire) : LDTAP_WIRE_NEED_MORE;
    }
    /* A greeting is a few dozen bytes in packet 0: this drops TLS and text protocols at once. */
    bool bad_greeting = state->phase == PHASE_GREETING && (sequence != 0 || length > GREETING_MAX_BYTES);
    return state->phase == PHASE_HANDSHAKE_RESPONSE || bad_greeting ? ldtap_wire_give_up(&state->wire)
                                                                    : LDTAP_WIRE_NEED_MORE;
}

static bool collect_header(struct ldtap_mysql_stream *stream, struct cursor *cursor) {
    size_t missing = sizeof stream->header - stream->header_length;
    size_t available = (size_t)(cursor->end - cursor->at);
    size_t taken = missing < available ? missing : available;
    memcpy(stream->header + stream->header_length, cursor->at, taken);
    stream->header_length = (uint8_t)(stream->header_length + taken);
    cursor->at += taken;
    return stream->header_length == sizeof stream->header;
}

static enum ldtap_wire_event frame(struct ldtap_mysql *state, enum ldtap_wire_direction direction,
                                   struct cursor *cursor) {
    struct ldtap_mysql_stream *stream = direction == LDTAP_WIRE_FROM_CLIENT ? &state->client : &state->server;
    while (cursor->at < cursor->end) {
        if (!stream->in_payload) {
            if (!collect_header(stream, cursor)) {
                return LDTAP_WIRE_NEED_MORE;
            }
            stream->header_length = 0;
            uint32_t length = stream->header[0] | (uint32_t)stream->header[1] << 8 | (uint32_t)stream->header[2] << 16;
            enum ldtap_wire_event event = start_packet(state, direction, stream, length, stream->header[3]);
            if (event != LDTAP_WIRE_NEED_MORE) {
                return event;
            }
            stream->in_payload = true;
        }
        size_t available = (size_t)(cursor->end - cursor->at);
        size_t taken = stream->remaining < available ? stream->remaining : available;
        read_payload(state, direction, stream, cursor->at, taken);
        cursor->at += taken;
        stream->remaining -= (uint32_t)taken;
        if (stream->remaining > 0) {
            return LDTAP_WIRE_NEED_MORE;
        }
        stream->in_payload = false;
        if (stream->continues) {
            continue;
        }
        enum ldtap_wire_event event = direction == LDTAP_WIRE_FROM_CLIENT ? end_client_packet(state, stream)
                                                                          : end_server_packet(state, stream);
        if (event != LDTAP_WIRE_NEED_MORE) {
            return event;
        }
    }
    return LDTAP_WIRE_NEED_MORE;
}

/* hot */
enum ldtap_wire_event ldtap_mysql_feed(struct ldtap_mysql *state, enum ldtap_wire_direction direction,
                                       const uint8_t *bytes, size_t length, size_t *consumed) {
    enum ldtap_wire_event event; /* nothing is ever owed here: NEED_MORE or the repeat */
    if (!ldtap_wire_feed_start(&state->wire, length, consumed, &event)) {
        return event;
    }
    struct cursor cursor = {bytes, bytes + length};
    event = frame(state, direction, &cursor);
    *consumed = (size_t)(cursor.at - bytes);
    return event;
}

enum ldtap_wire_recognition ldtap_mysql_recognise(const uint8_t *bytes, size_t length) {
    /* length (3 bytes, a greeting is 40..~200 bytes), sequence 0, protocol 10, a printable
     * version string. */
    static const uint8_t fixed[5] = {0, 0, 0, 0, 0x0a};
    for (size_t i = 0; i < length && i < 5; i++) {
        bool ok = i == 0 ? bytes[0] >= 32 : i == 1 ? bytes[1] <= 1 : bytes[i] == fixed[i];
        if (!ok) {
            return LDTAP_WIRE_NOT_RECOGNISED;
        }
    }
    if (length < 6) {
        return LDTAP_WIRE_NEED_MORE_BYTES;
    }
    return bytes[5] >= '0' && bytes[5] <= '9' ? LDTAP_WIRE_RECOGNISED : LDTAP_WIRE_NOT_RECOGNISED;
}
