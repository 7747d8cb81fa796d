/* The fatal-signal handler: writes an LDTAP_RECORD_CRASH record and ends the requests the
 * thread was serving, then hands the signal to the program's handler or the default action.
 * Everything reachable from crash_handler is async-signal-safe: syscalls, atomics, the
 * lock-free ring writer, thread-local reads; no malloc, stdio or locks. */
#include "crash.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "connection.h"
#include "originals.h"
#include "process.h"
#include "shim.h"
#include "signal_stack.h"
#include "span.h"
#include "stack.h"
#include "thread.h"

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
#define CRASH_SIGNAL_COUNT (sizeof(crash_signals) / sizeof(crash_signals[0]))

/* Requests one thread can be serving at once that a crash still ends (asyncio). */
#define SERVED_AT_CRASH_MAX 4

/*
 * The program's view of each crash signal's disposition: what it last set (or what was
 * inherited at start). Written by sigaction hooks on any thread, read by the handler,
 * which may interrupt a writer: a sequence counter (odd while writing) lets the reader
 * retry, and writers are serialised by a lock that records its owner so that a handler
 * interrupting the owner on the same thread never waits for itself.
 */
static struct sigaction program_actions[CRASH_SIGNAL_COUNT];
static unsigned action_sequences[CRASH_SIGNAL_COUNT];
/* Whether our handler is in the kernel for the signal (false: SIG_IGN is, or init failed). */
static bool handler_installed[CRASH_SIGNAL_COUNT];
static uint32_t table_owner; /* thread id holding the writers' lock, 0 when free */
static bool crash_capture_on;
static unsigned crash_records_written;

/* Our handler's own code is on this thread's stack: a fault now is the shim's. */
static LDTAP_THREAD_LOCAL unsigned handler_depth;
/* A stack address inside the call of the program's handler (0: none running): a signal
 * whose handler frame lies below it was raised from the program's handler (Python's
 * faulthandler re-raises after its dump) and was recorded already. */
static LDTAP_THREAD_LOCAL uintptr_t program_handler_frame;

static int signal_index(int signal_number) {
    for (unsigned i = 0; i < CRASH_SIGNAL_COUNT; i++)
        if (crash_signals[i] == signal_number)
            return (int)i;
    return -1;
}

bool ldtap_crash_handles(int signal_number) {
    return __atomic_load_n(&crash_capture_on, __ATOMIC_ACQUIRE) && signal_index(signal_number) >= 0;
}

/* Returns false when this thread already holds the lock (a handler interrupted it): the
 * caller then proceeds without it and must not unlock. */
static bool lock_table(void) {
    uint32_t self = ldtap_thread_id();
    for (;;) {
        uint32_t expected = 0;
        if (__atomic_compare_exchange_n(&table_owner, &expected, self, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return true;
        if (expected == self)
            return false;
        syscall(SYS_sched_yield); /* another thread is inside a sigaction call: a few instructions */
    }
}

static void unlock_table(bool locked) {
    if (locked)
        __atomic_store_n(&table_owner, 0, __ATOMIC_RELEASE);
}

static void write_program_action(int index, const struct sigaction *action) {
    __atomic_fetch_add(&action_sequences[index], 1, __ATOMIC_ACQ_REL); /* odd: being written */
    memcpy(&program_actions[index], action, sizeof(*action));
    __atomic_fetch_add(&action_sequences[index], 1, __ATOMIC_RELEASE); /* even: pairs with read */
}

/* A consistent copy, unless the writer is stuck beneath us on this thread: then the
 * latest bytes after a bounded number of tries (the old or the new action, or a mix of
 * both that still holds a handler the program set at some point). */
static void read_program_action(int index, struct sigaction *action) {
    for (int attempt = 0; attempt < 64; attempt++) {
        unsigned before = __atomic_load_n(&action_sequences[index], __ATOMIC_ACQUIRE);
        memcpy(action, &program_actions[index], sizeof(*action));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (!(before & 1) && __atomic_load_n(&action_sequences[index], __ATOMIC_RELAXED) == before)
            return;
    }
}

static bool is_ignore(const struct sigaction *action) { return action->sa_handler == SIG_IGN; }
static bool is_default(const struct sigaction *action) { return action->sa_handler == SIG_DFL; }

static void crash_handler(int signal_number, siginfo_t *info, void *context);

/* Our handler for the kernel: every signal blocked while it runs, so a second fatal
 * signal in our own code meets the kernel's default action at once (a synchronous fault
 * on a blocked signal is fatal). SA_ONSTACK: a stack overflow leaves us room. */
static int install_handler(int signal_number) {
    struct sigaction ours = {.sa_sigaction = crash_handler, .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART};
    sigfillset(&ours.sa_mask);
    return LDTAP_REAL(sigaction)(signal_number, &ours, NULL);
}

int ldtap_crash_exchange_action(int signal_number, const struct sigaction *action,
                                struct sigaction *old_action) {
    int index = signal_index(signal_number);
    bool locked = lock_table();
    struct sigaction previous;
    read_program_action(index, &previous);
    if (action != NULL) {
        int result = is_ignore(action) ? LDTAP_REAL(sigaction)(signal_number, action, NULL)
                     : handler_installed[index] ? 0
                                                : install_handler(signal_number);
        if (result != 0) {
            unlock_table(locked);
            return -1; /* errno from the kernel */
        }
        __atomic_store_n(&handler_installed[index], !is_ignore(action), __ATOMIC_RELAXED);
        write_program_action(index, action);
    }
    unlock_table(locked);
    if (old_action != NULL)
        *old_action = previous;
    return 0;
}

/* The interrupted code's registers, for the crash record. */
static void read_registers(const ucontext_t *context, struct ldtap_crash_record *record) {
#if defined(__x86_64__)
    record->instruction_pointer = (uint64_t)context->uc_mcontext.gregs[REG_RIP];
    record->stack_pointer = (uint64_t)context->uc_mcontext.gregs[REG_RSP];
    record->frame_pointer = (uint64_t)context->uc_mcontext.gregs[REG_RBP];
#elif defined(__aarch64__)
    record->instruction_pointer = context->uc_mcontext.pc;
    record->stack_pointer = context->uc_mcontext.sp;
    record->frame_pointer = context->uc_mcontext.regs[29];
#else
    (void)context;
    (void)record;
#endif
}

/* Ends the requests this thread serves as crashed; names the first in the record. */
static void end_served_requests(struct ldtap_crash_record *record) {
    const struct ldtap_span_common *live[SERVED_AT_CRASH_MAX];
    uint64_t serials[SERVED_AT_CRASH_MAX];
    unsigned count = ldtap_span_serving_now(live, serials, SERVED_AT_CRASH_MAX);
    if (count == 0)
        return;
    memcpy(record->trace_id, live[0]->trace_id, sizeof(record->trace_id));
    memcpy(record->span_id, live[0]->span_id, sizeof(record->span_id));
    if (count > 1)
        record->flags |= LDTAP_CRASH_FLAG_SEVERAL_REQUESTS;
    for (unsigned i = 0; i < count; i++)
        ldtap_exchange_end_crashed(live[i], serials[i]);
}

static void record_crash(int signal_number, const siginfo_t *info, const ucontext_t *context,
                         bool program_has_handler) {
    /* A vfork() child shares our memory and ring state with its parent: leave it alone. */
    if (!ldtap_recording() || !ldtap_in_own_process())
        return;
    if (__atomic_fetch_add(&crash_records_written, 1, __ATOMIC_RELAXED) >= LDTAP_CRASH_RECORDS_MAX) {
        LDTAP_COUNT(suppressed_crashes, 1);
        return;
    }
    struct ldtap_crash_record record;
    memset(&record, 0, sizeof(record));
    record.time_ns = ldtap_now_ns();
    record.signal = signal_number;
    record.signal_code = info->si_code;
    if (info->si_code <= 0)
        record.sender_pid = info->si_pid; /* kill, raise, abort, sigqueue */
    else if (signal_number != SIGABRT)
        record.fault_address = (uint64_t)(uintptr_t)info->si_addr;
    record.thread_id = ldtap_thread_id();
    prctl(PR_GET_NAME, record.thread_name, 0, 0, 0);
    if (program_has_handler)
        record.flags |= LDTAP_CRASH_FLAG_PROGRAM_HANDLER;
    stack_t alternate;
    if (sigaltstack(NULL, &alternate) != 0 || !(alternate.ss_flags & SS_ONSTACK))
        record.flags |= LDTAP_CRASH_FLAG_NO_ALTERNATE_STACK;
    read_registers(context, &record);

    uint64_t pcs[LDTAP_CRASH_FRAMES_MAX];
    uint32_t stack_flags = 0;
    unsigned frames = ldtap_stack_capture(pcs, LDTAP_CRASH_FRAMES_MAX, context, &stack_flags);
    if (frames == 0 && record.instruction_pointer != 0) /* no unwinder: at least where */
        pcs[frames++] = record.instruction_pointer;
    if (stack_flags & LDTAP_STACK_FLAG_TRUNCATED)
        record.flags |= LDTAP_CRASH_FLAG_STACK_TRUNCATED;
    record.frame_count = (uint16_t)frames;

    end_served_requests(&record);
    /* The ring may not exist yet (a forked child's first record): creating it here takes
     * open/mkdir/mmap only, all async-signal-safe. */
    struct ldtap_ring_writer *ring = ldtap_process_ring();
    if (ring == NULL)
        return;
    struct ldtap_ring_part parts[2] = {
        {&record, sizeof(record)},
        {pcs, frames * (uint32_t)sizeof(pcs[0])},
    };
    ldtap_ring_write(ring, LDTAP_RECORD_CRASH, parts, 2);
}

/* No handler of the program's: let the kernel's default action happen as if we had never
 * been installed. The signal is queued again with its original siginfo (blocked while we
 * run, it is delivered as we return); a hardware fault would also recur by itself when
 * the instruction re-executes. Either way the exit status and the core are the program's. */
static void hand_to_default(int signal_number, siginfo_t *info) {
    struct sigaction default_action = {.sa_handler = SIG_DFL};
    sigemptyset(&default_action.sa_mask);
    LDTAP_REAL(sigaction)(signal_number, &default_action, NULL);
    if (syscall(SYS_rt_tgsigqueueinfo, getpid(), ldtap_thread_id(), signal_number, info) != 0)
        syscall(SYS_tgkill, getpid(), ldtap_thread_id(), signal_number);
}

/* Calls the program's handler as the kernel would have: its mask (the interrupted mask,
 * plus sa_mask, plus the signal itself unless SA_NODEFER), one-shot reset for
 * SA_RESETHAND, the siginfo form for SA_SIGINFO. The kernel restores the interrupted
 * mask when our handler returns, as it would have after the program's. */
static void call_program_handler(int signal_number, int index, struct sigaction *program,
                                 siginfo_t *info, ucontext_t *context) {
    if (program->sa_flags & SA_RESETHAND) {
        struct sigaction default_action = {.sa_handler = SIG_DFL};
        bool locked = lock_table();
        write_program_action(index, &default_action);
        unlock_table(locked);
    }
    sigset_t mask;
    sigorset(&mask, &context->uc_sigmask, &program->sa_mask);
    if (!(program->sa_flags & SA_NODEFER))
        sigaddset(&mask, signal_number);
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    uintptr_t outer_frame = program_handler_frame;
    program_handler_frame = (uintptr_t)&mask;
    if (program->sa_flags & SA_SIGINFO)
        program->sa_sigaction(signal_number, info, context);
    else
        program->sa_handler(signal_number);
    program_handler_frame = outer_frame;
}

static void crash_handler(int signal_number, siginfo_t *info, void *context) {
    int saved_errno = errno;
    int index = signal_index(signal_number);
    if (handler_depth > 0 || index < 0) { /* the shim's own handler failed: get out of the way */
        hand_to_default(signal_number, info);
        errno = saved_errno;
        return;
    }
    handler_depth++;
    ldtap_nesting++; /* nothing the handler does may be recorded by a hook */
    struct sigaction program;
    read_program_action(index, &program);
    bool sent = info->si_code <= 0;
    bool raised_by_program_handler = program_handler_frame != 0 && (uintptr_t)&program < program_handler_frame;
    bool has_handler = !is_default(&program) && !is_ignore(&program);
    /* SIG_IGN is in the kernel while the program asks for it, so we only get here racing
     * a sigaction call: a sent signal is then ignored; a fault cannot be (the kernel would
     * kill), so it is treated as SIG_DFL. */
    if (!(is_ignore(&program) && sent) && !raised_by_program_handler)
        record_crash(signal_number, info, context, has_handler);
    ldtap_nesting--;
    handler_depth--;
    if (has_handler)
        call_program_handler(signal_number, index, &program, info, context);
    else if (!(is_ignore(&program) && sent))
        hand_to_default(signal_number, info);
    errno = saved_errno;
}

void ldtap_crash_init(void) {
    ldtap_stack_init();
    for (unsigned i = 0; i < CRASH_SIGNAL_COUNT; i++) {
        struct sigaction inherited;
        if (LDTAP_REAL(sigaction)(crash_signals[i], NULL, &inherited) != 0)
            continue;
        program_actions[i] = inherited;
        /* An inherited SIG_IGN (exec keeps it) stays in the kernel; a handler cannot be
         * inherited across exec, but a constructor before ours may have set one. */
        handler_installed[i] = !is_ignore(&inherited) && install_handler(crash_signals[i]) == 0;
    }
    ldtap_signal_stack_install_here();
    __atomic_store_n(&crash_capture_on, true, __ATOMIC_RELEASE);
}
