/* Unit tests for `ldtap run`'s ring directory: where it is created and with which mode (as
 * root: shared, and somewhere other users can reach), recognising our own, and removing
 * it with its user subdirectories without ever following a symlink. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ldtap_ring_abi.h"
#include "run_directory.h"

static char test_root[64];

static void make_root(void) {
    snprintf(test_root, sizeof test_root, "/dev/shm/ldtap-run-directory-test-XXXXXX");
    cr_assert_not_null(mkdtemp(test_root));
}

static void remove_root(void) {
    char command[256];
    snprintf(command, sizeof command, "rm -rf '%s'", test_root);
    cr_assert_eq(system(command), 0);
}

TestSuite(run_directory, .init = make_root, .fini = remove_root);

static void skip_unless_root(void) {
    if (geteuid() != 0) {
        remove_root(); /* a skipped test's .fini does not run */
        cr_skip_test("needs root: only root makes shared run directories");
    }
}

static void create(const char *base, bool base_chosen, char *path, size_t size) {
    char error[256] = "";
    cr_assert_eq(ldtap_run_directory_create(base, base_chosen, path, size, error, sizeof error), 0, "%s",
                 error);
}

static void make_file(const char *directory, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
    cr_assert_geq(fd, 0, "%s", path);
    close(fd);
}

Test(run_directory, created_in_the_base_named_for_this_process) {
    char path[512], prefix[128];
    create(test_root, true, path, sizeof path);
    snprintf(prefix, sizeof prefix, "%s/run-%d-", test_root, (int)getpid());
    cr_assert_eq(strncmp(path, prefix, strlen(prefix)), 0, "%s", path);
    cr_assert_eq(strlen(path), strlen(prefix) + 6);
    struct stat status;
    cr_assert_eq(lstat(path, &status), 0);
    cr_assert(S_ISDIR(status.st_mode));
    cr_assert_eq(status.st_uid, geteuid());
    if (geteuid() == 0) {
        cr_assert_eq(status.st_mode & 07777, LDTAP_RING_SHARED_DIRECTORY_MODE);
        cr_assert(ldtap_run_directory_is_ours(path));
    } else {
        cr_assert_eq(status.st_mode & 07777, 0700);
        cr_assert_not(ldtap_run_directory_is_ours(path)); /* not shared: nobody else writes there */
    }
    ldtap_run_directory_remove(path);
    cr_assert_eq(lstat(path, &status), -1);
}

Test(run_directory, not_ours) {
    skip_unless_root();
    char path[512];
    snprintf(path, sizeof path, "%s/run-%d-abcdef", test_root, (int)getpid() + 1);
    cr_assert_eq(mkdir(path, 0700), 0);
    cr_assert_eq(chmod(path, LDTAP_RING_SHARED_DIRECTORY_MODE), 0);
    cr_assert_not(ldtap_run_directory_is_ours(path), "another process's name");
    snprintf(path, sizeof path, "%s/run-%d-ghijkl", test_root, (int)getpid());
    cr_assert_eq(mkdir(path, 0700), 0);
    cr_assert_not(ldtap_run_directory_is_ours(path), "our name, not shared");
    char link_path[512];
    cr_assert_eq(chmod(path, LDTAP_RING_SHARED_DIRECTORY_MODE), 0);
    snprintf(link_path, sizeof link_path, "%s/run-%d-linked", test_root, (int)getpid());
    cr_assert_eq(symlink(path, link_path), 0);
    cr_assert_not(ldtap_run_directory_is_ours(link_path), "a symlink to it");
    cr_assert(ldtap_run_directory_is_ours(path));
}

Test(run_directory, root_default_base_out_of_reach_goes_to_dev_shm) {
    skip_unless_root();
    char base[256], path[512], prefix[128];
    snprintf(base, sizeof base, "%s/private", test_root); /* test_root is 0700 */
    cr_assert_eq(mkdir(base, 0700), 0);
    create(base, false, path, sizeof path);
    snprintf(prefix, sizeof prefix, "/dev/shm/ldtap-run-%d-", (int)getpid());
    cr_assert_eq(strncmp(path, prefix, strlen(prefix)), 0, "%s", path);
    cr_assert(ldtap_run_directory_is_ours(path));
    ldtap_run_directory_remove(path);
    /* Chosen with --run-dir, the base is used as it is, reachable or not. */
    create(base, true, path, sizeof path);
    cr_assert_eq(strncmp(path, base, strlen(base)), 0, "%s", path);
    ldtap_run_directory_remove(path);
}

Test(run_directory, root_default_base_within_reach_is_used) {
    skip_unless_root();
    char base[256], path[512];
    cr_assert_eq(chmod(test_root, 0711), 0);
    snprintf(base, sizeof base, "%s/reachable", test_root);
    cr_assert_eq(mkdir(base, 0711), 0);
    create(base, false, path, sizeof path);
    cr_assert_eq(strncmp(path, base, strlen(base)), 0, "%s", path);
    ldtap_run_directory_remove(path);
}

Test(run_directory, removal_empties_user_subdirectories_and_follows_no_symlink) {
    char path[512], user[600], outside[256], link_path[600];
    create(test_root, true, path, sizeof path);
    make_file(path, "1-1.ring");
    snprintf(user, sizeof user, "%s/uid-65534", path);
    cr_assert_eq(mkdir(user, 0700), 0);
    make_file(user, "2-1.ring");
    make_file(user, "3-1.ring");
    snprintf(outside, sizeof outside, "%s/outside", test_root);
    cr_assert_eq(mkdir(outside, 0700), 0);
    make_file(outside, "keep.ring");
    snprintf(link_path, sizeof link_path, "%s/uid-4242", path);
    cr_assert_eq(symlink(outside, link_path), 0);
    ldtap_run_directory_remove(path);
    struct stat status;
    cr_assert_eq(lstat(path, &status), -1, "the run directory is still there");
    char kept[512];
    snprintf(kept, sizeof kept, "%s/keep.ring", outside);
    cr_assert_eq(lstat(kept, &status), 0, "a file behind a symlink was removed");
}
