/* Heap profiler slow paths: configuration, folding per-thread counters into the ring
 * header, byte-based sampling with stacks sent once, the marked-address table, and the
 * fork and exit handlers. The hooks' fast paths are in heap.h and hooks/malloc.c. */
#include "heap.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ldtap_ring_abi.h"
#include "modules.h"
#include "process.h"
#include "stack.h"
#include "thread.h"

LDTAP_THREAD_LOCAL struct ldtap_heap_thread ldtap_heap_thread;
uintptr_t ldtap_heap_marks[1u << LDTAP_HEAP_MARK_BITS];
static uint8_t all_closed[1u << LDTAP_HEAP_MARK_BITS]; /* never written: costs no memory */
static uint8_t fast_free[1u << LDTAP_HEAP_MARK_BITS];  /* the live filter */
const uint8_t *ldtap_heap_free_filter = all_closed;

#define FOLD_BYTES (256 * 1024) /* requested bytes between folds */
#define FOLD_FREES 4096u        /* frees between folds */
/* A fold reads the allocator's statistics when 100 ms have passed or 4 MiB were requested
 * since the last read, but never for more than 1% of the time (glibc's walk its free
 * lists: a heap with a million free chunks takes milliseconds); at process exit always. */
#define LIVE_REFRESH_NS 100000000ull
#define LIVE_REFRESH_BYTES (4u << 20)
#define LIVE_REFRESH_COST_SHARE 100u
#define DEFAULT_SAMPLE_INTERVAL 524288u
/* Largest accepted LDTAP_HEAP_SAMPLE_BYTES (1 TiB): keeps interval arithmetic in int64. */
#define MAX_SAMPLE_INTERVAL (1ull << 40)

enum heap_state { HEAP_UNKNOWN = 0, HEAP_ON = 1, HEAP_OFF = 2 };
static int heap_state;           /* before the constructor: UNKNOWN (counted, not sampled) */
static uint64_t sample_interval; /* mean bytes between samples; 0: no sampling */
static pthread_key_t exit_key;   /* its destructor folds an exiting thread's counters */
static LDTAP_THREAD_LOCAL bool exit_registered;
static LDTAP_THREAD_LOCAL bool sampling_armed; /* sample_remaining holds a real draw */

/* The header's heap counters; the same names hold values waiting for the ring. */
#define HEAP_COUNTERS(X)                                                                                     \
    X(uint64_t, heap_allocations)                                                                            \
    X(uint64_t, heap_frees)                                                                                  \
    X(uint64_t, heap_allocated_bytes)                                                                        \
    X(int64_t, anon_mmap_bytes)                                                                              \
    X(uint64_t, anon_mmap_untracked)                                                                         \
    X(uint64_t, heap_samples)                                                                                \
    X(uint64_t, heap_samples_deferred)                                                                       \
    X(uint64_t, heap_stack_table_resets)

struct heap_counters {
#define COUNTER_FIELD(type, name) type name;
    HEAP_COUNTERS(COUNTER_FIELD)
#undef COUNTER_FIELD
};

/* Folded while the process had no ring yet; moved into the header by the next fold. */
static struct heap_counters pending;

/* The allocator's live bytes as last read, copied into the header by every fold, and
 * when to read them again (monotonic times). */
static int64_t live_bytes;
static uint64_t live_read_due_ns;     /* a fold after this reads them */
static uint64_t live_read_allowed_ns; /* a fold before this does not, whatever was requested */
static uint64_t requested_since_read; /* bytes folded since the last read */
static bool live_read_busy;           /* one thread reads at a time */

/* Adds `delta` to the header (draining `pending` into it first) or, without a ring, to
 * `pending`. A fold racing the ring's creation may leave its delta in `pending` until
 * the next fold of any thread: a bounded lag, never a loss. */
static void add_counters(const struct heap_counters *delta) {
    struct ldtap_ring_writer *ring = ldtap_process_ring_if_ready();
    if (ring == NULL) {
#define ADD_PENDING(type, name)                                                                              \
    if (delta->name != 0)                                                                                    \
        __atomic_fetch_add(&pending.name, delta->name, __ATOMIC_RELAXED);
        HEAP_COUNTERS(ADD_PENDING)
#undef ADD_PENDING
        return;
    }
    struct ldtap_ring_header *header = ring->header;
    /* A plain look first: `pending` is empty once the ring exists, and an exchange is a
     * locked instruction per counter on every fold. */
#define ADD_HEADER(type, name)                                                                               \
    {                                                                                                        \
        type waiting = __atomic_load_n(&pending.name, __ATOMIC_RELAXED) != 0                                 \
                           ? __atomic_exchange_n(&pending.name, 0, __ATOMIC_RELAXED)                         \
                           : 0;                                                                              \
        if (waiting + delta->name != 0)                                                                      \
            __atomic_fetch_add(&header->name, waiting + delta->name, __ATOMIC_RELAXED);                      \
    }
    HEAP_COUNTERS(ADD_HEADER)
#undef ADD_HEADER
    int64_t live = __atomic_load_n(&live_bytes, __ATOMIC_RELAXED);
    if (header->heap_live_bytes != live)
        __atomic_store_n(&header->heap_live_bytes, live, __ATOMIC_RELAXED);
    if (header->heap_sample_interval != sample_interval)
        __atomic_store_n(&header->heap_sample_interval, sample_interval, __ATOMIC_RELAXED);
}

/* Reads the allocator's live bytes when they are due (`now`: whatever the time), on one
 * thread at a time; `requested`: bytes this fold adds. With ldtap_nesting raised: an
 * allocator that allocates to answer is counted, never sampled. */
static void refresh_live_bytes(uint64_t requested, bool now) {
    uint64_t requested_total = __atomic_add_fetch(&requested_since_read, requested, __ATOMIC_RELAXED);
    uint64_t time = ldtap_monotonic_ns();
    bool due = time >= __atomic_load_n(&live_read_due_ns, __ATOMIC_RELAXED) ||
               (requested_total >= LIVE_REFRESH_BYTES &&
                time >= __atomic_load_n(&live_read_allowed_ns, __ATOMIC_RELAXED));
    if ((!now && !due) || __atomic_exchange_n(&live_read_busy, true, __ATOMIC_ACQUIRE))
        return;
    int64_t live;
    ldtap_nesting++;
    bool known = ldtap_heap_statistics_live_bytes(&live);
    ldtap_nesting--;
    if (known) { /* else not chosen yet, or no statistics at all (asking costs nothing) */
        uint64_t finished = ldtap_monotonic_ns();
        __atomic_store_n(&live_bytes, live, __ATOMIC_RELAXED);
        __atomic_store_n(&requested_since_read, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&live_read_due_ns, finished + LIVE_REFRESH_NS, __ATOMIC_RELAXED);
        __atomic_store_n(&live_read_allowed_ns, finished + (finished - time) * LIVE_REFRESH_COST_SHARE,
                         __ATOMIC_RELAXED);
    }
    __atomic_store_n(&live_read_busy, false, __ATOMIC_RELEASE);
}

/* Moves this thread's counters out and re-arms its free countdown (`now`: read the live
 * bytes whatever the time). */
static void fold_thread(struct ldtap_heap_thread *thread, bool now) {
    struct heap_counters delta = {0};
    /* What the countdowns consumed since they were armed (modulo 2^64, as they wrap). */
    delta.heap_allocations = thread->allocations;
    delta.heap_frees = thread->armed_free - thread->free_countdown;
    delta.heap_allocated_bytes = thread->armed_allocation - thread->allocation_budget;
    thread->allocations = 0;
    /* The allocation budget keeps counting from here: its caller re-arms it. */
    thread->armed_allocation = thread->allocation_budget;
    thread->free_countdown = thread->armed_free = FOLD_FREES;
    int state = __atomic_load_n(&heap_state, __ATOMIC_RELAXED);
    if (state != HEAP_OFF && (state == HEAP_UNKNOWN || ldtap_recording())) {
        refresh_live_bytes(delta.heap_allocated_bytes, now);
        add_counters(&delta);
    }
}

/* An exponentially distributed byte count with mean sample_interval (0 when every
 * allocation is sampled). */
static int64_t draw_sample_distance(void) {
    if (sample_interval <= 1)
        return 0;
    uint64_t random = ldtap_random_u64();
    double uniform = (double)((random >> 11) + 1) * 0x1.0p-53; /* (0, 1] */
    return (int64_t)(-log(uniform) * (double)sample_interval);
}

/* The unbiased weight of a sampled block of `size` requested bytes: size / P(sampled). */
static uint64_t sample_weight(size_t size) {
    if (sample_interval <= 1 || size == 0)
        return size;
    double probability = -expm1(-(double)size / (double)sample_interval);
    return (uint64_t)((double)size / probability + 0.5);
}

/* ---- stacks already sent: ids in a small open-addressed table ---- */

#define SENT_STACKS 4096u
#define SENT_PROBES 8u
static uint64_t sent_stacks[SENT_STACKS];

static uint64_t stack_hash(const uint64_t *pcs, unsigned count) {
    uint64_t hash = 0xcbf29ce484222325ull ^ count;
    for (unsigned i = 0; i < count; i++) {
        hash ^= pcs[i];
        hash *= 0x100000001b3ull;
        hash ^= hash >> 29;
    }
    return hash != 0 ? hash : 1;
}

static bool stack_was_sent(uint64_t id) {
    for (unsigned probe = 0; probe < SENT_PROBES; probe++)
        if (__atomic_load_n(&sent_stacks[(id + probe) % SENT_STACKS], __ATOMIC_RELAXED) == id)
            return true;
    return false;
}

/* Remembers `id`; when its probe window is full, forgets every stack (they are re-sent). */
static void remember_stack(uint64_t id) {
    for (int attempt = 0; attempt < 2; attempt++) {
        for (unsigned probe = 0; probe < SENT_PROBES; probe++) {
            uint64_t expected = 0;
            if (__atomic_compare_exchange_n(&sent_stacks[(id + probe) % SENT_STACKS], &expected, id, false,
                                            __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                return;
        }
        for (unsigned slot = 0; slot < SENT_STACKS; slot++)
            __atomic_store_n(&sent_stacks[slot], 0, __ATOMIC_RELAXED);
        add_counters(&(struct heap_counters){.heap_stack_table_resets = 1});
    }
}

/* ---- marked addresses ---- */

/* The free filter's invariant (heap.h): once a mark is set and its block handed out, the
 * slot is closed. Marking closes after setting (the block is not the program's yet, so no
 * free of it can slip through the gap); unmarking reopens after clearing and then looks
 * again, closing once more if a mark came in between. Sequentially consistent stores and
 * loads keep those pairs ordered; a slot left closed without a mark only costs speed. */
static void close_slot(size_t slot) {
    __atomic_store_n(&fast_free[slot], 0, __ATOMIC_SEQ_CST);
}

static void reopen_slot(size_t slot) {
    __atomic_store_n(&fast_free[slot], 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&ldtap_heap_marks[slot], __ATOMIC_SEQ_CST) != 0)
        close_slot(slot);
}

bool ldtap_heap_mark(const void *block) {
    size_t slot = ldtap_heap_mark_slot(block);
    uintptr_t expected = 0;
    if (slot == 0 || !__atomic_compare_exchange_n(&ldtap_heap_marks[slot], &expected, (uintptr_t)block, false,
                                                  __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        return false;
    close_slot(slot);
    return true;
}

void ldtap_heap_open_fast_free(const unsigned char *arena, size_t used) {
    /* Nobody reads the live table before it is published, so open everything, then close
     * what is marked: arena blocks are 16-byte aligned. */
    memset(fast_free + 1, 1, sizeof fast_free - 1);
    for (size_t offset = 16; offset < used; offset += 16)
        if (ldtap_heap_is_marked(arena + offset))
            close_slot(ldtap_heap_mark_slot(arena + offset));
    __atomic_store_n(&ldtap_heap_free_filter, fast_free, __ATOMIC_RELEASE);
}

static void write_free_record(const void *block) {
    struct ldtap_heap_free_record record = {
        .address = (uint64_t)(uintptr_t)block,
        .time_ns = ldtap_now_ns(),
        .thread_id = ldtap_thread_id(),
    };
    struct ldtap_ring_writer *ring = ldtap_process_ring();
    struct ldtap_ring_part part = {&record, sizeof record};
    if (ring != NULL)
        ldtap_ring_write(ring, LDTAP_RECORD_HEAP_FREE, &part, 1);
}

/* Clears `block`'s mark; false when its slot no longer holds it. */
static bool unmark(const void *block) {
    size_t slot = ldtap_heap_mark_slot(block);
    uintptr_t expected = (uintptr_t)block;
    if (!__atomic_compare_exchange_n(&ldtap_heap_marks[slot], &expected, 0, false, __ATOMIC_SEQ_CST,
                                     __ATOMIC_RELAXED))
        return false;
    reopen_slot(slot);
    return true;
}

void ldtap_heap_forget_sample(const void *block) {
    /* Only the thread freeing the block gets here for it: the exchange cannot race another
     * forget, only a mark of another block after ours (which the CAS leaves alone). */
    if (unmark(block))
        LDTAP_RECORD(write_free_record(block), (void)0);
}

/* ---- sampling ---- */

/* Sends the stack of the current allocation unless already sent; returns its id (0: no
 * stack). The module map goes first so that the collector can place the pcs. */
static uint64_t send_stack(struct ldtap_ring_writer *ring) {
    uint64_t pcs[LDTAP_STACK_MAX_FRAMES];
    uint32_t flags = 0;
    unsigned frames = ldtap_stack_capture(pcs, LDTAP_STACK_MAX_FRAMES, NULL, &flags);
    if (frames == 0)
        return 0;
    uint64_t id = stack_hash(pcs, frames);
    if (stack_was_sent(id))
        return id;
    ldtap_modules_refresh(ring);
    struct ldtap_heap_stack_record record = {.stack_id = id, .frame_count = frames, .flags = flags};
    struct ldtap_ring_part parts[2] = {{&record, sizeof record}, {pcs, frames * (uint32_t)sizeof(uint64_t)}};
    /* Remembered only once committed: a sample naming the id never precedes the stack. */
    if (ldtap_ring_write(ring, LDTAP_RECORD_HEAP_STACK, parts, 2) == 0)
        remember_stack(id);
    return id;
}

/* Samples `block`; false when it cannot be marked (the sample moves to a later block). */
static bool sample(void *block, size_t size, unsigned function) {
    if (!ldtap_heap_mark(block)) {
        add_counters(&(struct heap_counters){.heap_samples_deferred = 1});
        return false;
    }
    struct ldtap_ring_writer *ring = ldtap_process_ring();
    if (ring == NULL) { /* another thread is creating it, or the shim is off */
        unmark(block);
        return true;
    }
    struct ldtap_heap_sample_record record = {
        .address = (uint64_t)(uintptr_t)block,
        .size = size,
        .weight_bytes = sample_weight(size),
        .stack_id = send_stack(ring),
        .time_ns = ldtap_now_ns(),
        .thread_id = ldtap_thread_id(),
        .function = (uint16_t)function,
    };
    struct ldtap_ring_part part = {&record, sizeof record};
    ldtap_ring_write(ring, LDTAP_RECORD_HEAP_SAMPLE, &part, 1);
    add_counters(&(struct heap_counters){.heap_samples = 1});
    return true;
}

/* Re-arms the allocation budget at the nearer of the next fold and the next sample. */
static void arm_allocation_budget(struct ldtap_heap_thread *thread) {
    uint64_t budget = FOLD_BYTES;
    if (sampling_armed && thread->sample_remaining < (int64_t)budget)
        budget = thread->sample_remaining > 0 ? (uint64_t)thread->sample_remaining : 0;
    /* armed_allocation moves with the budget, so that armed - budget still counts the
     * bytes allocated since the last fold. */
    thread->armed_allocation += budget - thread->allocation_budget;
    thread->allocation_budget = budget;
    if (sampling_armed)
        thread->sample_remaining -= (int64_t)budget;
}

static void register_thread_exit(void) {
    if (!exit_registered && pthread_setspecific(exit_key, &exit_registered) == 0)
        exit_registered = true;
}

/* The outermost slow path of an allocation with heap recording on. `overshoot`: bytes
 * the budget ran past zero, i.e. past the point arm_allocation_budget aimed at. */
static void fold_and_sample(struct ldtap_heap_thread *thread, int64_t overshoot, void *block, size_t size,
                            unsigned function) {
    register_thread_exit();
    fold_thread(thread, false);
    if (sample_interval != 0) {
        if (!sampling_armed) { /* first time on this thread: bytes so far are not counted */
            thread->sample_remaining = draw_sample_distance();
            sampling_armed = true;
        } else {
            thread->sample_remaining -= overshoot;
        }
        /* remaining <= 0: this allocation reached the sampling point. */
        if (thread->sample_remaining <= 0)
            thread->sample_remaining = sample(block, size, function) ? draw_sample_distance() : 0;
    }
    arm_allocation_budget(thread);
}

void *ldtap_heap_after_budget(void *block, size_t size, unsigned function) {
    struct ldtap_heap_thread *thread = &ldtap_heap_thread;
    if (block == NULL) { /* uncounted: the budget stands as it was before this request */
        thread->allocation_budget += size;
        thread->allocations--;
        return NULL;
    }
    /* How far this allocation went past the budget (the budget was at most its size, and
     * a block that exists is under 2^63 bytes); folded into sample_remaining, which
     * arm_allocation_budget had already reduced by the budget. */
    int64_t overshoot = -(int64_t)thread->allocation_budget;
    int state = __atomic_load_n(&heap_state, __ATOMIC_RELAXED);
    if (ldtap_nesting != 0 || state != HEAP_ON || !ldtap_recording()) {
        /* The shim's own allocations, a signal handler inside the shim, or heap recording
         * not (yet) on: count, never sample. */
        if (ldtap_nesting == 0)
            LDTAP_RECORD(fold_thread(thread, false), (void)0);
        thread->sample_remaining -= overshoot;
        arm_allocation_budget(thread);
        return block;
    }
    LDTAP_RECORD(fold_and_sample(thread, overshoot, block, size, function), arm_allocation_budget(thread));
    return block;
}

void ldtap_heap_after_free_budget(void) {
    struct ldtap_heap_thread *thread = &ldtap_heap_thread;
    if (ldtap_nesting != 0) {
        thread->free_countdown += FOLD_FREES; /* fold later, outside the shim */
        thread->armed_free += FOLD_FREES;
        return;
    }
    LDTAP_RECORD(fold_thread(thread, false), (void)0);
}

/* ---- anonymous mappings ---- */

void ldtap_heap_add_mapped(int64_t bytes, uint64_t untracked) {
    if (__atomic_load_n(&heap_state, __ATOMIC_RELAXED) == HEAP_OFF)
        return;
    struct heap_counters delta = {.anon_mmap_bytes = bytes, .anon_mmap_untracked = untracked};
    add_counters(&delta);
}

/* ---- lifecycle ---- */

static void fold_on_thread_exit(void *unused) {
    (void)unused;
    exit_registered = false;
    LDTAP_RECORD(fold_thread(&ldtap_heap_thread, false), (void)0);
}

__attribute__((destructor)) static void fold_on_process_exit(void) {
    LDTAP_RECORD(fold_thread(&ldtap_heap_thread, true), (void)0);
}

/* Mappings at fork: the child inherits the parent's and starts its own counters from
 * them (allocation and free counts start at zero; live bytes are read again). */
static int64_t mapped_at_fork;

static void snapshot_for_child(void) {
    fold_thread(&ldtap_heap_thread, false);
    struct ldtap_ring_writer *ring = ldtap_process_ring_if_ready();
    mapped_at_fork = __atomic_load_n(&pending.anon_mmap_bytes, __ATOMIC_RELAXED);
    if (ring != NULL)
        mapped_at_fork += __atomic_load_n(&ring->header->anon_mmap_bytes, __ATOMIC_RELAXED);
}

static void before_fork(void) {
    LDTAP_RECORD(snapshot_for_child(), (void)0);
}

/* Only the forking thread exists in the child; process.c forgets the parent's ring. */
static void after_fork_in_child(void) {
    struct heap_counters fresh = {.anon_mmap_bytes = mapped_at_fork};
    pending = fresh;
    /* The parent's figure stands until the child's first fold reads its own. */
    live_read_due_ns = live_read_allowed_ns = requested_since_read = 0;
    live_read_busy = false;
    /* Stack ids and module maps are per ring: send them again. Samples marked by the
     * parent were never reported by this process: unmark them (arena marks stay). */
    for (unsigned slot = 0; slot < SENT_STACKS; slot++)
        sent_stacks[slot] = 0;
    ldtap_modules_reset_after_fork();
    for (size_t slot = 0; slot < (1u << LDTAP_HEAP_MARK_BITS); slot++)
        if (ldtap_heap_marks[slot] != 0 && !ldtap_heap_is_bootstrap_block((void *)ldtap_heap_marks[slot])) {
            ldtap_heap_marks[slot] = 0;
            reopen_slot(slot);
        }
}

/* Strict: decimal digits only, at most MAX_SAMPLE_INTERVAL; false otherwise. */
static bool parse_sample_interval(const char *text, uint64_t *interval) {
    uint64_t value = 0;
    if (*text == '\0')
        return false;
    for (; *text != '\0'; text++) {
        if (*text < '0' || *text > '9')
            return false;
        value = value * 10 + (uint64_t)(*text - '0');
        if (value > MAX_SAMPLE_INTERVAL)
            return false;
    }
    *interval = value;
    return true;
}

void ldtap_heap_start(void) {
    const char *text = getenv("LDTAP_HEAP_SAMPLE_BYTES");
    uint64_t interval = DEFAULT_SAMPLE_INTERVAL;
    if ((text != NULL && !parse_sample_interval(text, &interval)) ||
        pthread_key_create(&exit_key, fold_on_thread_exit) != 0 ||
        pthread_atfork(before_fork, NULL, after_fork_in_child) != 0) {
        __atomic_store_n(&heap_state, HEAP_OFF, __ATOMIC_RELAXED);
        return;
    }
    /* Stacks only when sampling: the unwinder is not loaded into processes that never
     * sample. */
    if (interval != 0)
        ldtap_stack_init();
    sample_interval = interval;
    __atomic_store_n(&heap_state, HEAP_ON, __ATOMIC_RELEASE);
    /* The constructor's thread (usually the only one yet) takes its slow path at its next
     * allocation, so sampling starts now rather than after the budget armed before. */
    fold_thread(&ldtap_heap_thread, false);
    ldtap_heap_thread.allocation_budget = ldtap_heap_thread.armed_allocation = 0;
}
