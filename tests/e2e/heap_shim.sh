#!/usr/bin/env bash
# End-to-end checks of the shim's heap hooks (issue 5): odd and early programs keep
# working, counters move and are exact, samples carry stacks, LDTAP_HEAP_SAMPLE_BYTES=1
# samples every allocation, the default rate estimates a known live heap within 10%, and
# jemalloc/tcmalloc preloaded before or after ldtap behave as the README says.
# Usage: tests/e2e/heap_shim.sh [BUILD_DIR]   (default build; the shim is built if missing)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SHIM=$BUILD/libldtap.so
WORK=$(mktemp -d /tmp/ldtap-heap-shim.XXXXXX)
FAILURES=0
trap 'rm -rf "$WORK"' EXIT

pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1"; FAILURES=$((FAILURES + 1)); }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }
dump() { "$WORK/ring_dump" "$@"; } # consumes what it prints
under_shim() { # run_dir command...: the command with the shim preloaded
    local run_dir=$1; shift
    LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$WORK/$run_dir "$@"
}

# ---- build ----
if [ ! -f "$SHIM" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DLDTAP_TESTS=OFF >/dev/null &&
        cmake --build "$BUILD" --target ldtap_shim -j2 >/dev/null || { echo "build failed"; exit 1; }
fi
CFLAGS="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 -g"
gcc $CFLAGS -I"$ROOT/shim/ring" -o "$WORK/ring_dump" "$ROOT/tests/programs_shim/ring_dump.c" \
    "$ROOT/shim/ring/ring_reader.c" || { echo "ring_dump build failed"; exit 1; }

# A library whose constructor runs before libldtap.so's (DT_NEEDED objects are initialised
# before LD_PRELOAD ones): it allocates, the program frees and reallocates later.
cat >"$WORK/early.c" <<'C'
#include <stdlib.h>
#include <string.h>
char *early_block, *early_zeroed;
__attribute__((constructor)) static void early(void) {
    early_block = malloc(100);
    strcpy(early_block, "early");
    early_zeroed = calloc(10, 10);
}
C
cat >"$WORK/edges.c" <<'C'
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
extern char *early_block, *early_zeroed;
static int failures;
#define EXPECT(condition) do { if (!(condition)) { fprintf(stderr, "failed: %s\n", #condition); failures++; } } while (0)
static int aligned(void *p, size_t alignment) { return p != NULL && ((uintptr_t)p & (alignment - 1)) == 0; }
static volatile int stop;
static void *churn(void *unused) {
    (void)unused;
    while (!stop) { void *p = malloc(rand() % 5000); void *q = calloc(3, 100); p = realloc(p, 7000); free(q); free(p); }
    return NULL;
}
int main(void) {
    EXPECT(strcmp(early_block, "early") == 0 && early_zeroed[99] == 0);
    early_block = realloc(early_block, 100000);
    EXPECT(early_block != NULL && strcmp(early_block, "early") == 0);
    free(early_block);
    free(early_zeroed);
    free(NULL);
    void *p = malloc(10);
    errno = 0;
    EXPECT(realloc(p, 0) == NULL); /* glibc frees and returns NULL */
    void *out = NULL;
    EXPECT(posix_memalign(&out, 64, 100) == 0 && aligned(out, 64)); free(out);
    EXPECT(posix_memalign(&out, 4096, 5000) == 0 && aligned(out, 4096)); free(out);
    EXPECT(posix_memalign(&out, 3, 10) == EINVAL);
    void *a = aligned_alloc(256, 1024); EXPECT(aligned(a, 256)); free(a);
    a = memalign(128, 77); EXPECT(aligned(a, 128)); free(a);
    a = valloc(10); EXPECT(aligned(a, 4096)); free(a);
    a = pvalloc(10); EXPECT(aligned(a, 4096)); free(a);
    errno = 0;
    volatile size_t huge = SIZE_MAX / 2; /* volatile: the compiler would reject the overflow */
    EXPECT(reallocarray(NULL, huge, 4) == NULL && errno == ENOMEM);
    a = reallocarray(NULL, 10, 10); EXPECT(a != NULL); free(a);
    char *z = calloc(1000, 1000); EXPECT(z != NULL && z[999999] == 0); free(z);
    EXPECT(malloc_usable_size(NULL) == 0);
    /* anonymous mappings: grow, move, shrink, unmap */
    char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT(m != MAP_FAILED);
    m = mremap(m, 1 << 20, 2 << 20, MREMAP_MAYMOVE);
    EXPECT(m != MAP_FAILED && munmap(m, 2 << 20) == 0);
    errno = 0;
    EXPECT(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, -1, 0) == MAP_FAILED && errno == EBADF);
    /* fork while other threads allocate: the child allocates and exits cleanly */
    pthread_t threads[3];
    for (int i = 0; i < 3; i++) pthread_create(&threads[i], NULL, churn, NULL);
    for (int round = 0; round < 20; round++) {
        pid_t child = fork();
        if (child == 0) {
            for (int i = 0; i < 2000; i++) free(malloc((size_t)i * 3));
            void *keep = malloc(1 << 20);
            exit(keep != NULL ? 0 : 1);
        }
        int status = 0;
        EXPECT(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    stop = 1;
    for (int i = 0; i < 3; i++) pthread_join(threads[i], NULL);
    printf("edges %s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}
C
# Every allocation of known_sizes() is made from one function with a size no one else uses.
cat >"$WORK/pattern.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) static void *allocate_marked(size_t size) { return malloc(size); }
int main(int argc, char **argv) {
    size_t count = strtoul(argv[1], NULL, 10), size = strtoul(argv[2], NULL, 10);
    size_t freed = argc > 3 ? strtoul(argv[3], NULL, 10) : 0;
    void **blocks = calloc(count, sizeof *blocks);
    for (size_t i = 0; i < count; i++) blocks[i] = allocate_marked(size);
    for (size_t i = 0; i < freed; i++) free(blocks[i]);
    printf("kept %zu blocks of %zu bytes\n", count - freed, size);
    return 0;
}
C
gcc $CFLAGS -fPIC -shared -o "$WORK/libearly.so" "$WORK/early.c" &&
    gcc $CFLAGS -o "$WORK/edges" "$WORK/edges.c" -L"$WORK" -Wl,-rpath,"$WORK" -learly -pthread &&
    gcc $CFLAGS -o "$WORK/pattern" "$WORK/pattern.c" || { echo "test program build failed"; exit 1; }

# ---- odd programs behave as without the shim ----
same_output() { # command...: output and status identical with the shim
    local plain preloaded
    plain=$("$@" 2>&1; echo "status=$?")
    preloaded=$(under_shim odd "$@" 2>&1; echo "status=$?")
    test "$plain" == "$preloaded" || { diff <(echo "$plain") <(echo "$preloaded") | head -5; false; }
}
echo 'int main(void) { return 0; }' >"$WORK/tiny.c"
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<CONF
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events {}
http { access_log off; server { listen 127.0.0.1:18999; } }
CONF
check "python3 unchanged" same_output python3 -c 'import json; print(len(json.dumps([str(i) * 50 for i in range(100000)])))'
check "git --version unchanged" same_output git --version
check "gcc on a tiny file unchanged" same_output gcc -O2 -o "$WORK/tiny" "$WORK/tiny.c"
if command -v nginx >/dev/null; then
    check "nginx -t unchanged" same_output nginx -t -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
fi
check "early constructor, realloc to 0, free(NULL), alignment, mappings, fork under threads" \
    bash -c "LD_PRELOAD=$SHIM LDTAP_RUN_DIR=$WORK/edges-rings LDTAP_HEAP_SAMPLE_BYTES=4096 $WORK/edges"
rings=$(ls "$WORK"/edges-rings/*.ring 2>/dev/null | wc -l)
check "forked children write their own rings (found $rings)" test "$rings" -ge 21
dump "$WORK"/edges-rings/*.ring >"$WORK/edges.dump"
check "every ring readable, none corrupt" bash -c "! grep -q -e corrupt -e '^bad ' '$WORK/edges.dump'"
check "no ring counts a shim error" bash -c "! grep -q 'shim_errors=[1-9]' '$WORK/edges.dump'"
check "children's heap counters start from the parent's live heap (none negative)" \
    bash -c "! grep -q '^heap live=-' '$WORK/edges.dump'"

# ---- counters and samples of a Python heap (Debian's python3, not a pyenv wrapper) ----
# os._exit: the counters are read as the heap stands, not after the interpreter's teardown.
under_shim py /usr/bin/python3 -c '
import os
x = [dict(a=i, b=str(i) * 20) for i in range(200000)]
y = [bytearray(3000) for i in range(3000)]
print(len(x), len(y), flush=True)
os._exit(0)' >/dev/null
py=$(dump "$WORK"/py/*.ring)
heap_line=$(grep '^heap ' <<<"$py" | head -1)
echo "     $heap_line"
field() { grep -oP "(^| )$1=\K-?[0-9]+" <<<"$2" | head -1; }
check "python: heap allocations and frees counted" \
    test "$(field allocations "$heap_line")" -gt 1000 -a "$(field frees "$heap_line")" -gt 100
# 3000 bytearrays of 3000 B are 9 MB of malloc heap; the last read of glibc's statistics
# may be up to 4 MiB of requests old (os._exit runs no destructor to read them again).
check "python: live bytes from glibc's statistics (>= 4 MiB)" test "$(field live "$heap_line")" -ge $((4 << 20))
check "python: obmalloc arenas counted as anonymous mappings (>= 16 MiB)" \
    test "$(field anon_mmap "$heap_line")" -ge $((16 << 20))
check "python: samples written at the default interval" \
    test "$(field samples "$heap_line")" -gt 5 -a "$(field interval "$heap_line")" -eq 524288
deep=$(grep '^stack ' <<<"$py" | grep -oP 'frames=\K[0-9]+' | sort -n | tail -1)
check "python: stacks are deep (max ${deep:-0} frames)" test "${deep:-0}" -ge 10
check "python: module map names libpython or the python3 executable" \
    bash -c "grep -q '^module generation=1 .*flags=1 path=/usr/bin/python3' <<<'$py'"
check "python: every sample's stack was sent before it" bash -c "awk '
    /^stack /  { for (i = 1; i <= NF; i++) if (\$i ~ /^id=/) sent[substr(\$i, 4)] = 1 }
    /^sample / { for (i = 1; i <= NF; i++) if (\$i ~ /^stack=/) { s = substr(\$i, 7); if (s != \"0\" && !(s in sent)) bad++ } }
    END { exit bad > 0 }' <<<'$py'"

# ---- a sample's stack walk blocks signals once, not once per libunwind lock ----
# libunwind masks every signal around each of its locks (two rt_sigprocmask calls each,
# about 18 per sample of a Python stack); the shim blocks them once per walk and answers
# libunwind's own calls in-process (hooks/signal.c): at most 2 per sample, plus Python's.
if command -v strace >/dev/null; then
    LDTAP_HEAP_SAMPLE_BYTES=65536 strace -f -qq -c -o "$WORK/masking.strace" -e trace=rt_sigprocmask \
        env LD_PRELOAD="$SHIM" LDTAP_RUN_DIR="$WORK/masking" /usr/bin/python3 -c '
x = [bytearray(3000) for i in range(20000)]
print(len(x))' >/dev/null
    masks=$(awk '$NF == "rt_sigprocmask" { print $(NF - 1) }' "$WORK/masking.strace")
    masked_samples=$(field samples "$(dump "$WORK"/masking/*.ring | grep '^heap ' | head -1)")
    echo "     $masked_samples samples, ${masks:-?} rt_sigprocmask calls"
    check "stack walks: at most 2 rt_sigprocmask calls per sample, plus 200 (found ${masks:-?} for ${masked_samples:-0})" \
        test "${masked_samples:-0}" -ge 100 -a "${masks:-999999}" -le $((2 * ${masked_samples:-0} + 200))
else
    fail "strace missing (run scripts/setup.sh)"
fi

# ---- LDTAP_HEAP_SAMPLE_BYTES=1: every allocation sampled, frees matched ----
LDTAP_HEAP_SAMPLE_BYTES=1 under_shim every "$WORK/pattern" 777 1234 300 >/dev/null
every=$(dump "$WORK"/every/*.ring)
# weight = the requested size: every allocation is sampled with probability 1
sampled=$(grep '^sample .* size=1234 ' <<<"$every" | grep -oP 'weight=\K[0-9]+' | awk '$1 == 1234 { n++ } END { print n + 0 }')
freed=$(awk '/^sample .* size=1234 /{ for (i = 1; i <= NF; i++) if ($i ~ /^address=/) a[$i] = 1 }
             /^free /{ if (("address=" substr($2, 9)) in a) n++ } END { print n + 0 }' <<<"$every")
check "interval 1: all 777 allocations sampled, weight = requested size (found $sampled)" test "$sampled" -eq 777
check "interval 1: 300 frees matched (found $freed)" test "$freed" -eq 300
check "interval 1: one stack sent for the marked call site" \
    test "$(grep '^sample .* size=1234 ' <<<"$every" | grep -oP 'stack=\K[0-9a-f]+' | sort -u | wc -l)" -eq 1

# ---- estimate of a known live heap at the default rate: within 10% ----
COUNT=8192 SIZE=65536
under_shim estimate "$WORK/pattern" $((COUNT + 1000)) $SIZE 1000 >/dev/null
estimate=$(dump "$WORK"/estimate/*.ring | awk -v size=$SIZE '
    /^sample / { split($2, a, "="); split($3, s, "="); split($4, w, "="); if (s[2] == size) live[a[2]] = w[2] }
    /^free /   { split($2, a, "="); delete live[a[2]] }
    END { for (k in live) sum += live[k]; print sum + 0 }')
truth=$((COUNT * SIZE))
echo "     estimated live bytes $estimate, truth $truth"
check "default rate: live estimate within 10% of N x S" \
    awk -v e="$estimate" -v t="$truth" 'BEGIN { d = (e - t) / t; exit !(d < 0.10 && d > -0.10) }'
# The header's live bytes, as glibc counts them at exit: N x S plus chunk headers and the
# block table, and not much more.
live=$(field live "$(dump "$WORK"/estimate/*.ring | grep '^heap ' | head -1)")
echo "     live bytes at exit $live, kept $truth"
check "live bytes from the allocator: N x S, at most 2% + 1 MiB above" \
    awk -v l="$live" -v t="$truth" 'BEGIN { exit !(l >= t && l <= t * 1.02 + 1048576) }'

# ---- exact counts: two runs of a known pattern differ by exactly its allocations ----
# heap_counts N makes 10 allocations and 10 frees per round on 4 threads through every
# entry of the family, one free on another thread, and frees everything: from N to 2N
# rounds the counters must grow by exactly 40 N each, and live bytes (the allocator's own
# statistics at exit, its caches included) stay small and do not grow with N although
# every round allocates over 200 KiB. The same with jemalloc and tcmalloc preloaded after
# ldtap; preloaded before ldtap, the program's malloc is theirs: the program must run
# unchanged and the counters stay at zero.
gcc $CFLAGS -o "$WORK/heap_counts" "$ROOT/tests/programs_heap/heap_counts.c" -pthread ||
    { echo "heap_counts build failed"; exit 1; }
LIBDIR=/usr/lib/x86_64-linux-gnu
JEMALLOC=$LIBDIR/libjemalloc.so.2 TCMALLOC=$LIBDIR/libtcmalloc_minimal.so.4
heap_of() { # run_dir preload rounds: the ring's heap line after heap_counts ROUNDS
    rm -rf "$WORK/$1"
    LD_PRELOAD=$2 LDTAP_RUN_DIR=$WORK/$1 LDTAP_HEAP_SAMPLE_BYTES=4096 "$WORK/heap_counts" "$3" >/dev/null &&
        dump "$WORK/$1"/*.ring | grep '^heap ' | head -1
}
exact_counts() { # name preload
    local once twice rounds=500
    once=$(heap_of "counts-$1" "$2" $rounds) && twice=$(heap_of "counts-$1" "$2" $((2 * rounds))) || return 1
    echo "     $1: $twice"
    local expected=$((rounds * 40))
    [ "$(( $(field allocations "$twice") - $(field allocations "$once") ))" -eq "$expected" ] &&
        [ "$(( $(field frees "$twice") - $(field frees "$once") ))" -eq "$expected" ] &&
        [ "$(field live "$once")" -gt 0 ] && [ "$(field live "$twice")" -lt $((1 << 20)) ] &&
        [ "$(( $(field live "$twice") - $(field live "$once") ))" -lt $((256 << 10)) ]
}
check "exact counts, glibc: +40 N allocations and frees, live bytes flat" exact_counts glibc "$SHIM"
for allocator in "$JEMALLOC" "$TCMALLOC"; do
    name=$(basename "$allocator" | cut -d. -f1)
    if [ ! -f "$allocator" ]; then
        fail "$allocator is missing (run scripts/setup.sh)"
        continue
    fi
    check "exact counts, $name preloaded after ldtap" exact_counts "$name" "$SHIM:$allocator"
    ahead_of_us() {
        local plain preloaded
        plain=$(LD_PRELOAD=$allocator "$WORK/heap_counts" 300) || return 1
        rm -rf "$WORK/ahead"
        preloaded=$(LD_PRELOAD=$allocator:$SHIM LDTAP_RUN_DIR=$WORK/ahead LDTAP_HEAP_SAMPLE_BYTES=4096 \
            "$WORK/heap_counts" 300) || return 1
        [ "$plain" == "$preloaded" ] || return 1
        # no ring at all (nothing sampled), or one whose heap counters never moved
        ! ls "$WORK"/ahead/*.ring >/dev/null 2>&1 ||
            [ "$(field allocations "$(dump "$WORK"/ahead/*.ring | grep '^heap ')")" -eq 0 ]
    }
    check "$name preloaded before ldtap: program unchanged, no heap counts" ahead_of_us
    check "python3 unchanged with $name before and after ldtap" bash -c "
        code='import json; print(len(json.dumps([str(i) * 50 for i in range(100000)])))'
        plain=\$(LD_PRELOAD=$allocator /usr/bin/python3 -c \"\$code\")
        after=\$(LD_PRELOAD=$SHIM:$allocator LDTAP_RUN_DIR=$WORK/py-after /usr/bin/python3 -c \"\$code\")
        before=\$(LD_PRELOAD=$allocator:$SHIM LDTAP_RUN_DIR=$WORK/py-before /usr/bin/python3 -c \"\$code\")
        [ -n \"\$plain\" ] && [ \"\$plain\" == \"\$after\" ] && [ \"\$plain\" == \"\$before\" ]"
done

# ---- invalid configuration: heap recording off, program unaffected ----
LDTAP_HEAP_SAMPLE_BYTES=12k under_shim invalid "$WORK/pattern" 1000 100000 >/dev/null
check "invalid LDTAP_HEAP_SAMPLE_BYTES: program runs, no heap records" test ! -e "$WORK/invalid"
LDTAP_HEAP_SAMPLE_BYTES=0 under_shim off "$WORK/pattern" 1000 100000 >/dev/null
check "LDTAP_HEAP_SAMPLE_BYTES=0: no samples, no ring of its own" test ! -e "$WORK/off"

[ "$FAILURES" -eq 0 ] && echo "all heap shim checks passed" || echo "$FAILURES failure(s)"
exit $((FAILURES > 0))
