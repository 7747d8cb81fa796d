/* PostgreSQL v3 wire framer (contract in pgwire.h): length-prefixed messages in both
 * directions, a few bodies read for names, SQL, tags and SQLSTATE, every other body skipped. */
#include "pgwire.h"

#include <string.h>

#include "ldtap_ring_abi.h"

_Static_assert(sizeof(struct ldtap_pgwire) <= 5 * 1024, "the state is embedded per connection");

enum phase {
    PHASE_STARTUP = 0, /* the client's next message is untyped: startup, SSL/GSS or cancel */
    PHASE_SSL_ANSWER,  /* the server answers an SSLRequest with one byte */
    PHASE_GSS_ANSWER,  /* the server answers a GSSENCRequest with one byte */
    PHASE_AUTH,        /* authentication exchange until the first ReadyForQuery */
    PHASE_READY,
};

/* Pending items: what the server will answer, oldest first. */
enum item {
    ITEM_QUERY = 1 | LDTAP_WIRE_ITEM_SPAN,   /* simple Query: completes at ReadyForQuery */
    ITEM_EXECUTE = 2 | LDTAP_WIRE_ITEM_SPAN, /* completes at CommandComplete and kin */
    ITEM_SYNC = 3,                           /* Sync or FunctionCall: answered by ReadyForQuery */
};

enum startup_parameter { PARAMETER_OTHER = 0, PARAMETER_USER, PARAMETER_DATABASE };

enum {
    STARTUP_MAX_BYTES = 10000,     /* what the server itself accepts */
    MESSAGE_MAX_BYTES = 1u << 30,  /* 1 GiB, the server's own limit for any message */
    PROTOCOL_MAJOR_3 = 3,
    CODE_CANCEL = 80877102,
    CODE_SSL = 80877103,
    CODE_GSSENC = 80877104,
    FIELDS_ALL = 255,
};

/* Stream message types: the byte on the wire, except the untyped startup-style messages and
 * the two server messages whose letters the client uses for others ('C' Close, 'E' Execute). */
enum {
    TYPE_STARTUP = 0,
    TYPE_COMMAND_COMPLETE = 1, /* server 'C' */
    TYPE_ERROR_RESPONSE = 2,   /* server 'E' */
};

struct cursor {
    const uint8_t *at;
    const uint8_t *end;
};

static uint32_t read_be32(const uint8_t *bytes) {
    return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 | bytes[3];
}

void ldtap_pgwire_init(struct ldtap_pgwire *state, uint8_t *statement_buffer, uint16_t capacity) {
    memset(state, 0, sizeof *state);
    ldtap_wire_common_init(&state->wire, statement_buffer, capacity);
    ldtap_wire_result_reset(&state->current);
    state->parse_slot = -1;
    state->phase = PHASE_STARTUP;
}

static uint64_t name_key(const struct ldtap_pgwire_stream *stream) {
    if (stream->field_position == 0) {
        return 0; /* the unnamed statement or portal */
    }
    return stream->hash != 0 ? stream->hash : 1;
}

static void reset_current(struct ldtap_pgwire *state) {
    ldtap_wire_result_reset(&state->current);
    state->data_rows = 0;
}

/* ---- C string fields ---- */

static void on_startup_name_byte(struct ldtap_pgwire *state, const uint8_t *bytes, size_t length) {
    for (size_t i = 0; i < length && state->name_length < sizeof state->name - 1; i++) {
        state->name[state->name_length++] = (char)bytes[i];
    }
}

static void on_startup_value(struct ldtap_pgwire *state, const uint8_t *bytes, size_t length, bool first) {
    bool take = state->startup_parameter == PARAMETER_DATABASE ||
                (state->startup_parameter == PARAMETER_USER && !state->namespace_from_database);
    if (!take) {
        return;
    }
    if (first) {
        ldtap_wire_namespace_reset(&state->wire);
    }
    ldtap_wire_namespace_append(&state->wire, bytes, length);
}

static void end_startup_name(struct ldtap_pgwire *state) {
    state->name[state->name_length] = '\0';
    state->startup_parameter = strcmp(state->name, "database") == 0 ? PARAMETER_DATABASE
                               : strcmp(state->name, "user") == 0   ? PARAMETER_USER
                                                                    : PARAMETER_OTHER;
    if (state->startup_parameter == PARAMETER_DATABASE) {
        state->namespace_from_database = true;
        ldtap_wire_namespace_reset(&state->wire); /* an empty database means: the user's */
    }
    state->name_length = 0;
}

/* Tags look like "SELECT 3", "INSERT 0 1", "CREATE TABLE": the count is the last word. */
static void on_tag_bytes(struct ldtap_pgwire *state, const uint8_t *bytes, size_t length) {
    for (size_t i = 0; i < length; i++) {
        uint8_t c = bytes[i];
        if (c == ' ') {
            state->tag_number = 0;
            state->tag_digits = false;
        } else if (c >= '0' && c <= '9' && state->tag_number < (UINT64_C(1) << 59)) {
            state->tag_number = state->tag_number * 10 + (uint64_t)(c - '0');
            state->tag_digits = true;
        } else {
            state->tag_number = UINT64_MAX; /* poisons the word: not a count */
        }
    }
}

static void on_error_field_bytes(struct ldtap_pgwire *state, const uint8_t *bytes, size_t length) {
    for (size_t i = 0; i < length && state->error_field_length < sizeof state->error_field; i++) {
        state->error_field[state->error_field_length++] = bytes[i];
    }
}

static void end_error_field(struct ldtap_pgwire *state) {
    if (state->error_field_length > 1 && state->error_field[0] == 'C') {
        ldtap_wire_result_set_status(&state->current, state->error_field + 1,
                                     (size_t)(state->error_field_length - 1));
    }
    state->error_field_length = 0;
}

static void on_parse_name_end(struct ldtap_pgwire *state, uint64_t key) {
    state->parse_key = key;
    if (key == 0) {
        ldtap_wire_text_reset(&state->wire.statement);
        state->unnamed_valid = false;
        state->parse_slot = -1;
        return;
    }
    struct ldtap_wire_prepared *entry = ldtap_wire_prepared_claim(&state->prepared, key);
    state->parse_slot = (int8_t)(entry - state->prepared.entries);
}

static void on_field_bytes(struct ldtap_pgwire *state, struct ldtap_pgwire_stream *stream,
                           const uint8_t *bytes, size_t length) {
    if (length == 0) {
        return;
    }
    bool first = stream->field_position == 0;
    switch (stream->type) {
    case TYPE_STARTUP:
        if (stream->field % 2 == 0) {
            on_startup_name_byte(state, bytes, length);
        } else {
            on_startup_value(state, bytes, length, first);
        }
        return;
    case 'Q':
        ldtap_wire_text_append(&state->wire.statement, bytes, length);
        return;
    case 'P':
        if (stream->field == 1) {
            if (state->parse_slot < 0) {
                ldtap_wire_text_append(&state->wire.statement, bytes, length);
            } else {
                ldtap_wire_prepared_append(&state->prepared.entries[state->parse_slot], bytes, length);
            }
            return;
        }
        break;
    case TYPE_COMMAND_COMPLETE:
        on_tag_bytes(state, bytes, length);
        return;
    case TYPE_ERROR_RESPONSE:
        on_error_field_bytes(state, bytes, length);
        return;
    case 'C': /* client Close: 'S' or 'P', then the name */
        if (first) {
            state->close_statement = bytes[0] == 'S';
            bytes++;
            length--;
        }
        break;
    default:
        break;
    }
    stream->hash = ldtap_wire_hash(stream->hash, bytes, length); /* a statement or portal name */
}

static void on_field_end(struct ldtap_pgwire *state, struct ldtap_pgwire_stream *stream) {
    switch (stream->type) {
    case TYPE_STARTUP:
        if (stream->field % 2 == 0) {
            end_startup_name(state);
        }
        break;
    case 'P':
        if (stream->field == 0) {
            on_parse_name_end(state, name_key(stream));
        }
        break;
    case 'B':
        if (stream->field == 0) {
            state->portal_key = name_key(stream);
        } else {
            state->bind_statement_key = name_key(stream);
        }
        break;
    case 'E':
        state->portal_key = name_key(stream);
        break;
    case 'C': {
        /* The type byte was counted as a name byte: one byte means the unnamed one. */
        uint64_t key = stream->field_position <= 1 ? 0 : (stream->hash != 0 ? stream->hash : 1);
        if (state->close_statement) {
            if (key == 0) {
                state->unnamed_valid = false;
            } else {
                ldtap_wire_prepared_forget(&state->prepared, key);
            }
        }
        break;
    }
    case TYPE_ERROR_RESPONSE:
        end_error_field(state);
        break;
    default:
        break;
    }
}

/* Reads the body's leading C strings; bytes past them are skipped by the caller. */
static void read_fields(struct ldtap_pgwire *state, struct ldtap_pgwire_stream *stream,
                        const uint8_t *bytes, size_t length) {
    while (length > 0 && stream->field < stream->fields_wanted) {
        const uint8_t *nul = memchr(bytes, 0, length);
        size_t piece = nul != NULL ? (size_t)(nul - bytes) : length;
        on_field_bytes(state, stream, bytes, piece);
        stream->field_position += (uint32_t)piece;
        if (nul == NULL) {
            return;
        }
        on_field_end(state, stream);
        stream->field++;
        stream->field_position = 0;
        stream->hash = LDTAP_WIRE_HASH_SEED;
        bytes = nul + 1;
        length -= piece + 1;
    }
}

/* ---- message boundaries ---- */

static uint8_t message_type(enum ldtap_wire_direction direction, uint8_t type) {
    if (direction == LDTAP_WIRE_FROM_SERVER && type == 'C') {
        return TYPE_COMMAND_COMPLETE;
    }
    if (direction == LDTAP_WIRE_FROM_SERVER && type == 'E') {
        return TYPE_ERROR_RESPONSE;
    }
    return type;
}

static bool client_type_allowed(const struct ldtap_pgwire *state, uint8_t type) {
    if (state->phase == PHASE_AUTH) {
        /* pg8000 follows its PasswordMessage with a Flush ('H') */
        return type == 'p' || type == 'H' || type == 'X';
    }
    return state->phase == PHASE_READY && strchr("QPBEDCHSFdcfX", type) != NULL;
}

/* Which C strings of the body are read; everything else is skipped in O(1) per call. */
static uint8_t fields_to_read(uint8_t type) {
    switch (type) {
    case TYPE_STARTUP:
    case TYPE_ERROR_RESPONSE:
        return FIELDS_ALL;
    case 'P':
    case 'B':
        return 2;
    case 'Q':
    case 'E':
    case 'C':
    case TYPE_COMMAND_COMPLETE:
        return 1;
    default:
        return 0;
    }
}

static enum ldtap_wire_event start_startup(struct ldtap_pgwire *state, struct ldtap_pgwire_stream *stream) {
    uint32_t length = read_be32(stream->header);
    uint32_t code = read_be32(stream->header + 4);
    if (code == CODE_SSL || code == CODE_GSSENC) {
        if (length != 8) {
            return ldtap_wire_give_up(&state->wire);
        }
        state->phase = code == CODE_SSL ? PHASE_SSL_ANSWER : PHASE_GSS_ANSWER;
        return LDTAP_WIRE_NEED_MORE;
    }
    if (code == CODE_CANCEL) {
        return length == 16 ? ldtap_wire_stop(&state->wire, LDTAP_WIRE_STOP_NOT_QUERIES)
                            : ldtap_wire_give_up(&state->wire);
    }
    if (code >> 16 != PROTOCOL_MAJOR_3 || length <= 8 || length > STARTUP_MAX_BYTES) {
        return ldtap_wire_give_up(&state->wire);
    }
    stream->remaining = length - 8;
    return LDTAP_WIRE_NEED_MORE;
}

/* Validates a complete header and prepares the body walk. */
static enum ldtap_wire_event start_message(struct ldtap_pgwire *state, enum ldtap_wire_direction direction,
                                           struct ldtap_pgwire_stream *stream) {
    stream->field = 0;
    stream->field_position = 0;
    stream->hash = LDTAP_WIRE_HASH_SEED;
    if (direction == LDTAP_WIRE_FROM_CLIENT && state->phase <= PHASE_GSS_ANSWER) {
        if (state->phase != PHASE_STARTUP) {
            return ldtap_wire_give_up(&state->wire); /* the client spoke before the answer */
        }
        stream->type = TYPE_STARTUP;
        stream->fields_wanted = FIELDS_ALL;
        state->name_length = 0;
        return start_startup(state, stream);
    }
    uint32_t length = read_be32(stream->header + 1);
    if (length < 4 || length > MESSAGE_MAX_BYTES || stream->header[0] == 0) {
        return ldtap_wire_give_up(&state->wire);
    }
    uint8_t wire_type = stream->header[0];
    stream->remaining = length - 4;
    stream->type = message_type(direction, wire_type);
    stream->fields_wanted = fields_to_read(stream->type);
    if (direction == LDTAP_WIRE_FROM_CLIENT) {
        if (!client_type_allowed(state, wire_type)) {
            return ldtap_wire_give_up(&state->wire);
        }
        if (wire_type == 'Q') {
            ldtap_wire_text_reset(&state->wire.statement);
            state->unnamed_valid = false; /* a simple Query destroys the unnamed statement */
        } else if (wire_type == 'P') {
            state->parse_slot = -1;
            state->parse_key = 1; /* until the name is read: not the unnamed statement */
        }
        return LDTAP_WIRE_NEED_MORE;
    }
    state->error_field_length = 0;
    state->tag_number = 0;
    state->tag_digits = false;
    static const char auth_types[] = "RSKNvEZ";
    static const char ready_types[] = "TtD123nsSNAKGHWdcVIZEC";
    const char *allowed = state->phase == PHASE_READY ? ready_types : auth_types;
    if (state->phase < PHASE_AUTH || strchr(allowed, wire_type) == NULL) {
        return ldtap_wire_give_up(&state->wire);
    }
    return LDTAP_WIRE_NEED_MORE;
}

static enum ldtap_wire_event begin_execute(struct ldtap_pgwire *state) {
    uint64_t statement;
    bool known = true;
    if (state->portal_key == 0) {
        known = state->unnamed_portal_bound;
        statement = state->unnamed_portal_statement;
    } else {
        known = state->portal_key == state->named_portal_key;
        statement = state->named_portal_statement;
    }
    if (!ldtap_wire_pending_push(&state->wire.pending, ITEM_EXECUTE)) {
        return ldtap_wire_give_up(&state->wire);
    }
    if (known && statement == 0) {
        struct ldtap_wire_text *text = &state->wire.statement;
        return state->unnamed_valid ? ldtap_wire_begin(&state->wire, text->bytes, text->length, text->full_length, 0)
                                    : ldtap_wire_begin(&state->wire, NULL, 0, 0, 0);
    }
    struct ldtap_wire_prepared *entry = known ? ldtap_wire_prepared_find(&state->prepared, statement) : NULL;
    if (entry == NULL) {
        return ldtap_wire_begin(&state->wire, NULL, 0, 0, LDTAP_DB_FLAG_PREPARED);
    }
    return ldtap_wire_begin(&state->wire, entry->text, entry->length, entry->full_length, LDTAP_DB_FLAG_PREPARED);
}

static enum ldtap_wire_event finish_client_message(struct ldtap_pgwire *state, uint8_t type) {
    switch (type) {
    case TYPE_STARTUP:
        state->phase = PHASE_AUTH;
        return LDTAP_WIRE_NEED_MORE;
    case 'Q': {
        struct ldtap_wire_text *text = &state->wire.statement;
        if (!ldtap_wire_pending_push(&state->wire.pending, ITEM_QUERY)) {
            return ldtap_wire_give_up(&state->wire);
        }
        return ldtap_wire_begin(&state->wire, text->bytes, text->length, text->full_length, 0);
    }
    case 'P':
        if (state->parse_slot < 0 && state->parse_key == 0) {
            state->unnamed_valid = true;
        }
        state->parse_slot = -1;
        return LDTAP_WIRE_NEED_MORE;
    case 'B':
        if (state->portal_key == 0) {
            state->unnamed_portal_bound = true;
            state->unnamed_portal_statement = state->bind_statement_key;
        } else {
            state->named_portal_key = state->portal_key;
            state->named_portal_statement = state->bind_statement_key;
        }
        return LDTAP_WIRE_NEED_MORE;
    case 'E':
        return begin_execute(state);
    case 'S':
    case 'F':
        return ldtap_wire_pending_push(&state->wire.pending, ITEM_SYNC) ? LDTAP_WIRE_NEED_MORE
                                                                         : ldtap_wire_give_up(&state->wire);
    case 'X':
        return ldtap_wire_stop(&state->wire, LDTAP_WIRE_STOP_CLOSED);
    default:
        return LDTAP_WIRE_NEED_MORE;
    }
}

static enum ldtap_wire_event complete_execute(struct ldtap_pgwire *state) {
    enum ldtap_wire_event event = ldtap_wire_complete(&state->wire, &state->current);
    reset_current(state);
    return event;
}

/* ReadyForQuery ends a Sync batch or a simple Query: Executes still unanswered were
 * skipped after an error; they complete now, in order, before the Query itself. */
static enum ldtap_wire_event on_ready_for_query(struct ldtap_pgwire *state) {
    struct ldtap_wire_common *wire = &state->wire;
    size_t skipped = 0;
    uint8_t item = 0;
    while ((item = ldtap_wire_pending_peek(&wire->pending, skipped)) == ITEM_EXECUTE) {
        skipped++;
    }
    if (item == 0) {
        return ldtap_wire_give_up(wire); /* a ReadyForQuery nobody asked for: out of step */
    }
    ldtap_wire_result_reset(&wire->owed_result);
    wire->owed_result.flags = LDTAP_DB_FLAG_ERROR;
    wire->owed = (uint8_t)skipped;
    if (item == ITEM_QUERY) {
        wire->final_result = state->current;
        wire->owed_final = 1;
    } else {
        wire->owed_drop = 1;
    }
    reset_current(state);
    return ldtap_wire_take_owed(wire);
}

static enum ldtap_wire_event finish_server_message(struct ldtap_pgwire *state, uint8_t type) {
    uint8_t head = ldtap_wire_pending_peek(&state->wire.pending, 0);
    if (state->phase == PHASE_AUTH) {
        if (type == 'Z') {
            state->phase = PHASE_READY;
        }
        return LDTAP_WIRE_NEED_MORE;
    }
    switch (type) {
    case 'D':
        state->data_rows++;
        return LDTAP_WIRE_NEED_MORE;
    case TYPE_COMMAND_COMPLETE:
        if (state->tag_digits && state->tag_number != UINT64_MAX) {
            state->current.rows = (int64_t)state->tag_number;
        }
        break;
    case 'I':
        break;
    case 's':
        if (head != ITEM_EXECUTE) {
            return ldtap_wire_give_up(&state->wire);
        }
        state->current.rows = state->data_rows;
        return complete_execute(state);
    case TYPE_ERROR_RESPONSE:
        state->current.flags |= LDTAP_DB_FLAG_ERROR;
        if (head == ITEM_EXECUTE) {
            return complete_execute(state); /* the batch's later Executes are skipped */
        }
        if (head != ITEM_QUERY) {
            reset_current(state); /* a failed Parse/Bind, or a FATAL nobody waited for */
        }
        return LDTAP_WIRE_NEED_MORE;
    case 'Z':
        return on_ready_for_query(state);
    case 'W':
        return ldtap_wire_stop(&state->wire, LDTAP_WIRE_STOP_NOT_QUERIES);
    default:
        return LDTAP_WIRE_NEED_MORE;
    }
    /* CommandComplete or EmptyQueryResponse */
    if (head == ITEM_EXECUTE) {
        return complete_execute(state);
    }
    return head == ITEM_QUERY ? LDTAP_WIRE_NEED_MORE : ldtap_wire_give_up(&state->wire);
}

/* The one-byte answer to SSLRequest or GSSENCRequest. */
static enum ldtap_wire_event on_encryption_answer(struct ldtap_pgwire *state, uint8_t answer) {
    bool accepted = state->phase == PHASE_SSL_ANSWER ? answer == 'S' : answer == 'G';
    if (accepted) {
        return ldtap_wire_stop(&state->wire, LDTAP_WIRE_STOP_ENCRYPTED);
    }
    if (answer != 'N') {
        return ldtap_wire_give_up(&state->wire); /* 'E' from pre-9.x servers, or garbage */
    }
    state->phase = PHASE_STARTUP;
    return LDTAP_WIRE_NEED_MORE;
}

/* Collects a header split across calls; true once complete. */
static bool collect_header(struct ldtap_pgwire_stream *stream, struct cursor *cursor, size_t needed) {
    size_t missing = needed - stream->header_length;
    size_t available = (size_t)(cursor->end - cursor->at);
    size_t taken = missing < available ? missing : available;
    memcpy(stream->header + stream->header_length, cursor->at, taken);
    stream->header_length = (uint8_t)(stream->header_length + taken);
    cursor->at += taken;
    return stream->header_length == needed;
}

/* Frames up to one event's worth of bytes. */
static enum ldtap_wire_event frame(struct ldtap_pgwire *state, enum ldtap_wire_direction direction,
                                   struct cursor *cursor) {
    struct ldtap_pgwire_stream *stream = direction == LDTAP_WIRE_FROM_CLIENT ? &state->client : &state->server;
    while (cursor->at < cursor->end) {
        if (!stream->in_body) {
            if (direction == LDTAP_WIRE_FROM_SERVER &&
                (state->phase == PHASE_SSL_ANSWER || state->phase == PHASE_GSS_ANSWER)) {
                enum ldtap_wire_event event = on_encryption_answer(state, *cursor->at++);
                if (event != LDTAP_WIRE_NEED_MORE) {
                    return event;
                }
                continue;
            }
            if (direction == LDTAP_WIRE_FROM_SERVER && state->phase < PHASE_AUTH) {
                return ldtap_wire_give_up(&state->wire); /* the server spoke first */
            }
            bool untyped = direction == LDTAP_WIRE_FROM_CLIENT && state->phase < PHASE_AUTH;
            if (!collect_header(stream, cursor, untyped ? 8 : 5)) {
                return LDTAP_WIRE_NEED_MORE;
            }
            enum ldtap_wire_event event = start_message(state, direction, stream);
            if (event != LDTAP_WIRE_NEED_MORE || state->wire.finished) {
                return event;
            }
            stream->header_length = 0;
            if (stream->type == TYPE_STARTUP && state->phase != PHASE_STARTUP) {
                continue; /* SSLRequest or GSSENCRequest: no body */
            }
            stream->in_body = true;
        }
        size_t available = (size_t)(cursor->end - cursor->at);
        size_t taken = stream->remaining < available ? stream->remaining : available;
        if (stream->field < stream->fields_wanted) {
            read_fields(state, stream, cursor->at, taken);
        }
        cursor->at += taken;
        stream->remaining -= (uint32_t)taken;
        if (stream->remaining > 0) {
            return LDTAP_WIRE_NEED_MORE;
        }
        stream->in_body = false;
        enum ldtap_wire_event event = direction == LDTAP_WIRE_FROM_CLIENT
                                          ? finish_client_message(state, stream->type)
                                          : finish_server_message(state, stream->type);
        if (event != LDTAP_WIRE_NEED_MORE) {
            return event;
        }
    }
    return LDTAP_WIRE_NEED_MORE;
}

/* hot */
enum ldtap_wire_event ldtap_pgwire_feed(struct ldtap_pgwire *state, enum ldtap_wire_direction direction,
                                        const uint8_t *bytes, size_t length, size_t *consumed) {
    enum ldtap_wire_event event;
    if (!ldtap_wire_feed_start(&state->wire, length, consumed, &event)) {
        return event;
    }
    struct cursor cursor = {bytes, bytes + length};
    event = frame(state, direction, &cursor);
    *consumed = (size_t)(cursor.at - bytes);
    return event;
}

enum ldtap_wire_recognition ldtap_pgwire_recognise(const uint8_t *bytes, size_t length) {
    /* A prefix: both length bytes that must be zero (<= 10000), and the code's high byte. */
    if (length < 8) {
        bool plausible = (length < 1 || bytes[0] == 0) && (length < 2 || bytes[1] == 0) &&
                         (length < 5 || bytes[4] == 0 || bytes[4] == 0x04);
        return plausible ? LDTAP_WIRE_NEED_MORE_BYTES : LDTAP_WIRE_NOT_RECOGNISED;
    }
    uint32_t message_length = read_be32(bytes);
    uint32_t code = read_be32(bytes + 4);
    bool recognised = false;
    if (code == CODE_SSL || code == CODE_GSSENC) {
        recognised = message_length == 8;
    } else if (code == CODE_CANCEL) {
        recognised = message_length == 16;
    } else if (code >> 16 == PROTOCOL_MAJOR_3) {
        recognised = message_length > 8 && message_length <= STARTUP_MAX_BYTES;
    }
    return recognised ? LDTAP_WIRE_RECOGNISED : LDTAP_WIRE_NOT_RECOGNISED;
}
