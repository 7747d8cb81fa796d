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
