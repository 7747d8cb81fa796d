/* Unit tests for the ring acceptance rule (collector/ring_owner.c) and the names and /proc
 * text it parses: own rings and --all-users as before; as root in its own shared run
 * directory, another user's ring only from a live descendant that holds the very file. */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ldtap_ring.h"
#include "ring_owner.h"
#include "run_directory.h"
#include "shared_directory.h"

#define NOBODY 65534

/* ---- parsers ---- */

Test(ring_owner, user_subdirectory_names) {
    uid_t uid = 1;
    cr_assert(ldtap_user_subdirectory_uid("uid-0", 5, &uid));
    cr_assert_eq(uid, 0);
    cr_assert(ldtap_user_subdirectory_uid("uid-65534/1-2.ring", 9, &uid));
    cr_assert_eq(uid, 65534);
    cr_assert(ldtap_user_subdirectory_uid("uid-4294967294", 14, &uid));
    cr_assert_eq(uid, 4294967294u);
    const char *refused[] = {"uid-",   "uid-4294967295", "uid-99999999999", "uid-01", "uid--1", "uid-+1",
                             "uid-1a", "uid 1",          "UID-1",           "uid-1/", "gid-1",  "uid-0x10"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        cr_assert_not(ldtap_user_subdirectory_uid(refused[i], strlen(refused[i]), &uid), "%s accepted",
                      refused[i]);
    }
}

Test(ring_owner, proc_stat_parent) {
    pid_t parent = 0;
    cr_assert(ldtap_proc_stat_parent("1234 (nginx) S 77 1234 1234 0 -1", &parent));
    cr_assert_eq(parent, 77);
    /* The command name may hold spaces and parentheses: fields start after the last ')'. */
    cr_assert(ldtap_proc_stat_parent("99 (a) b) 5 (c) R 4242 99 99", &parent));
    cr_assert_eq(parent, 4242);
    cr_assert(ldtap_proc_stat_parent("1 (init) S 0 1 1", &parent));
    cr_assert_eq(parent, 0);
    cr_assert_not(ldtap_proc_stat_parent("12 nginx S 77", &parent));
    cr_assert_not(ldtap_proc_stat_parent("12 (nginx) S", &parent));
    cr_assert_not(ldtap_proc_stat_parent("12 (nginx) S x7 1", &parent));
    cr_assert_not(ldtap_proc_stat_parent("", &parent));
}

Test(ring_owner, proc_status_uids) {
    uid_t uids[4] = {0};
    cr_assert(ldtap_proc_status_uids("Name:\tnginx\nUmask:\t0022\nState:\tS (sleeping)\n"
                                     "Uid:\t0\t65534\t1\t2\nGid:\t0\t0\t0\t0\n",
                                     uids));
    cr_assert(uids[0] == 0 && uids[1] == 65534 && uids[2] == 1 && uids[3] == 2);
    cr_assert_not(ldtap_proc_status_uids("Name:\tx\nGid:\t1\t1\t1\t1\n", uids));
    cr_assert_not(ldtap_proc_status_uids("Uid:\t5\t5\t5\n", uids));
    cr_assert_not(ldtap_proc_status_uids("Uid:\t5\t4294967295\t5\t5\n", uids));
}

Test(ring_owner, proc_maps_line) {
    const char *line =
        "7f0c5e400000-7f0c5e801000 rw-s 00000000 00:1a 35795   /dev/shm/x/uid-65534/1-2.ring\n";
    cr_assert(ldtap_proc_maps_line_maps(line, 0, 0x1a, 35795));
    cr_assert_not(ldtap_proc_maps_line_maps(line, 0, 0x1a, 35796));
    cr_assert_not(ldtap_proc_maps_line_maps(line, 8, 0x1a, 35795));
    cr_assert(ldtap_proc_maps_line_maps("55d0-55d1 r--p 00000000 fe:01 11133454 /usr/sbin/nginx", 0xfe, 1,
                                        11133454));
    cr_assert_not(ldtap_proc_maps_line_maps("7ffd-7ffe rw-p 00000000 00:00 0 [stack]", 0, 0, 1));
    cr_assert_not(ldtap_proc_maps_line_maps("garbage", 0, 0, 0));
}

/* ---- the rule without root ---- */

Test(ring_owner, own_rings_and_all_users_as_before) {
    cr_assert(ldtap_ring_owner_accepted("/nonexistent", "1-2.ring", getuid(), false));
    cr_assert(ldtap_ring_owner_accepted("/nonexistent", "1-2.ring", getuid() + 1, true));
    if (geteuid() != 0) {
        cr_assert_not(ldtap_ring_owner_accepted("/nonexistent", "1-2.ring", getuid() + 1, false));
    }
}

/* ---- as root, in a shared run directory of this process ---- */

static char base[64];
static char run_directory[256];

static void make_run_directory(void) {
    if (geteuid() != 0) {
        return;
    }
    snprintf(base, sizeof base, "/dev/shm/ldtap-owner-test-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    cr_assert_eq(chmod(base, 0711), 0);
    char error[256] = "";
    cr_assert_eq(
        ldtap_run_directory_create(base, true, run_directory, sizeof run_directory, error, sizeof error), 0,
        "%s", error);
}

static void remove_run_directory(void) {
    if (geteuid() != 0) {
        return;
    }
    ldtap_run_directory_remove(run_directory);
    cr_assert_eq(rmdir(base), 0);
}

TestSuite(ring_owner_root, .init = make_run_directory, .fini = remove_run_directory);

struct writer_process {
    pid_t pid;
    char name[256]; /* "uid-<uid>/<file>", relative to the run directory */
};

/* Forks a process that switches to `uid`, creates its ring in the run directory and waits
 * to be killed. With `orphan`, it is a grandchild whose parent has exited: a process
 * that does not descend from this one. */
static struct writer_process start_writer(uid_t uid, bool orphan) {
    int channel[2];
    cr_assert_eq(pipe(channel), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        /* Only the channel stays open, and a writer left behind by a failed assertion dies
         * on its own: nothing waits on a pipe it would hold. */
        for (int fd = 0; fd < 1024; fd++) {
            if (fd != channel[1]) {
                close(fd);
            }
        }
        alarm(30);
        if (orphan && fork() != 0) {
            _exit(0);
        }
        struct writer_process self = {.pid = getpid()};
        char path[512] = "";
        struct ldtap_ring_writer writer;
        struct ldtap_ring_identity identity = {.pid = getpid(), .start_time_ns = 77};
        if (setgid(uid) == 0 && setuid(uid) == 0 &&
            ldtap_ring_create(&writer, run_directory, &identity, LDTAP_RING_MIN_DATA_SIZE, path,
                              sizeof path) == 0) {
            snprintf(self.name, sizeof self.name, "%s", path + strlen(run_directory) + 1);
        }
        if (write(channel[1], &self, sizeof self) != sizeof self) {
            _exit(1);
        }
        for (;;) {
            pause();
        }
    }
    close(channel[1]);
    struct writer_process writer;
    cr_assert_eq(read(channel[0], &writer, sizeof writer), (ssize_t)sizeof writer);
    close(channel[0]);
    if (orphan) {
        waitpid(child, NULL, 0); /* the intermediate parent: the writer is reparented */
    }
    cr_assert_neq(writer.name[0], '\0', "the writer could not create its ring");
    return writer;
}

static void stop_writer(const struct writer_process *writer, bool orphan) {
    kill(writer->pid, SIGKILL);
    if (!orphan) {
        waitpid(writer->pid, NULL, 0);
    }
}

static void skip_unless_root(void) {
    if (geteuid() != 0) {
        cr_skip_test("needs root: the writers are processes of another user");
    }
}

Test(ring_owner_root, descendant_of_another_user_accepted) {
    skip_unless_root();
    struct writer_process writer = start_writer(NOBODY, false);
    char expected_prefix[32];
    snprintf(expected_prefix, sizeof expected_prefix, "uid-%d/%d-", NOBODY, (int)writer.pid);
    cr_assert_eq(strncmp(writer.name, expected_prefix, strlen(expected_prefix)), 0, "%s", writer.name);
    cr_assert(ldtap_ring_owner_accepted(run_directory, writer.name, NOBODY, false));
    /* Named for another owner, or outside a shared run directory of ours: refused. */
    cr_assert_not(ldtap_ring_owner_accepted(run_directory, writer.name, NOBODY - 1, false));
    cr_assert_not(ldtap_ring_owner_accepted(base, writer.name, NOBODY, false));
    stop_writer(&writer, false);
    /* Its process gone, nothing proves the ring is its own any more. */
    cr_assert_not(ldtap_ring_owner_accepted(run_directory, writer.name, NOBODY, false));
}

Test(ring_owner_root, ring_at_the_top_of_the_directory_refused) {
    skip_unless_root();
    struct writer_process writer = start_writer(NOBODY, false);
    char from[512], to[512];
    snprintf(from, sizeof from, "%s/%s", run_directory, writer.name);
    snprintf(to, sizeof to, "%s/%s", run_directory, strchr(writer.name, '/') + 1);
    cr_assert_eq(rename(from, to), 0);
    cr_assert_not(ldtap_ring_owner_accepted(run_directory, strchr(writer.name, '/') + 1, NOBODY, false));
    stop_writer(&writer, false);
}

Test(ring_owner_root, non_descendant_refused) {
    skip_unless_root();
    struct writer_process orphan = start_writer(NOBODY, true);
    cr_assert_not(ldtap_ring_owner_accepted(run_directory, orphan.name, NOBODY, false));
    stop_writer(&orphan, true);
}

Test(ring_owner_root, ring_renamed_after_a_descendant_refused) {
    skip_unless_root();
    struct writer_process descendant = start_writer(NOBODY, false);
    struct writer_process orphan = start_writer(NOBODY, true);
    /* The orphan's ring, renamed to claim the descendant's pid: same user, same directory,
     * but the descendant neither opened nor mapped that file. */
    char from[512], to[512], claimed[256];
    snprintf(claimed, sizeof claimed, "uid-%d/%d-1.ring", NOBODY, (int)descendant.pid);
    snprintf(from, sizeof from, "%s/%s", run_directory, orphan.name);
    snprintf(to, sizeof to, "%s/%s", run_directory, claimed);
    cr_assert_eq(rename(from, to), 0);
    cr_assert_not(ldtap_ring_owner_accepted(run_directory, claimed, NOBODY, false));
    cr_assert(ldtap_ring_owner_accepted(run_directory, descendant.name, NOBODY, false));
    stop_writer(&orphan, true);
    stop_writer(&descendant, false);
}
