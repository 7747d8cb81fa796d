/* Alternate signal stacks from mmap (never the program's allocator), with a guard page
 * below so that overflowing one kills the process instead of corrupting memory. */
#include "signal_stack.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"

/* Room for the crash handler and libunwind's cursor, plus whatever handler of the program
 * it calls on the same stack (Python's faulthandler writes its whole dump from there). */
#define STACK_BYTES_MIN (64u * 1024u)

struct ldtap_thread_launch {
    void *(*start)(void *);
    void *argument;
    size_t mapping_size; /* guard page + this header + the stack */
    stack_t stack;
};

static size_t page_bytes(void) {
    long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (size_t)page : 4096;
}

/* Usable stack bytes: the floor above, or more where the kernel's signal frame is large
 * (AVX-512, SME). */
static size_t stack_bytes(void) {
    long wanted = sysconf(_SC_SIGSTKSZ);
    size_t bytes = wanted > 0 && (size_t)wanted * 4 > STACK_BYTES_MIN ? (size_t)wanted * 4 : STACK_BYTES_MIN;
    size_t page = page_bytes();
    return (bytes + page - 1) / page * page;
}

/* Maps guard page + one page for the launch header + stack; NULL on failure. */
static struct ldtap_thread_launch *map_launch(void) {
    size_t page = page_bytes(), stack = stack_bytes();
    size_t size = page + page + stack;
    uint8_t *mapping = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                            -1, 0);
    if (mapping == MAP_FAILED)
        return NULL;
    if (mprotect(mapping, page, PROT_NONE) != 0) {
        munmap(mapping, size);
        return NULL;
    }
    struct ldtap_thread_launch *launch = (struct ldtap_thread_launch *)(mapping + page);
    launch->mapping_size = size;
    launch->stack.ss_sp = mapping + page + page;
    launch->stack.ss_size = stack;
    launch->stack.ss_flags = 0;
    return launch;
}

static void unmap_launch(struct ldtap_thread_launch *launch) {
    size_t page = page_bytes();
    munmap((uint8_t *)launch - page, launch->mapping_size);
}

/* True when the calling thread has an alternate stack (ours or the program's). */
static bool has_alternate_stack(void) {
    stack_t current;
    return sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_DISABLE);
}

void ldtap_signal_stack_install_here(void) {
    if (has_alternate_stack())
        return;
    struct ldtap_thread_launch *launch = map_launch();
    if (launch != NULL && sigaltstack(&launch->stack, NULL) != 0)
        unmap_launch(launch);
}

struct ldtap_thread_launch *ldtap_signal_stack_prepare(void *(*start)(void *), void *argument) {
    struct ldtap_thread_launch *launch = map_launch();
    if (launch != NULL) {
        launch->start = start;
        launch->argument = argument;
    }
    return launch;
}

void ldtap_signal_stack_discard(struct ldtap_thread_launch *launch) { unmap_launch(launch); }

/* Runs when the thread ends by any route. The stack is switched off first, and only if
 * it is still ours (the program may have installed its own meanwhile): no signal can be
 * delivered onto unmapped memory. */
static void release_at_thread_exit(void *argument) {
    struct ldtap_thread_launch *launch = argument;
    ldtap_log_thread_exit();
    stack_t current;
    if (sigaltstack(NULL, &current) != 0)
        return;
    if (!(current.ss_flags & SS_DISABLE) && current.ss_sp == launch->stack.ss_sp) {
        stack_t off = {.ss_flags = SS_DISABLE};
        /* Fails only while running on it (pthread_exit from a handler): leak, never fault. */
        if ((current.ss_flags & SS_ONSTACK) || sigaltstack(&off, NULL) != 0)
            return;
    }
    unmap_launch(launch);
}

void *ldtap_signal_stack_thread_main(void *argument) {
    struct ldtap_thread_launch *launch = argument;
    void *(*start)(void *) = launch->start;
    void *start_argument = launch->argument;
    if (has_alternate_stack() || sigaltstack(&launch->stack, NULL) != 0) {
        unmap_launch(launch); /* not needed, or refused: run without */
        void *result = start(start_argument);
        ldtap_log_thread_exit();
        return result;
    }
    void *result;
    pthread_cleanup_push(release_at_thread_exit, launch);
    result = start(start_argument);
    pthread_cleanup_pop(1);
    return result;
}
