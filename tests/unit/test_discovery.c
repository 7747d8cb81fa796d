/* Unit tests for ring discovery: top-level rings as always; in a shared directory watched
 * by root, the rings of `uid-<euid>` subdirectories too (found by the scan and by inotify,
 * reported again while new), and nothing through a squatted, open or symlinked one. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "discovery.h"
#include "ldtap_ring_abi.h"

#define NOBODY 65534
#define MAX_FOUND 32

static char test_root[64];

static void make_root(void) {
    snprintf(test_root, sizeof test_root, "/dev/shm/ldtap-discovery-test-XXXXXX");
    cr_assert_not_null(mkdtemp(test_root));
}

static void remove_root(void) {
    char command[256];
    snprintf(command, sizeof command, "rm -rf '%s'", test_root);
    cr_assert_eq(system(command), 0);
}

TestSuite(discovery, .init = make_root, .fini = remove_root);

struct found_rings {
    size_t count;
    char names[MAX_FOUND][300];
    uid_t owners[MAX_FOUND];
};

static void remember(const char *name, uid_t owner, void *context) {
    struct found_rings *found = context;
    if (found->count < MAX_FOUND) {
        snprintf(found->names[found->count], sizeof found->names[0], "%s", name);
        found->owners[found->count++] = owner;
    }
}

/* How often `name` was reported; its owner goes to `owner` (if reported). */
static size_t times_found(const struct found_rings *found, const char *name, uid_t *owner) {
    size_t times = 0;
    for (size_t i = 0; i < found->count; i++) {
        if (strcmp(found->names[i], name) == 0) {
            times++;
            if (owner)
                *owner = found->owners[i];
        }
    }
    return times;
}

static void make_file(const char *directory, const char *name, uid_t owner) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
    cr_assert_geq(fd, 0, "%s", path);
    close(fd);
    cr_assert_eq(chown(path, owner, owner), 0);
}

static void make_directory(char *path, size_t size, const char *parent, const char *name, uid_t owner,
                           mode_t mode) {
    snprintf(path, size, "%s/%s", parent, name);
    cr_assert_eq(mkdir(path, 0700), 0, "%s", path);
    cr_assert_eq(chown(path, owner, owner), 0);
    cr_assert_eq(chmod(path, mode), 0);
}

static void skip_unless_root(void) {
    if (geteuid() != 0) {
        remove_root(); /* a skipped test's .fini does not run */
        cr_skip_test("needs root: subdirectories belong to other users");
    }
}

Test(discovery, private_directory_reports_top_level_rings_only) {
    char directory[256], subdirectory[300];
    make_directory(directory, sizeof directory, test_root, "private", geteuid(), 0700);
    make_file(directory, "10-1.ring", geteuid());
    make_file(directory, "not-a-ring.txt", geteuid());
    make_directory(subdirectory, sizeof subdirectory, directory, "uid-0", geteuid(), 0700);
    make_file(subdirectory, "11-1.ring", geteuid());
    char error[256];
    struct ldtap_discovery *discovery = ldtap_discovery_open(directory, error, sizeof error);
    cr_assert_not_null(discovery, "%s", error);
    struct found_rings found = {0};
    ldtap_discovery_scan(discovery, remember, &found);
    cr_assert_eq(found.count, 1);
    cr_assert_str_eq(found.names[0], "10-1.ring");
    ldtap_discovery_close(discovery);
}

Test(discovery, shared_directory_scan_reports_user_subdirectories) {
    skip_unless_root();
    char directory[256], user[300], squatted[300], open_one[300], target[300], link_path[300];
    make_directory(directory, sizeof directory, test_root, "shared", 0, LDTAP_RING_SHARED_DIRECTORY_MODE);
    make_file(directory, "1-1.ring", 0);
    make_directory(user, sizeof user, directory, "uid-65534", NOBODY, 0700);
    make_file(user, "2-1.ring", NOBODY);
    make_file(user, "ignored.txt", NOBODY);
    make_directory(squatted, sizeof squatted, directory, "uid-4242", NOBODY, 0700); /* not 4242's */
    make_file(squatted, "3-1.ring", NOBODY);
    make_directory(open_one, sizeof open_one, directory, "uid-4243", 4243, 0755); /* open to others */
    make_file(open_one, "4-1.ring", 4243);
    make_directory(target, sizeof target, test_root, "elsewhere", 4244, 0700);
    make_file(target, "5-1.ring", 4244);
    snprintf(link_path, sizeof link_path, "%s/uid-4244", directory);
    cr_assert_eq(symlink(target, link_path), 0);
    char not_uid[300];
    make_directory(not_uid, sizeof not_uid, directory, "uid-x", NOBODY, 0700);
    make_file(not_uid, "6-1.ring", NOBODY);

    char error[256];
    struct ldtap_discovery *discovery = ldtap_discovery_open(directory, error, sizeof error);
    cr_assert_not_null(discovery, "%s", error);
    struct found_rings found = {0};
    ldtap_discovery_scan(discovery, remember, &found);
    uid_t owner = 1;
    cr_assert_eq(times_found(&found, "1-1.ring", &owner), 1);
    cr_assert_eq(owner, 0);
    cr_assert_eq(times_found(&found, "uid-65534/2-1.ring", &owner), 1);
    cr_assert_eq(owner, NOBODY);
    cr_assert_eq(found.count, 2, "only the two genuine rings, got %zu (first %s)", found.count,
                 found.names[0]);
    ldtap_discovery_close(discovery);
}

Test(discovery, shared_directory_new_subdirectory_found_by_inotify) {
    skip_unless_root();
    char directory[256], user[300];
    make_directory(directory, sizeof directory, test_root, "shared", 0, LDTAP_RING_SHARED_DIRECTORY_MODE);
    char error[256];
    struct ldtap_discovery *discovery = ldtap_discovery_open(directory, error, sizeof error);
    cr_assert_not_null(discovery, "%s", error);
    struct found_rings found = {0};
    ldtap_discovery_scan(discovery, remember, &found);
    cr_assert_eq(found.count, 0);

    /* The subdirectory and its first ring, both before the collector looks. */
    make_directory(user, sizeof user, directory, "uid-65534", NOBODY, 0700);
    make_file(user, "7-1.ring", NOBODY);
    ldtap_discovery_poll(discovery, remember, &found);
    cr_assert_geq(times_found(&found, "uid-65534/7-1.ring", NULL), 1);
    /* Then a ring made while the subdirectory is watched. */
    make_file(user, "8-1.ring", NOBODY);
    size_t before = times_found(&found, "uid-65534/8-1.ring", NULL);
    ldtap_discovery_poll(discovery, remember, &found);
    cr_assert_eq(before, 0);
    cr_assert_geq(times_found(&found, "uid-65534/8-1.ring", NULL), 1);
    /* New rings are reported again on later polls (their process may not hold them yet). */
    size_t reported = times_found(&found, "uid-65534/8-1.ring", NULL);
    ldtap_discovery_poll(discovery, remember, &found);
    cr_assert_eq(times_found(&found, "uid-65534/8-1.ring", NULL), reported + 1);
    ldtap_discovery_close(discovery);
}

Test(discovery, shared_directory_of_another_owner_is_not_shared) {
    skip_unless_root();
    char directory[256], user[300];
    make_directory(directory, sizeof directory, test_root, "not-root", NOBODY,
                   LDTAP_RING_SHARED_DIRECTORY_MODE);
    make_directory(user, sizeof user, directory, "uid-4242", 4242, 0700);
    make_file(user, "9-1.ring", 4242);
    char error[256];
    struct ldtap_discovery *discovery = ldtap_discovery_open(directory, error, sizeof error);
    cr_assert_not_null(discovery, "%s", error);
    struct found_rings found = {0};
    ldtap_discovery_scan(discovery, remember, &found);
    cr_assert_eq(found.count, 0);
    ldtap_discovery_close(discovery);
}
