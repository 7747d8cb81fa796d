/* Decodes LDTAP_RECORD_DB_SPAN records (SQLite, PostgreSQL, MySQL, MariaDB, Redis) into
 * client spans named and attributed as the stable database semantic conventions say. */
#include "decode_db.h"

#include <stdio.h>
#include <string.h>

#include "ldtap_ring_abi.h"
#include "record_common.h"
#include "redis_command.h"
#include "sql_sanitize.h"
#include "statement_cache.h"

/*
 * Decisions a reader should know:
 * - db.query.text is sanitised (sql_sanitize.h, redis_command.h) unless raw statements are
 *   switched on; either way it is valid UTF-8 and at most LDTAP_DB_QUERY_TEXT_MAX_BYTES.
 *   ldtap.db.statement_truncated is true when the shim cut the statement or the cap did.
 * - db.response.status_code is the record's SQLSTATE (or Redis error prefix) when it has
 *   one, else its numeric code (MySQL errno, SQLite result code) as text. error.type, set
 *   with ERROR status only when the record's error flag is set, is the same value, or
 *   "_OTHER" when the record has no code.
 * - The record's row count is "returned or affected": it becomes db.response.returned_rows
 *   except for INSERT/UPDATE/DELETE/MERGE/REPLACE, where it counts affected rows.
 * - server.address/port and network.peer.* come from the socket's peer address (the shim
 *   does not see host names); SQLite has neither.
 * - The span is named "{operation} {collection}", "{operation}" or "{db.system.name}".
 */

#define SHORT_TEXT_BYTES 24 /* db.system.name, status codes, error.type */
#define NAMESPACE_MAX_BYTES 256
/* Sanitised SQL can be longer than its input (spaces around operators). */
#define SANITIZE_BUFFER_BYTES (2 * LDTAP_DB_STATEMENT_MAX + 16)

_Static_assert(LDTAP_DB_QUERY_TEXT_MAX_BYTES + LDTAP_REDIS_OPERATION_BYTES + LDTAP_SQL_COLLECTION_BYTES +
                       NAMESPACE_MAX_BYTES + 2 * LDTAP_ADDRESS_TEXT_BYTES + 4 * SHORT_TEXT_BYTES <=
                   LDTAP_SPAN_TEXT_BYTES,
               "database span attributes may not fit the span text buffer");
_Static_assert(LDTAP_SQL_OPERATION_BYTES <= LDTAP_REDIS_OPERATION_BYTES, "operation buffer too small");

static const char *const SYSTEM_NAMES[] = {
    [LDTAP_DB_SQLITE] = "sqlite",   [LDTAP_DB_POSTGRESQL] = "postgresql", [LDTAP_DB_MYSQL] = "mysql",
    [LDTAP_DB_MARIADB] = "mariadb", [LDTAP_DB_REDIS] = "redis",
};

/* Operations whose row count is rows affected, not rows returned. */
static const char *const WRITE_OPERATIONS[] = {"INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE"};

static bool record_is_valid(const struct ldtap_db_span_record *record, uint32_t payload_length) {
    if (record->statement_length > LDTAP_DB_STATEMENT_MAX ||
        record->namespace_length > LDTAP_DB_NAMESPACE_MAX) {
        return false;
    }
    if ((size_t)payload_length - sizeof *record <
        (size_t)record->statement_length + record->namespace_length) {
        return false;
    }
    if (record->span.kind != LDTAP_SPAN_KIND_CLIENT ||
        record->span.end_time_ns < record->span.start_time_ns) {
        return false;
    }
    if (record->system < LDTAP_DB_SQLITE || record->system > LDTAP_DB_REDIS) {
        return false;
    }
    if (record->source != LDTAP_DB_SOURCE_DRIVER && record->source != LDTAP_DB_SOURCE_WIRE) {
        return false;
    }
    return record->statement_full_length >= record->statement_length;
}

static enum ldtap_sql_dialect dialect_of(uint16_t system) {
    if (system == LDTAP_DB_MYSQL || system == LDTAP_DB_MARIADB) {
        return LDTAP_SQL_DIALECT_MYSQL;
    }
    return system == LDTAP_DB_SQLITE ? LDTAP_SQL_DIALECT_SQLITE : LDTAP_SQL_DIALECT_POSTGRESQL;
}

/* Sanitises (SQL or Redis) into `described`; the operation and collection come from the
 * same pass whether or not the raw text is reported. */
static void sanitize(const struct ldtap_db_span_record *record, const char *statement, bool truncated,
                     struct ldtap_statement_description *described) {
    char sanitized[SANITIZE_BUFFER_BYTES];
    size_t sanitized_length;
    bool full = false;
    if (record->system == LDTAP_DB_REDIS) {
        struct ldtap_redis_result result;
        ldtap_redis_sanitize(statement, record->statement_length, sanitized, sizeof sanitized, &result);
        sanitized_length = result.length;
        memcpy(described->operation, result.operation, sizeof result.operation);
    } else {
        struct ldtap_sql_result result;
        ldtap_sql_sanitize(statement, record->statement_length, dialect_of(record->system), truncated,
                           sanitized, sizeof sanitized, &result);
        sanitized_length = result.length;
        full = result.output_full;
        memcpy(described->operation, result.operation, sizeof result.operation);
        memcpy(described->collection, result.collection, sizeof result.collection);
    }
    described->length =
        ldtap_copy_clean_text(sanitized, sanitized_length, described->text, sizeof described->text);
    described->cut = full || described->length < sanitized_length;
}

/* What the description depends on besides the statement's bytes. */
static uint32_t statement_kind(const struct ldtap_db_span_record *record, bool truncated) {
    return (uint32_t)record->system << 1 | (truncated ? 1u : 0u);
}

static void describe(const struct ldtap_db_span_record *record, const char *statement, bool truncated,
                     struct ldtap_statement_cache *cache, struct ldtap_statement_description *described) {
    uint32_t kind = statement_kind(record, truncated);
    if (cache && ldtap_statement_cache_find(cache, kind, statement, record->statement_length, described)) {
        return;
    }
    sanitize(record, statement, truncated, described);
    if (cache) {
        ldtap_statement_cache_store(cache, kind, statement, record->statement_length, described);
    }
}

static bool add_literal(struct ldtap_span *span, const char *key, const char *text) {
    return ldtap_span_add_string(span, key, text, strlen(text));
}

static bool add_clean(struct ldtap_span *span, const char *key, const char *text, size_t length,
                      size_t capacity) {
    char clean[LDTAP_DB_QUERY_TEXT_MAX_BYTES];
    size_t clean_length =
        ldtap_copy_clean_text(text, length, clean, capacity < sizeof clean ? capacity : sizeof clean);
    return ldtap_span_add_string(span, key, clean, clean_length);
}

static bool is_write_operation(const char *operation) {
    for (size_t i = 0; i < sizeof WRITE_OPERATIONS / sizeof *WRITE_OPERATIONS; i++) {
        if (strcmp(operation, WRITE_OPERATIONS[i]) == 0) {
            return true;
        }
    }
    return false;
}

static void set_name(struct ldtap_span *span, const char *system,
                     const struct ldtap_statement_description *described) {
    /* Both names are NUL-terminated inside their arrays, so "{operation} {collection}" fits. */
    char name[sizeof described->operation + sizeof described->collection];
    const char *text = described->operation[0] ? described->operation : system;
    size_t length = strlen(text);
    if (described->operation[0] && described->collection[0]) {
        size_t collection_length = strlen(described->collection);
        memcpy(name, described->operation, length);
        name[length] = ' ';
        memcpy(name + length + 1, described->collection, collection_length);
        text = name;
        length += 1 + collection_length;
    }
    /* Cut to the name's size on a character boundary. */
    ldtap_copy_clean_text(text, length, span->name, sizeof span->name);
}

/* db.response.status_code, error.type and the status. */
static bool add_outcome(struct ldtap_span *span, const struct ldtap_db_span_record *record) {
    char code[SHORT_TEXT_BYTES] = "";
    size_t status_length = strnlen(record->status_code, sizeof record->status_code);
    bool ok = true;
    if (status_length > 0) {
        ldtap_copy_clean_text(record->status_code, status_length, code, sizeof code);
    } else if (record->error_code != 0) {
        snprintf(code, sizeof code, "%u", record->error_code);
    }
    if (code[0]) {
        ok &= add_literal(span, "db.response.status_code", code);
    }
    if (record->flags & LDTAP_DB_FLAG_ERROR) {
        span->status_code = LDTAP_STATUS_ERROR;
        ok &= add_literal(span, "error.type", code[0] ? code : "_OTHER");
    }
    return ok;
}

static bool add_network(struct ldtap_span *span, const struct ldtap_net_endpoints *endpoints) {
    char peer[LDTAP_ADDRESS_TEXT_BYTES];
    if (!ldtap_format_address(endpoints->family, endpoints->peer_address, peer)) {
        return true;
    }
    bool ok = add_literal(span, "server.address", peer) && add_literal(span, "network.peer.address", peer);
    if (endpoints->peer_port) {
        ok &= ldtap_span_add_int(span, "server.port", endpoints->peer_port) &&
              ldtap_span_add_int(span, "network.peer.port", endpoints->peer_port);
    }
    return ok;
}

static bool add_attributes(struct ldtap_span *span, const struct ldtap_db_span_record *record,
                           const char *statement, const char *namespace_text,
                           const struct ldtap_db_decode_options *options,
                           struct ldtap_statement_description *described, bool slow) {
    const char *system = SYSTEM_NAMES[record->system];
    bool truncated = record->statement_full_length > record->statement_length;
    bool ok = add_literal(span, "db.system.name", system);
    if (options->raw_statements) {
        ok &= add_clean(span, "db.query.text", statement, record->statement_length, sizeof described->text);
        truncated |= record->statement_length >= sizeof described->text;
    } else if (described->length > 0) {
        ok &= ldtap_span_add_string(span, "db.query.text", described->text, described->length);
        truncated |= described->cut;
    }
    if (described->operation[0]) {
        ok &= add_literal(span, "db.operation.name", described->operation);
    }
    if (described->collection[0]) {
        ok &= add_clean(span, "db.collection.name", described->collection, strlen(described->collection),
                        LDTAP_SQL_COLLECTION_BYTES);
    }
    if (record->namespace_length > 0) {
        ok &= add_clean(span, "db.namespace", namespace_text, record->namespace_length, NAMESPACE_MAX_BYTES);
    }
    ok &= add_network(span, &record->endpoints) && add_outcome(span, record);
    if (record->rows >= 0 && !is_write_operation(described->operation)) {
        ok &= ldtap_span_add_int(span, "db.response.returned_rows", record->rows);
    }
    ok &= ldtap_span_add_int(span, "thread.id", record->span.thread_id);
    if (truncated) {
        ok &= ldtap_span_add_bool(span, "ldtap.db.statement_truncated", true);
    }
    if (slow) {
        ok &= ldtap_span_add_bool(span, "ldtap.db.slow", true);
    }
    return ok;
}

bool ldtap_decode_db_span(const uint8_t *payload, uint32_t payload_length,
                          const struct ldtap_db_decode_options *options, struct ldtap_span *span,
                          struct ldtap_db_statement *statement) {
    struct ldtap_db_span_record record;
    if (payload == NULL || span == NULL || options == NULL || payload_length < sizeof record) {
        return false;
    }
    memcpy(&record, payload, sizeof record); /* the payload may sit at any alignment */
    if (!record_is_valid(&record, payload_length)) {
        return false;
    }
    const char *statement_text = (const char *)payload + sizeof record;
    const char *namespace_text = statement_text + record.statement_length;
    bool truncated = record.statement_full_length > record.statement_length;

    struct ldtap_statement_description described = {0};
    describe(&record, statement_text, truncated, options->statements, &described);
    uint64_t duration_ns = record.span.end_time_ns - record.span.start_time_ns;
    bool slow = options->slow_query_ms > 0 && duration_ns >= (uint64_t)options->slow_query_ms * 1000000u;

    ldtap_span_copy_common(span, &record.span);
    set_name(span, SYSTEM_NAMES[record.system], &described);
    if (statement) {
        memcpy(statement->text, described.text, described.length + 1);
        statement->slow = slow;
    }
    return add_attributes(span, &record, statement_text, namespace_text, options, &described, slow);
}
