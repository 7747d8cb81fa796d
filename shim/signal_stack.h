/* Alternate signal stacks for the crash handler: one for the main thread at start, one
 * per thread started through pthread_create, so a stack overflow can still be reported. */
#ifndef LDTAP_SIGNAL_STACK_H
#define LDTAP_SIGNAL_STACK_H

/* Gives the calling thread an alternate stack unless it already has one (the program's
 * own stays). The mapping lives as long as the process. */
void ldtap_signal_stack_install_here(void);

/* A thread about to be created: its start routine and argument, kept at the bottom of
 * the mapping that becomes its alternate stack. NULL when no mapping could be made (the
 * thread then starts plainly, without one). */
struct ldtap_thread_launch;
struct ldtap_thread_launch *ldtap_signal_stack_prepare(void *(*start)(void *), void *argument);

/* Start routine to give pthread_create with a prepared launch: installs the alternate
 * stack, runs the program's routine, and unmaps the stack when the thread ends (return,
 * pthread_exit or cancellation); the thread's pending log lines are written then too. */
void *ldtap_signal_stack_thread_main(void *launch);

/* pthread_create failed: the launch is never used. */
void ldtap_signal_stack_discard(struct ldtap_thread_launch *launch);

#endif
