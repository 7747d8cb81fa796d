/* Crash capture: the shim's handler for fatal signals, which records a crash and ends the
 * thread's requests, then hands the signal on as the program would have seen it. */
#ifndef LDTAP_CRASH_H
#define LDTAP_CRASH_H

#include <signal.h>
#include <stdbool.h>

/* Installs the handler for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT (remembering what
 * was there as the program's), and an alternate stack for the calling (main) thread.
 * Constructor only, once recording is on. */
void ldtap_crash_init(void);

/* True when the shim stands in for the program's disposition of `signal_number`: its
 * sigaction/signal calls are then answered by ldtap_crash_exchange_action. */
bool ldtap_crash_handles(int signal_number);

/* sigaction() for a signal the shim handles: reports the program's own action in
 * `old_action` and records `action` as the program's, keeping the shim's handler in the
 * kernel (except for SIG_IGN, which is installed as is so that the kernel's semantics,
 * exec included, stay exact). Returns 0, or -1 with errno. */
int ldtap_crash_exchange_action(int signal_number, const struct sigaction *action,
                                struct sigaction *old_action);

#endif
