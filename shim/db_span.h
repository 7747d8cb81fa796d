/* Database client spans made by the driver hooks (hooks/sqlite.c, libpq.c, mysql.c): the
 * outermost-call guard, begin/end with a bounded statement head, the peer of a driver's
 * socket, spans that outlive one call, and statement text remembered from a prepare. */
#ifndef LDTAP_DB_SPAN_H
#define LDTAP_DB_SPAN_H

#include <stddef.h>
#include <stdint.h>

#include "late_symbols.h"
#include "ldtap_ring_abi.h"
#include "process.h"
#include "shim.h"

/* A span being built: the record, the head of its statement, and what a hook noted at
 * the start to work out the result (SQLite: the connection's total changes). */
struct ldtap_db_span {
    struct ldtap_db_span_record record;
    int64_t start_mark;
    const void *handle;   /* SQLite: the statement's connection, noted at the start */
    bool counts_changes;  /* SQLite: no result columns, rows are the changes it made */
    char statement[LDTAP_DB_STATEMENT_MAX];
};

/*
 * Driver hooks on this thread's stack. The client libraries call their own exported
 * functions through their PLT (sqlite3_exec -> sqlite3_step, PQexec -> PQsendQuery and
 * PQgetResult), which lands in our hooks again: only the outermost call is a span.
 * This is deliberately not ldtap_nesting: holding that across the library's call would
 * make the socket hooks underneath treat every tracked fd as re-entered and mark it out
 * of sync (a Python callback inside sqlite3_step talking HTTP, a reconnect). The driver's
 * own socket needs no such cover: ldtap_db_span_peer() takes it out of the framers' hands.
 */
extern LDTAP_INTERNAL LDTAP_THREAD_LOCAL unsigned ldtap_db_depth;

/* hot: true when this hook call is to be traced (the shim records, `library` was found,
 * no driver hook or shim code below us on this thread); the caller then must call
 * ldtap_db_leave() before returning. False: just call the original. */
LDTAP_HOT static inline bool ldtap_db_enter(enum ldtap_db_library library) {
    if (ldtap_db_depth != 0 || ldtap_nesting != 0 || !ldtap_recording() ||
        !ldtap_late_library_ready(library))
        return false;
    ldtap_db_depth++;
    return true;
}

static inline void ldtap_db_leave(void) { ldtap_db_depth--; }

/* Length meaning "up to the terminating NUL". */
#define LDTAP_DB_NUL_TERMINATED SIZE_MAX

/* Starts a client span now, child of the request this thread is serving, and copies the
 * head of `statement` (may be NULL). */
void ldtap_db_span_begin(struct ldtap_db_span *span, enum ldtap_db_system system,
                         const char *statement, size_t length);

/* Endpoints from the driver's socket `fd` (negative: none). The socket is handed to the
 * driver (LDTAP_FD_DRIVER) so no framer traces it twice; its addresses are read once per
 * connection and cached. */
void ldtap_db_span_peer(struct ldtap_db_span *span, int fd);

/* Marks the span failed with a library error code and/or SQLSTATE (either may be 0/NULL). */
void ldtap_db_span_fail(struct ldtap_db_span *span, uint32_t error_code, const char *sqlstate);

/* Ends the span now and writes its record; `namespace_name` may be NULL. */
void ldtap_db_span_end(struct ldtap_db_span *span, const char *namespace_name);

/* The same for callers already inside shim code (the socket framers, under LDTAP_RECORD):
 * `namespace_length` bytes of `namespace_name`, which need not be NUL-terminated. */
void ldtap_db_span_write(struct ldtap_db_span *span, const char *namespace_name, size_t namespace_length);

/* Spans that outlive one call (sqlite3_step to SQLITE_DONE, PQsendQuery to the last
 * PQgetResult, a MySQL query to its result), keyed by the library handle. find_or_start:
 * the slot `handle` holds, else a free one claimed for it (*started true; the caller
 * begins its span), NULL when the table is full; end: writes the span and frees its slot. */
struct ldtap_db_span *ldtap_db_pending_find(const void *handle);
struct ldtap_db_span *ldtap_db_pending_find_or_start(const void *handle, bool *started);
void ldtap_db_pending_end(struct ldtap_db_span *span, const char *namespace_name);
/* The same with the length of `namespace_name` known (at most LDTAP_DB_NAMESPACE_MAX used). */
void ldtap_db_pending_end_sized(struct ldtap_db_span *span, const char *namespace_name, size_t namespace_length);
/* The same for a span begun without a statement: `statement` (NUL-terminated, may be NULL)
 * is read now, straight into the record. SQLite's hooks pass the statement's own text,
 * alive until finalize: no copy into the span at the start, which cost more than the rest
 * of beginning it (a variable-length copy up to 2 KiB the compiler makes "rep movsq"). */
void ldtap_db_pending_end_with_text(struct ldtap_db_span *span, const char *statement,
                                    const char *namespace_name, size_t namespace_length);

/* Statement text kept from a prepare for its executions. The key is a handle
 * (MYSQL_STMT *) or a connection and statement name folded by ldtap_db_prepared_key;
 * `connection` is stored alongside for hooks that only get the statement handle. When
 * full, the oldest entry in the way is replaced. */
uint64_t ldtap_db_prepared_key(const void *connection, const char *name);
void ldtap_db_prepared_remember(uint64_t key, const void *connection, const char *statement,
                                size_t length);
/* Returns the connection remembered under `key` (NULL: none) and, unless `span` is NULL,
 * copies the remembered text into it, flagged PREPARED. */
const void *ldtap_db_prepared_recall(uint64_t key, struct ldtap_db_span *span);
void ldtap_db_prepared_forget(uint64_t key);

#endif
