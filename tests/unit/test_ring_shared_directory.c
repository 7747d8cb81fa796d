/* Unit tests for ldtap_ring_create in a shared directory (root-owned, 01733): root's rings
 * at its top, another user's in a `uid-<euid>` subdirectory of its own, and every way of
 * squatting or redirecting that subdirectory refused. Needs root (other users' processes
 * are forked children that switch uid); skipped otherwise. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ldtap_ring.h"

#define NOBODY 65534
#define STRANGER 4242

static char test_root[64];
static char shared[128];

static void make_shared_directory(void) {
    snprintf(test_root, sizeof test_root, "/dev/shm/ldtap-shared-test-XXXXXX");
    cr_assert_not_null(mkdtemp(test_root));
    cr_assert_eq(chmod(test_root, 0711), 0);
    snprintf(shared, sizeof shared, "%s/shared", test_root);
    cr_assert_eq(mkdir(shared, 0700), 0);
    cr_assert_eq(chmod(shared, LDTAP_RING_SHARED_DIRECTORY_MODE), 0);
}

static void remove_directories(void) {
    char command[256];
    snprintf(command, sizeof command, "rm -rf '%s'", test_root);
    cr_assert_eq(system(command), 0);
}

static void skip_unless_root(void) {
    if (geteuid() != 0) {
        remove_directories(); /* a skipped test's .fini does not run */
        cr_skip_test("needs root: the other users are forked children that switch uid");
    }
}

TestSuite(ring_shared_directory, .init = make_shared_directory, .fini = remove_directories);

static struct ldtap_ring_identity identity_now(void) {
    static uint64_t next_start = 5000;
    return (struct ldtap_ring_identity){
        .pid = getpid(), .start_time_ns = next_start++, .service_name = "shared"};
}

/* Creates a ring in `directory` as `uid` in a child process; returns what
 * ldtap_ring_create returned there (as -errno), and its path in `path`. */
static int create_as(uid_t uid, const char *directory, char *path, size_t path_size) {
    int channel[2];
    cr_assert_eq(pipe(channel), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        close(channel[0]);
        int result = -EACCES;
        char created[512] = "";
        if (setgid(uid) == 0 && setuid(uid) == 0) {
            struct ldtap_ring_writer writer;
            struct ldtap_ring_identity identity = identity_now();
            identity.pid = getpid();
            result = ldtap_ring_create(&writer, directory, &identity, LDTAP_RING_MIN_DATA_SIZE, created,
                                       sizeof created);
        }
        ssize_t written = write(channel[1], &result, sizeof result);
        written += write(channel[1], created, sizeof created);
        _exit(written == (ssize_t)(sizeof result + sizeof created) ? 0 : 1);
    }
    close(channel[1]);
    int result = 0;
    char created[512] = "";
    cr_assert_eq(read(channel[0], &result, sizeof result), (ssize_t)sizeof result);
    cr_assert_eq(read(channel[0], created, sizeof created), (ssize_t)sizeof created);
    close(channel[0]);
    int status = 0;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    snprintf(path, path_size, "%s", created);
    return result;
}

Test(ring_shared_directory, root_writes_at_the_top) {
    skip_unless_root();
    struct ldtap_ring_writer writer;
    struct ldtap_ring_identity identity = identity_now();
    char path[512];
    cr_assert_eq(ldtap_ring_create(&writer, shared, &identity, LDTAP_RING_MIN_DATA_SIZE, path, sizeof path),
                 0);
    char expected[512];
    snprintf(expected, sizeof expected, "%s/%d-%llu.ring", shared, (int)identity.pid,
             (unsigned long long)identity.start_time_ns);
    cr_assert_str_eq(path, expected);
    ldtap_ring_forget(&writer);
}

Test(ring_shared_directory, another_user_gets_a_private_subdirectory) {
    skip_unless_root();
    char path[512];
    cr_assert_eq(create_as(NOBODY, shared, path, sizeof path), 0);
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s/uid-%d/", shared, NOBODY);
    cr_assert_eq(strncmp(path, prefix, strlen(prefix)), 0, "%s is not under %s", path, prefix);
    struct stat status;
    cr_assert_eq(lstat(path, &status), 0);
    cr_assert(S_ISREG(status.st_mode));
    cr_assert_eq(status.st_uid, NOBODY);
    cr_assert_eq(status.st_mode & 07777, 0600);
    prefix[strlen(prefix) - 1] = '\0';
    cr_assert_eq(lstat(prefix, &status), 0);
    cr_assert(S_ISDIR(status.st_mode));
    cr_assert_eq(status.st_uid, NOBODY);
    cr_assert_eq(status.st_mode & 07777, 0700);
    /* A second process of the same user reuses the subdirectory. */
    char second[512];
    cr_assert_eq(create_as(NOBODY, shared, second, sizeof second), 0);
    cr_assert_str_neq(path, second);
}

Test(ring_shared_directory, squatted_subdirectory_refused) {
    skip_unless_root();
    char squatted[256];
    snprintf(squatted, sizeof squatted, "%s/uid-%d", shared, NOBODY);
    cr_assert_eq(mkdir(squatted, 0700), 0);
    cr_assert_eq(chown(squatted, STRANGER, STRANGER), 0); /* another user got there first */
    char path[512];
    cr_assert_eq(create_as(NOBODY, shared, path, sizeof path), -EPERM);
}

Test(ring_shared_directory, subdirectory_open_to_others_refused) {
    skip_unless_root();
    char subdirectory[256];
    snprintf(subdirectory, sizeof subdirectory, "%s/uid-%d", shared, NOBODY);
    cr_assert_eq(mkdir(subdirectory, 0700), 0);
    cr_assert_eq(chown(subdirectory, NOBODY, NOBODY), 0);
    cr_assert_eq(chmod(subdirectory, 0755), 0);
    char path[512];
    cr_assert_eq(create_as(NOBODY, shared, path, sizeof path), -EPERM);
}

Test(ring_shared_directory, symlinked_subdirectory_refused) {
    skip_unless_root();
    char target[256], link_path[256];
    snprintf(target, sizeof target, "%s/elsewhere", test_root);
    cr_assert_eq(mkdir(target, 0700), 0);
    cr_assert_eq(chown(target, NOBODY, NOBODY), 0);
    snprintf(link_path, sizeof link_path, "%s/uid-%d", shared, NOBODY);
    cr_assert_eq(symlink(target, link_path), 0);
    char path[512];
    cr_assert_lt(create_as(NOBODY, shared, path, sizeof path), 0);
    char command[512];
    snprintf(command, sizeof command, "test -z \"$(ls -A '%s')\"", target);
    cr_assert_eq(system(command), 0, "a ring was created through the symlink");
}

Test(ring_shared_directory, only_the_exact_mode_owned_by_root_is_shared) {
    skip_unless_root();
    char path[512];
    cr_assert_eq(chmod(shared, 01777), 0); /* listable: not a shared ring directory */
    cr_assert_eq(create_as(NOBODY, shared, path, sizeof path), -EPERM);
    cr_assert_eq(chmod(shared, 0733), 0); /* no sticky bit: others could remove each other's */
    cr_assert_eq(create_as(NOBODY, shared, path, sizeof path), -EPERM);
    cr_assert_eq(chmod(shared, LDTAP_RING_SHARED_DIRECTORY_MODE), 0);
    cr_assert_eq(chown(shared, NOBODY, NOBODY), 0); /* right mode, but not root's */
    cr_assert_eq(create_as(STRANGER, shared, path, sizeof path), -EPERM);
    /* Its owner is no exception either: a shared directory is root's. */
    cr_assert_eq(create_as(NOBODY, shared, path, sizeof path), -EPERM);
}

Test(ring_shared_directory, path_out_too_short_for_the_subdirectory) {
    skip_unless_root();
    int channel[2];
    cr_assert_eq(pipe(channel), 0);
    pid_t child = fork();
    if (child == 0) {
        int result = -EACCES;
        if (setgid(NOBODY) == 0 && setuid(NOBODY) == 0) {
            struct ldtap_ring_writer writer;
            struct ldtap_ring_identity identity = identity_now();
            identity.pid = getpid();
            /* Room for "<shared>/<name>" but not for "<shared>/uid-65534/<name>". */
            int name_length = snprintf(NULL, 0, "%d-%llu.ring", (int)identity.pid,
                                       (unsigned long long)identity.start_time_ns);
            char path[512];
            size_t room = strlen(shared) + 1 + (size_t)name_length + 1;
            result = ldtap_ring_create(&writer, shared, &identity, LDTAP_RING_MIN_DATA_SIZE, path, room);
        }
        _exit(write(channel[1], &result, sizeof result) == sizeof result ? 0 : 1);
    }
    int result = 0;
    cr_assert_eq(read(channel[0], &result, sizeof result), (ssize_t)sizeof result);
    waitpid(child, NULL, 0);
    cr_assert_eq(result, -ENAMETOOLONG);
    char command[512];
    snprintf(command, sizeof command, "test -z \"$(ls -A '%s/uid-%d')\"", shared, NOBODY);
    cr_assert_eq(system(command), 0, "a ring file was left behind");
}
