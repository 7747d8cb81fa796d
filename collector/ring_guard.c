/* The SIGBUS guard over ring mappings (see ring_guard.h). The table is a fixed array of
 * atomics: the handler may run on any thread at any moment, so it takes no lock and calls
 * nothing but mmap and sigaction, both async-signal-safe system calls. */
#include "ring_guard.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

/* More rings than this at once leave the extra ones unguarded. */
#define GUARD_SLOTS 4096

struct guard_slot {
    uintptr_t start; /* 0: free; written last when a slot is taken */
    size_t length;
    int truncated;
};

static struct guard_slot slots[GUARD_SLOTS];
static int installed;

static void on_sigbus(int signal_number, siginfo_t *info, void *context) {
    (void)context;
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < GUARD_SLOTS; i++) {
        uintptr_t start = __atomic_load_n(&slots[i].start, __ATOMIC_ACQUIRE);
        size_t length = slots[i].length;
        if (start > 1 && address >= start && address - start < length) { /* 1: being claimed */
            /* Zero pages over the whole mapping: the faulting access is retried on them and
             * every later read sees an empty ring, never a fault. */
            mmap((void *)start, length, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1,
                 0);
            __atomic_store_n(&slots[i].truncated, 1, __ATOMIC_RELEASE);
            return;
        }
    }
    /* Not ours: the default action on return, as if no handler had been installed. */
    struct sigaction default_action;
    memset(&default_action, 0, sizeof default_action);
    default_action.sa_handler = SIG_DFL;
    sigaction(signal_number, &default_action, NULL);
}

bool ldtap_ring_guard_install(void) {
    if (__atomic_exchange_n(&installed, 1, __ATOMIC_ACQ_REL)) {
        return true;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    return sigaction(SIGBUS, &action, NULL) == 0;
}

int ldtap_ring_guard_add(void *start, size_t length) {
    for (int i = 0; i < GUARD_SLOTS; i++) {
        /* Claims a free slot with a placeholder start (1 never lies in a mapping we add)
         * so that two callers never take the same slot. */
        uintptr_t expected = 0;
        if (__atomic_compare_exchange_n(&slots[i].start, &expected, 1, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            slots[i].length = length;
            __atomic_store_n(&slots[i].truncated, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&slots[i].start, (uintptr_t)start, __ATOMIC_RELEASE);
            return i;
        }
    }
    return -1;
}

bool ldtap_ring_guard_truncated(int slot) {
    return slot >= 0 && __atomic_load_n(&slots[slot].truncated, __ATOMIC_ACQUIRE) != 0;
}

void ldtap_ring_guard_remove(int slot) {
    if (slot >= 0) {
        __atomic_store_n(&slots[slot].start, 0, __ATOMIC_RELEASE);
    }
}
