/* Signal-disposition hooks: sigaction and the signal() family answer for the crash
 * signals from the program's own view (ours stays installed); pthread_create gives each
 * new thread an alternate signal stack. */
#include <signal.h>

#include "crash.h"
#include "hook_list.h"
#include "originals.h"
#include "shim.h"
#include "signal_stack.h"
#include "stack.h"

LDTAP_EXPORT int sigaction(int signal_number, const struct sigaction *restrict action,
                           struct sigaction *restrict old_action) {
    if (LDTAP_LIKELY(!ldtap_crash_handles(signal_number)))
        return LDTAP_REAL(sigaction)(signal_number, action, old_action);
    return ldtap_crash_exchange_action(signal_number, action, old_action);
}

/* glibc's signal() and sysv_signal() call sigaction internally, past our hook: for the
 * crash signals, build the action they would install and go through ours. */
static __sighandler_t set_handler(int signal_number, __sighandler_t handler, int flags) {
    struct sigaction action = {.sa_handler = handler, .sa_flags = flags};
    struct sigaction old_action;
    sigemptyset(&action.sa_mask);
    if (handler == SIG_ERR) {
        errno = EINVAL;
        return SIG_ERR;
    }
    if (!(flags & SA_NODEFER))
        sigaddset(&action.sa_mask, signal_number); /* BSD semantics: blocked while it runs */
    if (ldtap_crash_exchange_action(signal_number, &action, &old_action) != 0)
        return SIG_ERR;
    return old_action.sa_handler;
}

/* BSD semantics, as glibc's signal(): restart interrupted calls, block the signal in the
 * handler, stay installed. */
LDTAP_EXPORT __sighandler_t signal(int signal_number, __sighandler_t handler) {
    if (LDTAP_LIKELY(!ldtap_crash_handles(signal_number)))
        return LDTAP_REAL(signal)(signal_number, handler);
    return set_handler(signal_number, handler, SA_RESTART);
}

/* System V semantics: one-shot, not blocked while it runs, no restart. */
LDTAP_EXPORT __sighandler_t sysv_signal(int signal_number, __sighandler_t handler) {
    if (LDTAP_LIKELY(!ldtap_crash_handles(signal_number)))
        return LDTAP_REAL(sysv_signal)(signal_number, handler);
    return set_handler(signal_number, handler, SA_RESETHAND | SA_NODEFER);
}

/* libunwind masks every signal around each lock it takes and each search of the loaded
 * objects: two system calls each time, about 18 per heap sample of a Python program
 * (CPU time that instruction counts do not show). The shim blocks every signal once
 * around its whole capture instead (stack.c), and answers the calls libunwind makes
 * meanwhile without a system call; every other call goes through. */
LDTAP_EXPORT int sigprocmask(int how, const sigset_t *restrict set, sigset_t *restrict old_set) {
    if (LDTAP_UNLIKELY(ldtap_stack_signals_blocked)) {
        if (old_set != NULL)
            sigfillset(old_set);
        return 0;
    }
    return LDTAP_REAL(sigprocmask)(how, set, old_set);
}

LDTAP_EXPORT int pthread_create(pthread_t *restrict thread, const pthread_attr_t *restrict attributes,
                                void *(*start)(void *), void *restrict argument) {
    struct ldtap_thread_launch *launch =
        ldtap_crash_handles(SIGSEGV) ? ldtap_signal_stack_prepare(start, argument) : NULL;
    if (launch == NULL)
        return LDTAP_REAL(pthread_create)(thread, attributes, start, argument);
    int result = LDTAP_REAL(pthread_create)(thread, attributes, ldtap_signal_stack_thread_main, launch);
    if (result != 0)
        ldtap_signal_stack_discard(launch);
    return result;
}
