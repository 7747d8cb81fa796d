/* Stack capture with libunwind loaded privately (dlopen RTLD_LOCAL), for heap samples in
 * malloc hooks and for the crash handler.
 *
 * Why libunwind's unw_backtrace, by measurement (tests: a preloaded probe capturing every
 * 97th malloc of `python3` building lists of 300-byte strings and a dict, Debian 12, glibc
 * 2.36, libunwind 1.6.2, cycles by rdtsc, averages over ~950 captures of one run; first
 * captures of a short-lived process cost ~40k cycles while caches fill):
 *
 *   method                                   frames (avg / max)   cycles per capture
 *   frame-pointer walk (rbp chain)           1.0 / 2              ~170
 *   libgcc _Unwind_Backtrace                 17.4 / 128           ~14,300
 *   libunwind unw_backtrace (cached)         17.4 / 128           ~2,600-3,300
 *   raw copy of 8 KiB of stack (heapprofd)   collector unwinds    ~160 + 8 KiB of ring
 *
 * Debian 12's python3 (and most of the distribution) is built without frame pointers, so
 * an rbp walk stops after one frame: useless. _Unwind_Backtrace walks the same DWARF CFI
 * but searches FDEs afresh each time: five times slower. Copying raw stack bytes costs
 * the least in the process but puts 8 KiB per sample into the ring (at the default
 * 512 KiB rate a Python server allocating 1 GiB/s would write 16 MiB/s of stack bytes),
 * defeats the once-per-stack ids (raw bytes never repeat) and needs an unwinder working
 * against files that may have changed after the process exited. unw_backtrace at ~1 µs per
 * sample, one sample per 512 KiB allocated on average, is negligible.
 *
 * How it is loaded: Debian's libunwind.a is not position-independent, so it cannot be
 * linked into the shim; a DT_NEEDED on libunwind.so.8 would put its _Unwind_* exports in
 * the global scope ahead of libgcc_s and change C++ exception handling for every program.
 * dlopen(RTLD_LOCAL) from the constructor keeps its symbols private (the shim calls it
 * through pointers); a program that uses libunwind.so.8 itself shares the same copy,
 * which is harmless. Without libunwind the shim still counts and samples, with no stacks.
 */
#include "stack.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>

#include "ldtap_ring_abi.h"
#include "private_fds.h"
#include "shim.h"

#if __has_include(<libunwind.h>)
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#define LDTAP_HAVE_LIBUNWIND 1
#endif

#ifdef LDTAP_HAVE_LIBUNWIND
/* libunwind's entry points, resolved by name: with UNW_LOCAL_ONLY the API names are
 * macros for these architecture-specific symbols. */
static struct {
    int (*backtrace)(void **buffer, int size);
    int (*init_local2)(unw_cursor_t *cursor, unw_context_t *context, int flags);
    int (*step)(unw_cursor_t *cursor);
    int (*get_reg)(unw_cursor_t *cursor, unw_regnum_t reg, unw_word_t *value);
} unwinder;
#endif

LDTAP_THREAD_LOCAL bool ldtap_stack_signals_blocked;

/* Written once by ldtap_stack_init; read (acquire) by captures on any thread. */
static bool unwinder_ready;
/* The shim's own mapped address range, to leave its frames out of captured stacks. */
static uintptr_t shim_start, shim_end;

static int find_shim_range(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    if (info->dlpi_addr != (uintptr_t)data)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type != PT_LOAD)
            continue;
        uintptr_t start = info->dlpi_addr + segment->p_vaddr;
        if (shim_start == 0 || start < shim_start)
            shim_start = start;
        if (start + segment->p_memsz > shim_end)
            shim_end = start + segment->p_memsz;
    }
    return 1;
}

bool ldtap_stack_init(void) {
#ifdef LDTAP_HAVE_LIBUNWIND
    if (__atomic_load_n(&unwinder_ready, __ATOMIC_ACQUIRE))
        return true;
    Dl_info self;
    if (dladdr((void *)ldtap_stack_init, &self) == 0)
        return false;
    dl_iterate_phdr(find_shim_range, self.dli_fbase);
    void *library = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL)
        return false;
    unwinder.backtrace = (int (*)(void **, int))dlsym(library, "unw_backtrace");
    unwinder.init_local2 = (int (*)(unw_cursor_t *, unw_context_t *, int))dlsym(library, "_ULx86_64_init_local2");
    unwinder.step = (int (*)(unw_cursor_t *))dlsym(library, "_ULx86_64_step");
    unwinder.get_reg = (int (*)(unw_cursor_t *, unw_regnum_t, unw_word_t *))dlsym(library, "_ULx86_64_get_reg");
    if (unwinder.backtrace == NULL || unwinder.init_local2 == NULL || unwinder.step == NULL ||
        unwinder.get_reg == NULL)
        return false; /* the library stays loaded: unloading it could race a capture */
    /* libunwind opens its memory-validation pipe on its first walk: walk once now, in the
     * constructor, with pipe2 moving that pipe to high descriptor numbers (hooks/pipe.c),
     * rather than on a first heap sample, where it would land on the program's 3 and 4. */
    void *first_walk[4];
    ldtap_relocating_pipes = true;
    unwinder.backtrace(first_walk, 4);
    ldtap_relocating_pipes = false;
    /* Release: pairs with the acquire in ldtap_stack_capture, publishing `unwinder`. */
    __atomic_store_n(&unwinder_ready, true, __ATOMIC_RELEASE);
    return true;
#else
    return false;
#endif
}

#ifdef LDTAP_HAVE_LIBUNWIND
/* Walks from a signal context: the interrupted instruction first, then its callers. */
static unsigned capture_from_context(uint64_t *pcs, unsigned max_frames, const void *ucontext,
                                     uint32_t *flags) {
    unw_cursor_t cursor;
    /* libunwind's x86-64 unw_context_t is ucontext_t; it only reads the registers. */
    if (unwinder.init_local2(&cursor, (unw_context_t *)ucontext, UNW_INIT_SIGNAL_FRAME) != 0)
        return 0;
    *flags |= LDTAP_STACK_FLAG_FIRST_IS_EXACT;
    unsigned count = 0;
    for (;;) {
        unw_word_t pc;
        if (unwinder.get_reg(&cursor, UNW_REG_IP, &pc) != 0 || pc == 0)
            break;
        if (count == max_frames) {
            *flags |= LDTAP_STACK_FLAG_TRUNCATED;
            break;
        }
        pcs[count++] = pc;
        if (unwinder.step(&cursor) <= 0)
            break;
    }
    return count;
}

/* Walks from here with unw_backtrace (its per-thread cache of frame layouts makes it the
 * fast path) and drops the shim's own frames. */
static unsigned capture_from_here(uint64_t *pcs, unsigned max_frames, uint32_t *flags) {
    /* Room for the shim's frames and one spare to tell a truncated stack. */
    enum { SHIM_FRAMES_MAX = 8 };
    void *frames[LDTAP_STACK_MAX_FRAMES + SHIM_FRAMES_MAX + 1];
    unsigned wanted = max_frames < LDTAP_STACK_MAX_FRAMES ? max_frames : LDTAP_STACK_MAX_FRAMES;
    /* Every signal blocked once for the whole walk, as libunwind wants around its locks
     * (a handler that walked the stack meanwhile could deadlock on them), with two system
     * calls instead of two per lock (hooks/signal.c). */
    sigset_t everything, saved;
    sigfillset(&everything);
    pthread_sigmask(SIG_SETMASK, &everything, &saved);
    ldtap_stack_signals_blocked = true;
    int found = unwinder.backtrace(frames, (int)(wanted + SHIM_FRAMES_MAX + 1));
    ldtap_stack_signals_blocked = false;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    unsigned first = 0;
    while (first < (unsigned)found && (uintptr_t)frames[first] >= shim_start &&
           (uintptr_t)frames[first] < shim_end)
        first++;
    unsigned count = 0;
    for (unsigned i = first; i < (unsigned)found; i++) {
        if (count == wanted) {
            *flags |= LDTAP_STACK_FLAG_TRUNCATED;
            break;
        }
        pcs[count++] = (uint64_t)(uintptr_t)frames[i];
    }
    return count;
}
#endif

unsigned ldtap_stack_capture(uint64_t *pcs, unsigned max_frames, const void *ucontext,
                             uint32_t *flags) {
    uint32_t ignored_flags;
    if (flags == NULL)
        flags = &ignored_flags;
    *flags = 0;
#ifdef LDTAP_HAVE_LIBUNWIND
    if (max_frames == 0 || !__atomic_load_n(&unwinder_ready, __ATOMIC_ACQUIRE))
        return 0;
    /* A program that closed every descriptor up to its limit closed libunwind's pipe too;
     * libunwind re-creates it on the next walk that validates an address, and without this
     * the new pipe took the program's lowest free numbers (3 and 4), where the program
     * finds descriptors it never opened. Saved and restored: a crash may interrupt a walk. */
    bool relocating = ldtap_relocating_pipes;
    ldtap_relocating_pipes = true;
    unsigned count = ucontext != NULL ? capture_from_context(pcs, max_frames, ucontext, flags)
                                      : capture_from_here(pcs, max_frames, flags);
    ldtap_relocating_pipes = relocating;
    return count;
#else
    (void)pcs;
    (void)max_frames;
    (void)ucontext;
    return 0;
#endif
}
