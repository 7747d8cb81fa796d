/* Start-up (constructor), configuration from the environment, lazy ring creation with
 * the process identity, the fork child handler, and the fail-safe switch. */
#include "process.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "connection.h"
#include "heap.h"
#include "log.h"
#include "crash.h"
#include "decimal.h"
#include "originals.h"
#include "span.h"
#include "thread.h"

LDTAP_THREAD_LOCAL unsigned ldtap_nesting;

enum ring_state { RING_NONE = 0, RING_CREATING = 1, RING_READY = 2, RING_FAILED = 3 };

static char run_directory[PATH_MAX];
static uint64_t ring_data_size;
static int ring_state;                 /* enum ring_state */
static struct ldtap_ring_writer ring;  /* valid while ring_state == RING_READY */
struct ldtap_ring_writer *ldtap_ready_ring; /* &ring while RING_READY, else NULL */
/* The ring's address range, taken at start-up (ldtap_ring_reserve says why); NULL once a
 * creation has used it, or if reserving failed (the ring then goes anywhere). */
static void *ring_reservation;
static pid_t own_pid;                  /* the process the shim state belongs to */

/* Identity text read at ring creation; static because creation happens once at a time. */
static char command_line[LDTAP_IDENTITY_TEXT_BYTES];
static char executable_name[LDTAP_NAME_BYTES];

static pid_t current_pid(void) { return (pid_t)syscall(SYS_getpid); }

bool ldtap_in_own_process(void) { return current_pid() == __atomic_load_n(&own_pid, __ATOMIC_RELAXED); }

void ldtap_fail(void) {
    if (__atomic_load_n(&ring_state, __ATOMIC_ACQUIRE) == RING_READY)
        __atomic_fetch_add(&ring.header->shim_errors, 1, __ATOMIC_RELAXED);
    ldtap_fd_table_disable();
}

/* Appends `text` to `out` (NUL-terminated, truncating); returns the new length. */
static size_t append_text(char *out, size_t size, size_t length, const char *text) {
    while (*text != '\0' && length + 1 < size)
        out[length++] = *text++;
    out[length] = '\0';
    return length;
}

static size_t append_decimal(char *out, size_t size, size_t length, uint64_t value) {
    char digits[LDTAP_DECIMAL_BYTES];
    size_t count = ldtap_decimal_u64(value, digits);
    for (size_t i = 0; i < count && length + 1 < size; i++)
        out[length++] = digits[i];
    out[length] = '\0';
    return length;
}

/* Strict: digits only, a power of two within the ABI limits; else 0. */
static uint64_t parse_ring_size(const char *text) {
    uint64_t value = 0;
    if (*text == '\0')
        return 0;
    for (; *text != '\0'; text++) {
        if (*text < '0' || *text > '9' || value > LDTAP_RING_MAX_DATA_SIZE)
            return 0;
        value = value * 10 + (uint64_t)(*text - '0');
    }
    if (value < LDTAP_RING_MIN_DATA_SIZE || value > LDTAP_RING_MAX_DATA_SIZE || (value & (value - 1)))
        return 0;
    return value;
}

static bool environment_says_disabled(void) {
    const char *disable = getenv("LDTAP_DISABLE");
    const char *sdk_disabled = getenv("OTEL_SDK_DISABLED");
    return (disable != NULL && strcmp(disable, "1") == 0) ||
           (sdk_disabled != NULL && strcasecmp(sdk_disabled, "true") == 0);
}

/* Returns false when the configuration is unusable: the shim then stays inert (the
 * collector validates the same variables and reports errors before starting a program). */
static bool read_configuration(void) {
    const char *size = getenv("LDTAP_RING_SIZE");
    ring_data_size = size != NULL ? parse_ring_size(size) : LDTAP_RING_DEFAULT_DATA_SIZE;
    if (ring_data_size == 0)
        return false;
    const char *directory = getenv("LDTAP_RUN_DIR");
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    size_t length;
    if (directory != NULL && directory[0] != '\0') {
        length = append_text(run_directory, sizeof(run_directory), 0, directory);
    } else if (runtime != NULL && runtime[0] != '\0') {
        length = append_text(run_directory, sizeof(run_directory), 0, runtime);
        length = append_text(run_directory, sizeof(run_directory), length, "/ldtap");
    } else {
        length = append_text(run_directory, sizeof(run_directory), 0, "/dev/shm/ldtap-");
        length = append_decimal(run_directory, sizeof(run_directory), length, getuid());
    }
    return length + 1 < sizeof(run_directory);
}

ssize_t ldtap_read_small_file(const char *path, char *buffer, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t length = 0;
    while (length + 1 < size) {
        ssize_t count = LDTAP_REAL(read)(fd, buffer + length, size - 1 - length);
        if (count <= 0)
            break;
        length += (size_t)count;
    }
    LDTAP_REAL(close)(fd);
    buffer[length] = '\0';
    return (ssize_t)length;
}

/* Field 22 of /proc/self/stat (start time in clock ticks since boot); fields are counted
 * after the command name, which may itself contain spaces and parentheses. */
static uint64_t process_start_ticks(void) {
    char stat[1024];
    if (ldtap_read_small_file("/proc/self/stat", stat, sizeof(stat)) <= 0)
        return 0;
    const char *cursor = strrchr(stat, ')');
    if (cursor == NULL)
        return 0;
    for (int field = 2; field < 22 && *cursor != '\0'; cursor++)
        if (*cursor == ' ')
            field++;
    uint64_t ticks = 0;
    for (; *cursor >= '0' && *cursor <= '9'; cursor++)
        ticks = ticks * 10 + (uint64_t)(*cursor - '0');
    return ticks;
}

static void read_identity_text(void) {
    ssize_t length = ldtap_read_small_file("/proc/self/cmdline", command_line, sizeof(command_line));
    for (ssize_t i = 0; i < length; i++)
        if (command_line[i] == '\0')
            command_line[i] = ' ';
    while (length > 0 && command_line[length - 1] == ' ')
        command_line[--length] = '\0';
    char path[PATH_MAX];
    ssize_t path_length = readlink("/proc/self/exe", path, sizeof(path) - 1);
    executable_name[0] = '\0';
    if (path_length > 0) {
        path[path_length] = '\0';
        const char *slash = strrchr(path, '/');
        append_text(executable_name, sizeof(executable_name), 0, slash ? slash + 1 : path);
    }
}

/* Set on the thread running create_ring: a signal handler there that asks for the ring
 * (the crash handler) must not wait for itself. */
static LDTAP_THREAD_LOCAL bool creating_here;

/* How long a thread waits for another one to finish creating the ring. Creation is a
 * dozen syscalls: about 1 ms, up to 5 ms measured while fork() copies the address space
 * beside it; the bound only keeps a stalled creator from stalling every other thread. */
#define RING_CREATION_WAIT_NS (200ull * 1000ull * 1000ull)

/*
 * Another thread is creating the ring. Returning NULL here instead (as the shim once did)
 * silently lost everything other threads finished meanwhile: a loopback exchange takes
 * ~20 us, so a busy thread lost hundreds of spans (and in_flight_requests went negative,
 * a request start having been dropped but not its end), counted nowhere. Creation happens
 * once per process and once per forked child, so this wait is paid at most once per
 * thread per process, never per record. Yielding, not sleeping: the creator may be
 * runnable on this very core. Returns the state seen last.
 */
static int wait_for_creation(void) {
    uint64_t deadline = ldtap_monotonic_ns() + RING_CREATION_WAIT_NS;
    int state;
    /* Acquire: pairs with create_ring's release store, publishing `ring`. */
    while ((state = __atomic_load_n(&ring_state, __ATOMIC_ACQUIRE)) == RING_CREATING &&
           ldtap_monotonic_ns() < deadline)
        sched_yield();
    return state;
}

static void create_ring(void) {
    creating_here = true;
    read_identity_text();
    struct ldtap_ring_identity identity = {
        .pid = current_pid(),
        .parent_pid = getppid(),
        .start_time_ns = ldtap_now_ns(),
        .process_start_ticks = process_start_ticks(),
        .executable_name = executable_name,
        .service_name = getenv("OTEL_SERVICE_NAME"),
        .command_line = command_line,
        .resource_attributes = getenv("OTEL_RESOURCE_ATTRIBUTES"),
    };
    /* Taken before use: a fork during creation must not hand the child a range that a
     * failed creation may have given up. */
    void *reservation = ring_reservation;
    ring_reservation = NULL;
    ldtap_nesting++; /* the writer's own close() and mmap() calls go straight through */
    int error = ldtap_ring_create_in(&ring, reservation, run_directory, &identity, ring_data_size, NULL, 0);
    ldtap_nesting--;
    /* Release: pairs with the acquires in ldtap_process_ring(_slow), publishing `ring`. */
    __atomic_store_n(&ring_state, error == 0 ? RING_READY : RING_FAILED, __ATOMIC_RELEASE);
    if (error == 0)
        __atomic_store_n(&ldtap_ready_ring, &ring, __ATOMIC_RELEASE);
    creating_here = false;
    if (error != 0)
        ldtap_fail();
}

struct ldtap_ring_writer *ldtap_process_ring_if_ready(void) {
    return __atomic_load_n(&ring_state, __ATOMIC_ACQUIRE) == RING_READY ? &ring : NULL;
}

struct ldtap_ring_writer *ldtap_process_ring_slow(void) {
    int state = __atomic_load_n(&ring_state, __ATOMIC_ACQUIRE);
    if (LDTAP_LIKELY(state == RING_READY))
        return &ring;
    if (state == RING_NONE) {
        if (!ldtap_recording())
            return NULL;
        /* One thread creates; on failure the CAS leaves in `state` what the winner set. */
        if (__atomic_compare_exchange_n(&ring_state, &state, RING_CREATING, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            create_ring();
            return __atomic_load_n(&ring_state, __ATOMIC_ACQUIRE) == RING_READY ? &ring : NULL;
        }
    }
    /* The others wait for it rather than drop what they had (see wait_for_creation). */
    if (state == RING_CREATING && !creating_here)
        state = wait_for_creation();
    return state == RING_READY ? &ring : NULL;
}

/* The child of fork(): only the forking thread exists, the parent's ring is not ours.
 * Forget it (without touching the file) so the first record creates the child's own. */
static void after_fork_in_child(void) {
    __atomic_store_n(&own_pid, current_pid(), __ATOMIC_RELAXED);
    if (__atomic_load_n(&ring_state, __ATOMIC_ACQUIRE) == RING_READY) {
        ldtap_nesting++; /* the range kept is the shim's, not the program's heap */
        ring_reservation = ldtap_ring_forget_keeping_range(&ring);
        ldtap_nesting--;
    }
    __atomic_store_n(&ldtap_ready_ring, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&ring_state, RING_NONE, __ATOMIC_RELEASE);
    ldtap_thread_reset_after_fork();
    ldtap_clock_reset_after_fork();
    ldtap_span_reset_thread_after_fork();
    ldtap_log_after_fork_child();
}

__attribute__((constructor)) static void ldtap_start(void) {
    int saved_errno = errno;
    ldtap_nesting++;
    ldtap_resolve_originals();
    own_pid = current_pid();
    /* setuid/setgid/capability programs: do nothing at all (the environment is the
     * unprivileged caller's and must not steer a privileged process's file writes). */
    if (getauxval(AT_SECURE) == 0 && !environment_says_disabled() && read_configuration() &&
        ldtap_connection_pool_init() == 0 && pthread_atfork(NULL, NULL, after_fork_in_child) == 0)
        ldtap_fd_table_init(); /* last: a non-empty table switches recording on */
    if (ldtap_recording())
        ldtap_clock_init();
    if (ldtap_recording())
        ring_reservation = ldtap_ring_reserve(ring_data_size);
    if (ldtap_recording())
        ldtap_crash_init();
    if (ldtap_recording())
        ldtap_log_init();
    if (ldtap_recording())
        ldtap_heap_start();
    ldtap_nesting--;
    errno = saved_errno;
}
