/* Database client span assembly for the driver hooks: statement heads, endpoints of the
 * drivers' sockets, and two small mmap'd tables keyed by library handles. */
#include "db_span.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "connection.h"
#include "fd_table.h"
#include "span.h"
#include "thread.h"

LDTAP_THREAD_LOCAL unsigned ldtap_db_depth;

/* ---- memory mapped on first use (never our own allocator, never in a hook again) ---- */

/* Publishes one zeroed mapping of `bytes` in *slot; racing threads keep the first. */
static __attribute__((noinline, cold)) void *map_first(void **slot, size_t bytes) {
    void *table = NULL;
    int saved_errno = errno;
    void *fresh = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (fresh != MAP_FAILED &&
        !__atomic_compare_exchange_n(slot, &table, fresh, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        munmap(fresh, bytes);
    else if (fresh != MAP_FAILED)
        table = fresh;
    errno = saved_errno;
    return table;
}

/* hot: the mapping in *slot, made on first use. */
static inline void *map_once(void **slot, size_t bytes) {
    void *table = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    return LDTAP_LIKELY(table != NULL) ? table : map_first(slot, bytes);
}

/* ---- spans ---- */

/* Sets the record's full statement length; returns the bytes of it a record keeps. */
static uint16_t measure_statement(struct ldtap_db_span *span, const char *statement, size_t length) {
    if (statement == NULL)
        return 0;
    size_t full = length == LDTAP_DB_NUL_TERMINATED ? strlen(statement) : length;
    span->record.statement_full_length = full < UINT32_MAX ? (uint32_t)full : UINT32_MAX;
    return (uint16_t)(full < LDTAP_DB_STATEMENT_MAX ? full : LDTAP_DB_STATEMENT_MAX);
}

static uint16_t copy_statement(struct ldtap_db_span *span, const char *statement, size_t length) {
    uint16_t kept = measure_statement(span, statement, length);
    if (kept > 0)
        memcpy(span->statement, statement, kept);
    return kept;
}

void ldtap_db_span_begin(struct ldtap_db_span *span, enum ldtap_db_system system,
                         const char *statement, size_t length) {
    LDTAP_RECORD(
        {
            /* ldtap_span_begin clears the span part itself: clearing it here too was a
             * second memset of most of the record on every query. */
            _Static_assert(offsetof(struct ldtap_db_span_record, span) == 0, "span leads the record");
            memset((char *)&span->record + sizeof(span->record.span), 0,
                   sizeof(span->record) - sizeof(span->record.span));
            ldtap_span_begin(&span->record.span, LDTAP_SPAN_KIND_CLIENT);
            span->record.system = (uint16_t)system;
            span->record.source = LDTAP_DB_SOURCE_DRIVER;
            span->record.rows = -1;
            span->record.statement_length = copy_statement(span, statement, length);
        },
        (void)0);
}

void ldtap_db_span_fail(struct ldtap_db_span *span, uint32_t error_code, const char *sqlstate) {
    span->record.flags |= LDTAP_DB_FLAG_ERROR;
    if (error_code != 0)
        span->record.error_code = error_code;
    if (sqlstate == NULL || span->record.status_code[0] != '\0')
        return; /* the first error's SQLSTATE is the one that explains the failure */
    for (size_t i = 0; i + 1 < sizeof(span->record.status_code) && sqlstate[i] != '\0'; i++)
        span->record.status_code[i] = sqlstate[i];
}

/* Ends the span now and writes its record with `statement` (statement_length bytes), the
 * span's own copy or the library's text. */
static void write_record(struct ldtap_db_span *span, const char *statement, const char *namespace_name,
                         size_t namespace_length) {
    struct ldtap_db_span_record *record = &span->record;
    record->span.end_time_ns = ldtap_now_ns();
    record->namespace_length =
        (uint16_t)(namespace_length < LDTAP_DB_NAMESPACE_MAX ? namespace_length : LDTAP_DB_NAMESPACE_MAX);
    struct ldtap_ring_part parts[3] = {
        {record, sizeof(*record)},
        {statement, record->statement_length},
        {namespace_name, record->namespace_length},
    };
    ldtap_span_record_write(LDTAP_RECORD_DB_SPAN, parts, 3);
}

void ldtap_db_span_write(struct ldtap_db_span *span, const char *namespace_name, size_t namespace_length) {
    write_record(span, span->statement, namespace_name, namespace_length);
}

static void write_with_text(struct ldtap_db_span *span, const char *statement, const char *namespace_name,
                            size_t namespace_length) {
    span->record.statement_length = measure_statement(span, statement, LDTAP_DB_NUL_TERMINATED);
    write_record(span, statement, namespace_name, namespace_length);
}

void ldtap_db_span_end(struct ldtap_db_span *span, const char *namespace_name) {
    LDTAP_RECORD(ldtap_db_span_write(span, namespace_name,
                                     namespace_name != NULL ? strnlen(namespace_name, LDTAP_DB_NAMESPACE_MAX) : 0),
                 (void)0);
}

/* ---- endpoints of drivers' sockets, cached per fd while it is LDTAP_FD_DRIVER ---- */

static struct ldtap_net_endpoints *driver_endpoints; /* indexed by fd, ldtap_fd_capacity long */

static void read_endpoints(int fd, struct ldtap_net_endpoints *endpoints) {
    struct sockaddr_storage local = {0}, peer = {0};
    socklen_t local_length = sizeof(local), peer_length = sizeof(peer);
    memset(endpoints, 0, sizeof(*endpoints));
    if (getsockname(fd, (struct sockaddr *)&local, &local_length) != 0)
        return;
    endpoints->family = local.ss_family;
    ldtap_copy_address(&local, endpoints->local_address, &endpoints->local_port);
    if (getpeername(fd, (struct sockaddr *)&peer, &peer_length) == 0)
        ldtap_copy_address(&peer, endpoints->peer_address, &endpoints->peer_port);
}

static void find_peer(struct ldtap_db_span *span, int fd) {
    uint32_t capacity = __atomic_load_n(&ldtap_fd_capacity, __ATOMIC_ACQUIRE);
    if (fd < 0 || (uint32_t)fd >= capacity)
        return;
    struct ldtap_net_endpoints *cache =
        map_once((void **)&driver_endpoints, (size_t)capacity * sizeof(*cache));
    if (cache == NULL)
        return;
    if (!ldtap_fd_is_driver(fd)) {
        /* First query on this connection: the framers saw only its handshake. */
        struct ldtap_connection *framed = ldtap_fd_mark_driver(fd);
        if (framed != NULL)
            ldtap_connection_abandon(framed);
        read_endpoints(fd, &cache[fd]);
    }
    span->record.endpoints = cache[fd];
}

void ldtap_db_span_peer(struct ldtap_db_span *span, int fd) { LDTAP_RECORD(find_peer(span, fd), (void)0); }

/* ---- tables keyed by handles: two candidate slots per key, no locks ---- */

#define TABLE_BITS 8
#define TABLE_SLOTS (1u << TABLE_BITS)

struct table_entry {
    const void *connection;
    struct ldtap_db_span span;
};

/* Keys apart from the entries: a lookup reads one or two cache lines, not two spans. */
struct table {
    uint64_t keys[TABLE_SLOTS]; /* 0: free. Claimed with a CAS, freed with a release store */
    struct table_entry entries[TABLE_SLOTS];
};

static struct table *pending_table;
static struct table *prepared_table;

static struct table *table_map(struct table **table) { return map_once((void **)table, sizeof(struct table)); }

/*
 * A key lives in one of two slots picked by two independent hashes ("two choices"): a
 * lookup, hit or miss, reads two slots, where a probe of an 8-slot window read eight on
 * every miss (each execution's first step and its reset). With the few statements a
 * program has pending at once, both slots of a key are taken by others about never; then
 * the execution goes untraced (pending) or the older entry is replaced (prepared).
 */
static uint32_t first_slot(uint64_t key) { return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> (64 - TABLE_BITS)); }
static uint32_t second_slot(uint64_t key) { return (uint32_t)((key * 0xc2b2ae3d27d4eb4full) >> (64 - TABLE_BITS)) ^ 1u; }

/*
 * Per thread, the slot last found or claimed: a statement is looked up again by each of
 * its sqlite3_step calls and by its reset (usually on the same thread), and a hit here
 * skips even the hashing. Only a hint: the slot's key is checked again.
 */
static LDTAP_THREAD_LOCAL struct {
    const struct table *table;
    uint64_t key;
    uint32_t index;
} last_slot;

static int remember_slot(const struct table *table, uint64_t key, uint32_t index) {
    last_slot.table = table;
    last_slot.key = key;
    last_slot.index = index;
    return (int)index;
}

/* hot: the slot index of `key`, or -1. */
static inline __attribute__((always_inline)) int table_find(const struct table *table, uint64_t key) {
    if (table == NULL || key == 0) /* not mapped yet; a NULL handle (0 marks free slots) */
        return -1;
    if (last_slot.table == table && last_slot.key == key &&
        __atomic_load_n(&table->keys[last_slot.index], __ATOMIC_ACQUIRE) == key)
        return (int)last_slot.index;
    uint32_t first = first_slot(key);
    if (__atomic_load_n(&table->keys[first], __ATOMIC_ACQUIRE) == key)
        return remember_slot(table, key, first);
    uint32_t second = second_slot(key);
    if (__atomic_load_n(&table->keys[second], __ATOMIC_ACQUIRE) == key)
        return remember_slot(table, key, second);
    return -1;
}

static bool claim_slot(struct table *table, uint32_t index, uint64_t key) {
    uint64_t free_key = 0;
    return __atomic_compare_exchange_n(&table->keys[index], &free_key, key, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_RELAXED);
}

/* The slot of `key`, or a free one claimed for it (*claimed set); with `evict`, else the
 * first slot. */
static inline __attribute__((always_inline)) int table_claim(struct table *table, uint64_t key, bool evict,
                                                             bool *claimed) {
    *claimed = false;
    int found = table_find(table, key);
    if (found >= 0 || table == NULL || key == 0)
        return found;
    *claimed = true;
    uint32_t first = first_slot(key);
    if (claim_slot(table, first, key))
        return remember_slot(table, key, first);
    uint32_t second = second_slot(key);
    if (claim_slot(table, second, key))
        return remember_slot(table, key, second);
    if (!evict) {
        *claimed = false;
        return -1;
    }
    __atomic_store_n(&table->keys[first], key, __ATOMIC_RELEASE);
    return remember_slot(table, key, first);
}

static uint64_t handle_key(const void *handle) { return (uint64_t)(uintptr_t)handle; }

struct ldtap_db_span *ldtap_db_pending_find_or_start(const void *handle, bool *started) {
    struct table *table = table_map(&pending_table);
    int index = table_claim(table, handle_key(handle), false, started);
    return index >= 0 ? &table->entries[index].span : NULL;
}

struct ldtap_db_span *ldtap_db_pending_find(const void *handle) {
    struct table *table = __atomic_load_n(&pending_table, __ATOMIC_ACQUIRE);
    int index = table_find(table, handle_key(handle));
    return index >= 0 ? &table->entries[index].span : NULL;
}

void ldtap_db_pending_end(struct ldtap_db_span *span, const char *namespace_name) {
    ldtap_db_pending_end_sized(span, namespace_name,
                               namespace_name != NULL ? strnlen(namespace_name, LDTAP_DB_NAMESPACE_MAX) : 0);
}

/* Frees the pending slot holding `span`, after its record is written. */
static void release_pending(struct ldtap_db_span *span) {
    const struct table_entry *entry =
        (const struct table_entry *)((const char *)span - offsetof(struct table_entry, span));
    size_t index = (size_t)(entry - pending_table->entries);
    __atomic_store_n(&pending_table->keys[index], 0, __ATOMIC_RELEASE);
}

void ldtap_db_pending_end_sized(struct ldtap_db_span *span, const char *namespace_name, size_t namespace_length) {
    LDTAP_RECORD(ldtap_db_span_write(span, namespace_name, namespace_length), (void)0);
    release_pending(span);
}

void ldtap_db_pending_end_with_text(struct ldtap_db_span *span, const char *statement,
                                    const char *namespace_name, size_t namespace_length) {
    LDTAP_RECORD(write_with_text(span, statement, namespace_name, namespace_length), (void)0);
    release_pending(span);
}

uint64_t ldtap_db_prepared_key(const void *connection, const char *name) {
    uint64_t key = 0xcbf29ce484222325ull ^ handle_key(connection); /* FNV-1a over the name */
    for (const unsigned char *c = (const unsigned char *)(name != NULL ? name : ""); *c != '\0'; c++)
        key = (key ^ *c) * 0x100000001b3ull;
    return key != 0 ? key : 1;
}

void ldtap_db_prepared_remember(uint64_t key, const void *connection, const char *statement,
                                size_t length) {
    struct table *table = table_map(&prepared_table);
    bool claimed;
    int index = table_claim(table, key, true, &claimed);
    if (index < 0)
        return;
    struct table_entry *entry = &table->entries[index];
    entry->connection = connection;
    entry->span.record.statement_length = copy_statement(&entry->span, statement, length);
}

const void *ldtap_db_prepared_recall(uint64_t key, struct ldtap_db_span *span) {
    struct table *table = __atomic_load_n(&prepared_table, __ATOMIC_ACQUIRE);
    int index = table_find(table, key);
    if (index < 0)
        return NULL;
    const struct table_entry *entry = &table->entries[index];
    uint16_t length = entry->span.record.statement_length;
    if (span != NULL && length > 0) {
        memcpy(span->statement, entry->span.statement, length);
        span->record.statement_length = length;
        span->record.statement_full_length = entry->span.record.statement_full_length;
        span->record.flags |= LDTAP_DB_FLAG_PREPARED;
    }
    return entry->connection;
}

void ldtap_db_prepared_forget(uint64_t key) {
    struct table *table = __atomic_load_n(&prepared_table, __ATOMIC_ACQUIRE);
    int index = table_find(table, key);
    if (index >= 0)
        __atomic_store_n(&table->keys[index], 0, __ATOMIC_RELEASE);
}
